"""The GAN base module: one training loop for every method in the zoo.

The base owns everything that is not the method's own mathematics: the alternation of
discriminator and generator steps, optimizers and learning-rate schedules, step counters,
the latent prior, a fixed sample noise kept in the checkpoint, an optional generator EMA,
sampling and logging. A method is a subclass that overrides one or two hooks:

* :meth:`GANModule.discriminator_loss` ``(batch, fake) -> loss``
* :meth:`GANModule.generator_loss` ``(batch, fake) -> loss``

and, when needed, :meth:`GANModule.build_discriminator`, :meth:`GANModule.critic_steps`,
:meth:`GANModule.generate`, :meth:`GANModule.prepare_batch` (what each step's batch carries),
:meth:`GANModule.before_discriminator_step` / :meth:`GANModule.after_discriminator_step` (work
around an update, such as weight clipping). The hooks compute the discriminator's outputs
themselves, so a method can read intermediate features, form real/fake pairs or build
interpolates without touching the loop; the fake side of the step (samples, latents, labels) is
``batch.fake``, so no hook needs state parked on the module.

Construction: ``__init__`` validates and saves the hyper-parameters; the networks are built once
the whole ``__init__`` chain has run (:meth:`GANModule.build`), so the build hooks read
``self.hparams`` alone and a subclass never sets attributes before ``super().__init__()``.

Schedule: every training batch feeds one discriminator step with fresh real data and fresh
latents; after every ``critic_steps()``-th discriminator step the generator takes ``g_steps``
steps (reusing the last real batch where its loss needs real data). ``trainer.global_step``
counts every optimizer step of both networks; :attr:`GANModule.d_step_count` and
:attr:`GANModule.g_step_count` count each network's own steps.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from zoo import arguments
from zoo.balancing import AdaptiveBalancer, balanced_batch
from zoo.checkpoint import CHECKPOINT_KEY, check_loads_into, explained_load_errors
from zoo.ema import ema_with_warmup
from zoo.errors import NonFiniteLossError, ZooError, require
from zoo.latent import LatentSpec, build_latent
from zoo.nets import NetSpec, build_discriminator, build_generator
from zoo.nets.improved_layers import is_weight_norm
from zoo.nets.layers import eval_mode

#: Samples generated per forward pass by :meth:`GANModule.sample` and friends.
SAMPLE_CHUNK = 1024


@dataclass(frozen=True)
class FakeBatch:
    """The generated side of one step, as the loss hooks see it.

    Attributes:
        samples: ``G(z)`` (detached from G in the discriminator's step, with G's graph in the generator's).
        latents: the latents ``z`` they came from.
        labels: their classes for conditional models, else ``None``.
    """

    samples: Tensor
    latents: Tensor
    labels: Tensor | None = None


@dataclass
class GANBatch:
    """One training batch in the form every method sees.

    Attributes:
        real: real examples for the adversarial game (the unlabelled part in semi-supervised use).
        labels: labels of ``real`` when the data have them, else ``None``.
        labeled: the labelled ``(x, y)`` part of a semi-supervised batch, else ``None``.
        generator_real: real examples for the generator's loss when a method wants them drawn
            independently of the discriminator's (set in :meth:`GANModule.prepare_batch`), else ``None``.
        fake: the step's generated side (:class:`FakeBatch`), filled in by the loop for each loss hook.
    """

    real: Tensor
    labels: Tensor | None = None
    labeled: tuple[Tensor, Tensor] | None = None
    generator_real: Tensor | None = None
    fake: FakeBatch | None = None

    @property
    def size(self) -> int:
        """Number of real examples, which is also the number of fakes generated per step."""
        return self.real.shape[0]


def as_gan_batch(batch: Any) -> GANBatch:
    """Normalise what a zoo datamodule yields into a :class:`GANBatch`.

    Accepts ``x``, ``(x,)``, ``(x, y)`` and the semi-supervised ``{"labeled": (x, y), "unlabeled": x}``.
    Labels equal to -1 (unlabelled data such as STL-10's unlabelled split) are dropped.
    """
    if isinstance(batch, GANBatch):
        return batch
    if isinstance(batch, dict):
        unlabeled = batch["unlabeled"]
        if isinstance(unlabeled, (tuple, list)):
            unlabeled = unlabeled[0]
        labeled = batch.get("labeled")
        return GANBatch(real=unlabeled, labels=None, labeled=tuple(labeled) if labeled is not None else None)
    if isinstance(batch, Tensor):
        return GANBatch(real=batch)
    if isinstance(batch, (tuple, list)):
        real = batch[0]
        labels = batch[1] if len(batch) > 1 else None
        if labels is not None and labels.numel() and bool((labels < 0).any()):
            labels = None
        return GANBatch(real=real, labels=labels)
    raise TypeError(f"unsupported batch type {type(batch).__name__}")


class _BuildAfterInit(type):
    """Metaclass of :class:`GANModule`: call :meth:`GANModule.build` once the whole ``__init__`` chain
    has run, so the networks are built from the finished hyper-parameters of the class constructed."""

    def __call__(cls, *args: Any, **kwargs: Any):
        module = super().__call__(*args, **kwargs)
        module.build()
        return module

    @property
    def __signature__(cls) -> inspect.Signature:
        """The constructor's signature (``inspect`` would otherwise report ``__call__``'s ``*args, **kwargs``)."""
        signature = inspect.signature(cls.__init__)
        return signature.replace(parameters=list(signature.parameters.values())[1:])


class GANModule(L.LightningModule, metaclass=_BuildAfterInit):
    """Base LightningModule of all zoo GANs (manual optimisation).

    Class attribute ``conditional``: ``True`` for models whose generator takes class labels.

    Args:
        img_shape: shape of one example, ``(C, H, W)`` or ``(D,)``; linked from the datamodule by the CLI.
        num_classes: number of classes in the data (0 when unlabelled); linked from the datamodule.
        latent_dim: dimension of the latent ``z``.
        latent: latent prior, a name (``normal``, ``uniform``, ``mixture``) or a dict with ``name`` and options.
        generator: generator architecture name (``auto``, ``dcgan``, ``mlp``) or dict with ``name`` and options.
        discriminator: discriminator architecture, as ``generator``.
        g_width: generator width (DCGAN: channels of the last hidden layer; MLP: hidden units).
        d_width: discriminator width (DCGAN: channels of the first layer; MLP: hidden units).
        optimizer: ``adam``, ``rmsprop`` or ``sgd``, used for both networks.
        lr_g: generator learning rate.
        lr_d: discriminator learning rate.
        betas: Adam's betas (ignored by the other optimizers).
        adam_eps: Adam's epsilon, added to ``sqrt(v_hat)`` (torch's form). The Theano code of Improved
            GAN adds 1e-8 inside the square root, which floors the denominator at 1e-4: ``adam_eps: 1e-4``
            gives that floor.
        n_critic: discriminator steps per generator round.
        g_steps: generator steps per round.
        lr_schedule: ``None`` for constant rates, or ``linear_decay`` (linear decay to zero, per epoch).
        lr_decay_start: fraction of ``max_epochs`` after which ``linear_decay`` starts (Improved GAN: 2/3).
        ema_decay: if set, keep an exponential moving average of the generator's weights
            (and buffers) with this decay, warmed up over the first updates (:mod:`zoo.ema`);
            :meth:`sample` then uses it.
        d_ema_rate: if set, keep a moving average of the discriminator's weights,
            ``avg += rate * (theta - avg)`` after every discriminator step (Improved GAN tests D
            through it, rate 1e-4); see :meth:`start_discriminator_average`.
        num_sample_images: size of the fixed sample noise used for sample grids.
        sample_seed: seed of the fixed sample noise.
        balancing: if set, DeLiGAN's adaptive balancing replaces the ``n_critic``/``g_steps``
            schedule: each batch takes ``sub_steps`` steps, each a G step when G's loss is above
            an adaptive threshold, else a D step (options of :class:`zoo.balancing.AdaptiveBalancer`, run by :func:`zoo.balancing.balanced_batch`;
            e.g. ``{sub_steps: 5, low: 0.7, high: 1.0}``; ``{}`` for the official values).
    """

    conditional: bool = False

    def __init__(
        self,
        img_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 0,
        latent_dim: int = 100,
        latent: LatentSpec = "normal",
        generator: NetSpec = "auto",
        discriminator: NetSpec = "auto",
        g_width: int = 64,
        d_width: int = 64,
        optimizer: Literal["adam", "rmsprop", "sgd"] = "adam",
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        adam_eps: float = 1e-8,
        n_critic: int = 1,
        g_steps: int = 1,
        lr_schedule: Literal["linear_decay"] | None = None,
        lr_decay_start: float = 0.0,
        ema_decay: float | None = None,
        d_ema_rate: float | None = None,
        num_sample_images: int = 64,
        sample_seed: int = 0,
        balancing: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        modules = [name for name, value in (("generator", generator), ("discriminator", discriminator), ("latent", latent)) if isinstance(value, nn.Module)]
        self.save_hyperparameters(ignore=modules)
        # What this base received wins over what a caller recorded (LightningCLI hands over the
        # command line's values, `None` for "the paper's value" included), so a method that resolves
        # its defaults before calling super().__init__() trains with, and saves, the same values.
        received = dict(
            img_shape=tuple(img_shape), num_classes=num_classes, latent_dim=latent_dim, latent=latent, generator=generator,
            discriminator=discriminator, g_width=g_width, d_width=d_width, optimizer=optimizer, lr_g=lr_g, lr_d=lr_d,
            betas=betas, adam_eps=adam_eps, n_critic=n_critic, g_steps=g_steps, lr_schedule=lr_schedule, lr_decay_start=lr_decay_start,
            ema_decay=ema_decay, d_ema_rate=d_ema_rate, num_sample_images=num_sample_images, sample_seed=sample_seed,
            balancing=balancing,
        )
        self.hparams.update({name: value for name, value in received.items() if name not in modules})
        self.automatic_optimization = False
        self._check_hyperparameters()
        self.balancer = None if balancing is None else AdaptiveBalancer.from_options(balancing)

        self.img_shape = tuple(int(s) for s in img_shape)
        # Specs are names/dicts from the hyper-parameters, or modules given through the Python API.
        self._network_specs: dict[str, Any] = {"generator": generator, "discriminator": discriminator, "latent": latent}
        self._built = False
        self.d_step_count = 0
        self.g_step_count = 0
        self._critic_steps_done = 0
        self.logging_step = True  # whether the current training batch logs its metrics
        self._first_d_step = 0
        self._last_g_loss: Tensor | None = None
        self._cache_parametrizations: bool | None = None

    # ------------------------------------------------------------------ construction hooks
    def _check_hyperparameters(self) -> None:
        hp = self.hparams
        checks = [
            (hp.latent_dim >= 1, f"latent_dim must be >= 1, got {hp.latent_dim}"),
            (hp.n_critic >= 1, f"n_critic must be >= 1, got {hp.n_critic}"),
            (hp.g_steps >= 1, f"g_steps must be >= 1, got {hp.g_steps}"),
            (hp.lr_g > 0 and hp.lr_d > 0, f"learning rates must be positive, got lr_g={hp.lr_g}, lr_d={hp.lr_d}"),
            (hp.get("adam_eps", 1e-8) > 0, f"adam_eps must be positive, got {hp.get('adam_eps')}"),
            (hp.ema_decay is None or 0.0 < hp.ema_decay < 1.0, f"ema_decay must be in (0, 1), got {hp.ema_decay}"),
            (hp.d_ema_rate is None or 0.0 < hp.d_ema_rate <= 1.0, f"d_ema_rate must be in (0, 1], got {hp.d_ema_rate}"),
            (0.0 <= hp.lr_decay_start < 1.0, f"lr_decay_start must be in [0, 1), got {hp.lr_decay_start}"),
            (hp.num_sample_images >= 1, f"num_sample_images must be >= 1, got {hp.num_sample_images}"),
        ]
        require(*checks)

    def build(self) -> None:
        """Build the latent prior, the networks, their moving averages and the fixed sample noise.

        Called once, automatically, after the whole ``__init__`` chain of the class being
        constructed has run (also by ``load_from_checkpoint``), so the build hooks
        (:meth:`build_generator`, :meth:`build_discriminator`) see every hyper-parameter.
        """
        if self._built:
            return
        hp = self.hparams
        self.latent = build_latent(self.network_spec("latent"), hp.latent_dim)
        self.generator = self.build_generator()
        self.discriminator = self.build_discriminator()
        self.generator_ema: AveragedModel | None = None
        if hp.ema_decay is not None:
            self.generator_ema = AveragedModel(self.generator, multi_avg_fn=ema_with_warmup(hp.ema_decay), use_buffers=True)
            self.generator_ema.requires_grad_(False)
        self.discriminator_ema: AveragedModel | None = None
        if hp.d_ema_rate is not None:
            self.discriminator_ema = AveragedModel(self.discriminator, multi_avg_fn=get_ema_multi_avg_fn(1.0 - hp.d_ema_rate), use_buffers=True)
            self.discriminator_ema.requires_grad_(False)
        fixed = torch.Generator().manual_seed(hp.sample_seed)
        self.register_buffer("fixed_noise", self.latent.noise(hp.num_sample_images, generator=fixed))
        self._built = True

    def network_spec(self, role: Literal["generator", "discriminator", "latent"]) -> Any:
        """What the model was asked to build for ``role``: a registry name or dict (the
        hyper-parameter), or the ``nn.Module`` given through the Python API."""
        return self._network_specs[role]

    @property
    def discriminator_out_dim(self) -> int:
        """Width of the discriminator's output; 1 for a real/fake logit. Methods may override."""
        return 1

    def build_generator(self) -> nn.Module:
        """Build the generator from the hyper-parameters (override for custom networks)."""
        return build_generator(self.network_spec("generator"), self.img_shape, self.latent.dim, self.hparams.g_width)

    def build_discriminator(self) -> nn.Module:
        """Build the discriminator from the hyper-parameters, with :attr:`discriminator_out_dim` outputs."""
        return build_discriminator(self.network_spec("discriminator"), self.img_shape, self.hparams.d_width, out_dim=self.discriminator_out_dim)

    # ------------------------------------------------------------------ method hooks
    def discriminator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        """Loss minimised by the discriminator for one step. ``fake`` (``batch.fake.samples``) is
        detached from G; ``batch.fake`` also holds the latents and labels behind it."""
        raise NotImplementedError(f"{type(self).__name__} must implement discriminator_loss(batch, fake)")

    def generator_loss(self, batch: GANBatch, fake: Tensor) -> Tensor:
        """Loss minimised by the generator for one step. ``fake`` (``batch.fake.samples``) carries
        gradients to G; ``batch.fake`` also holds the latents and labels behind it."""
        raise NotImplementedError(f"{type(self).__name__} must implement generator_loss(batch, fake)")

    def prepare_batch(self, batch: GANBatch) -> GANBatch:
        """The batch every step of this training batch sees; override to check it or add to it
        (e.g. ``dataclasses.replace(batch, generator_real=...)``). Default: unchanged."""
        return batch

    def before_discriminator_step(self) -> None:
        """Runs before every discriminator update (WGAN clips the critic's weights here, as its code)."""

    def after_discriminator_step(self) -> None:
        """Runs after every discriminator update and the discriminator average's update."""

    def after_generator_step(self) -> None:
        """Runs after every generator update and the generator EMA's update."""

    def start_discriminator_average(self) -> None:
        """Start the discriminator's moving average before the first update. Default: its first
        update copies the weights (``AveragedModel``); Improved GAN starts from zero as its code."""

    def critic_steps(self) -> int:
        """Discriminator steps before the next generator round (WGAN overrides this for its warm-up)."""
        return self.hparams.n_critic

    def sample_latent(self, n: int) -> Tensor:
        """Draw ``n`` training latents on the module's device (with gradients to a trainable prior)."""
        return self.latent.sample(n, device=self.device)

    def sample_fake_labels(self, n: int, batch: GANBatch | None = None) -> Tensor | None:
        """Labels for generated samples; ``None`` for unconditional models."""
        return None

    def generate(self, z: Tensor, labels: Tensor | None = None, network: nn.Module | None = None) -> Tensor:
        """Map latents (and, for conditional models, labels) to samples."""
        return (network or self.generator)(z)

    # ------------------------------------------------------------------ the loop
    def training_step(self, batch: Any, batch_idx: int) -> None:
        batch = self.prepare_batch(as_gan_batch(batch))
        if self.d_step_count == 0 and self.g_step_count == 0 and self.discriminator_ema is not None:
            self.start_discriminator_average()
        self.logging_step = self._is_logging_step()
        opt_g, opt_d = self.optimizers()
        if self.balancer is not None:
            return balanced_batch(self, batch, opt_g, opt_d)
        d_loss = self.discriminator_step(batch, opt_d)
        self.log_train("train/d_loss", d_loss, prog_bar=True)
        self._critic_steps_done += 1
        if self._critic_steps_done >= self.critic_steps():
            self._critic_steps_done = 0
            for _ in range(self.hparams.g_steps):
                g_loss = self.generator_step(batch, opt_g)
            self._last_g_loss = g_loss
        if self._last_g_loss is not None:
            self.log_train("train/g_loss", self._last_g_loss, prog_bar=True)

    def _is_logging_step(self) -> bool:
        """Whether this training batch's metrics reach the loggers: every ``log_every_n_steps``-th
        batch, the first batch of a fit and the last batch of an epoch.

        Lightning writes step metrics when the count of batches so far (this one included) is a
        multiple of ``log_every_n_steps``, or when training is stopping; with manual optimisation
        that count is ``fit_loop.total_batch_idx + 1`` (public trainer state; a test holds this
        rule to Lightning's own decision on every batch of a fit).
        """
        trainer = self._trainer
        if trainer is None or self.d_step_count == self._first_d_step or trainer.is_last_batch or trainer.should_stop:
            return True
        return (trainer.fit_loop.total_batch_idx + 1) % max(1, trainer.log_every_n_steps) == 0

    def log_train(self, name: str, value: Any, **kwargs: Any) -> None:
        """``self.log`` for training metrics, called only on :attr:`logging_step` batches.

        ``self.log`` costs a few milliseconds of Python per call, and Lightning only writes step
        metrics every ``log_every_n_steps`` batches, so the other batches skip it. Methods compute
        metrics that are only logged (accuracies, distances) under ``if self.logging_step``.
        """
        if self.logging_step:
            self.log(name, value, **kwargs)

    def _parametrization_cache(self):
        """``torch.nn.utils.parametrize.cached()`` when every parametrized weight is a weight norm.

        A weight-normalised layer recomputes ``g * v / ||v||`` at every forward; a step that runs D
        on several batches (real, fake, labelled) computes it once per step in the cache, with
        the same values and gradients. Spectral norm is left uncached: its power iteration runs
        once per forward in training mode, and caching would change how often it runs.
        """
        if self._cache_parametrizations is None:
            found = [plist for m in self.modules() if parametrize.is_parametrized(m) for plist in m.parametrizations.values()]
            self._cache_parametrizations = bool(found) and all(is_weight_norm(plist) for plist in found)
        return parametrize.cached() if self._cache_parametrizations else nullcontext()

    def make_fake(self, batch: GANBatch) -> GANBatch:
        """``batch`` with a fresh generated side: ``batch.size`` latents, their labels and ``G(z)``."""
        labels = self.sample_fake_labels(batch.size, batch)
        z = self.sample_latent(batch.size)
        return replace(batch, fake=FakeBatch(samples=self.generate(z, labels), latents=z, labels=labels))

    def discriminator_step(self, batch: GANBatch, optimizer) -> Tensor:
        """One discriminator update on fresh latents; G is frozen and its output detached."""
        self.before_discriminator_step()
        with self.toggled_optimizer(optimizer):
            with torch.no_grad():
                batch = self.make_fake(batch)
            with self._parametrization_cache():
                loss = self.discriminator_loss(batch, batch.fake.samples)
            self._check_finite(loss, "discriminator", self.d_step_count)
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        self.d_step_count += 1
        if self.discriminator_ema is not None:
            self.discriminator_ema.update_parameters(self.discriminator)
        self.after_discriminator_step()
        return loss.detach()

    def generator_step(self, batch: GANBatch, optimizer) -> Tensor:
        """One generator update; the latent prior's regulariser (if any) is added to the loss."""
        with self.toggled_optimizer(optimizer):
            with self._parametrization_cache():
                batch = self.make_fake(batch)
                loss = self.generator_loss(batch, batch.fake.samples)
            penalty = self.latent.regularizer()
            if penalty is not None:
                loss = loss + penalty
            self._check_finite(loss, "generator", self.g_step_count)
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        self.g_step_count += 1
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)
        self.after_generator_step()
        return loss.detach()

    def _check_finite(self, loss: Tensor, network: str, step: int) -> None:
        """Stop before an update with a NaN/inf loss, so the weights (and any checkpoint) stay finite."""
        if not bool(torch.isfinite(loss)):
            raise NonFiniteLossError(
                f"non-finite {network} loss ({loss.item()}) at {network} step {step + 1} (global step "
                f"{self.global_step}); training stopped before the update, earlier checkpoints are untouched; "
                "lower the learning rate or check the data"
            )

    def on_train_epoch_end(self) -> None:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()

    # ------------------------------------------------------------------ evaluation
    def _held_out_d_loss(self, batch: Any) -> Tensor:
        batch = self.make_fake(as_gan_batch(batch))
        return self.discriminator_loss(batch, batch.fake.samples)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Discriminator loss on held-out real data against fresh fakes (methods add their own metrics)."""
        self.log("val/d_loss", self._held_out_d_loss(batch), prog_bar=True)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Discriminator loss on the test split against fresh fakes (methods add their own metrics)."""
        self.log("test/d_loss", self._held_out_d_loss(batch))

    # ------------------------------------------------------------------ optimisers
    def _make_optimizer(self, params, lr: float) -> torch.optim.Optimizer:
        hp = self.hparams
        params = list(params)
        if hp.optimizer == "adam":
            # torch's fused Adam (one kernel over all tensors) computes the same update as the
            # per-tensor loop many times faster on CPU, where that loop is a large share of a step.
            return torch.optim.Adam(params, lr=lr, betas=tuple(hp.betas), eps=hp.get("adam_eps", 1e-8), fused=_fused_available(params))
        if hp.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr)
        if hp.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr)
        raise ZooError(f"unknown optimizer {hp.optimizer!r}; choose adam, rmsprop or sgd")

    def generator_parameters(self) -> list[nn.Parameter]:
        """Parameters updated by the generator's optimizer: G and the latent prior."""
        return list(self.generator.parameters()) + list(self.latent.parameters())

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """Parameters updated by the discriminator's optimizer."""
        return list(self.discriminator.parameters())

    def configure_optimizers(self):
        hp = self.hparams
        opt_g = self._make_optimizer(self.generator_parameters(), hp.lr_g)
        opt_d = self._make_optimizer(self.discriminator_parameters(), hp.lr_d)
        if hp.lr_schedule is None:
            return [opt_g, opt_d]
        if hp.lr_schedule != "linear_decay":
            raise ZooError(f"unknown lr_schedule {hp.lr_schedule!r}; choose linear_decay or leave it empty")
        max_epochs = self.trainer.max_epochs if self._trainer is not None else None
        if not max_epochs or max_epochs < 1:
            raise ZooError("lr_schedule linear_decay needs a finite number of epochs; set --trainer.max_epochs")
        decay = _linear_decay(max_epochs, hp.lr_decay_start)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, labels: Tensor | None = None, use_ema: bool = True) -> Tensor:
        """Generate ``n`` samples in eval mode; works on a module loaded from a checkpoint, with no data.

        ``seed`` makes the draw reproducible on any device (the noise is drawn on the CPU).
        ``labels`` selects classes for conditional models. The EMA generator is used when present.
        Large ``n`` are generated in chunks of :data:`SAMPLE_CHUNK`, so only the output must fit in memory.
        """
        n = arguments.whole_number(n, "n")
        itemsize = torch.empty((), dtype=torch.get_default_dtype()).element_size()
        drawn_on = torch.device("cpu") if seed is not None else self.device
        arguments.fits_in_memory(n * self.latent.noise_dim * itemsize, drawn_on, f"the noise of {n} samples")
        if seed is not None:
            noise = self.latent.noise(n, generator=torch.Generator().manual_seed(arguments.seed(seed)))
        else:
            noise = self.latent.noise(n, device=self.device)
        return self.sample_from_noise(noise, labels=labels, use_ema=use_ema)

    @torch.no_grad()
    def sample_from_noise(self, noise: Tensor, labels: Tensor | None = None, use_ema: bool = True) -> Tensor:
        """Generate from raw prior noise (see :class:`zoo.latent.LatentPrior`) in eval mode."""
        noise = arguments.latent_batch(noise, self.latent.noise_dim, "noise")
        return self.sample_from_latent(self.latent(noise.to(self.device)), labels=labels, use_ema=use_ema)

    @torch.no_grad()
    def sample_from_latent(self, z: Tensor, labels: Tensor | None = None, use_ema: bool = True) -> Tensor:
        """Generate from latents ``z`` in eval mode (the EMA generator when present and ``use_ema``)."""
        z = arguments.latent_batch(z, self.latent.dim)
        arguments.no_labels(self, labels)
        network = self.generator_ema.module if (use_ema and self.generator_ema is not None) else self.generator
        with eval_mode(network):
            z = z.to(self.device)
            if labels is not None:
                labels = labels.to(self.device)
            if z.shape[0] <= SAMPLE_CHUNK:
                return self.generate(z, labels, network=network)
            return self._generate_in_chunks(z, labels, network)

    def _generate_in_chunks(self, z: Tensor, labels: Tensor | None, network: nn.Module) -> Tensor:
        """``generate`` over chunks of ``z`` into one preallocated output (the activations of a
        whole large batch would not fit; refused with one line when the output itself cannot)."""
        out: Tensor | None = None
        for start in range(0, z.shape[0], SAMPLE_CHUNK):
            stop = start + SAMPLE_CHUNK
            part = self.generate(z[start:stop], None if labels is None else labels[start:stop], network=network)
            if out is None:
                size = z.shape[0] * part[0].numel() * part.element_size()
                arguments.fits_in_memory(size, part.device, f"{z.shape[0]} samples")
                try:
                    out = part.new_empty((z.shape[0], *part.shape[1:]))
                except RuntimeError as error:  # more than the machine has free, CPU or GPU
                    raise ZooError(
                        f"{z.shape[0]} samples would take {size / 2**30:.1f} GiB, more than is free now ({type(error).__name__}); "
                        "generate fewer at a time (e.g. sample(n, seed=s) over several seeds)"
                    ) from None
            out[start:stop] = part
        assert out is not None
        return out

    def noise_for_indices(self, indices: Tensor) -> Tensor:
        """Raw prior noise for sample indices: index ``i`` always gets the same noise, seeded by
        ``(sample_seed, i)`` and drawn on the CPU, whatever the batch, device or number of ranks."""
        seed = int(self.hparams.sample_seed)
        rows = [self.latent.noise(1, generator=torch.Generator().manual_seed(sample_index_seed(seed, i))) for i in indices.tolist()]
        return torch.cat(rows).to(self.device)

    def labels_for_indices(self, indices: Tensor) -> Tensor | None:
        """Class labels of indexed samples for conditional models (``None`` for unconditional ones)."""
        return None

    def realness(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The discriminator's logit ``d(x)``, an estimate of ``log p_data(x) / p_G(x)``, shape ``(N,)``.

        DGflow and the other post-hoc samplers climb it. Methods whose discriminator output is not
        a single logit (K+1 classifiers, pair critics, conditional D) override this.
        """
        return self.discriminator(x).reshape(x.shape[0], -1)[:, 0]

    def predict_step(self, batch: Tensor, batch_idx: int) -> dict[str, Any]:
        """Generate the samples whose indices ``batch`` holds (see :meth:`noise_for_indices`)."""
        indices = batch.reshape(-1).long()
        noise = self.noise_for_indices(indices)
        labels = self.labels_for_indices(indices)
        images = self.sample_from_noise(noise, labels=labels)
        return {"index": indices.cpu(), "noise": noise, "labels": labels, "images": images}

    def fixed_labels(self) -> Tensor | None:
        """Labels that go with :attr:`fixed_noise` (conditional models); ``None`` otherwise."""
        return None

    def sample_fixed(self) -> Tensor:
        """Samples from the fixed noise saved in the checkpoint, for comparable grids across a run."""
        return self.sample_from_noise(self.fixed_noise, labels=self.fixed_labels())

    # ------------------------------------------------------------------ checkpoint state
    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, hparams_file=None, strict=None, weights_only: bool = True, **kwargs):
        """Build ``cls`` (the class it is called on) from a checkpoint, loading with ``weights_only=True``.

        A checkpoint that carries pickled code, or a truncated or foreign file, is refused with
        one line (:func:`zoo.checkpoint.check_loads_into`), and so is another zoo class's checkpoint.
        ``kwargs`` override saved hyper-parameters; one that changes a network's shape gets one line.
        """
        if isinstance(checkpoint_path, (str, Path)):
            check_loads_into(cls, checkpoint_path)  # one clear line for a bad file before Lightning reads it
        with explained_load_errors(cls, checkpoint_path, kwargs):
            return super().load_from_checkpoint(
                checkpoint_path, map_location=map_location, hparams_file=hparams_file, strict=strict, weights_only=weights_only, **kwargs
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hparams = checkpoint.get("hyper_parameters", {})
        # The CLI records how it built the module; keep the class path in our own key so that
        # `AnySubclass.load_from_checkpoint` builds the class it is called on.
        hparams.pop("_instantiator", None)
        class_path = hparams.pop("_class_path", None) or f"{type(self).__module__}.{type(self).__qualname__}"
        checkpoint[CHECKPOINT_KEY] = {
            "class_path": class_path,
            "d_step_count": self.d_step_count,
            "g_step_count": self.g_step_count,
            "critic_steps_done": self._critic_steps_done,
            "rng": _rng_state(),
        }
        if self.balancer is not None:
            checkpoint[CHECKPOINT_KEY]["balancer"] = self.balancer.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get(CHECKPOINT_KEY, {})
        self.d_step_count = int(state.get("d_step_count", 0))
        self.g_step_count = int(state.get("g_step_count", 0))
        self._critic_steps_done = int(state.get("critic_steps_done", 0))
        if self.balancer is not None and "balancer" in state:
            self.balancer.load_state_dict(state["balancer"])
        self._first_d_step = self.d_step_count
        # Random-number states make a resumed fit continue exactly (same latents, same shuffles).
        # Only when resuming a fit: loading a module for inference must not reset the global RNG.
        if "rng" in state and self._trainer is not None and self.trainer.state.fn == "fit":
            _set_rng_state(state["rng"])
            self._offset_rng_by_rank()

    def setup(self, stage: str) -> None:
        if stage == "fit":
            self._first_d_step = self.d_step_count
            self._offset_rng_by_rank()

    def _offset_rng_by_rank(self) -> None:
        """Give every DDP rank its own latent stream (seed_everything seeds all ranks alike)."""
        if self._trainer is not None and self.trainer.world_size > 1 and self.global_rank > 0:
            torch.manual_seed((torch.initial_seed() + 1_000_003 * self.global_rank + self.d_step_count) % 2**63)


def sample_index_seed(seed: int, index: int) -> int:
    """A 63-bit seed for sample ``index`` of a run seeded by ``seed`` (a fixed, documented mix)."""
    return (seed * 6_364_136_223_846_793_005 + index * 1_442_695_040_888_963_407 + 1) % (2**63)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fused_available(params) -> bool:
    """Whether torch's fused optimizer kernels take these parameters (floating point, on CPU or CUDA)."""
    params = list(params)
    return bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


def _linear_decay(max_epochs: int, start_fraction: float):
    """Learning-rate factor per epoch: 1 until ``start_fraction * max_epochs``, then linearly to 0."""
    start = start_fraction * max_epochs

    def factor(epoch: int) -> float:
        if epoch < start:
            return 1.0
        return max(0.0, (max_epochs - epoch) / max(max_epochs - start, 1e-8))

    return factor

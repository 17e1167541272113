"""An independent plain-torch reading of the official Improved GAN MNIST recipe, outside the zoo.

It separates "the zoo's loop is wrong" from "the recipe behaves this way in torch": the networks,
losses, data-dependent init, optimiser (the code's Adam, epsilon inside the square root), moving
average of D and data order of openai/improved-gan ``train_mnist_feature_matching.py``, written
directly with torch ops in one file and no zoo code. ``--variant`` changes one thing:

* ``official``: G's blocks Linear -> batch norm (shift only) -> softplus, sigmoid output;
* ``softplus``: the same with a softplus output (``configs/improved_gan/mnist_ssl_softplus.yaml``);
* ``normlast``: batch norm after each softplus (the zoo's ``norm_last`` option).

After every epoch it records the test errors of the averaged D and of D itself and the mean losses
in ``benchmarks/results/<out>.json``. Without the MNIST files it says so and exits 0.

    python benchmarks/ssl_mnist_reference.py --data-dir ../shared/data --epochs 2 --variant official softplus normlast
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("official", "softplus", "normlast")


class WeightNormDense(nn.Module):
    """The code's ``nn.DenseLayer``: ``W = theta * scale / ||theta||`` per unit, theta ~ N(0, 0.1),
    scale 1 (frozen unless ``train_scale``), bias 0, then the data-dependent init."""

    def __init__(self, fan_in: int, units: int, train_scale: bool = False, relu: bool = True) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.randn(fan_in, units) * 0.1)
        self.scale = nn.Parameter(torch.ones(units), requires_grad=train_scale)
        self.bias = nn.Parameter(torch.zeros(units))
        self.relu = relu

    def forward(self, x: Tensor, init: bool = False) -> Tensor:
        a = x @ (self.theta * (self.scale / self.theta.pow(2).sum(0).sqrt()))
        if init:  # centre and scale the batch's pre-activations, and fold that into scale and bias
            mean = a.mean(0)
            a = a - mean
            std = a.pow(2).mean(0).sqrt()
            a = a / std
            self.scale.data /= std
            self.bias.data = -mean / std
        else:
            a = a + self.bias
        return F.relu(a) if self.relu else a


class Discriminator(nn.Module):
    """Input noise 0.3, five weight-normalised ReLU layers each followed by noise 0.5, ten logits."""

    def __init__(self) -> None:
        super().__init__()
        sizes = [784, 1000, 500, 250, 250, 250]
        self.hidden = nn.ModuleList(WeightNormDense(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = WeightNormDense(250, 10, train_scale=True, relu=False)

    def forward(self, x: Tensor, noise: bool = True, init: bool = False, features: bool = False) -> Tensor:
        h = x + 0.3 * torch.randn_like(x) if noise else x
        for layer in self.hidden:
            f = layer(h, init=init)
            h = f + 0.5 * torch.randn_like(f) if noise else f
        return f if features else self.out(h, init=init)


class Generator(nn.Module):
    """``z ~ U(0, 1)^100 -> 500 -> 500 -> 784``: Glorot weights, batch norm with a learned shift, a
    weight-normalised output layer with a trainable gain."""

    def __init__(self, variant: str) -> None:
        super().__init__()
        self.variant = variant
        self.l1, self.l2 = nn.Linear(100, 500, bias=False), nn.Linear(500, 500, bias=False)
        for layer in (self.l1, self.l2):
            nn.init.xavier_uniform_(layer.weight)
        self.shift1, self.shift2 = nn.Parameter(torch.zeros(500)), nn.Parameter(torch.zeros(500))
        self.w = nn.Parameter(torch.empty(500, 784))
        nn.init.xavier_uniform_(self.w)
        self.gain, self.bias = nn.Parameter(torch.ones(784)), nn.Parameter(torch.zeros(784))

    @staticmethod
    def norm(h: Tensor, shift: Tensor) -> Tensor:
        centred = h - h.mean(0)
        return centred / (1e-6 + centred.pow(2).mean(0)).sqrt() + shift

    def forward(self, z: Tensor) -> Tensor:
        if self.variant == "normlast":
            h = self.norm(F.softplus(self.l1(z)), self.shift1)
            h = self.norm(F.softplus(self.l2(h)), self.shift2)
        else:
            h = F.softplus(self.norm(self.l1(z), self.shift1))
            h = F.softplus(self.norm(self.l2(h), self.shift2))
        a = h @ (self.w * (self.gain / (1e-6 + self.w.pow(2).sum(0)).sqrt())) + self.bias
        return F.softplus(a) if self.variant == "softplus" else torch.sigmoid(a)


class CodeAdam:
    """The code's Adam: bias-corrected moments, ``lr * m / sqrt(v + 1e-8)``."""

    def __init__(self, params, lr: float, beta1: float = 0.5, beta2: float = 0.999) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.beta1, self.beta2, self.t = lr, beta1, beta2, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v):
            m.mul_(self.beta1).add_(p.grad, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            p.sub_(self.lr * (m / (1 - self.beta1**self.t)) / (v / (1 - self.beta2**self.t) + 1e-8).sqrt())
            p.grad = None


def load_mnist(data_dir: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from torchvision.datasets import MNIST

    train, test = MNIST(data_dir, train=True), MNIST(data_dir, train=False)
    return train.data.float().div(255).view(-1, 784), train.targets, test.data.float().div(255).view(-1, 784), test.targets


def run(variant: str, epochs: int, data: tuple[Tensor, ...], seed: int, report, lr: float = 0.003) -> None:
    x, y, x_test, y_test = data
    rng = np.random.RandomState(seed)
    torch.manual_seed(seed)
    order = np.random.RandomState(seed).permutation(len(x))
    x_perm, y_perm = x[order], y[order]
    x_lab = torch.cat([x_perm[y_perm == k][:10] for k in range(10)])
    y_lab = torch.cat([y_perm[y_perm == k][:10] for k in range(10)])
    d, g = Discriminator(), Generator(variant)
    with torch.no_grad():
        d(x_perm[:500], init=True)  # the data-dependent init on 500 training digits, noise on
    d_params = [p for p in d.parameters() if p.requires_grad]
    average = [torch.zeros_like(p) for p in d_params]  # the moving average starts from zero
    opt_d, opt_g = CodeAdam(d.parameters(), lr), CodeAdam(g.parameters(), lr)
    x_unl, x_unl2 = x.clone(), x.clone()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        labelled = torch.cat([torch.from_numpy(rng.permutation(100)) for _ in range(600)])
        xl, yl = x_lab[labelled], y_lab[labelled]
        x_unl = x_unl[torch.from_numpy(rng.permutation(len(x)))]
        x_unl2 = x_unl2[torch.from_numpy(rng.permutation(len(x)))]
        totals = np.zeros(3)
        for t in range(600):
            batch = slice(t * 100, (t + 1) * 100)
            with torch.no_grad():
                fake = g(torch.rand(100, 100))
            logits_lab, logits_unl, logits_fake = d(xl[batch]), d(x_unl[batch]), d(fake)
            loss_lab = F.cross_entropy(logits_lab, yl[batch])
            s_unl, s_fake = torch.logsumexp(logits_unl, 1), torch.logsumexp(logits_fake, 1)
            loss_unl = -0.5 * s_unl.mean() + 0.5 * F.softplus(s_unl).mean() + 0.5 * F.softplus(s_fake).mean()
            (loss_lab + loss_unl).backward()
            opt_d.step()
            with torch.no_grad():
                for mean, p in zip(average, d_params):
                    mean.add_(1e-4 * (p - mean))
            d.requires_grad_(False)
            fake_features = d(g(torch.rand(100, 100)), features=True).mean(0)
            with torch.no_grad():
                real_features = d(x_unl2[batch], features=True).mean(0)
            loss_gen = (fake_features - real_features).pow(2).mean()
            loss_gen.backward()
            opt_g.step()
            for p in d_params:
                p.requires_grad_(True)
            totals += [loss_lab.item(), loss_unl.item(), loss_gen.item()]
        seconds = time.perf_counter() - start
        with torch.no_grad():
            errors_current = int((d(x_test, noise=False).argmax(1) != y_test).sum())
            current = [p.clone() for p in d_params]
            for p, mean in zip(d_params, average):
                p.copy_(mean)
            errors_average = int((d(x_test, noise=False).argmax(1) != y_test).sum())
            for p, saved in zip(d_params, current):
                p.copy_(saved)
        lab, unl, gen = (totals / 600).tolist()
        report(variant, {"epoch": epoch, "test_errors": errors_average, "test_errors_current_d": errors_current,
                         "loss_lab": lab, "loss_unl": unl, "loss_gen": gen, "seconds": seconds})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"), help="folder holding MNIST/raw")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--variant", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.003, help="Adam's learning rate for D and G (the code: 0.003; its first release: 0.001)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ssl_mnist_reference.json")
    args = parser.parse_args()
    raw = Path(args.data_dir) / "MNIST" / "raw"
    if not (raw / "train-images-idx3-ubyte").is_file():
        print(f"ssl_mnist_reference: skipped, no MNIST IDX files in {raw} (pass --data-dir, the folder holding MNIST/raw)")
        return 0
    torch.set_num_threads(args.threads)
    record = json.loads(args.out.read_text()) if args.out.is_file() else {"benchmark": "ssl_mnist_reference", "runs": {}}
    record.update({"protocol": "official MNIST recipe written directly in torch (no zoo code); test errors of 10,000 after each epoch",
                   "seed": args.seed, "threads": args.threads})

    def report(variant: str, row: dict) -> None:
        runs = record["runs"].setdefault(variant if args.lr == 0.003 else f"{variant}_lr{args.lr:g}", [])
        runs[:] = [r for r in runs if r["epoch"] < row["epoch"]] + [row]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"{variant} (lr {args.lr:g}) epoch {row['epoch']}: {row['test_errors']} test errors (current D {row['test_errors_current_d']}), "
              f"losses lab {row['loss_lab']:.4f} unl {row['loss_unl']:.4f} gen {row['loss_gen']:.4f}, {row['seconds']:.0f} s", flush=True)

    data = load_mnist(args.data_dir)
    for variant in args.variant:
        run(variant, args.epochs, data, args.seed, report, lr=args.lr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

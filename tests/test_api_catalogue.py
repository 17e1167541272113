"""The Python API's bad-input catalogue: each call must raise a :class:`zoo.ZooError` whose message
is one line holding the given words, as the CLI's catalogue promises for the command line.

The calls run on tiny modules (and data files written to a temporary folder); the tests after
the table check that the guarded calls still give the right results for good input.
"""

import gzip
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datafiles import balanced_labels, random_images, write_mnist
from PIL import Image

import zoo
from zoo.datamodules import ImageFolderDataModule, MNISTDataModule, SketchesDataModule
from zoo.errors import DataPermissionError, ZooError
from zoo.refine import refine

LATENT = 8
TINY = dict(img_shape=(1, 28, 28), latent_dim=LATENT, g_width=8, d_width=8, num_sample_images=4)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return SimpleNamespace(
        gan=zoo.GAN(**TINY),
        cgan=zoo.ConditionalGAN(num_classes=10, **TINY),
        wide=zoo.GAN(**{**TINY, "img_shape": (3, 64, 64), "latent_dim": 1}),
    )


def z(n=4, width=LATENT):
    return torch.randn(n, width)


def mnist_with_header(root, header: bytes) -> str:
    """MNIST files whose training-image file starts with ``header`` instead of its own magic number."""
    images, labels = random_images(20, (1, 28, 28), 0), balanced_labels(2)
    raw = write_mnist(str(root), (images, labels), (images, labels))
    path = f"{raw}/train-images-idx3-ubyte"
    body = open(path, "rb").read()
    open(path, "wb").write(header + body[4:])
    return str(root)


def gzipped_mnist(root) -> str:
    """MNIST files whose training images are still gzip-compressed under the extracted name."""
    images, labels = random_images(20, (1, 28, 28), 0), balanced_labels(2)
    raw = write_mnist(str(root), (images, labels), (images, labels))
    path = f"{raw}/train-images-idx3-ubyte"
    compressed = gzip.compress(open(path, "rb").read())
    open(path, "wb").write(compressed)
    return str(root)


def image_folder(root) -> str:
    for i in range(4):
        (root / "cats").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), 200, dtype=np.uint8)).save(root / "cats" / f"{i}.png")
    return str(root)


def deny(monkeypatch, module, name):
    """Make ``module.name`` (a file reader) fail as an unreadable file does."""
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(module, name, refuse)


def read_images(data_dir, **options):
    data = ImageFolderDataModule(data_dir=data_dir, image_size=8, batch_size=2, **options)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def unreadable_image_folder(m, d, mp):
    folder = image_folder(d / "images")
    deny(mp, Image, "open")
    return read_images(folder)


def unreadable_sketches(m, d, mp):
    folder = image_folder(d / "sketches")
    deny(mp, Image, "open")
    data = SketchesDataModule(data_dir=folder, image_size=8, batch_size=2)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def unreadable_mnist(m, d, mp):
    root = mnist_with_header(d, (0x0803).to_bytes(4, "big"))
    deny(mp, sys.modules["torchvision.datasets.mnist"], "read_image_file")
    return MNISTDataModule(data_dir=root, batch_size=4).setup("fit")


def unlistable_image_folder(m, d, mp):
    folder = image_folder(d / "images")
    deny(mp, sys.modules["os"], "listdir")
    return ImageFolderDataModule(data_dir=folder, image_size=8).num_classes


# (case, call(models, tmp_path, monkeypatch), words the one-line message must contain)
CATALOGUE = [
    # sample(): the number of samples, the seed, labels
    ("sample a negative number", lambda m, d, mp: m.gan.sample(-3), "n must be at least 1, got -3"),
    ("sample zero", lambda m, d, mp: m.gan.sample(0), "n must be at least 1, got 0"),
    ("sample a fraction", lambda m, d, mp: m.gan.sample(2.5), "n must be a whole number, got 2.5 (float)"),
    ("sample a string", lambda m, d, mp: m.gan.sample("16"), "n must be a whole number, got '16' (str)"),
    ("sample a boolean", lambda m, d, mp: m.gan.sample(True), "n must be a whole number, got True (bool)"),
    ("sample more than the memory holds", lambda m, d, mp: m.wide.sample(10**7), "10000000 samples would take 457.8 GiB, more than the"),
    ("sample noise larger than the memory", lambda m, d, mp: m.gan.sample(10**13), "the noise of 10000000000000 samples would take"),
    ("seed of 2**64", lambda m, d, mp: m.gan.sample(2, seed=2**64), "seed must be below 2**64"),
    ("seed below -2**63", lambda m, d, mp: m.gan.sample(2, seed=-(2**63) - 1), "seed must be at least -9223372036854775808"),
    ("fractional seed", lambda m, d, mp: m.gan.sample(2, seed=1.5), "seed must be a whole number, got 1.5"),
    ("labels for an unconditional model", lambda m, d, mp: m.gan.sample(2, labels=torch.tensor([1, 2])), "GAN is unconditional and cannot generate by class"),
    ("labels out of range", lambda m, d, mp: m.cgan.sample(2, labels=torch.tensor([1, 10])), "labels must be integers in [0, 10)"),
    ("labels of the wrong length", lambda m, d, mp: m.cgan.sample(2, labels=torch.tensor([1, 2, 3])), "expected shape (2,), got (3,)"),
    # sample_from_latent() / sample_from_noise(): the latents themselves
    ("latent of the wrong width", lambda m, d, mp: m.gan.sample_from_latent(z(4, 5)), "z must have shape (N, 8) for this model, got (4, 5)"),
    ("latent of rank 1", lambda m, d, mp: m.gan.sample_from_latent(z(1)[0]), "z must have shape (N, 8) for this model, got (8,)"),
    ("latent that is not a tensor", lambda m, d, mp: m.gan.sample_from_latent([[0.0] * LATENT]), "z must be a tensor of shape (N, 8), got list"),
    ("integer latent", lambda m, d, mp: m.gan.sample_from_latent(torch.zeros(2, LATENT, dtype=torch.long)), "must hold floating-point values"),
    ("NaN latent", lambda m, d, mp: m.gan.sample_from_latent(torch.full((2, LATENT), float("nan"))), "z holds NaN or infinite values"),
    ("conditional latent of the wrong width", lambda m, d, mp: m.cgan.sample_from_latent(z(2, 3)), "z must have shape (N, 8)"),
    ("noise of the wrong width", lambda m, d, mp: m.gan.sample_from_noise(z(4, 9)), "noise must have shape (N, 8) for this model, got (4, 9)"),
    # refine(): latents, labels, seeds and options
    ("refine a latent of the wrong width", lambda m, d, mp: refine(m.gan, z(4, 5)), "z0 must have shape (N, 8) for this model, got (4, 5)"),
    ("refine a latent of rank 3", lambda m, d, mp: refine(m.gan, torch.randn(2, 2, LATENT)), "got (2, 2, 8)"),
    ("refine an empty batch", lambda m, d, mp: refine(m.gan, z(0)), "z0 holds no latents"),
    ("refine labels out of range", lambda m, d, mp: refine(m.cgan, z(), labels=torch.tensor([0, 1, 2, 10]), steps=1), "labels must be integers in [0, 10)"),
    ("refine labels of the wrong length", lambda m, d, mp: refine(m.cgan, z(), labels=torch.tensor([0, 1]), steps=1), "expected shape (4,), got (2,)"),
    ("refine a conditional model without labels", lambda m, d, mp: refine(m.cgan, z(), steps=1), "conditional model: pass labels"),
    ("refine labels for an unconditional model", lambda m, d, mp: refine(m.gan, z(), labels=torch.arange(4), steps=1), "GAN is unconditional"),
    ("noise_seeds of the wrong length", lambda m, d, mp: refine(m.gan, z(), noise_seeds=torch.arange(2), steps=1),
     "noise_seeds must hold one value per sample: expected shape (4,), got (2,)"),
    ("fractional noise_seeds", lambda m, d, mp: refine(m.gan, z(), noise_seeds=torch.rand(4), steps=1), "noise_seeds must hold whole numbers"),
    ("NaN eta", lambda m, d, mp: refine(m.gan, z(), eta=float("nan")), "eta must be a finite number >= 0, got nan"),
    ("infinite eta", lambda m, d, mp: refine(m.gan, z(), eta=float("inf")), "eta must be a finite number >= 0, got inf"),
    ("negative gamma", lambda m, d, mp: refine(m.gan, z(), gamma=-1.0), "gamma must be a finite number >= 0, got -1.0"),
    ("fractional steps", lambda m, d, mp: refine(m.gan, z(), steps=2.5), "steps must be a whole number, got 2.5"),
    ("negative batch_size", lambda m, d, mp: refine(m.gan, z(), batch_size=-1, steps=1), "batch_size must be at least 1, got -1"),
    ("fractional snapshot step", lambda m, d, mp: refine(m.gan, z(), steps=2, snapshot_steps=[1.5]), "a snapshot step must be a whole number"),
    ("zero k_eff", lambda m, d, mp: refine(m.gan, z(), method="dot", k_eff=0.0, steps=1), "k_eff must be positive"),
    # data files
    ("MNIST with a wrong magic number", lambda m, d, mp: MNISTDataModule(data_dir=mnist_with_header(d, (0x0809).to_bytes(4, "big")), batch_size=4).setup("fit"),
     "'train-images-idx3-ubyte' starts with the magic number 0x00000809 instead of MNIST's 0x00000803 (not an MNIST IDX file)"),
    ("MNIST labels where images belong",
     lambda m, d, mp: MNISTDataModule(data_dir=mnist_with_header(d, (0x0801).to_bytes(4, "big")), batch_size=4).setup("fit"),
     "starts with the magic number 0x00000801 instead of MNIST's 0x00000803"),
    ("MNIST still gzip-compressed", lambda m, d, mp: MNISTDataModule(data_dir=gzipped_mnist(d), batch_size=4).setup("fit"), "(a gzip archive: extract it)"),
    ("MNIST file this user may not read", unreadable_mnist, "permission denied reading"),
    ("image this user may not read", unreadable_image_folder, "permission denied reading"),
    ("image folder this user may not list", unlistable_image_folder, "permission denied reading"),
    ("sketch this user may not read", unreadable_sketches, "permission denied reading"),
]


@pytest.mark.parametrize("case, call, words", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_call(case, call, words, models, tmp_path, monkeypatch):
    with pytest.raises(ZooError) as info:
        call(models, tmp_path, monkeypatch)
    message = str(info.value)
    print(f"{case}: {message}")
    assert len(message.splitlines()) == 1, message
    assert words in message


def test_permission_errors_are_permission_errors(tmp_path, monkeypatch):
    """Code that handles ``PermissionError`` keeps working, and the advice is not the corrupt-file one."""
    folder = image_folder(tmp_path / "images")
    deny(monkeypatch, Image, "open")
    with pytest.raises(PermissionError) as info:
        read_images(folder)
    assert isinstance(info.value, DataPermissionError) and "corrupt" not in str(info.value)
    assert str(tmp_path / "images" / "cats") in str(info.value)  # names the file


# ------------------------------------------------------------------ good input still works


def test_large_samples_come_in_chunks_with_the_same_values(models, monkeypatch):
    import zoo.base

    whole = models.gan.sample(10, seed=3)
    monkeypatch.setattr(zoo.base, "SAMPLE_CHUNK", 3)
    calls = []
    generate = models.gan.generate
    monkeypatch.setattr(models.gan, "generate", lambda *a, **k: calls.append(a[0].shape[0]) or generate(*a, **k))
    chunked = models.gan.sample(10, seed=3)
    assert calls == [3, 3, 3, 1]
    torch.testing.assert_close(chunked, whole)


def test_seeds_and_labels_that_torch_accepts_still_work(models):
    assert models.gan.sample(2, seed=2**64 - 1).shape == (2, 1, 28, 28)
    assert models.gan.sample(np.int64(2), seed=np.int64(-1)).shape == (2, 1, 28, 28)
    torch.testing.assert_close(models.cgan.sample(2, seed=0, labels=[3, 4]), models.cgan.sample(2, seed=0, labels=torch.tensor([3, 4])))
    assert models.gan.sample_from_noise(torch.empty(0, LATENT)).shape == (0, 1, 28, 28)  # an empty share of a split


def test_refine_accepts_lists_and_python_numbers(models):
    start = z(4)
    result = refine(models.cgan, start, labels=[0, 1, 2, 9], noise_seeds=[5, 6, 7, 8], steps=np.int64(2), eta=np.float32(0.1), batch_size=2)
    again = refine(models.cgan, start, labels=torch.tensor([0, 1, 2, 9]), noise_seeds=torch.tensor([5, 6, 7, 8]), steps=2, eta=0.1)
    torch.testing.assert_close(result.z, again.z)

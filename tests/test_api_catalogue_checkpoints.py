"""The Python API's checkpoint catalogue: each misuse of loading raises one ZooError line naming the
problem and the fix, and nothing a checkpoint names is imported."""

import sys

import pytest
import torch
from conftest import quiet_trainer, tiny_loader

import zoo
from zoo.errors import ZooError

PROBE = "zoo_probe_module_named_by_a_checkpoint"


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A module on the import path that leaves a marker file when imported; yields the marker's path."""
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{PROBE}.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nGAN = None\ndef build(*a, **k):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    assert not marker.exists(), "a module named by a checkpoint was imported"
    assert PROBE not in sys.modules


@pytest.fixture(scope="module")
def gan_checkpoint(tmp_path_factory):
    model = zoo.GAN(img_shape=(1, 28, 28), latent_dim=8, g_width=8, d_width=8, num_sample_images=4)
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(model, tiny_loader(n=8))
    path = tmp_path_factory.mktemp("gan") / "gan.ckpt"
    trainer.save_checkpoint(path)
    return path


def rewritten(source, target, class_path=None, **hyper_parameters):
    """A copy of checkpoint ``source`` whose saved class path and hyper-parameters are changed."""
    checkpoint = torch.load(source, weights_only=True)
    if class_path is not None:
        checkpoint["zoo"]["class_path"] = class_path
    checkpoint["hyper_parameters"].update(hyper_parameters)
    torch.save(checkpoint, target)
    return target


def test_load_from_checkpoint_does_not_import_lightnings_instantiator(gan_checkpoint, probe, tmp_path):
    path = rewritten(gan_checkpoint, tmp_path / "x.ckpt", _instantiator=f"{PROBE}.build", _class_path="zoo.gan.GAN")
    with pytest.raises(ZooError, match=rf"hyper-parameter _instantiator\) names '{PROBE}.build'; the zoo does not import module"):
        zoo.GAN.load_from_checkpoint(path)
    with pytest.raises(ZooError, match="_instantiator"):
        zoo.Classifier.load_from_checkpoint(path)


def test_load_from_checkpoint_does_not_import_lightnings_class_path(gan_checkpoint, probe, tmp_path):
    path = rewritten(gan_checkpoint, tmp_path / "x.ckpt", _instantiator="zoo.checkpoint.public_name", _class_path=f"{PROBE}.GAN")
    with pytest.raises(ZooError, match=rf"hyper-parameter _class_path\) names '{PROBE}.GAN'"):
        zoo.GAN.load_from_checkpoint(path)


def test_saved_class_path_is_not_imported_by_load_or_the_classifier(gan_checkpoint, probe, tmp_path):
    path = rewritten(gan_checkpoint, tmp_path / "x.ckpt", class_path=f"{PROBE}.GAN")
    with pytest.raises(ZooError, match=f"import {PROBE} first"):
        zoo.load(path)
    with pytest.raises(ZooError, match=rf"holds {PROBE}.GAN, not a zoo Classifier"):
        zoo.Classifier.load_from_checkpoint(path)


@pytest.mark.parametrize("payload", ["zip", "raw pickle"])
def test_pickled_code_is_reported_as_such_whatever_the_format(payload, tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("never runs",))

    path = tmp_path / "code.ckpt"
    torch.save({"state_dict": {}, "payload": Payload()}, path, _use_new_zipfile_serialization=payload == "zip")
    with pytest.raises(ZooError, match=r"carries pickled code \((builtins\.)?print\)"):
        zoo.load(path)


@pytest.mark.parametrize("field, value, words", [
    ("name", "../outside", "may hold only letters"),
    ("name", "a/b", "may hold only letters"),
    ("sha256", "z" * 64, "64 hex digits"),
    ("sha256", "0" * 63, "64 hex digits"),
    ("url", "package:../../etc/passwd", "directly inside zoo/weights"),
])
def test_registry_records_cannot_point_outside_the_cache(field, value, words):
    record = dict(name="test-record", url="file:///nowhere.ckpt", sha256="0" * 64, module="zoo.GAN", dataset="x")
    record[field] = value
    with pytest.raises(ZooError, match=words):
        zoo.register_pretrained(zoo.Pretrained(**record))
    assert "test-record" not in zoo.list_pretrained()


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_another_zoo_classs_checkpoint_names_the_class_it_holds(gan_checkpoint, tmp_path):
    with pytest.raises(ZooError) as error:
        zoo.WGAN.load_from_checkpoint(gan_checkpoint)
    assert one_line(error).endswith("holds zoo.GAN, not zoo.WGAN; use zoo.load or zoo.GAN.load_from_checkpoint")
    classifier = tmp_path / "classifier.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "zoo": {"class_path": "zoo.classifier.Classifier"}}, classifier)
    with pytest.raises(ZooError, match="holds zoo.Classifier, not zoo.GAN; use zoo.load or zoo.Classifier.load_from_checkpoint"):
        zoo.GAN.load_from_checkpoint(classifier)


def test_a_users_subclass_still_loads_a_checkpoint(gan_checkpoint):
    class MyGAN(zoo.GAN):
        pass

    assert type(MyGAN.load_from_checkpoint(gan_checkpoint)) is MyGAN


@pytest.mark.parametrize("bad, words", [
    (None, "zoo.load needs a registered name or a checkpoint path, got None"),
    ("", "zoo.load needs a registered name or a checkpoint path, got ''"),
    (3, "got 3"),
])
def test_load_without_a_name_or_path(bad, words):
    with pytest.raises(ZooError) as error:
        zoo.load(bad)
    assert words in one_line(error)


def test_load_of_a_folder(tmp_path):
    with pytest.raises(ZooError, match="is a folder; pass the path of a .ckpt file inside it"):
        zoo.load(tmp_path)


def test_override_that_changes_a_network_shape(gan_checkpoint):
    with pytest.raises(ZooError) as error:
        zoo.load(gan_checkpoint, latent_dim=16)
    text = one_line(error)
    assert "does not fit zoo.GAN (" in text and "has another shape); drop the overrides (latent_dim=16)" in text
    with pytest.raises(ZooError, match=r"drop the overrides \(g_width=16\)"):
        zoo.GAN.load_from_checkpoint(gan_checkpoint, g_width=16)


def test_override_the_class_does_not_take(gan_checkpoint):
    with pytest.raises(ZooError) as error:
        zoo.load(gan_checkpoint, latent_dims=16)
    assert one_line(error) == "zoo.GAN has no option 'latent_dims'; check the overrides (latent_dims=16)"


def test_override_that_keeps_the_shapes_applies(gan_checkpoint):
    assert zoo.load(gan_checkpoint, lr_g=1e-3).hparams.lr_g == 1e-3

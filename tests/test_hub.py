"""zoo.load and the pretrained registry: class picked from the checkpoint, verified cache, offline use."""

import json

import pytest
import torch
from conftest import quiet_trainer, tiny_loader

import zoo
from zoo import hub
from zoo.errors import ZooError


@pytest.fixture
def trained(tmp_path, tiny_gan_kwargs):
    model = zoo.GAN(ema_decay=0.9, **tiny_gan_kwargs)
    trainer = quiet_trainer(max_steps=4)
    trainer.fit(model, tiny_loader())
    path = tmp_path / "gan.ckpt"
    trainer.save_checkpoint(path)
    return model, path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    for name in list(hub._REGISTRY):
        if name.startswith("test-"):
            hub.unregister_pretrained(name)


def test_load_path_picks_the_class_and_samples(trained):
    model, path = trained
    loaded = zoo.load(path)
    assert type(loaded) is zoo.GAN and not loaded.training
    assert torch.equal(loaded.sample(4, seed=3), model.sample(4, seed=3))


def test_registered_file_url_downloads_verifies_and_works_offline(trained, cache, tmp_path):
    model, path = trained
    slim = tmp_path / "slim.ckpt"
    digest = hub.export(path, slim)
    assert slim.stat().st_size < path.stat().st_size  # optimizer states dropped
    zoo.register_pretrained(zoo.Pretrained(name="test-gan", url=slim.as_uri(), sha256=digest, module="zoo.GAN", dataset="random"))
    assert "test-gan" in zoo.list_pretrained()
    loaded = zoo.load("test-gan")
    assert torch.equal(loaded.sample(4, seed=1), model.sample(4, seed=1))
    assert len(list(cache.glob("test-gan-*.ckpt"))) == 1
    slim.unlink()  # the source is gone: the verified cache serves the next load
    assert torch.equal(zoo.load("test-gan").sample(2, seed=0), model.sample(2, seed=0))


def test_hash_mismatch_is_refused_and_deleted(trained, cache):
    _, path = trained
    zoo.register_pretrained(zoo.Pretrained(name="test-bad", url=path.as_uri(), sha256="0" * 64, module="zoo.GAN", dataset="random"))
    with pytest.raises(ZooError, match="sha256 .* expected 0000"):
        zoo.load("test-bad")
    assert not list(cache.glob("*"))


def test_unreachable_url_and_unknown_name(cache):
    zoo.register_pretrained(zoo.Pretrained(name="test-offline", url="file:///nonexistent/x.ckpt", sha256="1" * 64, module="zoo.GAN", dataset="x"))
    with pytest.raises(ZooError, match="could not download"):
        zoo.load("test-offline")
    with pytest.raises(ZooError, match="neither a checkpoint file nor a registered name"):
        zoo.load("no-such-model")


def test_half_precision_export_loads(trained, tmp_path):
    model, path = trained
    slim = tmp_path / "half.ckpt"
    hub.export(path, slim, half=True)
    loaded = zoo.load(slim)
    assert loaded.generator.project[0].weight.dtype == torch.float32
    torch.testing.assert_close(loaded.sample(4, seed=0), model.sample(4, seed=0), atol=2e-2, rtol=0)


def test_class_from_checkpoint_must_be_a_zoo_or_imported_module():
    with pytest.raises(ZooError, match="import evil_package first"):
        hub.module_class("evil_package.Model")
    with pytest.raises(ZooError, match="not a LightningModule"):
        hub.module_class("zoo.losses.minimax_loss_d")
    assert hub.module_class("zoo.GAN") is zoo.GAN


def test_a_json_table_registers_its_records_and_a_malformed_one_is_one_line(trained, cache, tmp_path):
    model, path = trained
    slim = tmp_path / "slim.ckpt"
    record = dict(name="test-table", url=slim.as_uri(), sha256=hub.export(path, slim, half=True), module="zoo.GAN", dataset="random", metrics={"fid": 1.5})
    table = tmp_path / "pretrained.json"
    table.write_text(json.dumps([record]))
    assert hub.register_packaged(table) == ["test-table"]
    assert hub.pretrained_info("test-table").metrics == {"fid": 1.5}
    assert torch.allclose(zoo.load("test-table").sample(2, seed=0), model.sample(2, seed=0), atol=1e-2)  # float16 weights
    table.write_text('[{"name": "test-broken"}]')
    with pytest.raises(ZooError, match="malformed"):
        hub.register_packaged(table)


@pytest.mark.parametrize("name", hub.list_pretrained())
def test_every_shipped_checkpoint_verifies_loads_and_samples(name):
    record = hub.pretrained_info(name)
    model = zoo.load(name)
    assert f"{type(model).__module__.split('.')[0]}.{type(model).__name__}" == record.module
    if hasattr(model, "sample"):
        labels = torch.arange(4) % 10 if getattr(model, "conditional", False) else None
        images = model.sample(4, seed=0, labels=labels)
        assert images.shape[0] == 4 and torch.isfinite(images).all()
    assert record.metrics and record.protocol


def test_zoo_cache_empty_tilde_and_file(tmp_path, monkeypatch):
    from zoo.metrics import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_CACHE", "")
    assert hub.cache_dir() == tmp_path / "home" / ".cache" / "gan-zoo"  # empty counts as unset
    monkeypatch.setenv("ZOO_CACHE", "~/zoo-cache")
    assert hub.cache_dir() == tmp_path / "home" / "zoo-cache"
    assert default_cache_dir() == tmp_path / "home" / "zoo-cache" / "real-features"  # one variable for every cache
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "a-file"))
    with pytest.raises(ZooError, match=r"\$ZOO_CACHE \(.*a-file\) is a file, not a folder; point ZOO_CACHE at a folder or unset it"):
        hub.cache_dir()

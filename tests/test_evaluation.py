"""The Evaluation callback: monitored logging, cached real features, clean checkpoints, DDP, Inception files, `zoo test`."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer
from evaluation_helpers import TINY_GAN, classifier_checkpoint, digits, gan_checkpoint
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

import zoo
import zoo.callbacks.evaluation as evaluation_module
from zoo.callbacks import Evaluation
from zoo.cli import main
from zoo.errors import ZooError
from zoo.metrics import InceptionNetwork

ROOT = Path(__file__).resolve().parents[1]
FID = "val/fid(classifier:embedded_mnist)"
SMALL = dict(metrics=["is", "fid", "kid", "mis", "mis_all_pairs"], num_samples=40, is_splits=2, kid_subsets=5, kid_subset_size=20, batch_size=16)


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    return classifier_checkpoint(tmp_path_factory.mktemp("clf") / "clf.ckpt")


def tiny_gan(seed: int = 0) -> zoo.GAN:
    torch.manual_seed(seed)
    return zoo.GAN(img_shape=(1, 28, 28), num_classes=10, **TINY_GAN)


def test_fit_logs_a_monitored_metric_and_keeps_the_network_out_of_checkpoints(tmp_path, classifier_path):
    evaluation = Evaluation(network=str(classifier_path), cache_dir=str(tmp_path / "cache"), **SMALL)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor=FID, mode="min", save_top_k=1)
    stopping = EarlyStopping(monitor=FID, mode="min", patience=5)
    trainer = quiet_trainer(max_epochs=2, enable_checkpointing=True, callbacks=[evaluation, checkpoint, stopping])
    trainer.fit(tiny_gan(), datamodule=digits())
    assert checkpoint.best_model_score is not None and torch.isfinite(checkpoint.best_model_score)
    assert torch.isfinite(stopping.best_score)
    for name in ("is", "kid", "mis", "mis_all_pairs"):
        assert f"val/{name}(classifier:embedded_mnist)" in trainer.callback_metrics
    saved = torch.load(checkpoint.best_model_path, weights_only=True)
    assert not [key for key in saved["state_dict"] if "classifier" in key or "network" in key]
    assert set(saved["state_dict"]) == set(tiny_gan().state_dict())
    assert evaluation.reports["val"]["network"] == "classifier:embedded_mnist"
    assert evaluation.reports["val"]["num_real"] == 80


def test_real_features_are_cached_and_invalidated_when_the_network_changes(tmp_path, monkeypatch, classifier_path):
    cache = tmp_path / "cache"
    path = tmp_path / "clf.ckpt"
    shutil.copy(classifier_path, path)
    model, data = tiny_gan(), digits()
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(model, datamodule=data)

    def evaluate() -> dict:
        evaluation = Evaluation(network=str(path), cache_dir=str(cache), **SMALL)
        evaluation.setup(trainer, model, "fit")
        return evaluation.evaluate(trainer, model, 40)

    first = evaluate()
    assert len(list(cache.glob("*.pt"))) == 1
    real_reads = []
    original = evaluation_module._images
    monkeypatch.setattr(evaluation_module, "_images", lambda *args: real_reads.append(1) or original(*args))
    assert evaluate() == first  # a fresh callback: the features come from the disk cache
    assert real_reads == []
    retrained = torch.load(path, weights_only=True)  # "retrained": other weights under the same file name
    retrained["state_dict"]["network.head.weight"] += 0.01
    torch.save(retrained, path)
    evaluate()
    assert real_reads and len(list(cache.glob("*.pt"))) == 2


def test_too_few_samples_for_kid_is_one_line():
    with pytest.raises(ZooError, match="num_samples=40 is fewer than KID's kid_subset_size=1000"):
        Evaluation(network="x.ckpt", metrics=["kid"], num_samples=40)


def test_missing_inception_weights_name_the_expected_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    expected = tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    with pytest.raises(ZooError) as info:
        InceptionNetwork()
    assert str(expected) in str(info.value) and "\n" not in str(info.value)
    evaluation = Evaluation(network="inception", inception_weights=str(tmp_path / "mine.pth"), metrics=["is"], num_samples=40)
    with pytest.raises(ZooError, match="mine.pth"):
        evaluation.setup(quiet_trainer(), tiny_gan(), "test")


def test_inception_network_loads_a_local_weights_file(tmp_path, monkeypatch):
    # Random weights of the right architecture, saved as the real file would be.
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity

    with monkeypatch.context() as patch:
        patch.setattr(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state, *a, **k: None)
        weights = fidelity.FeatureExtractorInceptionV3("random", ["2048"]).state_dict()
    path = tmp_path / "inception.pth"
    torch.save(weights, path)
    network = InceptionNetwork(weights=str(path))
    images = torch.rand(2, 1, 28, 28) * 2 - 1
    features, probs = network.features_and_probs(images)
    assert features.shape == (2, 2048) and probs.shape == (2, 1008)
    assert torch.allclose(probs.sum(dim=1), torch.ones(2))
    with pytest.raises(ZooError, match="must lie in"):
        network.features_and_probs(images * 255)


DDP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import lightning as L
    sys.path[:0] = [sys.argv[4], sys.argv[4] + "/tests"]
    import zoo
    from zoo.callbacks import Evaluation
    from evaluation_helpers import digits
    from test_evaluation import SMALL
    gan, classifier, out = sys.argv[1:4]
    model = zoo.GAN.load_from_checkpoint(gan)
    evaluation = Evaluation(network=classifier, real_split="test", num_real=50, cache_dir=out + ".cache", **{**SMALL, "num_samples": 45})
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_progress_bar=False, callbacks=[evaluation],
                        enable_model_summary=False, enable_checkpointing=False, limit_test_batches=2)
    trainer.test(model, datamodule=digits(), verbose=False)
    if trainer.is_global_zero:
        json.dump(evaluation.reports["test"]["metrics"], open(out, "w"))
    """
)


def test_two_process_ddp_gives_the_single_process_numbers(tmp_path, classifier_path):
    gan = gan_checkpoint(tmp_path / "gan.ckpt")
    script, out = tmp_path / "ddp_eval.py", tmp_path / "ddp.json"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(script), str(gan), str(classifier_path), str(out), str(ROOT)], env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    distributed = json.loads(out.read_text())

    evaluation = Evaluation(network=str(classifier_path), real_split="test", num_real=50, cache_dir=str(tmp_path / "single"), **{**SMALL, "num_samples": 45})
    trainer = quiet_trainer(callbacks=[evaluation], limit_test_batches=2)
    trainer.test(zoo.GAN.load_from_checkpoint(gan), datamodule=digits(), verbose=False)
    single = evaluation.reports["test"]["metrics"]
    assert set(distributed) == set(single) and len(single) == 7
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def test_zoo_test_prints_the_metrics_with_their_network_and_writes_json(tmp_path, classifier_path, capsys):
    gan = gan_checkpoint(tmp_path / "gan.ckpt")
    config = tmp_path / "eval.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            trainer:
              default_root_dir: {tmp_path / 'runs'}
              enable_progress_bar: false
              limit_test_batches: 2
              callbacks:
                - class_path: zoo.callbacks.Evaluation
                  init_args:
                    network: {classifier_path}
                    metrics: [is, fid, mis]
                    num_samples: 40
                    is_splits: 2
                    real_split: test
                    num_real: 100
                    cache_dir: {tmp_path / 'cache'}
            """
        )
    )
    code = main(
        ["test", "--config", str(config), "--model", "GAN", "--data", "EmbeddedMNISTDataModule", "--data.limit_per_class", "8", "--ckpt_path", str(gan)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "classifier:embedded_mnist" in out and "test/fid" in out and "gan.test.json" in out
    record = json.loads((tmp_path / "gan.test.json").read_text())
    assert record["model"] == "GAN" and record["checkpoint"] == str(gan)
    assert set(record["metrics"]) >= {
        "test/fid(classifier:embedded_mnist)", "test/is(classifier:embedded_mnist)", "test/mis(classifier:embedded_mnist)", "test/d_loss"
    }
    details = record["details"]["Evaluation"]
    assert details["network"] == "classifier:embedded_mnist" and details["num_samples"] == 40 and len(details["network_sha256"]) == 64

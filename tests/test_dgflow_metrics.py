"""DGflow during `zoo test`: metrics of the refined samples at each snapshot step, on the Evaluation network."""

import json
import textwrap

import pytest
import torch
from conftest import quiet_trainer
from evaluation_helpers import classifier_checkpoint, digits, gan_checkpoint

import zoo
from zoo.callbacks import DGflow, Evaluation
from zoo.cli import main
from zoo.errors import ZooError

NETWORK = "classifier:embedded_mnist"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("dgflow_metrics")
    return classifier_checkpoint(root / "clf.ckpt"), gan_checkpoint(root / "gan.ckpt")


def evaluation(classifier, tmp_path) -> Evaluation:
    return Evaluation(
        network=str(classifier), metrics=["is", "fid", "mis"], num_samples=24, is_splits=2, real_split="test", num_real=60, cache_dir=str(tmp_path)
    )


def test_metrics_at_each_snapshot_and_step_zero_is_the_unrefined_sample(checkpoints, tmp_path):
    classifier, gan = checkpoints
    model = zoo.load(gan)
    evaluate = evaluation(classifier, tmp_path)
    # The one-step tiny GAN's critic (DCGAN init, weights N(0, 0.02)) has gradients near 1e-5 in z:
    # a large step makes the refinement visible in the metrics.
    refine = DGflow(steps=4, snapshot_steps=[0, 2, 4], num_test_samples=24, batch_size=10, eta=5000.0, gamma=0.0)
    trainer = quiet_trainer(limit_test_batches=1, callbacks=[evaluate, refine])
    trainer.test(model, datamodule=digits())
    logged = {k: v.item() for k, v in trainer.callback_metrics.items()}
    for step in (0, 2, 4):
        for metric in ("is", "fid", "mis"):
            assert f"test/refine@{step}/{metric}({NETWORK})" in logged
        assert f"test/refine@{step}/realness" in logged
    # Noise-free refinement climbs the discriminator logit, and the metrics move with the samples.
    assert logged[f"test/refine@4/fid({NETWORK})"] != logged[f"test/refine@0/fid({NETWORK})"]
    assert logged["test/refine@4/realness"] > logged["test/refine@0/realness"]
    # Step 0 holds the unrefined samples that `zoo predict` gives for indices 0..23.
    unrefined = model.predict_step(torch.arange(24), 0)["images"]
    expected = evaluate.evaluate_images(trainer, model, unrefined.split(7))
    assert logged[f"test/refine@0/fid({NETWORK})"] == pytest.approx(expected[f"fid({NETWORK})"], rel=1e-4)
    report = refine.reports["test"]
    assert report["network"] == NETWORK and sorted(report["steps"]) == [0, 2, 4]


def test_too_few_refined_samples_for_kid_is_one_line(checkpoints, tmp_path):
    classifier, gan = checkpoints
    evaluate = Evaluation(network=str(classifier), metrics=["kid"], num_samples=40, kid_subsets=2, kid_subset_size=30, cache_dir=str(tmp_path))
    trainer = quiet_trainer(limit_test_batches=1, callbacks=[evaluate, DGflow(steps=2, num_test_samples=20)])
    with pytest.raises(ZooError, match="num_test_samples=20.*kid_subset_size=30"):
        trainer.test(zoo.load(gan), datamodule=digits())


def test_zoo_test_writes_refinement_metrics_to_the_json_file(checkpoints, tmp_path, capsys):
    classifier, gan = checkpoints
    config = tmp_path / "refine.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            trainer:
              default_root_dir: {tmp_path / 'runs'}
              enable_progress_bar: false
              limit_test_batches: 1
              callbacks:
                - class_path: zoo.callbacks.Evaluation
                  init_args: {{network: {classifier}, metrics: [fid], num_samples: 20, real_split: test, num_real: 50, cache_dir: {tmp_path / 'cache'}}}
                - class_path: zoo.callbacks.DGflow
                  init_args: {{steps: 2, snapshot_steps: [0, 2], num_test_samples: 20}}
            """
        )
    )
    copy = tmp_path / "gan.ckpt"
    copy.write_bytes(gan.read_bytes())
    code = main(["test", "--config", str(config), "--data", "EmbeddedMNISTDataModule", "--data.limit_per_class", "8", "--ckpt_path", str(copy)])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "test/refine@2/fid" in out
    record = json.loads((tmp_path / "gan.test.json").read_text())
    assert f"test/refine@2/fid({NETWORK})" in record["metrics"]
    assert set(record["details"]["DGflow"]["steps"]) == {"0", "2"}

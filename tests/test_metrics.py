"""Metric math on hand-made probabilities and features: IS, m-IS (both variants), FID, KID, bad input."""

import time

import pytest
import torch

from zoo.errors import ZooError
from zoo.metrics import (
    FeatureSet,
    MetricSettings,
    compute_metrics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    metric_key,
    modified_inception_score,
    modified_inception_score_all_pairs,
    modified_inception_scores_per_class,
    parse_metric_key,
)
from zoo.metrics.networks import check_image_range


def confident(labels: torch.Tensor, num_classes: int, eps: float = 1e-9) -> torch.Tensor:
    """Near one-hot probabilities for ``labels``."""
    probs = torch.full((len(labels), num_classes), eps, dtype=torch.float64)
    probs[torch.arange(len(labels)), labels] = 1.0
    return probs / probs.sum(dim=1, keepdim=True)


def reference_mis(probs: torch.Tensor) -> float:
    """DeLiGAN's m-IS by its definition: a double loop over the pairs of each predicted class."""
    predicted = probs.argmax(dim=1)
    scores = []
    for c in range(probs.shape[1]):
        members = probs[predicted == c]
        if len(members) == 0:
            continue
        total = sum(float((p_i * (p_i.log() - p_j.log())).sum()) for p_i in members for p_j in members)
        scores.append(torch.tensor(total / len(members) ** 2).exp())
    return float(torch.stack(scores).mean())


def reference_mis_all_pairs(probs: torch.Tensor) -> float:
    total = sum(float((p_i * (p_i.log() - p_j.log())).sum()) for p_i in probs for p_j in probs)
    return float(torch.tensor(total / len(probs) ** 2).exp())


def test_inception_score_of_uniform_confident_predictions_is_the_class_count():
    probs = confident(torch.arange(200) % 10, 10)
    mean, std = inception_score(probs, splits=1)
    assert mean == pytest.approx(10.0, rel=1e-5) and std == 0


def test_inception_score_of_identical_predictions_is_one():
    probs = torch.tensor([[0.7, 0.2, 0.1]]).repeat(60, 1)
    mean, std = inception_score(probs, splits=3)
    assert mean == pytest.approx(1.0, abs=1e-6) and std == pytest.approx(0.0, abs=1e-6)


def test_inception_score_is_seeded():
    probs = torch.rand(100, 5, generator=torch.Generator().manual_seed(0)).mul(4).softmax(dim=1)
    assert inception_score(probs, splits=5, seed=1) == inception_score(probs, splits=5, seed=1)


def test_mis_of_identical_samples_is_one_and_grows_with_within_class_diversity():
    same = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]]).repeat_interleave(20, dim=0)
    assert float(modified_inception_score(same)) == pytest.approx(1.0, abs=1e-6)
    # Same predicted classes, but within each class the runner-up differs from sample to sample.
    varied = same.clone()
    varied[::2] = torch.tensor([[0.8, 0.19, 0.01], [0.01, 0.8, 0.19]]).repeat_interleave(10, dim=0)
    assert float(modified_inception_score(varied)) > 1.05


@pytest.mark.parametrize("seed", [0, 1])
def test_mis_matches_a_double_loop_reference(seed):
    g = torch.Generator().manual_seed(seed)
    probs = (torch.randn(30, 4, generator=g, dtype=torch.float64) * 2).softmax(dim=1)
    assert float(modified_inception_score(probs)) == pytest.approx(reference_mis(probs), rel=1e-5)
    assert float(modified_inception_score_all_pairs(probs)) == pytest.approx(reference_mis_all_pairs(probs), rel=1e-5)


def test_mis_variants_differ_and_empty_classes_are_skipped():
    # Two confident classes, a third never predicted: per class is 1, all pairs is huge.
    probs = confident(torch.tensor([0, 0, 1, 1]), 3, eps=1e-3)
    per_class = modified_inception_scores_per_class(probs)
    assert per_class[2].isnan() and torch.allclose(per_class[:2], torch.ones(2))
    assert float(modified_inception_score(probs)) == pytest.approx(1.0)
    assert float(modified_inception_score_all_pairs(probs)) > 10


def test_mis_over_ten_thousand_samples_takes_well_under_a_second():
    probs = torch.randn(10_000, 10, generator=torch.Generator().manual_seed(0)).softmax(dim=1)
    start = time.perf_counter()
    modified_inception_score(probs), modified_inception_score_all_pairs(probs)
    assert time.perf_counter() - start < 1.0


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    features = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    assert float(frechet_distance(features, features)) == pytest.approx(0.0, abs=1e-4)
    shifts = [float(frechet_distance(features, features + s)) for s in (0.5, 1.0, 2.0)]
    # A pure mean shift of s in each of 8 dimensions adds exactly 8 s^2.
    assert shifts == pytest.approx([8 * 0.25, 8 * 1.0, 8 * 4.0], rel=1e-4)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(300, 8, generator=g), torch.randn(300, 8, generator=g)
    same, _ = kernel_inception_distance(real, fake, subsets=10, subset_size=100)
    shifted, _ = kernel_inception_distance(real, fake + 1.0, subsets=10, subset_size=100)
    assert abs(float(same)) < 0.5 and float(shifted) > 5 * max(abs(float(same)), 0.1)
    assert kernel_inception_distance(real, fake, subsets=5, subset_size=50, seed=3) == kernel_inception_distance(real, fake, subsets=5, subset_size=50, seed=3)


def test_kid_refuses_fewer_samples_than_its_subset_size():
    with pytest.raises(ZooError, match="subset size 100 exceeds the 50 generated samples"):
        kernel_inception_distance(torch.randn(200, 4), torch.randn(50, 4), subset_size=100)


def test_probabilities_are_checked():
    with pytest.raises(ZooError, match="pass logits.softmax"):
        modified_inception_score(torch.randn(10, 3))


@pytest.mark.parametrize(
    "images, words",
    [
        (torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8), "got uint8"),
        (torch.rand(2, 1, 4, 4) * 255, "divide by 127.5"),
        (torch.rand(2, 1, 4, 4) * 3 - 1.5, "must lie in [-1, 1]"),
        (torch.full((2, 1, 4, 4), float("nan")), "NaN"),
    ],
    ids=["uint8", "0-255", "too-wide", "nan"],
)
def test_images_in_the_wrong_range_are_refused(images, words):
    with pytest.raises(ZooError) as info:
        check_image_range(images)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_compute_metrics_names_the_network_in_every_key():
    g = torch.Generator().manual_seed(0)
    real = FeatureSet(torch.randn(60, 4, generator=g), torch.randn(60, 3, generator=g).softmax(dim=1))
    fake = FeatureSet(torch.randn(60, 4, generator=g), torch.randn(60, 3, generator=g).softmax(dim=1))
    results = compute_metrics(
        ["is", "fid", "kid", "mis", "mis_all_pairs"], "classifier:toy", fake, real, MetricSettings(is_splits=2, kid_subsets=3, kid_subset_size=20)
    )
    assert set(results) == {metric_key(m, "classifier:toy") for m in ("is", "is_std", "fid", "kid", "kid_std", "mis", "mis_all_pairs")}
    assert parse_metric_key("test/fid(classifier:toy)") == ("test/fid", "classifier:toy")
    assert parse_metric_key("test/d_loss") is None
    with pytest.raises(ZooError, match="choose from"):
        compute_metrics(["fidd"], "x", fake, real)

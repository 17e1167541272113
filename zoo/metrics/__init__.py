"""Evaluation metrics: IS, FID, KID (torchmetrics) and DeLiGAN's m-IS, on a chosen feature network.

Layers, each usable alone:

* :mod:`zoo.metrics.scores`: pure functions of features / class probabilities;
* :mod:`zoo.metrics.networks`: feature networks (InceptionV3 from a local file, a zoo classifier);
* :mod:`zoo.metrics.evaluate`: extraction and named results (``fid(classifier:embedded_mnist)``);
* :mod:`zoo.metrics.cache`: real-data features cached on disk by (exact real images, network);
* :mod:`zoo.metrics.classifiers`: which shipped classifier serves which data set;
* :mod:`zoo.metrics.modes`: modes covered, mode KL and the 2-D toys' mode quality;
* :mod:`zoo.metrics.stacked`: a digit classifier read per channel (Stacked MNIST's 1,000 modes).

    from zoo.metrics import ClassifierNetwork, extract_features, compute_metrics
    network = ClassifierNetwork.from_checkpoint("classifier.ckpt", num_classes=10)
    fake = extract_features(network, model.sample(1000, seed=0).split(250))
    compute_metrics(["is", "mis"], network.name, fake)
{'is(classifier:embedded_mnist)': ..., 'is_std(...)': ..., 'mis(classifier:embedded_mnist)': ...}
"""

from zoo.metrics.cache import RealFeatureCache, RealKey, default_cache_dir
from zoo.metrics.classifiers import SHIPPED_CLASSIFIERS, classifier_for
from zoo.metrics.evaluate import (
    DEFAULT_METRICS,
    METRICS,
    FeatureSet,
    MetricSettings,
    compute_metrics,
    extract_features,
    metric_key,
    parse_metric_key,
)
from zoo.metrics.modes import (
    class_histogram,
    curve_quality,
    mode_kl,
    mode_metrics,
    modes_covered,
    nearest_mode_quality,
)
from zoo.metrics.networks import (
    ClassifierNetwork,
    FeatureNetwork,
    InceptionNetwork,
    check_image_range,
    default_inception_path,
    load_feature_network,
)
from zoo.metrics.scores import (
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    modified_inception_score,
    modified_inception_score_all_pairs,
    modified_inception_scores_per_class,
    requested_class_accuracy,
)
from zoo.metrics.stacked import ChannelwiseNetwork, joint_channel_log_probs

__all__ = [
    "ChannelwiseNetwork",
    "class_histogram",
    "curve_quality",
    "joint_channel_log_probs",
    "mode_kl",
    "mode_metrics",
    "modes_covered",
    "nearest_mode_quality",
    "DEFAULT_METRICS",
    "METRICS",
    "SHIPPED_CLASSIFIERS",
    "ClassifierNetwork",
    "FeatureNetwork",
    "FeatureSet",
    "InceptionNetwork",
    "MetricSettings",
    "RealFeatureCache",
    "RealKey",
    "check_image_range",
    "classifier_for",
    "compute_metrics",
    "default_cache_dir",
    "default_inception_path",
    "extract_features",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "load_feature_network",
    "metric_key",
    "modified_inception_score",
    "modified_inception_score_all_pairs",
    "modified_inception_scores_per_class",
    "parse_metric_key",
    "requested_class_accuracy",
]

"""Which shipped classifier judges which data set: one table, read by ``network: auto``.

A GAN's IS, FID and m-IS are only meaningful on a feature network trained on the same kind of
images. The table maps a data set's name (:func:`zoo.naming.dataset_name`: ``embedded_mnist``,
``mnist``, ``cifar10``, ...) to the registered name of a ``zoo.Classifier`` in the pretrained
table (:func:`zoo.list_pretrained`), or ``stacked:<name>`` for a digit classifier read on every
channel (Stacked MNIST's 1,000 modes). A data set without an entry
uses InceptionV3 when its weights are on disk (see :class:`zoo.callbacks.Evaluation`).

To add a classifier: register it in ``zoo/weights/pretrained.json`` (or with
:func:`zoo.hub.register_pretrained`) and add a line here.
"""

from __future__ import annotations

from typing import Any

from zoo.naming import dataset_name

#: data set name -> registered classifier name
SHIPPED_CLASSIFIERS: dict[str, str] = {
    "embedded_mnist": "classifier-embedded-mnist",
    "mnist": "classifier-mnist",
    "fashion_mnist": "classifier-fashion-mnist",
    "stacked_mnist": "stacked:classifier-mnist",
}


def classifier_for(datamodule: Any) -> str | None:
    """The registered classifier that judges ``datamodule``'s data (a datamodule or a data set name); ``None`` if none."""
    name = datamodule if isinstance(datamodule, str) else dataset_name(datamodule)
    return SHIPPED_CLASSIFIERS.get(name)

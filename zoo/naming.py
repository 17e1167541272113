"""Short, stable names for data sets, used in metric keys, cache files and reports."""

from __future__ import annotations

import re
from typing import Any

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``EmbeddedMNIST`` -> ``embedded_mnist``, ``CIFAR10`` -> ``cifar10``."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def dataset_name(datamodule: Any) -> str:
    """The data set a datamodule serves, in snake case: ``EmbeddedMNISTDataModule`` -> ``embedded_mnist``.

    A datamodule with a string ``name`` attribute (the toy data) appends it: ``toy_25gaussians``.
    """
    base = type(datamodule).__name__
    for suffix in ("DataModule", "Datamodule"):
        if base.endswith(suffix) and base != suffix:
            base = base[: -len(suffix)]
    name = snake_case(base)
    extra = getattr(datamodule, "name", None)
    if isinstance(extra, str) and extra:
        name = f"{name}_{snake_case(extra)}"
    return name

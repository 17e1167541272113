"""Named builders of one kind (generators, discriminators, latent priors), chosen by a config spec.

A spec is a name (``dcgan``) or a dict with a ``name`` key and the builder's options
(``{name: dcgan, norm: spectral}``); :class:`Registry` turns either into a built object, with one
line naming the problem and the choices when the name or the options are wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from zoo.errors import ZooError

Builder = TypeVar("Builder", bound=Callable[..., Any])


class Registry(dict):
    """A table of builders filled by :meth:`register`, read by :meth:`split` and :meth:`build`.

    Args:
        kind: what the table holds, for messages (``"generator"``, ``"latent prior"``).
        option: the config key a spec is given under (``"generator"``, ``"latent"``).
        example: a name to show in the message about a malformed spec.
        also: further accepted names, appended to the list of choices (``" or 'auto'"``).
    """

    def __init__(self, kind: str, option: str, example: str, also: str = "") -> None:
        super().__init__()
        self.kind, self.option, self.example, self.also = kind, option, example, also

    def register(self, name: str) -> Callable[[Builder], Builder]:
        """Decorator: make a builder (a function or a class) available under ``name``."""

        def wrap(builder: Builder) -> Builder:
            self[name] = builder
            return builder

        return wrap

    def split(self, spec: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """``(name, options)`` of a spec given as a name or a dict with a ``name`` key."""
        if isinstance(spec, str):
            return spec, {}
        if isinstance(spec, dict) and "name" in spec:
            return spec["name"], {k: v for k, v in spec.items() if k != "name"}
        raise ZooError(f"{self.option} must be a name or a dict with a 'name' key, got {spec!r}; e.g. {self.option}: {self.example}")

    def build(self, name: str, options: dict[str, Any], *args: Any, key: str | None = None, **kwargs: Any) -> Any:
        """Call the builder registered as ``key`` (default ``name``) with ``args``, ``kwargs`` and the spec's ``options``."""
        key = name if key is None else key
        if key not in self:
            raise ZooError(f"unknown {self.kind} {name!r}; choose one of {sorted(self)}{self.also}")
        try:
            return self[key](*args, **kwargs, **options)
        except TypeError as err:
            raise ZooError(f"bad options for {self.kind} {name!r}: {err}") from None

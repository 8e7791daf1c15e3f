"""Registries: plain dicts whose keys are the registered functions' names."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

from .exceptions import ConfigurationError, close_matches

__all__ = ["lookup", "register"]

F = TypeVar("F", bound=Callable[..., Any])


def register(registry: MutableMapping[str, Any], name: str | None = None) -> Callable[[F], F]:
    """Decorator adding a function to ``registry`` under its own name (or ``name``)."""

    def deco(func: F) -> F:
        key = name or func.__name__
        if key in registry and registry[key] is not func:
            raise ConfigurationError(f"{key!r} is already registered.")
        registry[key] = func
        return func

    return deco


def lookup(registry: MutableMapping[str, Any], key: str, what: str) -> Any:
    """``registry[key]`` or a :class:`ConfigurationError` listing the allowed keys."""
    try:
        return registry[key]
    except KeyError:
        raise ConfigurationError(
            f"unknown {what} {key!r}; choose one of {sorted(registry)}."
            + close_matches(key, registry)
        ) from None

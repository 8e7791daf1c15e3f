"""The project's exception and warning types.

Every error neuroalign raises on bad input is one of these. Each subclasses the built-in
exception a Python user would expect (``ValueError``, ``KeyError``, ...), so ``except ValueError``
keeps working, while ``except NeuroalignError`` catches everything the library raises on purpose.
Messages name the argument, show what was received and say what would work.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CacheError",
    "ConfigurationError",
    "DataNotFoundError",
    "DependencyError",
    "LayerNotFoundError",
    "ModelLoadError",
    "NeuroalignError",
    "NeuroalignWarning",
    "NotFittedError",
    "OutputError",
    "ShapeError",
    "StimulusMismatchError",
    "ValidationError",
    "close_matches",
]


class NeuroalignError(Exception):
    """Base class of every error neuroalign raises on purpose."""


class ValidationError(NeuroalignError, ValueError):
    """An argument has the wrong value: NaNs, constant targets, duplicate ids, bad options."""


class ShapeError(ValidationError):
    """An array has the wrong number of dimensions or a size that does not match another one."""


class StimulusMismatchError(ValidationError):
    """Two objects that must describe the same stimuli do not; the message lists the differences."""


class ConfigurationError(ValidationError):
    """An option is unknown or options contradict each other; the message lists allowed values."""


class DataNotFoundError(ConfigurationError):
    """A dataset's files for one unit (e.g. one subject) are not in the data folder; a
    benchmark over several subjects reports that subject as excluded instead of failing."""


class LayerNotFoundError(NeuroalignError, KeyError):
    """A requested layer does not exist in the model; the message suggests close names."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class ModelLoadError(NeuroalignError, RuntimeError):
    """A model id could not be resolved or its weights could not be obtained."""


class DependencyError(NeuroalignError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""


class NotFittedError(NeuroalignError, AttributeError):
    """An estimator was used before ``fit``."""


class CacheError(NeuroalignError, OSError):
    """The feature store cannot be read or written (disk full, permissions); the message names
    the store's folder and the system's reason."""


class OutputError(NeuroalignError, OSError):
    """An output file cannot be written (missing or read-only folder, disk full); the message
    names the user's path (never an internal temporary file) and the system's reason."""


class NeuroalignWarning(UserWarning):
    """Something was excluded or adjusted; the warning says what and how many."""


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return a ``" Did you mean ...?"`` suffix listing names close to ``name`` (or ``""``)."""
    found = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=n, cutoff=0.5)
    if not found:
        return ""
    return " Did you mean " + " or ".join(repr(f) for f in found) + "?"

"""Command-line interface (typer): ``neuroalign demo | info | layers``."""

from ._app import app, main

__all__ = ["app", "main"]

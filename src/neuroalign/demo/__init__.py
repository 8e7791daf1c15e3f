"""The built-in demo (``neuroalign demo``): real-data RSA and synthetic encoding with known answers."""

from ._demo import DEFAULT_MODEL, DemoResult, pick_source_layers, run_demo

__all__ = ["DEFAULT_MODEL", "DemoResult", "pick_source_layers", "run_demo"]

"""The one identity: content hashes for every cache and store key in neuroalign.

Every store (the feature store of ``extract``, the cell store of ``bench``, anything later) keys
through this module, so a value that can change a number is hashed the same way everywhere.

**Encoding.** An :class:`Identity` is a SHA-256 fed with *typed, length-prefixed* fields: each
value is written as a one-byte type tag, an 8-byte length and its payload, and containers
(lists, tuples, dicts) as their tag, their size and their items. So no two different sequences
of values hash alike by concatenation (``"s1" + "0 cats"`` is not ``"s10" + " cats"``), ``1`` is
not ``1.0`` nor ``"1"``, and a float is hashed by its exact IEEE bytes (never its ``repr``).
Values that cannot be keyed by content (an arbitrary object, a lambda, a ``Path`` whose content
is unknown) are refused with a :class:`TypeError`: hashing ``repr`` or a name is the bug class
this module exists to prevent.

**Callables.** A callable has no content hash that is both stable and complete (its globals, the
functions it calls, a C extension); :func:`callable_key` returns its explicit ``cache_key``
attribute, or for functions of neuroalign itself (versioned with the package) the hash of their
compiled code, and None otherwise, so callers refuse to cache custom code without a key.
:func:`code_hash` hashes a function's own code, constants, defaults and closure values (what a
re-registered metric changes when its author edits it).

**Models.** :func:`module_fingerprint` hashes a torch module's class, module tree, the source of
classes defined outside torch and the model zoos, and every parameter and buffer (persistent or
not). torch is imported only when a module is hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import marshal
import math
import struct
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "Identity",
    "callable_key",
    "code_hash",
    "device_key",
    "hash_parts",
    "identity",
    "module_fingerprint",
    "tokenizer_key",
]

_LIBRARIES = ("torch.", "torchvision.", "timm.", "transformers.", "open_clip.", "efficientnet")
# One tag byte per kind of field; never reuse or renumber (keys on disk depend on them).
_TAGS = {
    "none": b"N",
    "bool": b"B",
    "int": b"I",
    "float": b"F",
    "str": b"S",
    "bytes": b"Y",
    "array": b"A",
    "list": b"L",
    "dict": b"D",
    "field": b"K",
}


class Identity:
    """A SHA-256 of typed, length-prefixed fields (see the module docstring).

    Examples
    --------
    >>> Identity().add("s1").add("0 cats").hexdigest() != Identity().add("s10").add(" cats").hexdigest()
    True
    >>> Identity().add(1).hexdigest() != Identity().add(1.0).hexdigest()
    True
    """

    __slots__ = ("_h",)

    def __init__(self, tag: str | None = None) -> None:
        self._h = hashlib.sha256()
        if tag is not None:
            self.add(tag)

    def _raw(self, tag: str, payload: bytes | memoryview) -> None:
        self._h.update(_TAGS[tag])
        self._h.update(len(payload).to_bytes(8, "little"))
        self._h.update(payload)

    def add(self, value: Any) -> Identity:
        """Feed one value: None, bool, int, float, str, bytes, a NumPy array or scalar, or a
        list / tuple / dict of these (dict keys must be strings). Returns ``self``."""
        if value is None:
            self._raw("none", b"")
        elif isinstance(value, (bool, np.bool_)):
            self._raw("bool", b"1" if value else b"0")
        elif isinstance(value, (int, np.integer)):
            self._raw("int", str(int(value)).encode())
        elif isinstance(value, (float, np.floating)):
            v = float(value)
            self._raw("float", b"nan" if math.isnan(v) else struct.pack("<d", v))
        elif isinstance(value, str):
            self._raw("str", value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._raw("bytes", memoryview(value).cast("B"))
        elif isinstance(value, np.ndarray):
            self.add_array(value)
        elif isinstance(value, (list, tuple)):
            self._raw("list", str(len(value)).encode())
            for v in value:
                self.add(v)
        elif isinstance(value, Mapping):
            keys = list(value)
            if not all(isinstance(k, str) for k in keys):
                raise TypeError(f"identity: dict keys must be strings; got {keys!r}.")
            self._raw("dict", str(len(keys)).encode())
            for k in sorted(keys):
                self.add(k).add(value[k])
        else:
            raise TypeError(
                f"identity: a {type(value).__module__}.{type(value).__qualname__} cannot be keyed "
                "by its content; pass its content (arrays, numbers, strings) or an explicit "
                "cache_key."
            )
        return self

    def add_array(self, a: np.ndarray) -> Identity:
        """An array by dtype, shape and bytes (no copy when contiguous); object arrays (strings,
        mixed ids) element by element."""
        a = np.asarray(a)
        if a.dtype.hasobject:
            self._raw("array", f"object|{a.shape}".encode())
            for v in a.ravel():
                self.add(v.item() if isinstance(v, np.generic) else v)
            return self
        self._raw("array", f"{a.dtype.str}|{a.shape}".encode())
        flat = np.ascontiguousarray(a).reshape(-1)
        self._raw("bytes", memoryview(flat.view(np.uint8)) if flat.size else b"")
        return self

    def add_field(self, name: str, value: Any) -> Identity:
        """A named field: the name, then the value."""
        self._raw("field", name.encode())
        return self.add(value)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def identity(*values: Any, tag: str | None = None) -> str:
    """The hex SHA-256 identity of ``values`` (each typed and length-prefixed)."""
    ident = Identity(tag)
    for v in values:
        ident.add(v)
    return ident.hexdigest()


def hash_parts(parts: Mapping[str, Any]) -> str:
    """The identity of named parts (sorted by name): the one way a store key is made."""
    ident = Identity("parts")
    for name in sorted(parts):
        ident.add_field(name, parts[name])
    return ident.hexdigest()


def callable_key(fn: Any) -> str | None:
    """A callable's identity for a store key: its ``cache_key`` attribute (a non-empty str), or
    for functions of neuroalign itself without a closure (versioned with the package) a hash of
    their compiled code; None when it cannot be keyed (the caller then asks for ``cache_key``)."""
    key = getattr(fn, "cache_key", None)
    if isinstance(key, str) and key:
        return "key:" + key
    code = getattr(fn, "__code__", None)
    if code is not None and str(getattr(fn, "__module__", "")).startswith("neuroalign."):
        if not getattr(fn, "__closure__", None):
            return "neuroalign:" + hashlib.sha256(marshal.dumps(code)).hexdigest()
    return None


def code_hash(fn: Callable[..., Any]) -> str:
    """A function's own code by content: its compiled code (with constants and nested
    functions), defaults, keyword defaults and closure values. Functions it *calls* are not
    included: a change there needs a version bump. Non-functions (a class, a ``partial``) are
    hashed through their ``__call__`` / ``func`` and arguments where possible."""
    import functools

    ident = Identity("code")
    if isinstance(fn, functools.partial):
        ident.add(code_hash(fn.func))
        with contextlib.suppress(TypeError):
            ident.add(list(fn.args)).add(dict(fn.keywords))
        return ident.hexdigest()
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", fn)  # noqa: B004
    target = getattr(target, "__func__", target)
    code = getattr(target, "__code__", None)
    if code is None:
        with contextlib.suppress(OSError, TypeError):
            return ident.add(inspect.getsource(fn)).hexdigest()
        return ident.add(
            f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}"
        ).hexdigest()
    ident.add(marshal.dumps(code))
    for extra in (
        getattr(target, "__defaults__", None),
        getattr(target, "__kwdefaults__", None),
        [c.cell_contents for c in (getattr(target, "__closure__", None) or ())],
    ):
        try:
            ident.add(list(extra) if isinstance(extra, tuple) else extra)
        except (TypeError, ValueError):  # an unhashable default: its type at least
            ident.add(repr(type(extra)))
    return ident.hexdigest()


def module_fingerprint(module: Any) -> str:
    """SHA-256 of a torch module: architecture (class, module tree, the source of classes
    defined outside torch and the model zoos) and every parameter and buffer, persistent or
    not, by name, dtype, shape and bytes."""
    import torch

    ident = Identity("module")
    ident.add(f"{type(module).__module__}.{type(module).__qualname__}")
    ident.add(repr(module))
    seen: set[type] = set()
    for m in module.modules():
        cls = type(m)
        if cls in seen or cls.__module__.startswith(_LIBRARIES):
            continue
        seen.add(cls)
        with contextlib.suppress(OSError, TypeError):
            ident.add(inspect.getsource(cls))
    # plain settings a module's forward reads that its repr may not show (GoogLeNet's
    # transform_input, a temperature): every public int/float/bool/str (or tuple of them)
    for name, m in module.named_modules():
        for k, v in sorted(vars(m).items()):
            if k.startswith("_") or k == "training" or not _plain(v):
                continue
            ident.add(f"attr|{name}|{k}").add(list(v) if isinstance(v, tuple) else v)
    tensors = [("param", *kv) for kv in module.named_parameters(remove_duplicate=False)]
    tensors += [("buffer", *kv) for kv in module.named_buffers(remove_duplicate=False)]
    for what, name, t in tensors:
        t = t.detach().cpu().contiguous()
        ident.add(f"{what}|{name}|{t.dtype}|{tuple(t.shape)}")
        ident.add(memoryview(t.reshape(-1).view(torch.uint8).numpy()) if t.numel() else b"")
    return ident.hexdigest()


def _plain(v: Any) -> bool:
    if isinstance(v, tuple | list):
        return len(v) <= 64 and all(_plain(x) for x in v)
    return v is None or isinstance(v, bool | int | float | str)


def module_custom_code(module: Any) -> list[tuple[str, Any]]:
    """``(where, callable)`` for code that changes a module's outputs without being part of its
    classes, which :func:`module_fingerprint` cannot see: forward hooks and pre-hooks (on any
    submodule, and torch's global ones) and a ``forward`` assigned on an instance (a lesion, an
    ablation, a patch). neuroalign's own capture hooks and those the model libraries install
    themselves (transformers' output capture) are left out, as their classes' source is."""
    from torch.nn.modules import module as torch_module

    def ours(fn: Any) -> bool:
        mod = str(getattr(getattr(fn, "func", fn), "__module__", "") or "") + "."
        return mod.startswith(("neuroalign.", *_LIBRARIES))

    out: list[tuple[str, Any]] = []
    for name, m in module.named_modules():
        where = name or "the model"
        for kind in ("_forward_hooks", "_forward_pre_hooks"):
            out += [(f"{kind[1:-1]} on {where}", h) for h in getattr(m, kind, {}).values()]
        if "forward" in vars(m):
            out.append((f"forward assigned on {where}", vars(m)["forward"]))
    for kind in ("_global_forward_hooks", "_global_forward_pre_hooks"):
        out += [(kind[1:-1], h) for h in getattr(torch_module, kind, {}).values()]
    return [(where, fn) for where, fn in out if not ours(fn)]


def tokenizer_key(tok: Any) -> str | None:
    """A tokenizer by content: a fast tokenizer's full JSON (less the per-call padding and
    truncation state) and settings, or open_clip's vocabulary and context length; else its
    :func:`callable_key` (None when it has none)."""
    inner = getattr(tok, "tokenizer", None)
    if not hasattr(tok, "backend_tokenizer") and hasattr(inner, "backend_tokenizer"):
        tok = inner
    ident = Identity("tokenizer").add(type(tok).__qualname__)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        spec.pop("padding", None)
        spec.pop("truncation", None)
        ident.add(json.dumps(spec, sort_keys=True))
        for attr in ("padding_side", "truncation_side", "model_max_length"):
            value = getattr(tok, attr, None)
            ident.add_field(attr, value if isinstance(value, (str, int, float)) else repr(value))
        return ident.hexdigest()
    encoder = getattr(tok, "encoder", None)
    if isinstance(encoder, dict):
        ident.add(repr(sorted(encoder.items())))
        ident.add_field("context", getattr(tok, "context_length", None))
        return ident.hexdigest()
    return callable_key(tok)


def device_key(dev: Any) -> str:
    """Where features were computed, as a key part: ``"cpu"`` or ``"cuda:<device name>"`` (the
    GPU model, not its index: two cards of one model compute the same numbers)."""
    if getattr(dev, "type", None) == "cuda":
        import torch

        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return str(getattr(dev, "type", dev))

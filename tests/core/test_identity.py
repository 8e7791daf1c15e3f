"""The one identity (core._identity): typed, length-prefixed, content not names."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from neuroalign.core._identity import (
    Identity,
    callable_key,
    code_hash,
    hash_parts,
    identity,
    module_fingerprint,
)


def test_fields_do_not_run_together_and_types_are_distinct():
    assert identity("s1", "0 cats") != identity("s10", " cats")
    assert identity(1) != identity(1.0) != identity("1") != identity(True)
    assert identity([1, 2], 3) != identity([1, 2, 3]) != identity([[1, 2, 3]])
    assert identity(None) != identity("") != identity(b"")
    assert identity({"a": 1, "b": 2}) == identity({"b": 2, "a": 1})


def test_floats_by_exact_bits_not_repr():
    assert identity(0.1 + 0.2) != identity(0.3)
    assert identity(np.float32(0.5)) == identity(0.5)
    assert identity(float("nan")) == identity(float("nan"))
    assert identity(0.0) != identity(-0.0)


def test_arrays_by_dtype_shape_and_bytes():
    a = np.arange(6, dtype=np.float32)
    assert identity(a) != identity(a.astype(np.float64))
    assert identity(a) != identity(a.reshape(2, 3))
    b = a.copy()
    b[3] = np.nextafter(b[3], np.float32(10))
    assert identity(a) != identity(b)
    assert identity(a[::2]) == identity(np.ascontiguousarray(a[::2]))
    assert identity(np.array(["a", "bc"], dtype=object)) != identity(
        np.array(["ab", "c"], dtype=object)
    )


def test_objects_without_content_are_refused():
    class Thing:
        pass

    with pytest.raises(TypeError, match="cannot be keyed by its content"):
        identity(Thing())
    with pytest.raises(TypeError, match="dict keys"):
        identity({1: "a"})


def test_hash_parts_is_order_free_and_name_sensitive():
    assert hash_parts({"a": 1, "b": 2}) == hash_parts({"b": 2, "a": 1})
    assert hash_parts({"a": 1, "b": 2}) != hash_parts({"a": 2, "b": 1})
    assert hash_parts({"ab": 1}) != hash_parts({"a": "b1"})


def _f(x, k=2):
    return x * k


def _g(x, k=3):
    return x * k


def test_code_hash_follows_code_defaults_and_closures():
    assert code_hash(_f) != code_hash(_g)  # only the default differs
    assert code_hash(functools.partial(_f, k=4)) != code_hash(functools.partial(_f, k=5))

    def make(c):
        return lambda x: x + c

    assert code_hash(make(1)) != code_hash(make(2))
    assert code_hash(make(1)) == code_hash(make(1))


def test_callable_key_needs_an_explicit_key_for_user_code():
    assert callable_key(lambda x: x) is None

    def fn(x):
        return x

    fn.cache_key = "mine-v1"
    assert callable_key(fn) == "key:mine-v1"
    from neuroalign.core._align import align

    assert callable_key(align).startswith("neuroalign:")


def test_module_fingerprint_sees_every_tensor():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    before = module_fingerprint(net)
    with torch.no_grad():
        net[1].running_mean[0] += 1e-7  # a buffer, not a parameter
    assert module_fingerprint(net) != before
    assert Identity("x").hexdigest() != Identity("y").hexdigest()

"""Outputs changed in place after their hook: a view kept without a copy must not be served after
a later module overwrote it (BatchNorm before ``ReLU(inplace=True)``, a residual ``out +=``)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from neuroalign.extract import _store, extract, make_reducer  # noqa: E402
from neuroalign.extract._engine import Capture  # noqa: E402


class Block(nn.Module):
    """conv → bn → ReLU(inplace) (bn's output becomes the ReLU's), a residual ``out += x``
    (bn2's output changed by its parent), a module whose own forward runs in inference mode
    (its output carries no version counter), and a readout left alone."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.inner = Inner()
        self.fc = nn.Linear(8 * 8 * 8, 5)
        for bn in (self.bn, self.bn2):  # running statistics that make the values signed
            bn.running_mean.uniform_(-0.5, 0.5)

    def forward(self, x):
        h = self.relu(self.bn(self.conv(x)))
        out = self.bn2(self.conv2(h))
        out += h
        out = self.inner(out).clone()
        return self.fc(out.flatten(1))


class Inner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        with torch.inference_mode():
            y = self.lin(x)
            y.sub_(1.0)  # after lin's hook, on a tensor that keeps no version counter
        return y


LAYERS = ["bn", "bn2", "inner.lin", "fc"]


def _truth(model, x):
    """Each layer's output copied in its hook (the values the layer computed)."""
    got = {}
    mods = dict(model.named_modules())
    hs = [
        mods[n].register_forward_hook(lambda m, i, o, n=n: got.__setitem__(n, o.clone()))
        for n in LAYERS
    ]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return {n: v.reshape(len(x), -1).numpy() for n, v in got.items()}


@pytest.fixture
def data():
    torch.manual_seed(1)
    x = torch.randn(12, 3, 8, 8)
    model = Block().eval()
    return model, x, [f"s{i}" for i in range(len(x))], _truth(model, x)


def test_truth_differs_from_what_the_forward_leaves_behind(data):
    """The case is real: the values left in bn's and bn2's outputs after the forward are not
    the values they computed (a view kept without a check would be wrong)."""
    model, x, _, truth = data
    assert truth["bn"].min() < -0.1  # the ReLU clips these in place
    left = {}
    mods = dict(model.named_modules())
    hs = [
        mods[n].register_forward_hook(lambda m, i, o, n=n: left.__setitem__(n, o))
        for n in ("bn", "bn2")
    ]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    for n in ("bn", "bn2"):
        assert np.abs(left[n].reshape(len(x), -1).numpy() - truth[n]).max() > 0.1


@pytest.mark.parametrize("where", ["memory", "cache", "cache_in_place"])
def test_flattened_views_changed_later_in_the_pass_are_served_as_computed(
    data, tmp_path, monkeypatch, where
):
    model, x, ids, truth = data
    kw = {}
    if where != "memory":
        kw["cache"] = tmp_path / "store"
    if where == "cache_in_place":  # rows go straight from each batch to the entry's file
        monkeypatch.setattr(_store, "INPLACE_MIN_BYTES", 0)
    got = extract(
        model, x, layers=LAYERS, reduce="flatten", ids=ids, batch_size=5, quiet=True, **kw
    )
    for n in LAYERS:
        np.testing.assert_array_equal(np.asarray(got[n]), truth[n], err_msg=n)


def test_views_left_alone_are_kept_without_a_copy_and_changed_ones_are_copied(data):
    model, x, _, truth = data
    cap = Capture(model, LAYERS, make_reducer("flatten")[1])
    with cap.hooks(), torch.no_grad():
        y = model(x)
    assert cap.changed() == {"bn", "bn2"}
    assert cap.copy == {"inner.lin"}  # no version counter: copied at once
    assert cap.watch == []
    # the readout's rows are the model's output itself, not a copy
    assert cap.out["fc"][0].data_ptr() == y.data_ptr()
    cap.copy |= {"bn", "bn2"}
    cap.out = {n: [] for n in LAYERS}
    with cap.hooks(), torch.no_grad():
        model(x)
    assert cap.changed() == set()
    for n in LAYERS:
        np.testing.assert_array_equal(cap.out[n][0].numpy(), truth[n], err_msg=n)

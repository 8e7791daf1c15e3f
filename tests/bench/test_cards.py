"""Data cards (``bench.benchmark_card``): declared counts match the loaded data, the data status
comes from the data folder, and no card field enters a cell key."""

from __future__ import annotations

import dataclasses
import functools
import json

import pytest

from neuroalign.bench import BENCHMARKS, Benchmark, benchmark_card, load_benchmark
from neuroalign.bench._benchmark import benchmark_from_toml
from neuroalign.bench._builtin import load_kriegeskorte2008
from neuroalign.bench._cards import (
    BUILTIN_DATA,
    CARD_FIELDS,
    DATA_FIELDS,
    data_counts,
    declared_data,
    short_citation,
)
from neuroalign.bench._metrics import commitment_split
from neuroalign.bench._store import Prepared, cell_key
from neuroalign.core.exceptions import ValidationError
from neuroalign.data import DATASETS

LOADABLE = ("bundled", "simulated", "fetched")


@pytest.mark.parametrize("bid", sorted(BENCHMARKS))
def test_every_builtin_has_a_full_card(bid):
    card = benchmark_card(load_benchmark(bid))
    assert list(card) == list(CARD_FIELDS)
    assert card["data_source"] in ("bundled", "simulated", *DATASETS), card["data_source"]
    for key in ("n_stimuli", "n_subjects"):
        assert isinstance(card[key], int) and card[key] >= 1, (key, card[key])
    for key in ("citation", "licence", "ceiling", "metric"):
        assert card[key], f"{bid}: empty {key}"
    if card["data_source"] in DATASETS:
        assert card["url"].startswith("https://"), card["url"]
        assert card["data_status"] in ("fetched", "partial", "missing")
    json.dumps(card)  # stored in Result.params and printed by `bench list --json`


@pytest.mark.parametrize("bid", sorted(BENCHMARKS))
def test_declared_counts_match_the_loaded_data(bid):
    """Every built-in benchmark whose data are here (bundled, simulated, or fetched into
    $NEUROALIGN_DATA) returns exactly the stimuli and subjects its card declares."""
    bench = load_benchmark(bid)
    card = benchmark_card(bench)
    if card["data_status"] not in LOADABLE:
        pytest.skip(f"{bid}: data {card['data_status']} in {card['data_dir']}")
    data = bench.load()
    assert data_counts(data) == (card["n_stimuli"], card["n_subjects"])
    scored = benchmark_card(bench, data)
    assert (scored["n_stimuli_scored"], scored["n_subjects_scored"]) == data_counts(data)
    if (
        bid == "Kriegeskorte2008.hIT-rsa"
    ):  # two parts (as across subjects): ids united, subjects summed
        both = benchmark_card(bench, [data, load_benchmark("Kriegeskorte2008.mIT-rsa").load()])
        assert (both["n_stimuli_scored"], both["n_subjects_scored"]) == (92, 5)


def test_builtin_patterns_each_match_a_registered_benchmark():
    import fnmatch

    for pattern in BUILTIN_DATA:
        assert any(fnmatch.fnmatchcase(b, pattern) for b in BENCHMARKS), pattern
    for entry in BUILTIN_DATA.values():
        assert set(entry) <= set(DATA_FIELDS), sorted(set(entry) - set(DATA_FIELDS))


def test_status_is_computed_from_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    bench = load_benchmark("Algonauts2019.IT92-rsa")
    card = benchmark_card(bench)
    assert card["data_status"] == "missing"
    assert card["data_dir"] == str(tmp_path / "algonauts2019")
    folder = tmp_path / "algonauts2019" / "Training_Data" / "92_Image_Set"
    folder.mkdir(parents=True)
    (folder / "target_fmri.mat").write_bytes(b"")
    card = benchmark_card(bench)
    assert card["data_status"] == "partial"
    assert card["data_missing"] == ["Training_Data/92_Image_Set/92images/*"]
    (folder / "92images").mkdir()
    (folder / "92images" / "image_01.jpg").write_bytes(b"")
    assert benchmark_card(bench)["data_status"] == "fetched"
    # the other image set's card still sees its own files missing
    assert benchmark_card(load_benchmark("Algonauts2019.IT118-rsa"))["data_status"] == "partial"
    # an explicit data_dir wins over the environment
    assert benchmark_card(bench, data_dir=tmp_path / "elsewhere")["data_status"] == "missing"


def _k92(**kw) -> Benchmark:
    base = dict(
        id="Cards2026.hIT-rsa",
        loader=functools.partial(load_kriegeskorte2008, "hIT"),
        metric="rsa",
        metric_params={"n_boot": 0},
    )
    return Benchmark(**{**base, **kw})


#: Benchmark fields that change a score (in the cell key) and those shown on the card only.
IN_KEY = {"id", "loader", "metric", "version", "metric_params", "commit_split", "commit_fraction"}
IN_KEY |= {"seed", "subjects"}
CARD_ONLY = {"ceiling", "citation", "licence", "description", *DATA_FIELDS}


def test_every_benchmark_field_is_classified():
    fields = {f.name for f in dataclasses.fields(Benchmark)}
    assert fields == IN_KEY | CARD_ONLY, sorted(fields ^ (IN_KEY | CARD_ONLY))


def test_card_fields_do_not_enter_the_cell_key():
    """Two benchmarks that differ only in what their cards say share their cells; a field that
    changes the score (the version) does not."""
    plain = _k92()
    data = plain.load()
    split = commitment_split(plain, data)

    def key(b):
        return cell_key("f" * 64, "conv1", Prepared(b, data, split, data.fingerprint))

    carded = _k92(
        data_source="bundled",
        n_stimuli=92,
        n_subjects=4,
        url="https://doi.org/10.1016/j.neuron.2008.10.043",
        data_files=("x.npz",),
        citation="someone (2008)",
        licence="MIT",
        ceiling="lower/upper",
        description="92 images",
    )
    assert key(carded) == key(plain)
    assert key(_k92(version="2")) != key(plain)


def test_own_fields_win_over_the_builtin_declaration():
    bench = dataclasses.replace(load_benchmark("Kriegeskorte2008.hIT-rsa"), n_subjects=8)
    d = declared_data(bench)
    assert (d["n_subjects"], d["n_stimuli"], d["data_source"]) == (8, 92, "bundled")
    assert declared_data(_k92())["data_source"] == ""  # not a built-in id: nothing declared
    assert benchmark_card(_k92())["data_status"] == "undeclared"


def test_card_fields_are_validated():
    with pytest.raises(ValidationError, match=r"things-eeg2"):
        _k92(data_source="things_eeg2")
    with pytest.raises(ValidationError, match="n_stimuli must be a positive int"):
        _k92(n_stimuli=0)
    with pytest.raises(ValidationError, match="data_files must be a list"):
        _k92(data_files="a.npy")


def test_toml_declares_the_card(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "betas.npy").write_bytes(b"")
    path = tmp_path / "mine.toml"
    path.write_text(
        'id = "Mine2024.hIT-rsa"\nmetric = "rsa"\n'
        'loader = "neuroalign.bench._builtin:load_kriegeskorte2008"\n'
        'data_source = "local"\nn_stimuli = 92\nn_subjects = 4\n'
        'data_files = ["betas.npy", "mask.nii.gz"]\n'
        '[loader_args]\nroi = "hIT"\n'
    )
    card = benchmark_from_toml(path).card()
    assert (card["n_stimuli"], card["n_subjects"]) == (92, 4)
    assert (card["data_status"], card["data_missing"]) == ("missing", ["mask.nii.gz"])
    (tmp_path / "mask.nii.gz").write_bytes(b"")
    assert benchmark_from_toml(path).card()["data_status"] == "local"


def test_short_citation():
    assert short_citation(DATASETS["nsd"].citation) == "Allen et al. 2022"
    assert short_citation(DATASETS["algonauts2019"].citation) == "Cichy et al. 2019"
    assert short_citation("neuroalign simulation (generated)") == (
        "neuroalign simulation (generated)"
    )


@pytest.mark.parametrize("n", (92, 118))
def test_algonauts2019_counts_on_a_tree_in_the_release_layout(tmp_path, monkeypatch, n):
    """The Algonauts 2019 cards' counts against a tree in the release's layout (15 subjects,
    ``tests/bench/test_algonauts2019.py``): status ``fetched`` and the declared counts loaded."""
    import numpy as np

    pytest.importorskip("h5py")
    from tests.bench.test_algonauts2019 import _write_tree

    _write_tree(tmp_path, n, np.random.default_rng(0))
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path))
    for roi in ("EVC", "IT"):
        bench = load_benchmark(f"Algonauts2019.{roi}{n}-rsa")
        card = benchmark_card(bench)
        assert card["data_status"] == "fetched"
        assert data_counts(bench.load()) == (card["n_stimuli"], card["n_subjects"])

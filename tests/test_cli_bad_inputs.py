"""Bad inputs to the CLI end in ONE line that names the user's path or value, before any work.

The output-path walk lists every option of every command that writes a file; a new command with
``--out`` (or ``--report``, ``--leaderboard``, ``--figure`` ...) that is not in ``CASES`` fails
``test_every_output_option_is_covered``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("typer")
import typer
from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import Activations, Responses, save_activations, save_responses

runner = CliRunner()

OUTPUT_OPTIONS = ("--out", "--report", "--leaderboard", "--figure", "--html", "--plot")

# command path -> (arguments with the output option pointing into a missing folder; the option).
# Inputs are missing files on purpose: the output path must be refused FIRST (before inputs are
# even read, so certainly before any work).
NOFILE = "no-such-input.npz"


@functools.cache
def _click_app():
    """The click command tree of ``app``, built once: typer rebuilds it (0.1-0.2 s) on each call."""
    return typer.main.get_command(app)


def _auto_case(path: tuple[str, ...], option: str, missing: str) -> list[str]:
    """A command line for a command not written out in ``_cases``: every required argument and
    option filled with a missing input file, and ``option`` into
    the missing folder (suffix from the option: ``.html`` for reports, ``.npz`` else)."""
    cmd = _click_app()
    for name in path:
        cmd = cmd.commands[name]
    args: list[str] = list(path)
    for p in cmd.params:
        if getattr(p, "opts", None) and option in p.opts:
            suffix = ".html" if "report" in option or "leaderboard" in option else ".npz"
            args += [option, f"{missing}/out{suffix}"]
            continue
        if not p.required:
            continue
        value = NOFILE  # every required input of these commands is a file
        if getattr(p, "param_type_name", "") == "argument":
            args.append(value)
        else:
            args += [p.opts[0], value]
    return args


def _cases(missing: str) -> dict[tuple[str, str], list[str]]:
    written = _written_cases(missing)
    for path, option in _output_options():
        if (path, option) not in written:
            written[(path, option)] = _auto_case(tuple(path.split()), option, missing)
    return written


def _written_cases(missing: str) -> dict[tuple[str, str], list[str]]:
    return {
        ("demo", "--out"): ["demo", "--out", f"{missing}/demo", "-q"],
        ("extract", "--out"): [
            "extract",
            "--model",
            "tiny_cnn:seed=0",
            "--stimuli",
            NOFILE,
            "--out",
            f"{missing}/f.npz",
        ],
        ("encode", "--out"): [
            "encode",
            "--features",
            NOFILE,
            "--responses",
            NOFILE,
            "--out",
            f"{missing}/enc.csv",
        ],
        ("rsa", "--out"): [
            "rsa",
            "--features",
            NOFILE,
            "--responses",
            NOFILE,
            "--out",
            f"{missing}/rsa.csv",
        ],
        ("cka", "--out"): [
            "cka",
            "--features",
            NOFILE,
            "--other",
            NOFILE,
            "--out",
            f"{missing}/c.csv",
        ],
        ("decode", "--out"): [
            "decode",
            "--responses",
            NOFILE,
            "--labels",
            "y",
            "--out",
            f"{missing}/dec",
        ],
        ("explain fit", "--out"): [
            "explain",
            "fit",
            "--features",
            NOFILE,
            "--responses",
            NOFILE,
            "--out",
            f"{missing}/enc.npz",
        ],
        ("explain top", "--out"): [
            "explain",
            "top",
            "--encoder",
            NOFILE,
            "--candidates",
            NOFILE,
            "--out",
            f"{missing}/top.csv",
        ],
        ("explain concepts", "--out"): [
            "explain",
            "concepts",
            "--encoder",
            NOFILE,
            "--classifier",
            "efficientnet_lite:lite0",
            "--out",
            f"{missing}/concepts.csv",
        ],
        ("bench run", "--out"): [
            "bench",
            "run",
            "tiny_cnn:seed=0",
            "-b",
            "Simulated.mid-encoding",
            "--out",
            f"{missing}/b.npz",
        ],
        ("bench run", "--leaderboard"): [
            "bench",
            "run",
            "tiny_cnn:seed=0",
            "-b",
            "Simulated.mid-encoding",
            "--out",
            "OK/b.npz",
            "--leaderboard",
            f"{missing}/lb.html",
        ],
        ("bench leaderboard", "--out"): [
            "bench",
            "leaderboard",
            NOFILE,
            "--out",
            f"{missing}/l.html",
        ],
        ("report", "--out"): ["report", NOFILE, "--out", f"{missing}/r.html"],
        ("trf-over-time", "--out"): [
            "trf-over-time",
            "--stimulus",
            NOFILE,
            "--responses",
            NOFILE,
            "--out",
            f"{missing}/t.npz",
        ],
        ("trf-over-time", "--report"): [
            "trf-over-time",
            "--stimulus",
            NOFILE,
            "--responses",
            NOFILE,
            "--out",
            "OK/t.npz",
            "--report",
            f"{missing}/t.html",
        ],
        ("trf", "--out"): [
            "trf",
            "--tmin",
            "0",
            "--tmax",
            "0.1",
            "--stimulus",
            NOFILE,
            "--responses",
            NOFILE,
            "--out",
            f"{missing}/t.npz",
        ],
        ("trf", "--report"): [
            "trf",
            "--tmin",
            "0",
            "--tmax",
            "0.1",
            "--stimulus",
            NOFILE,
            "--responses",
            NOFILE,
            "--report",
            f"{missing}/t.html",
        ],
    }


def _output_options() -> set[tuple[str, str]]:
    """(command path, option) for every option of every command that names an output."""
    found: set[tuple[str, str]] = set()

    def walk(cmd, path: list[str]) -> None:
        if hasattr(cmd, "commands"):  # a group (typer's own click or click's)
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
            return
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                if opt in OUTPUT_OPTIONS:
                    found.add((" ".join(path), opt))

    walk(_click_app(), [])
    return found


def test_every_output_option_is_covered():
    assert set(_written_cases("x")) <= _output_options(), "a written case names no option"
    assert _output_options() == set(_cases("x"))


def _one_line_error(res, needle: str) -> str:
    text = res.output.strip()
    assert res.exit_code not in (0, None), text
    assert "Traceback" not in text and ".tmp" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error:"), text
    assert needle in lines[0], text
    return lines[0]


@pytest.mark.parametrize("key", sorted(_cases("x")), ids=" ".join)
def test_output_into_a_missing_folder_fails_first(tmp_path, monkeypatch, key):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "OK").mkdir()
    missing = "nope/deeper"
    line = _one_line_error(runner.invoke(app, _cases(missing)[key]), missing)
    assert "does not exist" in line
    assert NOFILE not in line  # refused before the inputs were even opened


def test_output_that_is_a_folder_or_under_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    args = ["rsa", "--features", NOFILE, "--responses", NOFILE, "--out", "afile/rsa.csv"]
    assert "is a file, not a folder" in _one_line_error(runner.invoke(app, args), "afile/rsa.csv")
    (tmp_path / "adir").mkdir()
    args = ["encode", "--features", NOFILE, "--responses", NOFILE, "--out", "adir"]
    _one_line_error(runner.invoke(app, args), "adir")


# ------------------------------------------------------------------------ saved inputs
@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(60)]
    acts = Activations("toy:net", ids, {"a": rng.normal(size=(60, 5)).astype(np.float32)})
    resp = Responses(ids, data=rng.normal(size=(60, 4)).astype(np.float32))
    f = save_activations(acts, tmp_path / "feats.npz")
    r = save_responses(resp, tmp_path / "resp.npz")
    labels = tmp_path / "labels.npz"
    np.savez(
        labels,
        data=rng.normal(size=(40, 6)),
        y=np.repeat([0, 1], 20),
        run=np.zeros(40, int),
    )
    return {"features": f, "responses": r, "labels": labels, "dir": tmp_path}


def test_encode_out_npz_writes_a_result_and_other_suffixes_fail_first(files):
    from neuroalign.core import load_result

    d = files["dir"]
    base = ["encode", "--features", str(files["features"]), "--responses"]
    res = runner.invoke(app, [*base, str(files["responses"]), "--out", str(d / "enc.npz"), "-q"])
    assert res.exit_code == 0, res.output
    loaded = load_result(d / "enc.npz")  # a Result, not CSV text in a .npz
    assert loaded.kind == "encoding.sweep" and len(loaded.table)
    res = runner.invoke(app, [*base, NOFILE, "--out", str(d / "enc.txt")])
    line = _one_line_error(res, "enc.txt")
    assert ".csv" in line and ".npz" in line and NOFILE not in line


def test_decode_single_group(files):
    res = runner.invoke(
        app,
        [
            "decode",
            "--responses",
            str(files["labels"]),
            "--labels",
            "y",
            "--groups",
            "run",
            "--out",
            str(files["dir"] / "d"),
        ],
    )
    line = _one_line_error(res, "at least 2 groups")
    assert "single group" in line


def test_decode_negative_permutations(files):
    args = ["decode", "--responses", str(files["labels"]), "--labels", "y", "--n-permutations"]
    line = _one_line_error(runner.invoke(app, [*args, "-3"]), "--n-permutations")
    assert "-3" in line


def test_decode_truncated_npz(files):
    d = files["dir"]
    raw = files["labels"].read_bytes()
    (d / "cut.npz").write_bytes(raw[: len(raw) // 2])
    args = ["decode", "--responses", str(d / "cut.npz"), "--labels", "y", "--out", str(d / "o")]
    line = _one_line_error(runner.invoke(app, args), "cut.npz")
    assert "truncated" in line


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_table_given_where_a_npz_is_needed(files, kind):
    d = files["dir"]
    table = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]})
    path = d / f"table.{kind}"
    if kind == "csv":
        table.to_csv(path, index=False)
    else:
        pytest.importorskip("pyarrow")
        table.to_parquet(path)
    for args in (
        ["decode", "--responses", str(path), "--labels", "y", "--out", str(d / "o")],
        ["report", str(path), "--out", str(d / "r.html")],
    ):
        line = _one_line_error(runner.invoke(app, args), str(path))
        what = "is a CSV text table" if kind == "csv" else "is a parquet table"
        assert what in line and "pickle" not in line.lower(), line
        assert "unsafe" not in line.lower()


def test_string_data_to_encode_says_strings(files):
    d = files["dir"]
    ids = np.array([f"s{i}" for i in range(60)])
    np.savez(d / "strfeat.npz", stimulus_ids=ids, a=np.array([["x"] * 5] * 60))
    args = ["encode", "--features", str(d / "strfeat.npz"), "--responses", str(files["responses"])]
    line = _one_line_error(runner.invoke(app, [*args, "--out", str(d / "e.csv")]), "strings")
    assert "truncated" not in line and "corrupt" not in line
    assert "strfeat.npz" in line  # the user's file is named


def test_bench_list_without_a_match():
    res = runner.invoke(app, ["bench", "list", "zzz"])
    line = _one_line_error(res, "no benchmark matches 'zzz'")
    assert "neuroalign bench list" in line
    assert runner.invoke(app, ["bench", "list", "Simulated"]).exit_code == 0


def test_explain_concepts_images_without_the_encoders_layer(tmp_path):
    from neuroalign.data import make_concept_voxels

    sim = make_concept_voxels(n_images=300, n_voxels=3)
    ids = sim.responses.stimulus_ids
    save_activations(Activations("sim", ids, {"emb": sim.image_embeddings}), tmp_path / "a.npz")
    save_activations(
        Activations("sim", ids, {"other": sim.image_embeddings, "more": sim.image_embeddings}),
        tmp_path / "wrong.npz",
    )
    save_responses(sim.responses, tmp_path / "r.npz")
    fit = ["explain", "fit", "--features", str(tmp_path / "a.npz"), "--responses"]
    res = runner.invoke(app, [*fit, str(tmp_path / "r.npz"), "--out", str(tmp_path / "e.npz")])
    assert res.exit_code == 0, res.output
    vocab = tmp_path / "v.txt"
    vocab.write_text("\n".join(sim.concepts))
    # the concept space comes from a stub: this test is about --images
    import neuroalign.explain as ex
    from neuroalign.explain import ConceptSpace

    space = ConceptSpace(sim.concepts, sim.concept_embeddings)
    args = ["explain", "concepts", "--encoder", str(tmp_path / "e.npz"), "--vocabulary", str(vocab)]
    args += ["--model", "stub", "--images", str(tmp_path / "wrong.npz")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ex, "embed_concepts", lambda model, words, **kw: space)
        res = runner.invoke(app, [*args, "--out", str(tmp_path / "c.csv")])
        line = _one_line_error(res, "'emb'")
        assert "wrong.npz" in line and "other" in line and "more" in line
        assert not (tmp_path / "c.csv").exists()
        ok = [*args[:-1], str(tmp_path / "a.npz"), "--out", str(tmp_path / "c.csv")]
        assert runner.invoke(app, ok).exit_code == 0


def test_warnings_are_one_line_for_every_command(monkeypatch):
    import warnings

    import neuroalign.bench as bench

    real = bench.list_benchmarks

    def noisy(pattern=None):
        warnings.warn("something\n  was adjusted", UserWarning, stacklevel=1)
        return real(pattern)

    monkeypatch.setattr(bench, "list_benchmarks", noisy)
    res = runner.invoke(app, ["bench", "list", "Simulated"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "warn" in ln.lower() or "adjusted" in ln]
    assert lines == ["warning: something was adjusted"], res.output
    assert "UserWarning" not in res.output and ".py:" not in res.output

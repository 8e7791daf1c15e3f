"""``neuroalign bench list | run | leaderboard`` and ``neuroalign report``."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from typer.testing import CliRunner

from neuroalign.cli import app
from neuroalign.core import load_result

runner = CliRunner()


def test_bench_list_json():
    res = runner.invoke(app, ["bench", "list", "--json"])
    assert res.exit_code == 0, res.output
    ids = {row["id"] for row in json.loads(res.output)}
    assert {"Kriegeskorte2008.hIT-rsa", "Algonauts2019.IT92-rsa", "Simulated.late-encoding"} <= ids


def test_bench_run_leaderboard_and_report(tmp_path):
    out, page = tmp_path / "r.npz", tmp_path / "lb.html"
    args = [
        "bench",
        "run",
        "tiny_cnn:seed=0",
        "tiny_cnn:seed=1",
        "-b",
        "Simulated.mid-encoding",
        "--store",
        str(tmp_path / "store"),
        "--out",
        str(out),
        "--leaderboard",
        str(page),
        "--quiet",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "tiny_cnn:seed=0  Simulated.mid-encoding  layer conv2" in res.output
    assert "8 cells computed" in res.output
    again = runner.invoke(app, args)
    assert "0 cells computed" in again.output
    result = load_result(out)
    assert result.kind == "bench.sweep" and set(result.table["model"]) == {
        "tiny_cnn:seed=0",
        "tiny_cnn:seed=1",
    }
    assert page.is_file() and (tmp_path / "lb.csv").is_file()
    res = runner.invoke(app, ["bench", "leaderboard", str(out), "--out", str(tmp_path / "b.html")])
    assert res.exit_code == 0 and (tmp_path / "b.html").is_file()
    res = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "rep.html")])
    assert res.exit_code == 0 and "leaderboard" in (tmp_path / "rep.html").read_text()


def test_report_of_a_non_bench_result(tmp_path):
    from neuroalign.core import Result, make_table

    r = Result(
        make_table(
            [
                {"layer": "a", "value": 0.2, "roi": "<b>V1</b>"},
                {"layer": "b", "value": 0.4, "roi": "<b>V1</b>"},
            ],
            analysis="rsa",
        ),
        "rsa.bootstrap",
    )
    r.save(tmp_path / "x.npz")
    res = runner.invoke(app, ["report", str(tmp_path / "x.npz"), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "x.html").read_text()
    assert "data:image/png;base64," in text and "&lt;b&gt;V1&lt;/b&gt;" in text


def test_bench_errors_are_one_line(tmp_path):
    res = runner.invoke(
        app, ["bench", "run", "tiny_cnn:seed=0", "-b", "Nope.x-rsa", "--store", str(tmp_path)]
    )
    assert res.exit_code == 1 and "unknown benchmark 'Nope.x-rsa'" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(
        app,
        [
            "bench",
            "run",
            "tiny_cnn:seed=0",
            "-b",
            "Simulated.mid-encoding",
            "--out",
            str(tmp_path / "missing" / "r.npz"),
        ],
    )
    assert res.exit_code == 1 and "does not exist" in res.output

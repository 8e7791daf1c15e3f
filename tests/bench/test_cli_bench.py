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
    from neuroalign.bench import benchmark_card, load_benchmark

    res = runner.invoke(app, ["bench", "list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {row["id"]: row for row in json.loads(res.output)}
    assert {"Kriegeskorte2008.hIT-rsa", "Algonauts2019.IT92-rsa", "Simulated.late-encoding"} <= set(
        rows
    )
    # the full data card of each benchmark (the one benchmark_card), nothing shortened
    for bid in ("Kriegeskorte2008.hIT-rsa", "Allen2022.V1-encoding"):
        assert rows[bid] == json.loads(json.dumps(benchmark_card(load_benchmark(bid))))


def _flat(text: str) -> str:
    return "".join(str(text).split())


def _columns(text: str) -> list[list[str]]:
    """The cells of a rich table with lines between rows: per row, each column's wrapped lines
    joined (a folded id is whole again)."""
    rows, current = [], None
    for line in text.splitlines():
        if line.startswith(("├", "└")):
            if current is not None:
                rows.append(["".join(parts) for parts in current])
            current = None
        elif line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if current is None:
                current = [[] for _ in cells]
            for parts, c in zip(current, cells, strict=True):
                parts.append(c)
    return rows


def test_bench_list_is_a_table_that_wraps_in_80_columns(tmp_path):
    """Every card fact of every benchmark is in the table, whole, at 80 columns: lines never
    wider than the terminal, nothing cut with an ellipsis; the data status follows the folder."""
    from neuroalign.bench import list_benchmarks

    res = runner.invoke(
        app, ["bench", "list"], env={"COLUMNS": "80", "NEUROALIGN_DATA": str(tmp_path)}
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    drawn = [line for line in lines if line[:1] in "┌│├└"]
    assert all(line[-1] in "│┐┤┘" for line in drawn)  # the right edge is drawn, not cropped
    assert _flat(f"looked for in {tmp_path}") in _flat(res.output)  # the caption, wrapped
    assert "…" not in res.output
    rows = _columns(res.output)
    header, body = rows[0], rows[1:]
    assert header == ["benchmark · metric", "data", "ceiling", "source"]
    cards = list_benchmarks().to_dict(orient="records")
    assert len(body) == len(cards)
    for cells, card in zip(body, cards, strict=True):
        bench, data, ceiling, source = (_flat(c) for c in cells)
        assert bench.startswith(_flat(f"{card['id']} v{card['version']} {card['metric']}")), bench
        src, status = card["data_source"], card["data_status"]
        assert data.startswith(status if src == status else src + status), data
        assert _flat(f"{card['n_stimuli']} stimuli") in data
        assert f"{card['n_subjects']}subject" in data
        assert ceiling == _flat(card["ceiling"])
        assert _flat(card["licence"]) in source and _flat(card["url"]) in source
    statuses = {c["id"]: d for (_, d, _, _), c in zip(body, cards, strict=True)}
    assert "missing" in statuses["Allen2022.V1-encoding"]  # empty data folder
    assert "bundled" in statuses["Kriegeskorte2008.hIT-rsa"]


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
    # the sweep keeps each benchmark's data card, with the counts it scored (after a reload)
    card = result.params["benchmarks"]["Simulated.mid-encoding"]
    assert card["n_stimuli_scored"] == card["n_stimuli"] == 120
    assert card["data_status"] == "simulated" and card["metric_params"]["cv"] == 5
    assert 'class="card" id="card-0-Simulated.mid-encoding"' in page.read_text()
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


def test_bench_run_passes_channels_last_and_the_extraction_options(monkeypatch, tmp_path):
    """``--channels-last`` (and its neighbours) reach ``bench.run``; the run's own key audit
    (tests/test_parameter_audit.py) shows the option changes the cells."""
    import neuroalign.bench as bench
    from neuroalign.core.exceptions import ValidationError

    seen = {}

    def fake_run(*args, **kwargs):
        seen.update(kwargs)
        raise ValidationError("stop here")

    monkeypatch.setattr(bench, "run", fake_run)
    args = ["bench", "run", "tiny_cnn:seed=0", "--benchmark", "Simulated.*"]
    args += ["--out", str(tmp_path / "r.npz"), "--batch-size", "7", "--quiet"]
    res = runner.invoke(app, [*args, "--channels-last"])
    assert res.exit_code == 1 and "stop here" in res.output
    assert seen["channels_last"] is True and seen["batch_size"] == 7
    runner.invoke(app, args)
    assert seen["channels_last"] is False

"""Figures for every analysis: layer profiles (ceilings, significance), RDM panels with category
boundaries, encoding profiles from 0, CKA heatmaps through Result.plot()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from neuroalign.core import Result, make_table
from neuroalign.report import (
    plot_encoding_profile,
    plot_layer_profile,
    plot_model_comparison,
    plot_rdms,
    short_layer_name,
)


def _profile():
    rows = []
    for t, (lo, hi) in {"human IT": (0.3, 0.4), "monkey IT": (np.nan, np.nan)}.items():
        for i, layer in enumerate(["_stem", "_blocks.3", "_blocks.14"]):
            v = 0.1 * (i + 1)
            rows.append(
                dict(
                    target=t,
                    layer=layer,
                    value=v,
                    ci_low=v - 0.05,
                    ci_high=v + 0.05,
                    ceiling_low=lo,
                    ceiling_high=hi,
                    p_value=[0.5, 0.01, 0.001][i],
                )
            )
    return pd.DataFrame(rows)


def test_layer_profile_marks_significance_ceilings_and_short_names():
    fig = plot_layer_profile(_profile())
    ax = fig.axes[0]
    stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*" and len(ln.get_xdata())]
    assert sum(len(ln.get_xdata()) for ln in stars) == 4  # 2 significant layers × 2 groups
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "monkey IT: no noise ceiling (one RDM)" in labels and "human IT noise ceiling" in labels
    # the native names, as the report's text and tables give them (issue 19: not "blocks.14")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["_stem", "_blocks.3", "_blocks.14"]
    xs = [
        c.lines[0].get_xdata() for c in ax.containers if c.get_label() in ("human IT", "monkey IT")
    ]
    assert min(abs(np.asarray(xs[0]) - np.asarray(xs[1]))) >= 0.2  # groups dodged apart


def test_rdm_panel_draws_category_boundaries_and_names():
    labels = ["a"] * 3 + ["b"] * 2 + ["c"] * 4
    mats = {"x": np.random.default_rng(0).random((9, 9))}
    ax = plot_rdms(mats, labels=labels).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    hlines = [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_ydata()[0] == ln.get_ydata()[1]]
    assert sorted(set(hlines)) == [2.5, 4.5]
    with pytest.raises(ValueError, match="contiguous"):
        plot_rdms(mats, labels=["a", "b", "a"] + ["c"] * 6)


def test_rdm_panel_category_names_are_8pt_as_the_report_shows_them(tmp_path):
    """The demo's panel (10 RDMs, 5 per row) is wider than the report's page (max-width 1100 px)
    and shown scaled down: its category names must still be ≥ 8 pt (≈ 10.7 CSS px) there."""
    from PIL import Image

    from neuroalign.report import save_figure

    labels = ["animate"] * 5 + ["inanimate face"] * 4
    mats = {f"rdm {i}": np.random.default_rng(i).random((9, 9)) for i in range(10)}
    fig = plot_rdms(mats, ncols=5, labels=labels)
    save_figure(fig, tmp_path / "panel.png")
    with Image.open(tmp_path / "panel.png") as img:
        png_width = img.width
    scale = min(1.0, 1100 / png_width)  # the page's max-width shrinks the image
    dpi = png_width / fig.get_figwidth()
    for text in fig.axes[0].get_yticklabels():
        shown_px = text.get_fontsize() * dpi / 72 * scale
        assert shown_px >= 8 * 96 / 72 - 1e-6, (text.get_text(), shown_px)


def test_encoding_profile_starts_at_zero_with_distinct_ceiling_styles():
    t = pd.DataFrame(
        {
            "roi": ["V1"] * 2 + ["IT"] * 2,
            "layer": ["a", "b"] * 2,
            "test_r": [0.5, 0.6, 0.55, 0.7],
            "ceiling": [0.8] * 2 + [0.9] * 2,
        }
    )
    ax = plot_encoding_profile(t).axes[0]
    assert ax.get_ylim()[0] == 0.0
    styles = {
        ln.get_label(): ln.get_linestyle() for ln in ax.get_lines() if "ceiling" in ln.get_label()
    }
    assert len(styles) == 2 and len(set(styles.values())) == 2


def test_cka_result_plots_a_heatmap_of_its_values():
    rows = [
        dict(layer=f"l{i}", roi=r, value=0.1 * i + (0.5 if r == "IT" else 0.0))
        for i in range(3)
        for r in ("V1", "IT")
    ]
    res = Result(make_table(rows, analysis="cka", method="cka"), "cka.table")
    ax = res.plot().axes[0]
    img = ax.get_images()[0].get_array()
    np.testing.assert_allclose(img, [[0.0, 0.5], [0.1, 0.6], [0.2, 0.7]])


def test_model_comparison_bars():
    t = _profile()[lambda d: d.target == "human IT"]
    ax = plot_model_comparison(t).axes[0]
    assert [round(p.get_height(), 6) for p in ax.patches[:3]] == [0.1, 0.2, 0.3]
    assert short_layer_name("a.b.c.d.e.f.g.h.i.j", width=8).startswith("…")


def test_time_course_shows_significant_clusters_and_matrix_its_values():
    times = np.round(np.arange(-0.1, 0.5, 0.05), 3)
    p = np.where((times > 0.08) & (times < 0.3), 0.001, 0.5)
    rows = [
        dict(time=tt, value=0.5 + (0.2 if pp < 0.05 else 0.0), p_value=pp, chance=0.5)
        for tt, pp in zip(times, p, strict=True)
    ]
    res = Result(make_table(rows, analysis="rsa", method="spearman"), "rsa.over_time")
    ax = res.plot().axes[0]
    clusters = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    (seg,) = clusters[0].get_segments()
    assert seg[0][0] == pytest.approx(0.1) and seg[1][0] == pytest.approx(0.25)
    gen = [
        dict(time=a, train_time=b, value=1.0 if a == b else 0.5, chance=0.5)
        for a in times[:4]
        for b in times[:4]
    ]
    res = Result(make_table(gen, analysis="rsa"), "rsa.temporal_generalization")
    img = res.plot().axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(np.diag(img), 1.0)
    assert img[0, 1] == 0.5


def test_encoding_sweep_plot_shows_the_test_pearson_mean_per_layer():
    rows = []
    for layer, r in (("conv1", 0.1), ("conv2", 0.4)):
        for agg, v in (("mean", r), ("median", r + 0.05)):
            rows.append(
                dict(
                    layer=layer,
                    roi="V1",
                    statistic="score",
                    scoring="pearson",
                    split="test",
                    aggregate=agg,
                    value=v,
                    ceiling_high=0.8,
                )
            )
            rows.append(
                dict(
                    layer=layer,
                    roi="V1",
                    statistic="cv_score",
                    scoring="r2",
                    split="cv",
                    aggregate=agg,
                    value=-5.0,
                )
            )
    res = Result(make_table(rows, analysis="encoding"), "encoding.sweep")
    ax = res.plot().axes[0]
    ys = [list(line.get_ydata()) for line in ax.lines if len(line.get_ydata()) == 2]
    assert [0.1, 0.4] in [[round(v, 6) for v in y] for y in ys]  # mean pearson, not cv R² (-5)
    assert "Pearson" in ax.get_ylabel()

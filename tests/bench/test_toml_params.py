"""``[metric_params]`` of a TOML benchmark are checked when the file is read: a bad value names
the file and the key (not an error deep inside the metric, after the features were extracted)."""

from __future__ import annotations

import pytest

from neuroalign.bench import benchmark_from_toml
from neuroalign.core.exceptions import ValidationError

HEAD = (
    'id = "Mine2024.mid-encoding"\nmetric = "encoding"\n'
    'loader = "neuroalign.bench._builtin:load_simulated"\n'
    '[loader_args]\nroi = "mid"\n[metric_params]\n'
)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ('alphas = "abc"', r"mine\.toml'.*\[metric_params\] alphas = 'abc'.*string"),
        ("alphas = [1.0, -2.0]", r"\[metric_params\] alphas = \[1\.0, -2\.0\].*positive"),
        ('cv = "five"', r"\[metric_params\] cv = 'five' must be a number"),
        ("alpha = [1.0]", r"\[metric_params\] alpha is not a parameter of the 'encoding' metric"),
    ],
)
def test_bad_metric_params_name_file_and_key(tmp_path, params, match):
    path = tmp_path / "mine.toml"
    path.write_text(HEAD + params + "\n")
    with pytest.raises(ValidationError, match=match):
        benchmark_from_toml(path)


def test_good_metric_params(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(HEAD + "alphas = [1.0, 10.0]\ncv = 3\n")
    assert benchmark_from_toml(path).metric_params == {"alphas": [1.0, 10.0], "cv": 3}

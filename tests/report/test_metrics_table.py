"""The combined metrics table (ganlab.report.metrics, stage metrics-table): which result files it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganlab.errors import GanlabError


def test_table_refuses_files_that_are_not_results(tmp_path: Path) -> None:
    from ganlab.report.metrics import build_table

    with pytest.raises(GanlabError, match="no <run>.json files"):
        build_table(tmp_path)
    (tmp_path / "gan.json").write_text("{not json")
    with pytest.raises(GanlabError, match=r"gan\.json: not valid JSON"):
        build_table(tmp_path)
    (tmp_path / "gan.json").write_text('{"fid": 3.0}')
    with pytest.raises(GanlabError, match=r"gan\.json: no protocol"):
        build_table(tmp_path)


def test_table_holds_the_listed_runs_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A run dropped from params.yaml leaves its result file behind (in git, for uncached outputs):
    the table leaves it out, and names a listed run whose result is missing."""
    from ganlab.report.metrics import write_metrics_table

    runs, real = tmp_path / "runs", tmp_path / "real"
    runs.mkdir(), real.mkdir()
    for name, fid in (("gan", 30.0), ("dcgan", 20.0), ("cgan", 25.0)):
        (runs / f"{name}.json").write_text(json.dumps(
            {"fid": fid, "protocol": {"dataset": "mnist", "extractor": "e", "generated": {"variant": name}}}))
    (real / "mnist.json").write_text(json.dumps({"fid": 0.1, "protocol": {"dataset": "mnist", "extractor": "e"}}))
    (real / "faces.json").write_text(json.dumps({"fid": 0.2, "protocol": {"dataset": "faces", "extractor": "e"}}))
    with caplog.at_level("WARNING"):
        table = write_metrics_table(runs, tmp_path / "out", real, ["gan", "dcgan"], ["mnist"])
    assert set(table) == {"gan", "dcgan", "real-mnist"}
    assert caplog.text.count("cgan.json") == 1 and caplog.text.count("faces.json") == 1  # each folder read once
    assert "| cgan |" not in (tmp_path / "out" / "README.md").read_text()
    rows = (tmp_path / "out" / "plots" / "mnist.csv").read_text().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == ["dcgan", "gan"]
    assert set(write_metrics_table(runs, tmp_path / "all", real)) == {"gan", "dcgan", "cgan", "real-mnist",
                                                                     "real-faces"}
    with pytest.raises(GanlabError, match=r"no result for sngan \(metrics\.runs\); run `dvc repro metrics@sngan`"):
        write_metrics_table(runs, tmp_path / "out", real, ["gan", "sngan"], ["mnist"])

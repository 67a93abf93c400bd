"""A claim from measure to JSON, figure and report: the mechanism, on a claim made up for the test."""

from __future__ import annotations

import json

import pytest
import torch

from ganlab.claims import claim as C
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.rules import Bound, Exceeds
from ganlab.claims.study import STUDY_INFO
from ganlab.claims.toy import relative_slope
from ganlab.errors import GanlabError
from ganlab.files import write_json_atomic
from ganlab.report.claims import PROVENANCE, claims_section
from ganlab.report.document import Document
from ganlab.schema import from_dict
from ganlab.train.config import RunParams


def _made_up(values, study="s"):
    def measure(claims, study_dir, data_root):
        return C.Measured({"modes": values}, {"how": "made up"})

    def figure(measured, path):
        path.write_bytes(b"\x89PNG\r\n\x1a\n")

    return C.Claim(id="made-up", title="Made up", paper="Nobody 2099", statement="A covers more modes than B.",
                   study=study, measures={"modes": "modes covered"}, runs=("a", "b"),
                   parts=(Part("modes", "a", Exceeds(margin=1), "b"), Part("modes", "a", Bound(3.0))),
                   measure=measure, figure=figure, published=({"source": "Nobody 2099", "value": 8},))


Part = C.Part


@pytest.fixture
def registered(monkeypatch):
    def register(c):
        monkeypatch.setitem(C.CLAIMS, c.id, c)
        return c
    monkeypatch.setattr(V, "_load_all", lambda: None)
    return register


def _params(seeds):
    """claims: with study s of runs a and b (what they are does not matter to a made-up claim) on ``seeds``."""
    run = from_dict(RunParams, {"variant": "gan", "data": "toy-ring", "model": {"arch": "toy"}}, "r")
    return ClaimsParams(seeds=seeds, studies={"s": StudyParams(runs={"a": run, "b": run})})


def _study(tmp_path, seeds=(0, 1, 2), runs=("a", "b")):
    root = tmp_path / "data" / "studies" / "s"
    root.mkdir(parents=True)
    write_json_atomic(root / STUDY_INFO, {"study": "s", "seeds": list(seeds), "runs": {r: {} for r in runs}})
    return tmp_path / "data"


def test_write_claim_records_values_rule_verdict_and_protocol(tmp_path, registered):
    registered(_made_up({"a": {0: 7.0, 1: 8.0, 2: 6.0}, "b": {0: 2.0, 1: 3.0, 2: 1.0}}))
    out = V.write_claim(_params((0, 1, 2)), "made-up", _study(tmp_path), tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "made-up.json").read_text())
    assert saved["verdict"] == out["verdict"] == "reproduced" and saved["verdict_code"] == 1
    assert saved["n_seeds"] == 3 and saved["values"]["modes"]["a"] == {"0": 7.0, "1": 8.0, "2": 6.0}
    assert saved["summary"]["modes"]["b"]["mean"] == pytest.approx(2.0)
    assert [p["verdict"] for p in saved["parts"]] == ["reproduced", "reproduced"]
    assert "a above b in every seed" in saved["rule"][0] and saved["protocol"]["how"] == "made up"
    assert saved["published"] == [{"source": "Nobody 2099", "value": 8}]
    assert (tmp_path / "claims" / "made-up.png").is_file()
    assert json.loads((tmp_path / "claims" / "made-up.verdict.json").read_text()) == {
        "verdict": "reproduced", "verdict_code": 1, "n_seeds": 3}


def test_one_failing_part_fails_the_claim(tmp_path, registered):
    registered(_made_up({"a": {0: 2.5, 1: 2.0, 2: 2.0}, "b": {0: 0.0, 1: 0.0, 2: 0.0}}))  # ahead by > 1, but < 3
    saved = V.write_claim(_params((0, 1, 2)), "made-up", _study(tmp_path), tmp_path / "claims")
    assert [p["verdict"] for p in saved["parts"]] == ["reproduced", "not reproduced"]
    assert saved["verdict"] == "not reproduced" and saved["verdict_code"] == -1


def test_a_study_trained_on_other_seeds_or_without_the_run_is_refused(tmp_path, registered):
    registered(_made_up({"a": {0: 1.0}, "b": {0: 1.0}}))
    with pytest.raises(GanlabError, match=r"seeds \[0, 1\], params ask for \[0, 1, 2\]"):
        V.write_claim(_params((0, 1, 2)), "made-up", _study(tmp_path, seeds=(0, 1)), tmp_path / "c")
    with pytest.raises(GanlabError, match="compares run 'b', which study s does not train"):
        V.write_claim(_params((0,)), "made-up", _study(tmp_path / "x", seeds=(0,), runs=("a",)),
                      tmp_path / "c")


def test_an_untrained_study_names_the_stage(tmp_path, registered):
    registered(_made_up({}))
    with pytest.raises(GanlabError, match=r"dvc repro study@s"):
        V.write_claim(_params((0, 1)), "made-up", tmp_path, tmp_path / "c")
    with pytest.raises(GanlabError, match=r"claims\.studies\.s"):  # nor defined in params
        V.write_claim(ClaimsParams(), "made-up", tmp_path, tmp_path / "c")


def test_an_unknown_claim_is_refused_with_the_known_ones(registered):
    registered(_made_up({}))
    with pytest.raises(GanlabError, match="made-up"):
        V.get("made-upp")


def test_registration_refuses_parts_that_do_not_fit():
    good = _made_up({})
    with pytest.raises(ValueError, match="not one of"):
        C.claim(C.Claim(**{**good.__dict__, "id": "x1", "parts": (Part("fid", "a", Bound(1.0)),)}))
    with pytest.raises(ValueError, match="run 'c'"):
        C.claim(C.Claim(**{**good.__dict__, "id": "x2", "parts": (Part("modes", "c", Bound(1.0)),)}))
    with pytest.raises(ValueError, match="compares two runs"):
        C.claim(C.Claim(**{**good.__dict__, "id": "x3", "parts": (Part("modes", "a", Exceeds()),)}))


def test_the_report_shows_the_profile_verdicts_when_present_and_says_so(tmp_path, registered):
    registered(_made_up({"a": {0: 7.0, 1: 8.0}, "b": {0: 2.0, 1: 3.0}}))
    default, profile = tmp_path / "claims", tmp_path / "claims-profile"
    V.write_claim(_params((0, 1)), "made-up", _study(tmp_path, seeds=(0, 1)), default)
    doc = Document(tmp_path)
    claims_section(doc, default, profile)
    text = "\n".join(doc.lines)
    assert "**default run's**" in text and "| 2 |" in text and "**reproduced**" in text
    assert "Published (quoted" in text and "Nobody 2099" in text

    registered(_made_up({"a": {0: 1.0, 1: 1.0, 2: 1.0}, "b": {0: 2.0, 1: 3.0, 2: 1.0}}))
    V.write_claim(_params((0, 1, 2)), "made-up", _study(tmp_path / "p"), profile)
    write_json_atomic(profile / PROVENANCE, {"claims": {"made-up": {"command": "ganlab profile claims && dvc repro",
                                                                  "date": "2026-12-07", "commit": "0123456789abcdef"}}})
    doc = Document(tmp_path)
    claims_section(doc, default, profile)
    text = "\n".join(doc.lines)
    assert "**claims profile's**" in text and "**not reproduced**" in text
    assert "| 3 | claims profile, 2026-12-07 |" in text and doc.sections[0] == ("Claims", "claims")
    assert "Measured by the claims profile: `ganlab profile claims && dvc repro`, 2026-12-07, commit 0123456789ab." in text

    # a claim the profile has not measured yet is shown from the default run, and says so
    other = _made_up({"a": {0: 7.0, 1: 8.0}, "b": {0: 2.0, 1: 3.0}})
    registered(C.Claim(**{**other.__dict__, "id": "made-up-too"}))
    V.write_claim(_params((0, 1)), "made-up-too", _study(tmp_path / "q", seeds=(0, 1)), default)
    doc = Document(tmp_path)
    claims_section(doc, default, profile)
    text = "\n".join(doc.lines)
    assert "| 3 | claims profile, 2026-12-07 |" in text and "| 2 | default run |" in text and "**reproduced**" in text
    assert text.index("claim-made-up-too") > 0


def test_the_report_names_missing_claims():
    doc = Document(__import__("pathlib").Path("."))
    claims_section(doc, __import__("pathlib").Path("/nonexistent/claims"), __import__("pathlib").Path("/nonexistent/p"))
    assert "No claim has been measured yet" in "\n".join(doc.lines) and doc.missing


def test_relative_slope_is_one_for_a_line_and_zero_where_a_sigmoid_is_flat():
    at = torch.linspace(1.5, 2.5, 50)
    assert relative_slope(lambda x: 3.0 * x - 1.0, at, -3.0, 3.0) == pytest.approx(1.0, rel=1e-4)
    assert relative_slope(lambda x: torch.sigmoid(20 * x), at, -3.0, 3.0) < 1e-6
    assert relative_slope(lambda x: 0 * x + 2.0, at, -3.0, 3.0) == 0.0


def test_the_converged_grid_claim_needs_the_high_quality_share_as_well_as_the_modes():
    """mode-collapse-grid-converged: more modes than gan alone is not coverage when most samples sit off the modes."""
    from ganlab.claims.toy import CONVERGED_SHARE, REMEDIES

    c = V.get("mode-collapse-grid-converged")
    seeds = (0, 1, 2)

    def measured(hq):
        modes = {"gan": {s: 3.0 for s in seeds}, **{r: {s: 20.0 for s in seeds} for r in REMEDIES}}
        share = {"gan": {s: 0.9 for s in seeds}, **{r: {s: hq for s in seeds} for r in REMEDIES}}
        return C.Measured({"modes": modes, "high_quality": share, "reverse_kl": modes}, {})

    assert V.judge(c, measured(CONVERGED_SHARE + 0.2))["verdict"] == "reproduced"
    diffuse = V.judge(c, measured(0.05))  # VEEGAN's count alone would call this coverage
    assert diffuse["verdict"] == "not reproduced"
    assert {p["measure"]: p["verdict"] for p in diffuse["parts"] if p["a"] == "wgan_gp"} == {
        "modes": "reproduced", "high_quality": "not reproduced"}

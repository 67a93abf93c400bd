"""Every stage's seconds in one `dvc repro`, grouped as the hour's budget is: the fixed stages
(the code manifests and data, evaluators, references, the sequence study, metrics, transfer, claims, report),
the image runs' training and the claims' studies (the runs they compare, trained over seeds).

    .venv/bin/python benchmarks/stage_times.py [--log repro.log] [--json times.json] [-- DVC REPRO ARGS]
    .venv/bin/python benchmarks/stage_times.py --from-log repro.log    # the table of a log written before

Runs `dvc repro` in the current folder with unbuffered output, stamps each line with the seconds
since the start (the log keeps the stamps), and times a stage from its "Running stage" line to the
next one: its process start-up, its work and DVC's caching of its outputs and lock update. A
stage DVC skips takes no time and is not listed. Then the parts: what each stage records of its
own work (an evaluator's training, a reference's features and hashes, a run's training, a metrics
stage's generation, features, metrics and memorisation check, the transfer test's features and
SVMs), and the rest of the stage's time, its start-up and DVC's bookkeeping. Run it with the
machine quiet: two PyTorch processes on two cores slow each other badly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

RUNNING = re.compile(r"^Running stage '([^']+)'")
SEQUENCE_DATA = ("oracle", "coco-captions")  # the sequence study's runs train on these
TRAINING_STUDIES = "claims' studies"  # study@<study>: training, like the image runs (not a fixed stage)


def group(stage: str, sequence_runs: set[str]) -> str:
    kind, _, item = stage.partition("@")
    if kind in ("code", "fetch", "faces", "dedup", "toy", "oracle", "domains"):
        return "data"
    if kind == "train":
        return "sequence study" if item in sequence_runs else "training (image runs)"
    if kind == "sequences":
        return "sequence study"
    if kind in ("metrics", "metrics-table"):
        return "metrics"
    if kind == "study":
        return TRAINING_STUDIES
    return {"evaluator": "evaluators", "reference": "references", "claim": "claims"}.get(kind, kind)  # transfer, report


def sequence_runs() -> set[str]:
    """The runs under params.yaml's models: that train on a sequence dataset."""
    import yaml

    models = yaml.safe_load(Path("params.yaml").read_text()).get("models", {})
    return {name for name, run in models.items() if run.get("data") in SEQUENCE_DATA}


def stage_seconds(stamped: list[tuple[float, str]], end: float) -> dict[str, float]:
    """{stage: seconds} from (seconds since start, line) pairs."""
    starts = [(t, m.group(1)) for t, line in stamped if (m := RUNNING.match(line))]
    return {name: round((starts[i + 1][0] if i + 1 < len(starts) else end) - t, 1)
            for i, (t, name) in enumerate(starts)}


def _json(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def recorded_parts(stage: str) -> dict[str, float]:
    """{part: seconds} of the work a finished stage recorded in its outputs; {} when it records none."""
    kind, _, item = stage.partition("@")
    if kind == "evaluator":
        return {"training": _json(f"reports/evaluators/{item}.json").get("train_seconds", 0.0)}
    if kind == "reference":
        ref = _json(f"data/references/{item}/reference.json")
        hashes = ref.get("hashes", {}).get("seconds", 0.0)
        return {"features": ref.get("seconds", 0.0) - hashes, "hashes": hashes} if ref else {}
    if kind == "train":
        return {"training": _json(f"data/models/{item}/train_summary.json").get("seconds", 0.0)}
    if kind == "metrics":
        parts = dict(_json(f"reports/metrics/runs/{item}.json").get("seconds", {}))
        parts.pop("total", None)
        return parts
    if kind == "transfer":
        rows = [v for v in _json("reports/transfer/metrics.json").values() if isinstance(v, dict)]
        return {"features": sum(r.get("features_seconds", 0.0) for r in rows),
                "SVMs": sum(r.get("svm_seconds", 0.0) for r in rows)}
    return {}


def print_parts(seconds: dict[str, float]) -> None:
    print(f"\n{'stage':34} {'wall':>7} {'work':>7} {'rest':>6}  parts (s)")
    for name, wall in seconds.items():
        parts = {k: float(v) for k, v in recorded_parts(name).items() if v}
        if parts:
            work = sum(parts.values())
            shown = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
            print(f"{name:34} {wall:7.1f} {work:7.1f} {wall - work:6.1f}  {shown}")


def run_repro(args: list[str], log: Path | None) -> tuple[list[tuple[float, str]], float, int]:
    dvc = str(Path(sys.executable).with_name("dvc"))
    start = time.perf_counter()
    stamped: list[tuple[float, str]] = []
    out = log.open("w") if log else None
    with subprocess.Popen([dvc, "repro", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            t = time.perf_counter() - start
            stamped.append((t, line.rstrip("\n")))
            sys.stdout.write(line)
            if out:
                out.write(f"{t:9.1f} {line}")
                out.flush()
    end = time.perf_counter() - start
    if out:
        out.write(f"{end:9.1f} [exit {proc.returncode}]\n")
        out.close()
    return stamped, end, proc.returncode


def read_log(path: Path) -> tuple[list[tuple[float, str]], float]:
    stamped = []
    for line in path.read_text().splitlines():
        head, _, rest = line.strip().partition(" ")
        stamped.append((float(head), rest))
    return stamped, stamped[-1][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, help="write dvc's output here, each line stamped")
    parser.add_argument("--from-log", type=Path, help="tabulate a log written by --log; run nothing")
    parser.add_argument("--json", type=Path, help="write {stage: seconds} here")
    parser.add_argument("repro_args", nargs="*", help="arguments of `dvc repro` (after --)")
    args = parser.parse_args()
    if args.from_log:
        stamped, end = read_log(args.from_log)
        code = 0
    else:
        stamped, end, code = run_repro(args.repro_args, args.log)
    seconds = stage_seconds(stamped, end)
    sequences = sequence_runs()
    groups: dict[str, list[float]] = {}
    print(f"\n{'stage':34} {'seconds':>8}")
    for name, s in seconds.items():
        print(f"{name:34} {s:8.1f}")
        groups.setdefault(group(name, sequences), []).append(s)
    print(f"\n{'group':24} {'stages':>6} {'seconds':>8} {'minutes':>8}")
    for name, values in groups.items():
        print(f"{name:24} {len(values):6d} {sum(values):8.1f} {sum(values) / 60:8.1f}")
    fixed = sum(sum(v) for k, v in groups.items() if k not in ("training (image runs)", TRAINING_STUDIES))
    print(f"{'fixed stages':24} {'':6} {fixed:8.1f} {fixed / 60:8.1f}")
    print(f"{'dvc repro in all':24} {len(seconds):6d} {end:8.1f} {end / 60:8.1f}")
    print_parts(seconds)
    if args.json:
        args.json.write_text(json.dumps({"seconds": seconds, "total": round(end, 1)}, indent=1) + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()

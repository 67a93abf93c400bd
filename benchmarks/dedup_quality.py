"""De-duplication quality on real LFW face crops: recall of injected near duplicates and false merges.

For every real face crop (the primary face of each photo in data/face-crops, or cropped here from
the mirror's LFW), near duplicates are injected for a sample (JPEG q40-70, rescale 0.8-1.25,
brightness or contrast +-10%, crops/shifts of up to 4 px a side) and the whole set is clustered at
each setting. Prints recall (injected duplicates found), precision (removed images showing the same
person as their cluster's keeper) and the false-merge rate (real photos in a cluster with another
person's photo; LFW's identical photos filed under two names excepted), per
threshold and confirmation check, so that the defaults in params.yaml are justified by data.

    .venv/bin/python benchmarks/dedup_quality.py [--dups 1000] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from ganlab.data.config import DedupParams, FacesParams
from ganlab.data.dedup_quality import build_quality_set, primary_crops, sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", type=Path, default=Path("data/face-crops"), help="a faces-stage output")
    ap.add_argument("--dups", type=int, default=1000, help="near duplicates injected per seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--thresholds", type=int, nargs="+", default=[6, 8, 10, 12, 14, 16, 18])
    args = ap.parse_args()

    crops = args.crops
    if not (crops / "manifest.csv").exists():
        from ganlab.data.fetch import fetch_dataset
        from ganlab.data.faces import crop_faces

        if not os.environ.get("GANLAB_DATA_MIRROR"):
            sys.exit(f"{crops} does not exist: run `dvc repro faces` or set GANLAB_DATA_MIRROR")
        tmp = Path(tempfile.mkdtemp())
        fetch_dataset("lfw", tmp / "lfw", progress=False)
        crop_faces(tmp / "lfw", tmp / "crops", FacesParams(), progress=False)
        crops = tmp / "crops"
    images, labels = primary_crops(crops)
    base = DedupParams()
    confirms = [{"confirm": "none"}, {"confirm": "dhash", "confirm_threshold": 12}] + [
        {"confirm": "ncc", "min_correlation": c} for c in (0.92, 0.93, 0.94, 0.95)
    ]
    print(f"{len(images)} real face crops ({len(set(labels))} people) from {crops}; {args.dups} injected per seed")
    print(f"defaults: threshold {base.threshold}, confirm {base.confirm}, min_correlation {base.min_correlation}")
    header = f"{'seed':>4} {'t':>3} {'confirm':<22} {'recall':>7} {'precision':>9} {'false-merge':>11} {'crop':>6} {'candidates':>10} {'confirmed':>9}"
    for seed in args.seeds:
        start = time.perf_counter()
        qs = build_quality_set(images, labels, args.dups, seed=seed)
        print("\n" + header)
        for conf, q in sweep(qs, base, args.thresholds, confirms):
            extra = {k: v for k, v in conf.items() if k not in ("threshold", "confirm")}
            name = conf["confirm"] + ("" if not extra else " " + " ".join(f"{v}" for v in extra.values()))
            mark = " <- default" if (conf["threshold"] == base.threshold and conf["confirm"] == base.confirm
                                     and extra.get("min_correlation") == base.min_correlation) else ""
            print(f"{seed:>4} {conf['threshold']:>3} {name:<22} {q.recall:>7.3f} {q.precision:>9.3f} {q.false_merge_rate:>11.4f} "
                  f"{q.recall_by_kind['crop']:>6.3f} {q.candidate_pairs:>10} {q.confirmed_pairs:>9}{mark}")
        print(f"(seed {seed}: {time.perf_counter() - start:.0f}s)")


if __name__ == "__main__":
    main()

"""The ``ganlab`` command line: one sub-command per pipeline stage, ``--help`` on each.

Each command imports the code it runs inside its function, so that ``ganlab --help`` and the light commands
(``check-params`` on a file without models, ``profile``, ``pipeline``) start without loading torch; no
import here dodges a cycle (tests/test_imports.py checks function-level imports too).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from ganlab.console import run_guarded, setup_logging

app = typer.Typer(
    help="ganlab: classic generative models from raw data to a report. "
    "Each sub-command is one step of the DVC pipeline (see dvc.yaml).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

log = logging.getLogger("ganlab")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
    setup_logging(verbose)


@app.command()
def fetch(
    dataset: Optional[str] = typer.Argument(None, help="Dataset name; see 'ganlab datasets'."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the dataset into (replaced atomically)."),
    variant: str = typer.Option("auto", help="Which copy: auto, official, or a mirror variant (see 'ganlab datasets')."),
    source: Optional[Path] = typer.Option(
        None, "--from", help="Your own archive (.tar.gz/.zip) or folder of split/class/*.jpg|png, or of photos."
    ),
    name: Optional[str] = typer.Option(None, help="Name for a dataset read with --from."),
    timeout: float = typer.Option(30.0, help="Seconds to wait for a server before giving up."),
    retries: int = typer.Option(3, help="Times to resume a download that broke off."),
    progress: bool = typer.Option(True, help="Show download progress bars."),
) -> None:
    """Fetch a dataset (from GANLAB_DATA_MIRROR, the cache or its official URL) into canonical form."""
    from ganlab.data.fetch import fetch_dataset, fetch_local

    if source is not None:
        if dataset is not None:
            raise typer.BadParameter("give either a DATASET name or --from, not both")
        if name is None:
            raise typer.BadParameter("--from needs --name NAME for the new dataset")
        run_guarded(fetch_local, source, name, out)
    elif dataset is None:
        raise typer.BadParameter("name a DATASET (see 'ganlab datasets') or use --from ARCHIVE_OR_FOLDER")
    else:
        run_guarded(fetch_dataset, dataset, out, variant=variant, timeout=timeout, retries=retries, progress=progress)


@app.command()
def datasets() -> None:
    """List the datasets ganlab can fetch, with their variants."""
    from ganlab.data.sources import DATASETS

    for spec in DATASETS.values():
        typer.echo(f"{spec.name:15s} {spec.description}")
        for v in spec.variants:
            where = "download or mirror" if v.downloadable else "mirror only"
            typer.echo(f"  {v.name:13s} {where}: {v.description}")


def _section(cls: type, **overrides: object) -> object:
    """A params section from its defaults plus the options given, checked like params.yaml."""
    from ganlab.schema import from_dict

    return from_dict(cls, {k: v for k, v in overrides.items() if v is not None}, cls.__name__)


@app.command()
def faces(
    photos: Path = typer.Argument(..., help="A photo dataset (e.g. data/lfw), a folder or an archive of photos."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write (crops, manifest.csv, rejects.csv)."),
    size: Optional[int] = typer.Option(None, help="Side of the square crops (default 64)."),
    margin: Optional[float] = typer.Option(None, help="Context around each box, as a fraction of its side (default 0.2)."),
    min_face: Optional[int] = typer.Option(None, help="Smallest face side in pixels (default 40)."),
    cascade: Optional[str] = typer.Option(None, help="OpenCV cascade file (default haarcascade_frontalface_default.xml)."),
    confirm_cascade: Optional[str] = typer.Option(None, help="Second cascade that must fire inside each box."),
    workers: int = typer.Option(0, help="Processes; 0 = one per core."),
) -> None:
    """Detect faces with OpenCV Haar cascades and crop each one square; unusable files go to rejects.csv."""
    from ganlab.data.config import FacesParams
    from ganlab.data.faces import crop_faces

    config = run_guarded(_section, FacesParams, size=size, margin=margin, min_face=min_face, cascade=cascade,
                         confirm_cascade=confirm_cascade)
    run_guarded(crop_faces, photos, out, config, workers=workers)


@app.command()
def dedup(
    images: Path = typer.Argument(..., help="An image dataset (e.g. data/face-crops), a folder or an archive."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write (with dedup.json, gallery.png)."),
    threshold: Optional[int] = typer.Option(None, help="Hamming distance of a candidate pair (default 16)."),
    hash: Optional[str] = typer.Option(None, "--hash", help="phash (default), dhash, whash or ahash."),
    hash_size: Optional[int] = typer.Option(None, help="Hash side; hash_size**2 bits (default 8)."),
    confirm: Optional[str] = typer.Option(None, help="Second check: ncc (default), dhash, phash or none."),
    min_correlation: Optional[float] = typer.Option(None, help="ncc: least correlation of a confirmed pair (default 0.94)."),
    eval_set: Optional[Path] = typer.Option(None, "--eval", help="Evaluation images for the leakage check."),
) -> None:
    """Remove near-duplicate images: perceptual hash, multi-index search, confirmed pairs, one keeper per cluster."""
    from ganlab.data.config import DedupParams
    from ganlab.data.dedup import run_dedup

    config = run_guarded(_section, DedupParams, threshold=threshold, hash=hash, hash_size=hash_size,
                         confirm=confirm, min_correlation=min_correlation)
    run_guarded(run_dedup, images, out, config, eval_source=eval_set)


@app.command()
def variants() -> None:
    """List the registered model variants, each with its paper."""
    from ganlab.models import registry

    names = registry.names()
    width = max(map(len, names))  # one column of names, however long the longest
    for name in names:
        typer.echo(f"{name:{width}s} {registry.describe(name)}")


@app.command()
def claims(
    stages: bool = typer.Option(False, "--stages", help="Print the claim@<claim> stage names, one line, for "
                                "`dvc repro $(ganlab claims --stages)` (they pull in their studies, not the image pipeline)."),
    keep: Optional[Path] = typer.Option(None, "--keep", help="Copy the measured verdicts (reports/claims) to KEEP, "
                                        "with provenance.json (the command, the date, the commit), where a default "
                                        "`dvc repro` does not overwrite them: reports/claims-profile for the claims profile."),
    command: str = typer.Option("ganlab profile claims && dvc repro $(ganlab claims --stages)", help="With --keep: "
                                "the command that produced them, as recorded."),
    only: Optional[str] = typer.Option(None, "--only", help="With --keep: these claims only (comma-separated ids); "
                                       "the others kept there stay as they were, with their own provenance."),
) -> None:
    """List the registered paper claims, each with its paper, study and rule; or keep a profile's verdicts."""
    from ganlab.claims.keep import keep_claims
    from ganlab.claims.verdict import CLAIMS_DIR, all_claims

    found = all_claims()
    if stages:
        typer.echo(" ".join(f"claim@{cid}" for cid in found))
        return
    if keep is not None:
        chosen = [c.strip() for c in only.split(",") if c.strip()] if only else []
        run_guarded(keep_claims, Path(CLAIMS_DIR), keep, command, chosen, found)
        return
    for cid, c in found.items():
        typer.echo(f"{cid:28s} {c.paper}; study: {c.study or '(trains its own networks)'}")
        for p in c.parts:
            typer.echo(f"{'':28s}   rule: {p.text()}")


@app.command()
def train(
    run: str = typer.Argument(..., help="A run named under models: in the params file (e.g. dcgan, gan-toy)."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="Datasets are read from DATA_ROOT/<dataset>."),
    out: Optional[Path] = typer.Option(None, help="Output folder; default DATA_ROOT/models/<run>."),
    restart: bool = typer.Option(False, "--restart", help="Start over, replacing the run in OUT. Without it a "
                                 "run with the same settings continues, and one with other settings or more "
                                 "steps done is kept and this one refused."),
    steps: Optional[int] = typer.Option(None, help="Override models.<run>.train.steps."),
    device: Optional[str] = typer.Option(None, help="Override models.<run>.train.device (auto, cpu, cuda, cuda:N, mps)."),
) -> None:
    """Train one run of params.yaml, as stage train@<run> does (also under torchrun)."""
    import dataclasses

    from ganlab.params import load_params
    from ganlab.train.run import find_run, train_run

    p = run_guarded(load_params, params)
    r = run_guarded(find_run, p.models, run)
    overrides = {k: v for k, v in (("steps", steps), ("device", device)) if v is not None}
    if overrides:
        t = run_guarded(_section, type(r.train), **{**dataclasses.asdict(r.train), **overrides})
        p = dataclasses.replace(p, models={**p.models, run: dataclasses.replace(r, train=t)})
    summary = run_guarded(train_run, p.models, run, data_root, out, restart="yes" if restart else "no")
    log.info("%s: step %d%s", run, summary["step"], "" if summary["finished"] else " (stopped early)")


@app.command("check-params")
def check_params(path: Path = typer.Argument(Path("params.yaml"), help="The params file to check.")) -> None:
    """Validate params.yaml: unknown keys, wrong types and out-of-range values are errors."""
    from ganlab.params import load_params

    run_guarded(load_params, path)
    typer.echo(f"{path}: ok")


@app.command()
def profile(
    name: str = typer.Argument(..., help="A profile: profiles/NAME.yaml (paper, tiny)."),
    base: Path = typer.Option(Path("params.yaml"), help="The params the profile's overlay is applied to."),
    out: Path = typer.Option(Path("params.yaml"), help="Where the profile's params are written."),
    profiles: Optional[Path] = typer.Option(None, help="The profiles' folder; default: profiles/ beside BASE."),
) -> None:
    """Write a profile's complete params (BASE plus its overlay, comments kept); a params.yaml beside a
    dvc.yaml brings that dvc.yaml's derived parts along (`ganlab pipeline`). `git checkout params.yaml
    dvc.yaml` is the way back to the default."""
    from ganlab.catalogue import write_profile

    for path in run_guarded(write_profile, name, base, out, profiles):
        typer.echo(f"{path}: written (profile {name})")


@app.command()
def pipeline(
    params: Path = typer.Option(Path("params.yaml"), help="The params whose models: are the catalogue."),
    dvc: Path = typer.Option(Path("dvc.yaml"), help="The pipeline whose derived parts are rewritten."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 naming each stale part."),
) -> None:
    """Rewrite what params.yaml and dvc.yaml derive from params.yaml's models: (metrics.runs, the train
    stage's runs, the sequences stage's runs, the cross-run plots, the artifacts) and from the code (every
    stage's code deps: its script and the files its imports reach)."""
    from ganlab.catalogue import stale_parts, write_pipeline

    if check:
        parts = run_guarded(stale_parts, params, dvc)
        for part in parts:
            log.error("%s is stale: run `ganlab pipeline`", part)
        if parts:
            raise typer.Exit(code=1)
        typer.echo(f"{params}, {dvc}: derived parts up to date")
        return
    changed = run_guarded(write_pipeline, params, dvc)
    typer.echo(", ".join(map(str, changed)) + ": rewritten" if changed else f"{params}, {dvc}: up to date")


@app.command()
def sample(
    model: str = typer.Argument(..., help="A generator: a generator.pt file, a folder holding one, or a run name "
                                "(data/models/<run>/generator.pt); `dvc artifacts get` or `dvc get` fetches shared ones."),
    n: int = typer.Option(64, "--n", help="Samples in the grid, 1 to 1024."),
    out: Path = typer.Option(Path("grid.png"), help="The PNG to write, in an existing folder; an existing PNG is "
                             "replaced, any other file is left alone."),
    seed: int = typer.Option(0, help="Seed of the latent codes, >= 0."),
    interpolate: bool = typer.Option(False, "--interpolate", help="Rows of walks between random codes instead."),
    mode: str = typer.Option("slerp", help="Interpolation: slerp (along the sphere) or lerp (straight line)."),
    steps: int = typer.Option(8, help="Images per interpolation row, >= 2."),
) -> None:
    """Draw a grid of samples (or latent interpolations) from a trained generator."""
    from ganlab.report.samples import check_sample_options, interpolation_grid, sample_grid
    from ganlab.runs import find_generator, load_generator

    run_guarded(check_sample_options, n, out, seed, interpolate, steps, mode)  # before anything is read
    path = run_guarded(find_generator, model)
    variant = run_guarded(load_generator, path)
    if interpolate:
        written = run_guarded(interpolation_grid, variant, out, rows=max(1, n // steps), steps=steps, mode=mode,
                              seed=seed)
    else:
        written = run_guarded(sample_grid, variant, n, out, seed=seed)
    typer.echo(f"{written}: {variant.name} from {path}")


@app.command()
def variance(
    repo: Path = typer.Option(Path("."), help="The DVC project whose experiments are read."),
    out: Path = typer.Option(Path("reports/variance"), help="Writes OUT.md and OUT.json."),
) -> None:
    """Mean and std of every run's metrics over experiments that differ only in seeds (dvc exp show)."""
    from ganlab.report.variance import write_variance

    groups = run_guarded(write_variance, repo, out)
    typer.echo(f"{out.with_suffix('.md')}: {len(groups)} group(s) of experiments")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

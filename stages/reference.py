"""Stage reference@<dataset>: the features of a dataset's real images under the metrics' extractor
(params metrics.*), cached per data version in data/references/<dataset>, and the metrics of its real
held-out images (the floor a generator is measured against) in reports/metrics/real/<dataset>.json."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.eval.pipeline import write_reference_stage
from ganlab.params import load_params


def main(
    dataset: str = typer.Argument(..., help="A dataset named under metrics.references in params.yaml."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="Datasets and evaluators are read from DATA_ROOT."),
    out: Path = typer.Option(None, help="Output folder; default DATA_ROOT/references/<dataset>."),
    baseline: Path = typer.Option(None, help="The real held-out images' metrics (JSON); default "
                                  "reports/metrics/real/<dataset>.json."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(write_reference_stage, p.metrics, p.dedup, dataset, data_root,
                out or data_root / "references" / dataset, baseline or Path("reports/metrics/real") / f"{dataset}.json")


if __name__ == "__main__":
    typer.run(main)

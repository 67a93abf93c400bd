"""Stage evaluator@<dataset>: the dataset's evaluator network (params evaluators.<dataset>) into
data/evaluators/<dataset>, its test accuracy into reports/evaluators/<dataset>.json."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.eval.evaluator import write_evaluator_stage
from ganlab.params import load_params


def main(
    dataset: str = typer.Argument(..., help="A dataset named under evaluators: in params.yaml."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="The dataset is read from DATA_ROOT/<dataset>."),
    out: Path = typer.Option(None, help="Output folder; default DATA_ROOT/evaluators/<dataset>."),
    report: Path = typer.Option(None, help="Accuracy JSON; default reports/evaluators/<dataset>.json."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    out = out or data_root / "evaluators" / dataset
    report = report or Path("reports") / "evaluators" / f"{dataset}.json"
    run_guarded(write_evaluator_stage, p.evaluators, dataset, data_root, out, report)


if __name__ == "__main__":
    typer.run(main)

"""What every ganlab command does at its edges: log to stderr, and turn a GanlabError into one line and exit 2.

Apart from ganlab.cli so that the stage scripts (stages/*.py) share it without importing the command line:
cli.py imports each command's code inside that command (``ganlab --help`` stays light), and the static
import closure that lists a stage's code deps (ganlab.codedeps) counts function-level imports, so a stage
importing cli.py would depend on every module any command runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from ganlab.errors import GanlabError

T = TypeVar("T")

# the package's logger, not __name__: an error line reads "ganlab: ...", as it did from cli.py
log = logging.getLogger("ganlab")


def setup_logging(verbose: bool = False) -> None:
    """Log ganlab's messages to stderr; progress bars (tqdm) write there too."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def run_guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn``; turn a GanlabError into one clear line on stderr and exit code 2 (or the error's
    ``exit_code``: 128 + the signal for a run a signal stopped)."""
    try:
        return fn(*args, **kwargs)
    except GanlabError as exc:
        log.error("%s", " ".join(str(exc).split()))  # one line, whatever a library's text held
        raise typer.Exit(code=getattr(exc, "exit_code", 2)) from None  # 2, or a stopped run's signal code
    except KeyboardInterrupt:
        log.error("interrupted; outputs were left as they were before this run")
        raise typer.Exit(code=130) from None

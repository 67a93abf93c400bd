"""Each stage's code as one file: the manifests of stage ``code``, the one code dependency of every other stage.

A stage's code deps are exact and fine-grained when they are read from the imports (ganlab.codedeps: the static
closure of its script's imports inside src/ganlab, with every variant's module for a stage that builds any run's
variant, and a train run's own variant's). Listed file by file in dvc.yaml they cost: dvc.lock held forty-odd
entries per stage, and DVC rewrites the whole lock (ruamel's pure-Python round trip) after every stage it runs,
about three seconds a stage at 18,000 lines (benchmarks/lock_size.py). Instead stage ``code`` writes, for every
stage, a manifest of those files with their sha256 (data/code/<stage>.sha256; a train run's is its variant's,
data/code/train-<variant>.sha256), and each stage depends on its manifest alone. DVC re-runs a stage when its
manifest's content changes, which is when one of its files changes or its imports reach another, as before; and
the manifests follow the imports by themselves, so a new import needs no `ganlab pipeline`.

A manifest is ``sha256sum``'s format: ``sha256sum -c data/code/train-dcgan.sha256`` checks it from the project root.
"""

from __future__ import annotations

from pathlib import Path

from ganlab.codedeps import STAGES, VARIANTS, package_modules, stage_code, stage_names
from ganlab.files import atomic_directory, hash_file, write_json_atomic

CODE_DIR = "data/code"  # stage code writes the manifests here
INDEX = "manifests.json"  # the folder's marker: every manifest with the files it lists
OWN_DEPS = ("code", "train")  # stage code reads the folders themselves; train's manifests are its variants'


def manifest_name(stage: str, variant: str = "") -> str:
    """The file, under :data:`CODE_DIR`, that lists the code of ``stage`` (of a train run of ``variant``)."""
    return f"train-{variant}.sha256" if variant else f"{stage}.sha256"


def stage_manifests(root: Path) -> dict[str, list[str]]:
    """Manifest name -> the source files (relative to ``root``) it lists: one per stage script but code's and
    train's, and one per module of ganlab.models for the train stage (a run's variant is the module of that name;
    the other modules' manifests, blocks' or losses', are never read)."""
    found = {manifest_name(stage): stage_code(stage, root) for stage in stage_names(root) if stage not in OWN_DEPS}
    for module in package_modules(VARIANTS, root / "src"):
        if module != VARIANTS:
            variant = module.removeprefix(VARIANTS + ".")
            found[manifest_name("train", variant)] = stage_code("train", root, variant)
    return found


def write_manifests(root: Path, out: Path) -> dict[str, list[str]]:
    """Stage code: every manifest of :func:`stage_manifests` of the project at ``root`` into the folder ``out``, one
    ``<sha256>  <path>`` line per file, and :data:`INDEX`. The folder is replaced whole, and only if ganlab wrote
    it (it holds INDEX) or it is empty."""
    manifests = stage_manifests(root)
    hashes: dict[str, str] = {}  # a file shared by many stages is read once
    with atomic_directory(out, INDEX, inputs=[root / "src", root / STAGES]) as tmp:
        for name, files in manifests.items():
            (tmp / name).write_text("".join(f"{hashes.setdefault(p, hash_file(root / p))}  {p}\n" for p in files))
        write_json_atomic(tmp / INDEX, manifests)
    return manifests

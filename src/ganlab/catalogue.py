"""The run catalogue: params.yaml's ``models:`` is the one list of runs, and everything else follows from it.

Two jobs, both about keeping that list in one place:

* **Profiles** (``ganlab profile NAME``): ``profiles/NAME.yaml`` is an overlay holding only what the profile
  changes, each override with its reason; :func:`write_profile` applies it (and the profile it ``extends``)
  to params.yaml with ruamel's round trip, so every comment of params.yaml is kept.
* **Derived parts** (``ganlab pipeline``): the parts of params.yaml and dvc.yaml that repeat the runs
  (``metrics.runs``, the train stage's items with the pre-training snapshot a run starts from and the manifest
  of its variant's code, the sequences stage's deps, the cross-run plots, the artifacts) sit between marker
  comments and are rewritten from the catalogue by :func:`write_pipeline`; ``--check`` names a stale one.
  dvc.yaml cannot loop inside a list nor interpolate a list (DVC 3), so what it would otherwise compute is
  written out here.

A stage's code deps are one file, the manifest stage ``code`` writes of its script and the static import closure
of its imports inside src/ganlab (ganlab.codedeps); a train run's is its variant's, which adds the variant's module
and what that imports, so editing a variant's file re-runs the runs of that variant and of the variants built on
it, nothing else. The manifests follow the imports by themselves: a new import needs no `ganlab pipeline`.

About 450 lines, past the ~400 of the style guide: overlays and marked regions are the two halves of the
catalogue's commands and share its YAML handling; the import closure is apart (ganlab.codedeps).
"""

from __future__ import annotations

import copy
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from ganlab.errors import GanlabError, ParamsError
from ganlab.files import write_text_atomic
from ganlab.manifests import CODE_DIR, manifest_name
from ganlab.params import load_params
from ganlab.schema import parse_yaml, read_text

log = logging.getLogger(__name__)

PROFILES = "profiles"  # the profiles' folder, beside the base params.yaml
EXTENDS = "extends"  # an overlay's one key of its own: the profile it is applied after
HEADER = "# Profile "  # the first line of a profile's params: what it is and how it was written
#: the cross-run line plots of dvc.yaml: name -> (title, dvclive file, column, which runs). The GAN-loss
#: comparison is the unconditional GANs on MNIST that differ only in loss, normalisation or attention
#: (the others log other losses or take labels); NLL-oracle is every run on SeqGAN's oracle.
LOSS_FAMILY = ("gan", "dcgan", "lsgan", "wgan", "wgan_gp", "sngan", "sagan")
Run = tuple[str, str]  # (variant, data) of one run
PLOTS: dict[str, tuple[str, str, str, Callable[[Run], bool]]] = {
    "generator-loss": ("Generator loss of the GAN family over training", "train/loss_g.tsv", "loss_g",
                       lambda r: r[0] in LOSS_FAMILY and r[1] == "mnist"),
    "discriminator-loss": ("Discriminator (critic) loss of the GAN family over training", "train/loss_d.tsv",
                           "loss_d", lambda r: r[0] in LOSS_FAMILY and r[1] == "mnist"),
    "nll-oracle": ("NLL-oracle over training, SeqGAN's benchmark (lower is better)", "eval/nll_oracle.tsv",
                   "nll_oracle", lambda r: r[1] == "oracle"),
}


def _yaml() -> YAML:
    """ruamel's round trip, laid out as params.yaml is (2-space maps, no line wrapping)."""
    y = YAML()
    y.width = 4096
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def load_yaml(text: str, what: str) -> Any:
    """YAML text -> ruamel's round-trip nodes (a CommentedMap for a mapping), comments attached.

    The text passes ganlab.schema's reader first, so a profile or a params file here refuses what
    load_params refuses (anchors and aliases, duplicate keys) with the same message, before ruamel builds
    anything: an alias repeats a value that a merge, a comparison or a dump would expand in full."""
    parse_yaml(text, what)
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        raise ParamsError(f"{what}: not valid YAML: {' '.join(str(exc).split())}") from None


def _read(path: Path) -> str:
    return read_text(path, "file")


def dump_yaml(node: Any) -> str:
    out = io.StringIO()
    _yaml().dump(node, out)
    text = out.getvalue()
    return text if text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------- profiles: overlays on params.yaml


def profile_chain(name: str, folder: Path) -> list[tuple[str, CommentedMap]]:
    """The overlays to apply, first to last: the profile's ``extends`` chain ending with ``name``."""
    chain: list[tuple[str, CommentedMap]] = []
    while name:
        path = folder / f"{name}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in folder.glob("*.yaml"))
            raise ParamsError(f"profile {name!r}: no {path}; profiles: {', '.join(known) or 'none'}")
        if any(n == name for n, _ in chain):
            raise ParamsError(f"profile {name!r}: extends itself ({' <- '.join([n for n, _ in chain] + [name])})")
        overlay = load_yaml(read_text(path, "profile"), f"profile {name!r} ({path})") or CommentedMap()
        if not isinstance(overlay, CommentedMap):
            raise ParamsError(f"profile {name!r}: {path} must be a mapping of overrides")
        chain.append((name, overlay))
        name = str(overlay.get(EXTENDS) or "")
    return chain[::-1]


def _token(m: CommentedMap, key: Any) -> CommentToken | None:
    entry = m.ca.items.get(key)
    return entry[2] if entry and len(entry) > 2 else None


def _split(token: CommentToken | None) -> tuple[str, str]:
    """A key's comment token -> (its end-of-line comment, the full-line comments after it)."""
    if token is None:
        return "", ""
    first, _, rest = token.value.partition("\n")
    return first.strip(), rest


def _set_comment(m: CommentedMap, key: Any, eol: str, rest: str) -> None:
    if not eol and not rest:
        m.ca.items.pop(key, None)
        return
    # column 0 puts the comment after the value; the leading space makes the usual two
    value = (f" {eol}" if eol else "") + "\n" + rest
    m.ca.items[key] = [None, None, CommentToken(value, CommentMark(0)), None]


def _last_leaf(node: Any) -> tuple[CommentedMap, Any] | None:
    """The map and key of ``node``'s deepest last key: its comment token holds the comments after ``node``."""
    leaf = None
    while isinstance(node, CommentedMap) and len(node):
        key = list(node)[-1]
        leaf, node = (node, key), node[key]
    return leaf


def _after(m: CommentedMap, key: Any) -> tuple[CommentedMap, Any]:
    """Where the full-line comments after ``m[key]`` are kept."""
    return _last_leaf(m[key]) or (m, key)


def _take_trailing(owner: tuple[CommentedMap, Any]) -> str:
    eol, rest = _split(_token(*owner))
    if rest:  # full-line comments or blank lines
        _set_comment(*owner, eol, "")
    return rest


def _give_trailing(owner: tuple[CommentedMap, Any], rest: str) -> None:
    if rest:
        eol, mine = _split(_token(*owner))
        _set_comment(*owner, eol, mine + rest)


def _shown(value: Any) -> str:
    """A value as its YAML was written (3.0e-6, not 3e-06), on one line."""
    if isinstance(value, dict):
        return "{...}"
    value = copy.deepcopy(value)
    if hasattr(value, "ca"):
        value.ca.comment = None
    out = io.StringIO()
    _yaml().dump(value, out)
    return " ".join(line for line in out.getvalue().splitlines() if line.strip() not in ("", "..."))


@dataclass
class _Overlay:
    """Applies one profile's overlay to the base, in the overlay's order; messages name the profile and key."""

    profile: str
    #: (id of a map, key) -> the value before this profile: what "was" names after several overrides
    original: dict[tuple[int, Any], Any] = field(default_factory=dict)

    def label(self, reason: str, old: Any = None) -> str:
        """A value the profile sets says so, why, and what it replaced."""
        words = [reason.lstrip("#").strip()] + ([f"(was {_shown(old)})"] if old is not None else [])
        return f"# {self.profile}: {' '.join(w for w in words if w)}"

    def apply(self, base: CommentedMap, overlay: CommentedMap) -> None:
        self.merge(base, overlay, "", top=True)

    def merge(self, base: CommentedMap, overlay: CommentedMap, where: str, top: bool = False) -> None:
        """Merge a mapping, key by key; a key new to ``base`` goes after the key before it in the overlay
        (list an existing key with ``{}`` to place new ones after it), else at the end."""
        previous = None
        for key, value in overlay.items():
            reason = _split(_token(overlay, key))[0]
            if top and key == EXTENDS:
                continue
            if top and isinstance(key, str) and "." in key:
                self.apply_path(base, key, value, reason)
                continue
            path = f"{where}.{key}" if where else str(key)
            if key in base or value is None:
                self.set(base, key, value, reason, path)
            else:
                self.add(base, key, value, reason, previous)
            previous = key

    def add(self, base: CommentedMap, key: Any, value: Any, reason: str, previous: Any) -> None:
        keys = list(base)
        pos = keys.index(previous) + 1 if previous in base else len(keys)
        value = copy.deepcopy(value)
        if isinstance(value, CommentedMap) and _last_leaf(value):
            _take_trailing(_last_leaf(value))  # the overlay's own layout comments stay in the overlay
        base.insert(pos, key, value)
        _set_comment(base, key, reason if isinstance(value, CommentedMap) else self.label(reason), "")
        if pos:  # what introduced the key after the one before it now comes after the new key
            _give_trailing(_after(base, key), _take_trailing(_after(base, keys[pos - 1])))

    def set(self, m: CommentedMap, key: Any, value: Any, reason: str, where: str) -> None:
        """Merge ``value`` into ``m[key]`` as JSON Merge Patch does (RFC 7386): a mapping merges into a
        mapping, null drops the key, anything else replaces the value."""
        if value is None:
            if key not in m:
                raise ParamsError(f"profile {self.profile!r}: {where}: null drops a key, and the base has none")
            keys = list(m)
            rest = _take_trailing(_after(m, key))
            del m[key]
            if keys.index(key) > 0:
                _give_trailing(_after(m, keys[keys.index(key) - 1]), rest)
            return
        if isinstance(value, CommentedMap) and isinstance(m[key], CommentedMap):
            self.merge(m[key], value, where)
            return
        old = self.original.setdefault((id(m), key), m[key])
        if m[key] == value:
            return  # unchanged: the base's comment still says why
        rest = _take_trailing(_after(m, key))
        m[key] = copy.deepcopy(value)
        if hasattr(m[key], "ca"):
            m[key].ca.comment = None  # a flow list keeps a copy of its comment: the key's is the one written
        _set_comment(m, key, self.label(reason, old), "")
        _give_trailing(_after(m, key), rest)

    def apply_path(self, base: CommentedMap, path: str, value: Any, reason: str) -> None:
        """A dotted key ``a.*.b``: every existing key it matches (``*`` matches any one key) takes ``value``."""
        parts = path.split(".")
        nodes: list[tuple[CommentedMap, Any]] = []

        def walk(m: Any, i: int) -> None:
            if isinstance(m, CommentedMap):
                for key in list(m):
                    if fnmatchcase(str(key), parts[i]):
                        if i == len(parts) - 1:
                            nodes.append((m, key))
                        else:
                            walk(m[key], i + 1)

        walk(base, 0)
        if not nodes:
            raise ParamsError(f"profile {self.profile!r}: {path} matches no key of the base "
                              f"(a dotted key changes keys that exist; nest the keys to add one)")
        for m, key in nodes:
            self.set(m, key, value, reason, path)


def apply_overlay(base: CommentedMap, overlay: CommentedMap, profile: str) -> None:
    """Merge one profile's ``overlay`` into ``base`` in place, by the rules profiles/paper.yaml's header states."""
    _Overlay(profile).apply(base, overlay)


def render_profile(name: str, base: Path, folder: Path | None = None) -> str:
    """params.yaml text of profile ``name``: ``base`` with the overlays applied, metrics.runs regenerated."""
    folder = folder or base.parent / PROFILES
    chain = profile_chain(name, folder)
    text = _read(base)
    if text.startswith(HEADER):  # a profile over a profile would keep the first one's cuts under the second's name
        raise ParamsError(f"{base}: {text.split(chr(10), 1)[0][2:]} Start from the default params "
                          f"(`git checkout {base.name} dvc.yaml`) or name another --base")
    params = load_yaml(text, str(base))
    if not isinstance(params, CommentedMap):
        raise ParamsError(f"{base}: the top level must be a mapping")
    for profile, overlay in chain:
        apply_overlay(params, overlay, profile)
    text = dump_yaml(params)
    files = ", then ".join(f"{folder.name}/{p}.yaml" for p, _ in chain)
    text = f"{HEADER}{name}: {base.name} with {files} applied by `ganlab profile {name}`.\n" + text
    return regenerate(text, derived_params(read_catalogue(text)), f"profile {name}")


def _validate(text: str, path: Path, name: str) -> None:
    """load_params on ``text`` before it replaces ``path``; a problem is named under ``name``."""
    tmp = path.parent / f".{path.name}.unchecked"
    try:
        tmp.write_text(text)
        load_params(tmp)
    except ParamsError as exc:
        raise ParamsError(str(exc).replace(str(tmp), name)) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_profile(name: str, base: Path, out: Path, folder: Path | None = None) -> list[Path]:
    """Write profile ``name``'s params to ``out`` (validated first); when ``out`` is a params.yaml beside a
    dvc.yaml, that dvc.yaml's derived parts follow it. Returns the files written."""
    text = render_profile(name, base, folder)
    _validate(text, out, f"profile {name!r}")
    write_text_atomic(out, text)
    written = [out]
    dvc = out.parent / "dvc.yaml"
    if out.name == "params.yaml" and dvc.is_file():  # the file dvc.yaml's ${...} read
        written += write_pipeline(out, dvc)
    return written


# --------------------------------------------------------------------------- derived parts between markers

_START = re.compile(r"^(?P<indent> *)# >>> ganlab pipeline: (?P<name>[\w.-]+)")
_END = re.compile(r"^ *# <<< ganlab pipeline: (?P<name>[\w.-]+)")


@dataclass(frozen=True)
class Catalogue:
    """What the derived parts are made of: run -> (variant, data), the measured datasets, and the runs that start
    from another's pre-training (run -> that run)."""

    runs: dict[str, Run]
    references: dict[str, str]
    pretrained: dict[str, str] = field(default_factory=dict)
    #: claims.studies: study -> the datasets its runs train on (ganlab.claims.study)
    studies: dict[str, list[str]] = field(default_factory=dict)


def read_catalogue(params_text: str, name: str = "params") -> Catalogue:
    parse_yaml(params_text, name)  # refuses what load_params refuses (see load_yaml), before ruamel reads it
    try:
        raw = YAML(typ="safe", pure=True).load(params_text) or {}
    except YAMLError as exc:
        raise ParamsError(f"{name}: not valid YAML: {' '.join(str(exc).split())}") from None
    models = raw.get("models") or {}
    runs = {str(k): (str((v or {}).get("variant", "")), str((v or {}).get("data", ""))) for k, v in models.items()}
    pretrained = {str(k): str(v["pretrained_from"]) for k, v in models.items()
                  if isinstance(v, dict) and v.get("pretrained_from")}
    studies = {str(k): sorted({str((r or {}).get("data", "")) for r in ((v or {}).get("runs") or {}).values()})
               for k, v in ((raw.get("claims") or {}).get("studies") or {}).items()}
    return Catalogue(runs, dict((raw.get("metrics") or {}).get("references") or {}), pretrained, studies)


def derived_params(cat: Catalogue) -> dict[str, list[str]]:
    """params.yaml's derived part: one metrics@<run> stage per run whose dataset has a reference (the image
    runs; sequence and translation runs are reported by stages of their own)."""
    return {"metrics.runs": [f"{run}: {data}  # as models.{run}.data"
                             for run, (_, data) in cat.runs.items() if data in cat.references]}


def claim_items(cat: Catalogue) -> list[str]:
    """dvc.yaml's claim@<claim> items: every registered claim (ganlab.claims) with what it reads, its study's folder
    (or, for a claim that trains what it measures itself, its own code: a dependency it has anyway), the folder its
    measure reads beside it (an evaluator network; else its code again), and the params
    it reads beside claims.seeds: its study's section (its runs and seeds), or claims.own_seeds. Not the whole
    claims.studies: a change to the ring's runs leaves the grid's claims alone, and dvc.lock does not repeat every
    study's settings under every claim."""
    from ganlab.claims.verdict import all_claims

    items = []
    for cid, c in all_claims().items():
        if c.study and c.study not in cat.studies:
            raise GanlabError(f"claim {cid} compares the runs of study {c.study!r}, which params.yaml does not "
                              f"define under claims.studies ({', '.join(cat.studies) or 'none'})")
        code = f"{CODE_DIR}/{manifest_name('claim')}"
        needs = f"data/studies/{c.study}" if c.study else code
        reads = code
        if c.reads_evaluator or c.reads_reference:
            what = "evaluator" if c.reads_evaluator else "reference"
            datasets = cat.studies.get(c.study, [])
            if len(datasets) != 1:
                raise GanlabError(f"claim {cid} reads the {what} of study {c.study!r}'s dataset; its runs train on "
                                  f"{', '.join(datasets) or 'no dataset'}: give them one")
            reads = f"data/{what}s/{datasets[0]}"
        section = f"claims.studies.{c.study}" if c.study else "claims.own_seeds"
        items.append(f"{cid}: {{needs: {needs}, reads: {reads}, params: {section}}}")
    return items


def snapshot_dep(run: str) -> str:
    """dvc.yaml's path of the pre-training snapshot run ``run`` starts from (ganlab.runs.RunDir.snapshot), read from
    params.yaml by DVC: `dvc exp run -S` on the run's pretrained_from or pretrain_steps moves the dependency too."""
    return f"data/models/${{models.{run}.pretrained_from}}/snapshots/step_${{models.{run}.model.pretrain_steps}}.pt"


def derived_dvc(cat: Catalogue) -> dict[str, list[str]]:
    """dvc.yaml's derived parts, from the catalogue."""
    from ganlab.models import registry  # data_kind is the variant's to say; importing it imports torch

    kinds = {}
    for run, (variant, _) in cat.runs.items():
        try:
            kinds[run] = registry.get(variant).data_kind
        except GanlabError as exc:
            raise GanlabError(f"models.{run}.variant: {exc}") from None
    items = []
    for run, (variant, _) in cat.runs.items():
        code = f"{CODE_DIR}/{manifest_name('train', variant)}"
        # the snapshot a run starts from (ganlab.train.pretraining); a run pre-training itself repeats its code
        start = f'"{snapshot_dep(run)}"' if run in cat.pretrained else code
        items.append(f'{run}: {{data: "${{models.{run}.data}}", start: {start}, code: {code}}}')
    sequence = [run for run, kind in kinds.items() if kind == "sequences"]
    plots = []
    for name, (title, tsv, column, chosen) in PLOTS.items():
        runs = [run for run, r in cat.runs.items() if chosen(r)]
        if runs:
            plots += [f"- {name}:", f"    title: {title}", "    x: step", "    y:"]
            plots += [f"      data/models/{run}/dvclive/plots/metrics/{tsv}: {column}" for run in runs]
    artifacts = []
    for run, (variant, data) in cat.runs.items():
        artifacts += [f"{run}:", f"  path: data/models/{run}/generator.pt", "  type: model",
                      f"  desc: {variant} trained on {data} (params.yaml models.{run})",
                      f"  labels: [{variant}, {data}]"]
    parts = {"sequences.deps": [f"- data/models/{run}/train_summary.json" for run in sequence]}
    return parts | {
        "train.foreach": items,
        "study.foreach": [f"{study}: {{data: {data[0] if data else ''}}}" for study, data in cat.studies.items()],
        "claim.foreach": claim_items(cat),
        "sequences.params": [f"- models.{run}" for run in sequence],
        "plots": plots,
        "artifacts": artifacts,
    }


def _regions(text: str, where: str) -> dict[str, tuple[int, int, str]]:
    """name -> (first line, end marker line, indent) of each marked region."""
    found: dict[str, tuple[int, int, str]] = {}
    lines = text.split("\n")
    open_: tuple[str, int, str] | None = None
    for i, line in enumerate(lines):
        start, end = _START.match(line), _END.match(line)
        if start:
            if open_:
                raise GanlabError(f"{where}: region {open_[0]!r} (line {open_[1]}) has no end marker")
            open_ = (start["name"], i + 1, start["indent"])
        elif end:
            if not open_ or end["name"] != open_[0]:
                raise GanlabError(f"{where}: line {i + 1}: end of region {end['name']!r} that was not opened")
            found[open_[0]] = (open_[1], i, open_[2])
            open_ = None
    if open_:
        raise GanlabError(f"{where}: region {open_[0]!r} (line {open_[1]}) has no end marker")
    return found


def regenerate(text: str, parts: dict[str, list[str]], where: str) -> str:
    """``text`` with each marked region's lines replaced by ``parts[name]`` (at the marker's indent)."""
    regions = _regions(text, where)
    missing = sorted(set(parts) - set(regions))
    if missing:
        raise GanlabError(f"{where}: no `# >>> ganlab pipeline: {missing[0]}` ... `# <<< ganlab pipeline: "
                          f"{missing[0]}` region to write the derived part into")
    unknown = sorted(set(regions) - set(parts))
    if unknown:
        raise GanlabError(f"{where}: region {unknown[0]!r} is not one `ganlab pipeline` writes; "
                          f"it writes {', '.join(parts)}")
    lines = text.split("\n")
    for name, (first, end, indent) in sorted(regions.items(), key=lambda kv: -kv[1][0]):
        lines[first:end] = [indent + line for line in parts[name]]
    return "\n".join(lines)


def stale(text: str, parts: dict[str, list[str]], where: str) -> list[str]:
    """The regions of ``text`` whose lines differ from what :func:`regenerate` writes."""
    fresh = regenerate(text, parts, where)
    if fresh == text:
        return []
    old, new = _regions(text, where), _regions(fresh, where)
    lines, fresh_lines = text.split("\n"), fresh.split("\n")
    return [name for name in parts
            if lines[old[name][0]:old[name][1]] != fresh_lines[new[name][0]:new[name][1]]]


def _jobs(params: Path, dvc: Path) -> list[tuple[Path, str, dict[str, list[str]]]]:
    text = _read(params)
    cat = read_catalogue(text, str(params))
    return [(params, text, derived_params(cat)), (dvc, _read(dvc), derived_dvc(cat))]


def stale_parts(params: Path, dvc: Path) -> list[str]:
    """The derived parts of ``params`` and ``dvc`` that ``ganlab pipeline`` would change, as ``file: region``."""
    jobs = _jobs(params, dvc)
    return [f"{path.name}: {name}" for path, text, parts in jobs for name in stale(text, parts, path.name)]


def write_pipeline(params: Path, dvc: Path) -> list[Path]:
    """Rewrite the derived parts of ``params`` and ``dvc`` from ``params``' catalogue and the code beside
    ``dvc``; the new params are validated first. Returns the files changed."""
    new = [(path, text, regenerate(text, parts, path.name)) for path, text, parts in _jobs(params, dvc)]
    _validate(new[0][2], params, str(params))
    changed = []
    for path, old, text in new:
        if text != old:
            write_text_atomic(path, text)
            changed.append(path)
            log.info("%s: derived parts rewritten from %s models:", path, params.name)
    return changed

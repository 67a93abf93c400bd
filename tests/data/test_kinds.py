"""Dataset kinds: what each dataset is (ganlab.data.kinds) and how a run reads each kind (ganlab.train.data),
on small datasets written by the real writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import bars, image_bytes

from ganlab.data import kinds
from ganlab.data.datasets import INFO_FILE, read_info, write_content
from ganlab.data.formats import ImageData, ImageSplit, PhotoData, TextData
from ganlab.errors import DataFormatError, ParamsError
from ganlab.eval.sequences import NllOracle, TextQuality
from ganlab.params import OracleParams, RunParams, ToyParams
from ganlab.train.data import LOADERS, MAX_CLASSES, loader_of
from ganlab.train.run import data_monitor, load_training_data

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ["a cat sits on a mat .", "two dogs run .", "a man rides a horse ."]


def write_dataset(root: Path, name: str, content) -> Path:
    """A dataset folder as the fetch stage leaves it: the content's files and dataset.json."""
    root.mkdir(parents=True)
    info = write_content(content, root)
    (root / INFO_FILE).write_text(json.dumps({"name": name, **info}))
    return root


def images(data_root: Path, name: str = "mnist", n_classes: int = 2) -> Path:
    train_x, train_y = bars(12, seed=0)
    test_x, test_y = bars(5, seed=1)
    content = ImageData({"train": ImageSplit(train_x, train_y), "test": ImageSplit(test_x, test_y)},
                        [str(k) for k in range(n_classes)])
    return write_dataset(data_root / name, name, content)


def text(data_root: Path) -> Path:
    return write_dataset(data_root / "coco-captions", "coco-captions",
                         TextData({"train": SENTENCES * 2, "test": SENTENCES[::-1]}))


def oracle(data_root: Path) -> Path:
    from ganlab.data.oracle import write_oracle

    write_oracle(OracleParams(vocab=20, length=5, embed=4, hidden=4, n_train=64, seed=1), data_root / "oracle")
    return data_root / "oracle"


def toy(data_root: Path) -> Path:
    from ganlab.data.toy import write_toy

    write_toy(ToyParams(n=50), data_root / "toy-gaussian")
    return data_root / "toy-gaussian"


def toy2d(data_root: Path, name: str = "toy-ring") -> Path:
    from ganlab.data.config import GridParams, ModesProtocolParams, RingParams
    from ganlab.data.toy2d import write_toy2d

    params = RingParams(n=40) if name == "toy-ring" else GridParams(n=40)
    write_toy2d(name, params, ModesProtocolParams(samples=300), data_root / name)
    return data_root / name


def run(data: str, variant: str = "gan") -> RunParams:
    return RunParams(variant=variant, data=data)


# --------------------------------------------------------------------------- the tables


def test_every_kind_a_writer_records_is_in_the_table(tmp_path):
    photo = np.zeros((4, 4, 3), dtype=np.uint8)
    written = {
        read_info(images(tmp_path))["kind"],
        read_info(text(tmp_path))["kind"],
        read_info(oracle(tmp_path))["kind"],
        read_info(toy(tmp_path))["kind"],
        read_info(toy2d(tmp_path))["kind"],
        read_info(write_dataset(tmp_path / "lfw", "lfw", PhotoData(["a/1.png"], [image_bytes(photo)],
                                                                    np.zeros(1, dtype=np.int64), ["a"])))["kind"],
    }
    assert written == set(kinds.KINDS)
    # the loaders are the kinds that a model trains on, no more and no fewer
    assert set(LOADERS) == {kind for kind, feeds in kinds.KINDS.items() if feeds is not None}


def test_derived_datasets_are_named_as_their_modules_and_stages_write_them():
    from ganlab.data import domains, oracle as oracle_data, toy as toy_data, toy2d as toy2d_data

    assert {toy_data.NAME, toy2d_data.RING, toy2d_data.GRID, oracle_data.NAME, domains.NAME} < set(kinds.DERIVED)
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, derived in kinds.DERIVED.items():
        assert derived.kind in kinds.KINDS, name
        assert f"data/{name}" in stages[derived.stage]["outs"], f"stage {derived.stage} does not write data/{name}"


def test_dataset_kind_of_fetched_and_derived_datasets():
    assert [kinds.dataset_kind(n) for n in ("mnist", "lfw", "coco-captions", "faces", "toy-gaussian", "toy-ring",
                                            "oracle")] == ["images", "photos", "text", "images", "toy", "toy2d", "sequences"]
    with pytest.raises(ParamsError, match=r"^unknown dataset 'mnsit'; datasets: .*mnist"):
        kinds.dataset_kind("mnsit")


def test_what_each_variant_kind_trains_on():
    assert kinds.datasets_for("images") == ["cifar10", "domains", "faces", "fashion-mnist", "mnist", "toy-gaussian",
                                            "toy-grid", "toy-ring"]
    assert kinds.datasets_for("sequences") == ["coco-captions", "oracle"]
    # samples are compared with one distribution of images: not the toy, the domain pair, photos, text or sequences
    assert [n for n in kinds.dataset_names() if kinds.image_distribution(n)] == \
        ["cifar10", "faces", "fashion-mnist", "mnist"]
    assert not kinds.image_distribution("nothing")


# --------------------------------------------------------------------------- the loaders


def test_images_load_as_tensors_in_range_with_their_labels(tmp_path):
    root = images(tmp_path)
    x, y, spec, data_id = load_training_data(run("mnist"), tmp_path, conditional=False)
    assert x.shape == (12, 1, 8, 8) and x.dtype == torch.float32 and -1 <= x.min() and x.max() <= 1
    assert y.dtype == torch.int64 and y.tolist() == bars(12, seed=0)[1].tolist()
    assert spec.shape == (1, 8, 8) and spec.n_classes == 0  # unconditional: no classes
    assert len(data_id) == 16 and data_id == load_training_data(run("mnist"), tmp_path, False, "test")[3]
    test_x, _, conditional, _ = load_training_data(run("mnist"), tmp_path, True, "test")
    assert len(test_x) == 5 and conditional.n_classes == 2
    assert data_monitor(run("mnist"), tmp_path, spec) is None
    assert loader_of(root).after_training is None


def test_a_conditional_run_needs_classes(tmp_path):
    images(tmp_path, "faces", n_classes=MAX_CLASSES + 1)
    with pytest.raises(ParamsError, match=r"models\.\*\.data = 'faces': a conditional variant needs 2\.\.1000 classes, "
                                          r"the dataset has 1001"):
        load_training_data(run("faces"), tmp_path, conditional=True)
    load_training_data(run("faces"), tmp_path, conditional=False)  # an unconditional one trains on it


def test_text_loads_as_token_ids_with_its_words_and_is_followed_by_bleu(tmp_path):
    text(tmp_path)
    x, y, spec, _ = load_training_data(run("coco-captions", "seq_mle"), tmp_path, conditional=False)
    assert y is None and x.dtype == torch.int64 and x.shape == (6, 8)  # the longest sentence, 7 words, and its end code
    assert spec.shape == (8,) and spec.vocab == len(spec.words) and spec.words[spec.end_token] == "<end>"
    assert {spec.words[i] for i in x[0].tolist()} == {*SENTENCES[0].split(), "<end>"}
    monitor = data_monitor(run("coco-captions", "seq_mle"), tmp_path, spec)
    assert isinstance(monitor, TextQuality)
    assert monitor.references == [s.split() for s in SENTENCES[::-1]]  # the test sentences


def test_oracle_loads_its_tokens_and_is_followed_by_nll_oracle(tmp_path):
    oracle(tmp_path)
    x, y, spec, _ = load_training_data(run("oracle", "seq_mle"), tmp_path, conditional=False)
    assert y is None and x.shape == (64, 5) and x.dtype == torch.int64 and int(x.max()) < 20
    assert spec.shape == (5,) and spec.vocab == 20 and spec.words == ()
    monitor = data_monitor(run("oracle", "seq_mle"), tmp_path, spec)
    assert isinstance(monitor, NllOracle) and monitor.info["vocab"] == 20


def test_toy_loads_as_one_pixel_images_and_draws_its_histogram(tmp_path):
    from ganlab.data.toy import load_toy
    from ganlab.models import registry

    root = toy(tmp_path)
    x, y, spec, _ = load_training_data(run("toy-gaussian"), tmp_path, conditional=False)
    assert y is None and x.shape == (50, 1, 1, 1) and torch.equal(x.flatten(), torch.from_numpy(load_toy(root)[0]))
    assert spec.shape == (1, 1, 1) and data_monitor(run("toy-gaussian"), tmp_path, spec) is None
    cls = registry.get("gan")
    variant = cls(cls.Config(arch="affine", z_dim=1), spec, torch.device("cpu"))
    path = loader_of(root).after_training(variant, x, root, tmp_path / "run")
    assert path == tmp_path / "run" / "samples" / "histogram.png" and path.stat().st_size > 1000


@pytest.mark.parametrize("name, n_modes", [("toy-ring", 8), ("toy-grid", 25)])
def test_toy2d_loads_as_two_by_one_by_one_points_and_is_followed_by_the_modes_it_covers(tmp_path, name, n_modes):
    from ganlab.data.toy2d import load_toy2d
    from ganlab.models import registry
    from ganlab.train.data import ModeCoverage

    root = toy2d(tmp_path, name)
    x, y, spec, _ = load_training_data(run(name), tmp_path, conditional=False)
    points, centres, _ = load_toy2d(root)
    assert y is None and x.shape == (40, 2, 1, 1) and torch.equal(x.flatten(1), torch.from_numpy(points))
    assert spec.shape == (2, 1, 1) and spec.n_classes == 0
    monitor = data_monitor(run(name), tmp_path, spec)
    assert isinstance(monitor, ModeCoverage) and monitor.n == 300 and len(monitor.centres) == n_modes
    assert monitor.protocol()["n_generated"] == 300 and monitor.protocol()["quality_stds"] == 3.0

    class OnTheModes:  # a stand-in generator whose points sit on the first 3 modes, to check the monitor's wiring
        def noise(self, n, generator=None):
            return torch.arange(n)

        def sample(self, z):
            return torch.from_numpy(centres[z.numpy() % 3]).float().view(-1, 2, 1, 1)

    assert monitor(OnTheModes()) == pytest.approx({"modes": 3.0, "high_quality": 1.0, "reverse_kl": np.log(n_modes / 3)})
    cls = registry.get("gan")
    far = cls(cls.Config(arch="toy", hidden=4, z_dim=2), spec, torch.device("cpu"))
    with torch.no_grad():  # every point at (100, 100): none high quality, so no reverse KL to report
        far.nets["generator"][-1].weight.zero_()
        far.nets["generator"][-1].bias.fill_(100.0)
    assert monitor(far) == {"modes": 0.0, "high_quality": 0.0}


def test_a_toy2d_whose_dataset_json_lacks_the_protocol_is_named(tmp_path):
    root = toy2d(tmp_path)
    info = json.loads((root / INFO_FILE).read_text())
    del info["protocol"]
    (root / INFO_FILE).write_text(json.dumps(info))
    with pytest.raises(DataFormatError, match=r"toy-ring/dataset\.json: protocol = None lacks samples, quality_stds, "
                                              r"min_samples; run `dvc repro toy`"):
        data_monitor(run("toy-ring"), tmp_path, None)


def test_an_unknown_kind_is_named_with_its_file(tmp_path):
    root = images(tmp_path)
    info = json.loads((root / INFO_FILE).read_text())
    (root / INFO_FILE).write_text(json.dumps({**info, "kind": "video"}))
    with pytest.raises(DataFormatError) as exc:
        load_training_data(run("mnist"), tmp_path, conditional=False)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{root / INFO_FILE}: kind 'video' is not one a model trains on; kinds: images")


def test_photos_are_not_trained_on(tmp_path):
    photo = np.zeros((4, 4, 3), dtype=np.uint8)
    write_dataset(tmp_path / "lfw", "lfw", PhotoData(["a/1.png"], [image_bytes(photo)], np.zeros(1, dtype=np.int64),
                                                     ["a"]))
    with pytest.raises(DataFormatError, match=r"lfw/dataset\.json: kind 'photos' is not one a model trains on"):
        load_training_data(run("lfw"), tmp_path, conditional=False)


def test_a_derived_dataset_not_built_yet_names_its_stage(tmp_path):
    with pytest.raises(DataFormatError, match=r"toy-gaussian/dataset\.json: missing; `dvc repro toy` builds "):
        load_training_data(run("toy-gaussian"), tmp_path, conditional=False)
    with pytest.raises(DataFormatError, match=r"faces/dataset\.json: missing; `dvc repro dedup` builds faces"):
        load_training_data(run("faces"), tmp_path, conditional=False)

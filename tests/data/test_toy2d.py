"""The 2-D toys (ganlab.data.toy2d): the papers' ring and grid, written and read like every dataset."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ganlab.data.config import GridParams, ModesProtocolParams, RingParams
from ganlab.data.toy2d import GRID, RING, SAMPLES, grid_centres, load_toy2d, ring_centres, write_toy2d
from ganlab.errors import DataFormatError
from ganlab.eval.modes import mode_measures


def test_the_ring_is_8_means_evenly_spaced_on_a_circle_of_radius_2():
    c = ring_centres(RingParams())
    assert c.shape == (8, 2) and np.allclose(np.hypot(c[:, 0], c[:, 1]), 2.0)
    assert np.allclose(c[0], [2.0, 0.0]) and np.allclose(c[2], [0.0, 2.0])
    neighbours = np.hypot(*(c - np.roll(c, 1, axis=0)).T)
    assert np.allclose(neighbours, 2 * 2.0 * math.sin(math.pi / 8))  # the chord of a 45 degree arc


def test_the_grid_is_25_means_2_apart_from_minus_4_to_4():
    c = grid_centres(GridParams())
    assert c.shape == (25, 2)
    assert sorted({tuple(p) for p in c.tolist()}) == [(x, y) for x in (-4.0, -2.0, 0.0, 2.0, 4.0)
                                                      for y in (-4.0, -2.0, 0.0, 2.0, 4.0)]
    assert grid_centres(GridParams(side=2, spacing=1.0)).tolist() == [[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5],
                                                                      [0.5, 0.5]]


@pytest.mark.parametrize("name, params, n_modes", [(RING, RingParams(n=4000), 8), (GRID, GridParams(n=4000), 25)])
def test_a_written_toy_reads_back_and_its_own_points_cover_every_mode(tmp_path, name, params, n_modes):
    info = write_toy2d(name, params, ModesProtocolParams(), tmp_path / name, seed=3)
    x, centres, read = load_toy2d(tmp_path / name)
    assert read == json.loads(json.dumps(info)) and read["kind"] == "toy2d" and read["seed"] == 3
    assert x.shape == (4000, 2) and x.dtype == np.float32 and centres.shape == (n_modes, 2)
    assert read["protocol"] == {"samples": 2500, "quality_stds": 3.0, "min_samples": 1}
    m = mode_measures(x, centres, read["std"])
    assert m["modes"] == n_modes and m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    # every mode drawn about equally: 4000 points over the modes
    assert min(m["counts"]) > 0.6 * 4000 / n_modes


def test_the_same_seed_draws_the_same_points_and_the_toys_do_not_share_draws(tmp_path):
    for folder in ("a", "b"):
        write_toy2d(RING, RingParams(n=100), ModesProtocolParams(), tmp_path / folder / RING, seed=0)
    assert (tmp_path / "a" / RING / SAMPLES).read_bytes() == (tmp_path / "b" / RING / SAMPLES).read_bytes()
    write_toy2d(RING, RingParams(n=100), ModesProtocolParams(), tmp_path / "c", seed=1)
    assert not np.array_equal(load_toy2d(tmp_path / "c")[0], load_toy2d(tmp_path / "a" / RING)[0])
    # the grid's stream is its own: a 9-mode ring and a 3 x 3 grid with one seed and std pick other modes and noise
    write_toy2d(RING, RingParams(modes=9, n=100), ModesProtocolParams(), tmp_path / "r9", seed=0)
    write_toy2d(GRID, GridParams(side=3, std=0.02, n=100), ModesProtocolParams(), tmp_path / "g9", seed=0)
    residuals = []
    for folder in ("r9", "g9"):
        x, centres, _ = load_toy2d(tmp_path / folder)
        residuals.append(x - centres[((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)])
    assert not np.allclose(*residuals)


def test_a_damaged_toy_is_named(tmp_path):
    root = tmp_path / RING
    with pytest.raises(DataFormatError, match=r"not a 2-D toy dataset \(.*dataset\.json missing\); run `dvc repro toy`"):
        load_toy2d(root)
    write_toy2d(RING, RingParams(n=10), ModesProtocolParams(), root)
    np.save(root / SAMPLES, np.zeros((10, 3), dtype=np.float32))
    with pytest.raises(DataFormatError, match=r"samples\.npy: expected finite \(N, 2\) floats, got float32 \(10, 3\)"):
        load_toy2d(root)
    with pytest.raises(DataFormatError, match="'toy-ball' is not a 2-D toy; toys: toy-ring, toy-grid"):
        write_toy2d("toy-ball", RingParams(), ModesProtocolParams(), tmp_path / "ball")

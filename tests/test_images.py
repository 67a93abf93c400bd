"""The pixel conversions of ganlab.images: uint8 <-> [-1, 1], layouts, and what a PNG grid holds."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.errors import GanlabError
from ganlab.images import nchw, resize_images, save_figure, save_grid, to_tensor, to_uint8, to_unit_range

EVERY_VALUE = torch.arange(256, dtype=torch.int64).to(torch.uint8).view(1, 1, 16, 16)


def test_uint8_to_unit_range_known_values():
    x = to_unit_range(torch.tensor([0, 255, 51], dtype=torch.uint8))
    assert x.dtype == torch.float32
    assert x[0].item() == -1.0 and x[1].item() == 1.0
    assert x[2].item() == pytest.approx(51 / 127.5 - 1, abs=1e-7)


def test_every_uint8_value_round_trips_exactly():
    x = to_unit_range(EVERY_VALUE)
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert torch.equal(to_uint8(x), EVERY_VALUE)
    assert torch.all(x[0, 0].flatten().diff() > 0)  # order kept: no two values collapse


def test_float_to_uint8_rounds_half_up_and_saturates():
    x = torch.tensor([-2.0, -1.0, -0.999, 0.0, 0.5, 1.0, 1.5]).view(1, 1, 1, 7)
    assert to_uint8(x).flatten().tolist() == [0, 0, 0, 128, 191, 255, 255]
    assert to_uint8(x.to(torch.bfloat16)).dtype == torch.uint8  # a generator under autocast


def test_memory_format_is_the_callers_choice_and_never_changes_values():
    x = torch.randint(0, 256, (2, 3, 5, 5), dtype=torch.uint8)
    plain = to_unit_range(x)
    last = to_unit_range(x, torch.channels_last)
    assert plain.is_contiguous() and not plain.is_contiguous(memory_format=torch.channels_last)
    assert last.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(plain, last)
    permuted = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # channels-last strides in, kept out
    assert to_unit_range(permuted).stride() == permuted.stride()


def test_dataset_arrays_become_contiguous_nchw():
    images = np.random.default_rng(0).integers(0, 256, (4, 6, 5, 3), dtype=np.uint8)  # (N, H, W, C)
    x = to_tensor(images)
    assert x.shape == (4, 3, 6, 5) and x.dtype == torch.float32 and x.is_contiguous()
    assert torch.equal(x, to_unit_range(nchw(images)))
    assert torch.equal(to_uint8(x), nchw(images))
    assert nchw(images).shape == (4, 3, 6, 5) and nchw(images).dtype == torch.uint8
    with pytest.raises(GanlabError, match=r"expected uint8 images of shape \(N, H, W, C\)"):
        nchw(images.astype(np.float32))


def test_a_shrink_averages_every_pixel_with_the_antialiased_bilinear_weights():
    # 4 -> 2 px: output pixel 0 sits at input x = 1 and weighs the pixels at 0.5, 1.5, 2.5 by the triangle
    # 1 - d / 2 (0.75, 0.75, 0.25; the one at -0.5 lies outside and the rest renormalise): 255 / 7 = 36.4;
    # pixel 1: (255 * 0.75 * 2 + 0 * 0.25) / 1.75 = 218.6. A box filter (avg_pool2d) would give 0 and 255
    # here, as would an aliased bilinear resize, which only reads the two pixels nearest each output pixel.
    row = torch.tensor([0, 0, 255, 255], dtype=torch.uint8)
    x = row.view(1, 1, 1, 4).expand(2, 3, 4, 4).contiguous()
    out = resize_images(x, 2)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 2, 2)
    assert out[0, 0].tolist() == [[36, 219], [36, 219]] and bool((out == out[:1, :1]).all())
    # as Pillow's bilinear resize, to its fixed-point rounding
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(photo).resize((32, 32), Image.BILINEAR)).astype(int)
    ours = resize_images(torch.from_numpy(photo).view(1, 1, 64, 64), 32)[0, 0].numpy().astype(int)
    assert np.abs(pillow - ours).max() <= 1
    same = torch.from_numpy(rng.integers(0, 256, (1, 1, 8, 8), dtype=np.uint8))
    assert torch.equal(resize_images(same, 8), same)  # its own size: untouched
    with pytest.raises(GanlabError, match=r"expected uint8 images \(N, C, H, W\)"):
        resize_images(same.float(), 4)


def test_a_grid_png_holds_exactly_the_pixels_given(tmp_path):
    images = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    for given in (images, to_unit_range(images)):  # uint8, or floats in [-1, 1] as generators give
        path = save_grid(given, tmp_path / "grid.png", nrow=2, pad_value=1.0)
        with Image.open(path) as png:
            grid = torch.from_numpy(np.array(png.convert("RGB"))).permute(2, 0, 1)
        assert grid.shape == (3, 2 + 6, 2 + 2 * 6)  # one row of two 4x4 tiles, 2 px padding around each
        assert torch.equal(grid[:, 2:6, 2:6], images[0]) and torch.equal(grid[:, 2:6, 8:12], images[1])
        assert (grid[:, :2] == 255).all()  # pad_value 1.0 is white
        assert not list(tmp_path.glob(".grid.png.*"))  # written atomically: no temporary left


def test_a_figure_is_written_as_png(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "sub" / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("shape, nrow, pad_value", [
    ((7, 1, 5, 6), 3, 0.0),  # grey becomes RGB; a last row part-filled
    ((4, 3, 4, 4), 2, 1.0),  # colour, white borders
    ((1, 3, 6, 6), 8, 0.5),  # one image: no border at all
    ((3, 3, 4, 5), 10, 0.0),  # fewer images than a row holds
])
def test_a_grid_is_torchvisions_save_image_byte_for_byte(tmp_path, shape, nrow, pad_value):
    from torchvision.utils import save_image

    images = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 1.2  # some outside [-1, 1]
    expected = io.BytesIO()
    save_image(images, expected, format="png", nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=pad_value)
    assert save_grid(images, tmp_path / "grid.png", nrow=nrow, pad_value=pad_value).read_bytes() == expected.getvalue()


def test_the_train_and_evaluator_stages_start_without_importing_torchvision():
    """torchvision's import pulls in torch._dynamo: over a second of each of these stages' start-up
    (the metrics stages still pay it: torch-fidelity imports torchvision)."""
    code = "import sys, ganlab.train.run, ganlab.eval.evaluator, ganlab.data.fetch; sys.exit('torchvision' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

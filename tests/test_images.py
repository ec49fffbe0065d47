"""Digit grids: uint8 conversion and a legible PNG (gutters, nearest-neighbour upscaling)."""

import io

import numpy as np
import pytest
from PIL import Image

from trainers.images import grid_png, to_uint8


def test_to_uint8_clips_and_rounds_and_drops_channel():
    out = to_uint8(np.array([[[[-0.5], [0.5]], [[1.0], [2.0]]]], dtype=np.float32))
    assert out.dtype == np.uint8 and out.shape == (1, 2, 2)
    assert out.ravel().tolist() == [0, 128, 255, 255]


def test_grid_png_layout_is_exact():
    images = np.zeros((36, 28, 28), dtype=np.uint8)
    images[7] = 255  # row 1, column 1 of a 6x6 grid
    png = grid_png(images, scale=3, gutter=2)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.mode == "L"
    assert img.size == ((6 * 30 + 2) * 3, (6 * 30 + 2) * 3)
    pixels = np.asarray(img)
    # the white digit sits after one cell and two gutters, scaled by 3
    top_left = (2 + 30) * 3
    assert pixels[top_left : top_left + 84, top_left : top_left + 84].min() == 255
    assert pixels[top_left - 1, top_left - 1] == 40  # gutter stays dark grey, not smeared


def test_grid_png_partial_last_row_and_empty_input():
    img = Image.open(io.BytesIO(grid_png(np.ones((5, 28, 28), dtype=np.float32), cols=4, scale=1)))
    assert img.size == (4 * 30 + 2, 2 * 30 + 2)
    with pytest.raises(ValueError, match="empty"):
        grid_png(np.zeros((0, 28, 28)))

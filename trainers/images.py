"""Digit images as uint8 arrays and legible PNG grids (Pillow)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] (any float dtype) or uint8 -> uint8 (n, h, w), channel axis dropped."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"expected images shaped (n, h, w) or (n, h, w, 1), got {images.shape}")
    if images.dtype == np.uint8:
        return images
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def grid_image(images: np.ndarray, cols: int | None = None, scale: int = 3, gutter: int = 2) -> Image.Image:
    """Lay images out on a dark grid: ``gutter`` pixels between cells, upscaled ``scale`` times.

    Nearest-neighbour upscaling keeps the pixels crisp (and the PNG small) instead of
    blurring 28x28 digits into mush on a large screen.
    """
    tiles = to_uint8(images)
    n, h, w = tiles.shape
    if n == 0:
        raise ValueError("cannot lay out an empty set of images")
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + gutter) + gutter, cols * (w + gutter) + gutter), 40, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = gutter + r * (h + gutter), gutter + c * (w + gutter)
        canvas[y : y + h, x : x + w] = tile
    img = Image.fromarray(canvas, mode="L")
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def grid_png(images: np.ndarray, cols: int | None = None, scale: int = 3, gutter: int = 2) -> bytes:
    """``grid_image`` encoded as PNG bytes (lossless: digits must not get JPEG halos)."""
    buf = io.BytesIO()
    # optimize=True would make it 5% smaller and 7x slower (60 ms): not worth it every few steps.
    grid_image(images, cols=cols, scale=scale, gutter=gutter).save(buf, format="PNG")
    return buf.getvalue()

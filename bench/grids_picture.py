"""One picture of the final grids of bench/gan_quality.py's runs, side by side and labelled.

python bench/grids_picture.py guide dcgan wgan_gp cgan --out docs/gan-variants.png
"""

from __future__ import annotations

import argparse
import json

from _common import ROOT
from PIL import Image, ImageDraw

OUT = ROOT / "bench" / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="+", help="labels given to bench/gan_quality.py --label")
    parser.add_argument("--out", default=str(ROOT / "docs" / "gan-variants.png"))
    args = parser.parse_args()
    tiles = []
    for label in args.labels:
        grid = Image.open(OUT / f"grid-{label}.png").convert("L")
        rows = json.loads((OUT / f"quality-{label}.json").read_text())["rows"]
        last = rows[-1]
        caption = [
            label,
            f"step {last['step']:,}: legible {last['legible']:.0%}, balance {last['class_balance']:.2f}",
        ]
        band = 34
        tile = Image.new("L", (grid.width, grid.height + band), 255)
        tile.paste(grid, (0, band))
        draw = ImageDraw.Draw(tile)
        draw.text((4, 2), caption[0], fill=0)
        draw.text((4, 17), caption[1], fill=60)
        tiles.append(tile)
    gap = 12
    width = sum(t.width for t in tiles) + gap * (len(tiles) - 1)
    height = max(t.height for t in tiles)
    picture = Image.new("L", (width, height), 255)
    x = 0
    for tile in tiles:
        picture.paste(tile, (x, 0))
        x += tile.width + gap
    picture.quantize(16).save(args.out, optimize=True)
    print(f"wrote {args.out} ({width}x{height})")


if __name__ == "__main__":
    main()

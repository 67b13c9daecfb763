"""The "what the tiny model can draw" card of the workshop guide, drawn by the shipped model itself.

A facilitator sets expectations with what the model really outputs, not with the procedural world it was
trained on, so every tile is sampled from the shipped weights: one row per vocabulary group (colours, shapes,
backgrounds as one middle keyframe each; motions as four keyframes across the clip, since a still cannot
show motion). Regenerate after new weights:

    python -m sora_lab.generate.tiny.vocabulary_card docs/img/tiny-model-card.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from sora_lab.generate.tiny.world import BACKGROUNDS, COLORS, MOTIONS, SHAPES

ZOOM = 4
MOTION_FRAMES = (0, 5, 10, 15)
# Each group varies one word and holds the others at values the model draws well.
ROWS = {
    "colours": [(c, f"a {c} circle spins on a black background") for c in COLORS],
    "shapes": [(s, f"a yellow {s} moves left on a black background") for s in SHAPES],
    "backgrounds": [(b, f"a yellow square moves right on a {b} background") for b in BACKGROUNDS],
    "motions": [(m, f"a red star {m} on a gray background") for m in MOTIONS],
}


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """The tile with its word written underneath on white."""
    band = np.full((18, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (2, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([tile, band], axis=0)


def _zoom(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)


def _row(title: str, tiles: list[np.ndarray], width: int) -> np.ndarray:
    """A titled row of tiles, padded to `width` on white."""
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    body = np.concatenate([x for t in tiles for x in (t, gap)], axis=1)
    head = np.full((22, width, 3), 255, np.uint8)
    cv2.putText(head, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    body = np.pad(body, ((0, 8), (0, width - body.shape[1]), (0, 0)), constant_values=255)
    return np.concatenate([head, body], axis=0)


def draw_card(backend, seed: int = 0) -> np.ndarray:
    """The card as one RGB image: four rows (colours, shapes, backgrounds, motions) sampled by `backend`."""
    rows: dict[str, list[np.ndarray]] = {}
    for group, entries in ROWS.items():
        clips = backend.render_batch([prompt for _, prompt in entries], seeds=[seed] * len(entries))
        if group == "motions":
            strips = [np.concatenate([_zoom(c[i]) for i in MOTION_FRAMES], axis=1) for c in clips]
            rows[group] = [_label(s, word) for s, (word, _) in zip(strips, entries, strict=True)]
        else:
            rows[group] = [_label(_zoom(c[len(c) // 2]), word) for c, (word, _) in zip(clips, entries, strict=True)]
    # motions are four frames wide: two lines of four keep the card one page wide
    motions = rows.pop("motions")
    rows["motions (frames 0, 5, 10, 15)"] = motions[:4]
    rows["motions, continued"] = motions[4:]
    width = max(sum(t.shape[1] + 6 for t in tiles) for tiles in rows.values())
    return np.concatenate([_row(title, tiles, width) for title, tiles in rows.items()], axis=0)


def main(argv: list[str]) -> None:
    from sora_lab.generate.backends import load_backend

    out = Path(argv[0] if argv else "docs/img/tiny-model-card.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    image = draw_card(load_backend("tiny"))
    cv2.imwrite(str(out), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    print(f"{out}: {image.shape[1]}x{image.shape[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])

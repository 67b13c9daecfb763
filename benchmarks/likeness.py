"""Face matching for cameo registration: misses and false matches on the faces the lab has.

    python benchmarks/likeness.py

Same face: 16 copies of each of 6 photos (re-encoded, resized, cropped, mirrored, grey, rotated,
re-photographed through a slanted, soft, noisy, re-exposed JPEG) against their original, and three
different photographs of one man against each other. Different faces: the 4 people's sharp photos
against each other, every copy against the other people's photos, and the 100 faces of scikit-image's
LFW subset (25x25, enlarged: far below what people upload) against the 6 photos. Prints the distance
ranges, the miss and false-match counts at several thresholds (the lab uses
sora_lab.consent.likeness.MATCH_DISTANCE), and the time per face.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers.consent_world import face_rgb  # noqa: E402
from helpers.face_copies import copies  # noqa: E402

from sora_lab.consent.faces import detect_faces  # noqa: E402
from sora_lab.consent.likeness import MATCH_DISTANCE, face_embedding  # noqa: E402

PHOTOS = {"astronaut": "collins", "hopper": "hopper", "obama": "obama", "obama2": "obama", "obama3": "obama",
          "biden": "biden"}  # photo -> person
THRESHOLDS = (0.45, 0.5, MATCH_DISTANCE, 0.6)


def embed(rgb: np.ndarray) -> np.ndarray | None:
    faces = detect_faces(rgb)
    return face_embedding(rgb, faces[0]) if faces else None


def main() -> None:
    started = time.perf_counter()
    base = {name: embed(face_rgb(name)) for name in PHOTOS}
    genuine, undetected, impostor_copies = [], [], []
    for name in PHOTOS:
        for label, rgb in copies(face_rgb(name), rephotos=5).items():
            e = embed(rgb)
            if e is None:
                undetected.append(f"{name}/{label}")
                continue
            genuine.append((float(np.linalg.norm(e - base[name])), f"{name}/{label}"))
            impostor_copies += [float(np.linalg.norm(e - base[o])) for o in PHOTOS if PHOTOS[o] != PHOTOS[name]]
    same_man = [float(np.linalg.norm(base[a] - base[b])) for a in ("obama", "obama2", "obama3")
                for b in ("obama", "obama2", "obama3") if a < b]
    sharp = [float(np.linalg.norm(base[a] - base[b])) for a in PHOTOS for b in PHOTOS
             if a < b and PHOTOS[a] != PHOTOS[b]]
    lfw = [embed(face_rgb(f"lfw{i}")) for i in range(100)]
    low_res = [float(np.linalg.norm(e - base[p])) for e in lfw if e is not None for p in PHOTOS]
    faces = len(PHOTOS) + len(genuine) + len(undetected) + 100
    per_face = (time.perf_counter() - started) / faces

    g = [d for d, _ in genuine]
    print(f"same face, copies: {len(g)} found of {len(g) + len(undetected)}, distance "
          f"{min(g):.3f}-{max(g):.3f} (worst: {max(genuine)[1]}); no face found in: {', '.join(undetected)}")
    print(f"same man, 3 different photos: distances {', '.join(f'{d:.3f}' for d in same_man)}")
    print(f"different people, sharp photos: {len(sharp)} pairs, distance {min(sharp):.3f}-{max(sharp):.3f}")
    print(f"different people, copies vs others: {len(impostor_copies)} pairs, min {min(impostor_copies):.3f}")
    print(f"LFW 25x25 faces vs the photos: {sum(e is not None for e in lfw)}/100 found, {len(low_res)} pairs, "
          f"min {min(low_res):.3f}")
    print("threshold  missed copies  missed same-man  false matches (sharp + copies)  false matches (LFW low-res)")
    for t in THRESHOLDS:
        mark = "  <- MATCH_DISTANCE" if t == MATCH_DISTANCE else ""
        print(f"{t:9.2f}  {sum(d >= t for d in g):>6}/{len(g):<6}  {sum(d >= t for d in same_man):>8}/3    "
              f"{sum(d < t for d in sharp + impostor_copies):>14}/{len(sharp) + len(impostor_copies):<14}  "
              f"{sum(d < t for d in low_res):>10}/{len(low_res)}{mark}")
    print(f"time: {per_face * 1000:.0f} ms per image (detection + alignment + embedding, 1 CPU thread)")


if __name__ == "__main__":
    main()

"""Whose face is this? A 128-number face embedding, so one face cannot become two people's cameos.

dlib's ResNet face-recognition model (`dlib_face_recognition_resnet_model_v1`, 99.38% on the LFW
benchmark) maps a face aligned by its 5-point landmark model to a 128-d vector; photos of one
person lie close together, different people far apart. Both models ship inside the
`face-recognition-models` package and run with the `dlib-bin` wheel: nothing is downloaded.

Distances measured on the faces the lab has (`benchmarks/likeness.py`, docs/consent-and-policy.md):
re-encoded, resized, cropped, mirrored and re-photographed copies of one face stay within 0.45 of
it, other photos of the same man within 0.46; sharp photos of different people are 0.68 or more
apart. MATCH_DISTANCE sits between the two.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from sora_lab.consent.faces import Face, detect_faces

MATCH_DISTANCE = 0.55
"""Euclidean distance under which two embeddings are taken for the same face (dlib suggests 0.6)."""
EMBEDDING_DIM = 128
_lock = threading.Lock()


def _models_dir() -> Path:
    """The model folder of `face-recognition-models`, found without importing it (its
    __init__ imports pkg_resources, which current setuptools no longer ships)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@lru_cache(maxsize=1)
def _models():
    import dlib

    folder = _models_dir()
    landmarks = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
    encoder = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
    return landmarks, encoder


def face_embedding(rgb: np.ndarray, face: Face) -> np.ndarray:
    """The unit-free 128-d embedding (float32) of one detected face, aligned on its 5 landmarks."""
    import dlib

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    rect = dlib.rectangle(face.left, face.top, face.left + face.width - 1, face.top + face.height - 1)
    landmarks, encoder = _models()
    with _lock:  # the dlib model objects are shared between threads
        shape = landmarks(rgb, rect)
        vector = encoder.compute_face_descriptor(rgb, shape, 0)
    return np.asarray(vector, dtype=np.float32)


def reference_embedding(reference: np.ndarray) -> np.ndarray | None:
    """The embedding of the face in a stored reference crop (None when no face is found in it)."""
    faces = detect_faces(reference)
    return face_embedding(reference, faces[0]) if faces else None


def closest(embedding: np.ndarray, known: dict[str, np.ndarray]) -> tuple[str, float] | None:
    """(key, distance) of the known embedding nearest to `embedding`, or None when `known` is empty."""
    if not known:
        return None
    keys = list(known)
    distances = np.linalg.norm(np.stack([known[k] for k in keys]) - embedding[None, :], axis=1)
    best = int(np.argmin(distances))
    return keys[best], float(distances[best])

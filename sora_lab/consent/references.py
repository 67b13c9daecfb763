"""The one image a cameo keeps: a 256x256 reference cropped from the upload, and its fingerprint.

A photo must show exactly one clear face; a video must pass the liveness challenge
(sora_lab.consent.liveness). Character cameos (pets, objects, drawings) skip the face
check. The raw upload is decoded in memory and dropped; only the crop is stored.
"""

from __future__ import annotations

import hashlib

import numpy as np

from sora_lab.consent.faces import crop_reference, decode_image, decode_video, detect_faces
from sora_lab.consent.liveness import live_face_reference
from sora_lab.core.errors import InputError


def reference_from_image(image: bytes, kind: str) -> np.ndarray:
    """The reference crop of a photo: its one face, or the whole picture for a character."""
    rgb = decode_image(image)
    if kind == "character":
        return crop_reference(rgb, None)
    faces = detect_faces(rgb)
    if not faces:
        raise InputError(
            "image: no face found; upload a well-lit, front-facing photo of yourself "
            "(or use kind='character' for a pet, object or drawing)"
        )
    if len(faces) > 1 and faces[1][2] * faces[1][3] * 2 > faces[0][2] * faces[0][3]:
        raise InputError(f"image: found {len(faces)} faces; upload a photo with only you in it")
    return crop_reference(rgb, faces[0])


def reference_from_video(video: bytes, kind: str, challenge: dict | None) -> tuple[np.ndarray, dict]:
    """The reference crop of a clip and the liveness facts checked ({} for a character: its middle frame)."""
    frames, metadata = decode_video(video)
    if kind == "character":
        return crop_reference(frames[len(frames) // 2], None), {}
    if challenge is None:
        raise InputError("challenge_id is required for a video cameo: call start_challenge first")
    return live_face_reference(frames, metadata, challenge)


def pixels_digest(rgb: np.ndarray) -> str:
    """A fingerprint of an image's exact pixels: how a backend's reference is matched to a cameo."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    return hashlib.sha256(str(arr.shape).encode() + arr.tobytes()).hexdigest()

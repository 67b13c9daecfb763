"""The one image a cameo keeps: a 256x256 reference cropped from the upload, and what it shows.

A person's photo must show exactly one clear face, and a person's clip must pass the liveness
challenge (sora_lab.consent.liveness); either way the face's embedding comes along for the
duplicate-face check (sora_lab.consent.likeness). A character (a pet, an object, a drawing) must
show no human face at all: a real person's face is registered as a person cameo, with its checks.
The raw upload is decoded in memory and dropped; only the crop is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from sora_lab.consent.faces import CLEAR_FACE_SCORE, crop_reference, decode_image, decode_video, detect_faces
from sora_lab.consent.likeness import face_embedding
from sora_lab.consent.liveness import live_face_reference
from sora_lab.core.errors import InputError


@dataclass
class Reference:
    """What registration keeps of an upload."""

    pixels: np.ndarray  # the RGB reference crop
    embedding: np.ndarray | None  # a person's face embedding; None for a character
    liveness: dict  # the liveness facts checked ({} for a photo or a character)


def reference_from_image(image: bytes, kind: str) -> Reference:
    """The reference of a photo: its one face, or the whole picture for a face-free character."""
    rgb = decode_image(image)
    faces = detect_faces(rgb)
    if kind == "character":
        _refuse_human_face("image", faces)
        return Reference(crop_reference(rgb, None), None, {})
    if not faces:
        raise InputError(
            "image: no face found; upload a well-lit, front-facing photo of yourself "
            "(or use kind='character' for a pet, object or drawing)"
        )
    clear_others = [f for f in faces[1:] if f.score >= CLEAR_FACE_SCORE and f.area * 2 > faces[0].area]
    if clear_others:
        raise InputError(f"image: found {1 + len(clear_others)} faces; upload a photo with only you in it")
    return Reference(crop_reference(rgb, faces[0]), face_embedding(rgb, faces[0]), {})


def reference_from_video(video: bytes, kind: str, challenge: dict | None) -> Reference:
    """The reference of a clip: a live person's face, or a face-free character's middle frame."""
    frames, metadata = decode_video(video)
    if kind == "character":
        for frame in frames:
            _refuse_human_face("video", detect_faces(frame))
        return Reference(crop_reference(frames[len(frames) // 2], None), None, {})
    if challenge is None:
        raise InputError("challenge_id is required for a video cameo: call start_challenge first")
    crop, liveness, face, frame = live_face_reference(frames, metadata, challenge)
    return Reference(crop, face_embedding(frame, face), liveness)


def _refuse_human_face(field: str, faces: list) -> None:
    if faces:
        raise InputError(
            f"{field}: a human face was found, so this is not a character; register it as a person cameo "
            "(kind='person') from that person's own account, where the likeness checks apply"
        )


def pixels_digest(rgb: np.ndarray) -> str:
    """A fingerprint of an image's exact pixels: how a backend's reference is matched to a cameo."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    return hashlib.sha256(str(arr.shape).encode() + arr.tobytes()).hexdigest()

"""The liveness challenge for video cameos: proof that a live person, now, recorded the clip.

The lab issues a random phrase; the clip must arrive after it and before it expires
(CHALLENGE_TTL), must not have been recorded before it was issued, and must show a
moving face in most sampled frames (MIN_FACE_FRACTION). A still photo held up to the
camera, or an old recording, is refused.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import numpy as np

from sora_lab.consent.faces import Face, crop_reference, detect_faces, frames_vary
from sora_lab.core.errors import Conflict, InputError, NotFound
from sora_lab.core.ids import iso_utc, new_id, utcnow
from sora_lab.store.db import Store

CHALLENGE_TTL = timedelta(minutes=10)
MIN_FACE_FRACTION = 0.6  # of sampled video frames
_PHRASE_WORDS = (
    "amber river falcon maple quiet orbit velvet harbor cobalt meadow lantern summit willow ember canyon "
    "pepper thistle granite violet comet"
).split()


def issue_challenge(store: Store, actor_id: str) -> dict:
    """Store a one-time phrase for `actor_id` and say how to answer it."""
    words = [secrets.choice(_PHRASE_WORDS) for _ in range(2)]
    digits = [str(secrets.randbelow(10)) for _ in range(4)]
    phrase = " ".join(words + digits)
    now = utcnow()
    challenge_id = new_id("chl")
    with store.write() as cur:
        cur.execute(
            "INSERT INTO cameo_challenges VALUES (?, ?, ?, ?, ?, NULL)",
            [challenge_id, actor_id, phrase, now, now + CHALLENGE_TTL],
        )
    return {
        "challenge_id": challenge_id,
        "phrase": phrase,
        "issued_at": iso_utc(now),
        "expires_at": iso_utc(now + CHALLENGE_TTL),
        "how": "record a 3-10 s clip facing the camera, saying the phrase while turning your head a little; "
        "upload it with this challenge_id before it expires",
    }


def open_challenge(store: Store, challenge_id: str | None, actor_id: str) -> dict:
    """The caller's unused, unexpired challenge ({challenge_id, phrase, issued_at}), or the error that says why not."""
    if not challenge_id:
        raise InputError("challenge_id is required for a video cameo: call start_challenge first")
    with store.read() as cur:
        row = cur.execute(
            "SELECT user_id, phrase, issued_at, expires_at, used_at FROM cameo_challenges WHERE challenge_id = ?",
            [challenge_id],
        ).fetchone()
    if row is None or row[0] != actor_id:
        raise NotFound(f"no liveness challenge {challenge_id!r} for you; start a new one")
    if row[4] is not None:
        raise Conflict("this liveness challenge was already used; start a new one")
    now = utcnow()
    if now > row[3]:
        raise InputError("the liveness challenge expired (10 minutes); start a new one and record again")
    if now < row[2]:
        raise InputError("the upload predates the liveness challenge; record after starting it")
    return {"challenge_id": challenge_id, "phrase": row[1], "issued_at": row[2]}


def live_face_reference(frames: list[np.ndarray], metadata: dict, challenge: dict) -> tuple[np.ndarray, dict, Face,
                                                                                          np.ndarray]:
    """A clip that passes the challenge -> (reference crop, what was checked, best face, its frame)."""
    _check_recorded_after(metadata, challenge)
    found = [(f, faces) for f in frames if (faces := detect_faces(f))]
    with_face = [(f, faces[0]) for f, faces in found]
    fraction = len(with_face) / len(frames)
    if fraction < MIN_FACE_FRACTION:
        raise InputError(
            f"video: a face was found in {len(with_face)} of {len(frames)} sampled frames; keep your face in view "
            f"(at least {int(MIN_FACE_FRACTION * 100)}%) and record again"
        )
    crops = [crop_reference(f, face) for f, face in with_face]
    if not frames_vary(crops):
        raise InputError("video: the face does not move; record yourself live (a still photo is not accepted)")
    best_frame, best_face = max(with_face, key=lambda ff: ff[1].area)
    liveness = {"challenge_id": challenge["challenge_id"], "face_frames": len(with_face), "frames": len(frames)}
    return crop_reference(best_frame, best_face), liveness, best_face, best_frame


def _check_recorded_after(metadata: dict, challenge: dict) -> None:
    """Refuse a clip whose container says it was recorded before the challenge (5 s of clock slack)."""
    created = metadata.get("creation_time")
    if not created:
        return
    try:
        recorded = datetime.fromisoformat(created.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return
    if recorded < challenge["issued_at"] - timedelta(seconds=5):
        raise InputError(
            "video: it was recorded before the liveness challenge was issued; record a new clip "
            "saying the current phrase"
        )

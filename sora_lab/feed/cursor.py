"""Opaque, signed feed cursors.

A cursor names a ranked feed session and the last position the viewer was
given. It is HMAC-signed with a per-lab secret so a client can neither forge a
position in someone else's session nor edit its own; the server keeps the
ranked list, the cursor only points into it (keyset on position, never OFFSET).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sora_lab.core.errors import InputError

SECRET_FILENAME = "feed_secret"
_SIG_BYTES = 16


@dataclass(frozen=True)
class Cursor:
    session_no: int
    pos: int  # last position handed out; the next page starts after it
    user_id: str


def load_or_create_secret(home: Path) -> bytes:
    """The lab's cursor-signing key: 32 random bytes in home/feed_secret, mode 0600.

    Created with O_EXCL so two processes racing on a fresh home agree on one key.
    """
    path = Path(home) / SECRET_FILENAME
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SECRET_FILENAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and fails if another process won the race
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(secret: bytes, cursor: Cursor) -> str:
    payload = json.dumps([cursor.session_no, cursor.pos, cursor.user_id], separators=(",", ":")).encode()
    sig = hmac.new(secret, payload, hashlib.sha256).digest()[:_SIG_BYTES]
    return f"{_b64(payload)}.{_b64(sig)}"


def decode_cursor(secret: bytes, text: str, *, user_id: str) -> Cursor:
    """Verify and unpack; any tampering, or a cursor of another user, is an InputError."""
    if not isinstance(text, str) or text.count(".") != 1 or len(text) > 300:
        raise InputError("cursor is not a feed cursor; pass the next_cursor of the previous page, or none to start")
    body, sig = text.split(".")
    try:
        payload, given = _unb64(body), _unb64(sig)
    except ValueError as exc:
        raise InputError("cursor is damaged (bad encoding); start again without a cursor") from exc
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:_SIG_BYTES]
    if not hmac.compare_digest(expected, given):
        raise InputError("cursor signature does not match (edited, or from another lab); start again without a cursor")
    session_no, pos, owner = json.loads(payload)
    if owner != user_id:
        raise InputError("cursor belongs to another user's feed; start your own without a cursor")
    return Cursor(int(session_no), int(pos), owner)

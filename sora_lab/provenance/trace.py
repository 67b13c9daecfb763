"""`trace`: which lab clip is this file a copy of? Three signals, each with its own distance or confidence.

1. manifest — a valid C2PA manifest of this lab names the clip's watermark key in its soft binding;
2. watermark — the invisible mark read from the frames gives a key some stored clip carries
   (CRC-checked, 40 bits: a random read matching a stored key is about one in 10^12 per clip);
3. fingerprint — PDQ hashes of the copy's one-second windows near a stored clip's hashes (an index, not
   a scan): at least `MIN_MATCHED_WINDOWS` of its stored seconds within `FRAME_RADIUS` bits.

A clip matches when any signal names it. Who made it and when is shown to callers who may see the
clip (the one visibility rule), its author and the operator; anyone else learns only that the file
comes from a clip of this lab that they cannot see (a draft, deleted or hidden), never which.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import numpy as np

from sora_lab.consent.visibility import visible_ids
from sora_lab.core.errors import InputError
from sora_lab.core.ids import iso_utc
from sora_lab.provenance import registry
from sora_lab.provenance.copy_signals import CopySignals, read_copy
from sora_lab.provenance.fingerprint import hamming
from sora_lab.provenance.index import HashIndex
from sora_lab.provenance.invisible import MarkReader, MarkReading, secret_from_key_file
from sora_lab.provenance.manifest import verify
from sora_lab.provenance.signing import ensure_signing_identity

MAX_TRACE_BYTES = 256 * 1024 * 1024
FRAME_RADIUS = 31
"""Bits within which a copy's window counts as a stored second (copies: 0-20; other clips: 70 or more)."""
MIN_MATCHED_WINDOWS = 2
"""Stored seconds of one clip the copy's windows must land near (one when the copy is that short)."""
REBUILD_TAIL = 4096
"""Hashes added since the index was built that are compared one by one before it is rebuilt."""


class TraceService:
    """Traces files to the lab's clips; keeps a fingerprint index that follows new clips."""

    def __init__(self, store, home: Path):
        self.store = store
        self.home = Path(home)
        self._lock = threading.Lock()
        self._index: HashIndex | None = None
        self._index_seq = 0
        self._clips: list[str] = []
        self._clip_number: dict[str, int] = {}
        self._reader: MarkReader | None = None

    def trace(self, *, video: bytes, actor_id: str | None = None) -> dict:
        """The lab clips `video` (a file's bytes) is a copy of, and which signals say so."""
        if not isinstance(video, bytes | bytearray) or not video:
            raise InputError("video: pass the file's bytes (an MP4, WebM or MKV clip)")
        if len(video) > MAX_TRACE_BYTES:
            raise InputError(f"video: {len(video)} bytes is over the {MAX_TRACE_BYTES // 2**20} MiB a trace reads")
        with tempfile.TemporaryDirectory(prefix="sora-lab-trace-") as folder:
            path = Path(folder) / "copy"
            path.write_bytes(video)
            return self.trace_file(path, actor_id=actor_id)

    def trace_file(self, path: Path, *, actor_id: str | None = None) -> dict:
        """`trace` for a file on this machine (the answer never names the path)."""
        copy = read_copy(path)
        return self.match(copy, verify(path), self.mark_reader().read_residual(copy.residual), actor_id=actor_id)

    def match(self, copy: CopySignals, manifest: dict, reading: MarkReading | None, *, actor_id: str | None) -> dict:
        """The answer from signals already read (the benchmark reads them once and scores them too)."""
        found: dict[str, dict] = {}

        # 1. Manifest: a valid one of this lab names the watermark key in its soft binding.
        declared = manifest["soft_bindings"]["watermark_key"] if manifest["c2pa_valid"] else None
        # 2. Watermark: the keys read from the frames (CRC-valid candidates, most likely first).
        keys = [declared] if declared is not None else []
        keys += reading.keys if reading is not None else []
        with self.store.read() as cur:
            by_key = registry.videos_for_keys(cur, keys)
        if declared in by_key:
            found.setdefault(by_key[declared], {})["manifest"] = {"valid": True, "watermark_key": f"{declared:010x}"}
        if reading is not None:
            for key in reading.keys:
                if key in by_key:
                    found.setdefault(by_key[key], {})["watermark"] = _watermark_signal(key, reading)
                    break
        # 3. Fingerprint: stored clips near the copy's frames, upright or mirrored.
        for video_id, signal in self._fingerprint_matches(copy).items():
            found.setdefault(video_id, {})["fingerprint"] = signal

        matches = self._records(found, actor_id)
        return {
            "matched": bool(matches),
            "matches": matches,
            "detail": _detail(matches, manifest, reading, copy),
            "checked": {
                "manifest": {"signed": manifest["signed"], "valid": manifest["c2pa_valid"]},
                "watermark": _reading_summary(reading),
                "fingerprint": {"windows": len(copy.hashes), "seconds": round(copy.seconds, 2)},
            },
        }

    # --- signals ---

    def mark_reader(self) -> MarkReader:
        """The reader for this lab's secret (derived from its C2PA key)."""
        if self._reader is None:
            identity = ensure_signing_identity(self.home)
            self._reader = MarkReader(secret_from_key_file(identity.key_path.read_bytes()))
        return self._reader

    def _fingerprint_index(self) -> tuple[HashIndex, list[str]]:
        """The index over every stored hash, each owned by its clip's number in the list returned.

        New rows join a tail that is compared directly; the index is rebuilt when the tail grows.
        """
        with self._lock:
            with self.store.read() as cur:
                seq, video_ids, hashes = registry.fingerprints_after(cur, self._index_seq)
                index = self._index
                if index is not None and index.tail + len(hashes) > max(REBUILD_TAIL, len(index) // 10):
                    self._index = None  # rebuild over everything stored
                    seq, video_ids, hashes = registry.fingerprints_after(cur, 0)
            if self._index is None:
                self._clips, self._clip_number = [], {}
            owners = np.array([self._number(video_id) for video_id in video_ids], np.int64)
            if self._index is None:
                self._index = HashIndex(hashes, owners)
            elif len(hashes):
                self._index.add(hashes, owners)
            self._index_seq = seq
            return self._index, self._clips

    def _number(self, video_id: str) -> int:
        if video_id not in self._clip_number:
            self._clip_number[video_id] = len(self._clips)
            self._clips.append(video_id)
        return self._clip_number[video_id]

    def _fingerprint_matches(self, copy: CopySignals) -> dict[str, dict]:
        index, clips = self._fingerprint_index()
        return match_fingerprints(index, clips, copy)

    # --- records ---

    def _records(self, found: dict[str, dict], actor_id: str | None) -> list[dict]:
        """Each matched clip as the caller may see it, strongest evidence first."""
        if not found:
            return []
        ids = sorted(found)
        with self.store.read() as cur:
            marks = ", ".join("?" * len(ids))
            rows = cur.execute(
                "SELECT v.video_id, v.author_id, u.handle, v.created_at, v.status FROM videos v "
                f"JOIN users u ON u.user_id = v.author_id WHERE v.video_id IN ({marks})",
                ids,
            ).fetchall()
            shown = visible_ids(cur, actor_id, ids)
            admin = cur.execute("SELECT is_admin FROM users WHERE user_id = ?", [actor_id]).fetchone()
        admin = bool(admin and admin[0])
        matches = []
        for video_id, author_id, handle, created_at, status in rows:
            signals = {name: found[video_id].get(name) for name in ("manifest", "watermark", "fingerprint")}
            if video_id in shown or admin or author_id == actor_id:
                record = {
                    "video_id": video_id,
                    "creator": f"@{handle}",
                    "created_at": iso_utc(created_at),
                    "published": status == "published",
                    "status": status,
                    "visible": True,
                }
            else:
                record = {"video_id": None, "creator": None, "created_at": None, "published": None, "status": None,
                          "visible": False}
            matches.append(record | {"signals": signals})
        return sorted(matches, key=_strength)


def match_fingerprints(index: HashIndex, clips: list[str], copy: CopySignals) -> dict[str, dict]:
    """Clips whose stored seconds the copy's windows land near: the index names candidates, then each
    candidate's whole fingerprint is compared with every window, upright and mirrored. A match needs
    MIN_MATCHED_WINDOWS stored seconds within FRAME_RADIUS (one for a copy under 2.5 s)."""
    windows = np.concatenate([copy.hashes, copy.mirrored_hashes])
    if not len(windows) or not len(index):
        return {}
    _, rows, _ = index.near(windows, FRAME_RADIUS)
    needed = 1 if copy.seconds < 2.5 else MIN_MATCHED_WINDOWS
    best: dict[str, dict] = {}
    for clip in np.unique(index.owners_of(rows)):
        stored = index.hashes_of(int(clip))
        for mirrored, hashes in ((False, copy.hashes), (True, copy.mirrored_hashes)):
            if not len(hashes):
                continue
            distance = hamming(hashes, stored)  # (copy windows, stored seconds)
            seconds = int(np.sum(distance.min(axis=0) <= FRAME_RADIUS))
            signal = {"distance": int(distance.min()), "matched_seconds": seconds, "mirrored": mirrored}
            video_id = clips[int(clip)]
            if seconds >= min(needed, len(stored)) and (
                video_id not in best or signal["distance"] < best[video_id]["distance"]
            ):
                best[video_id] = signal
    return best


def _watermark_signal(key: int, reading: MarkReading) -> dict:
    return {
        "watermark_key": f"{key:010x}",
        "bit_agreement": round(reading.bit_agreement, 3),
        "sync": round(reading.sync, 2),
        "scale": round(reading.scale, 3),
        "mirrored": reading.mirrored,
    }


def _reading_summary(reading: MarkReading | None) -> dict:
    if reading is None:
        return {"read": False, "detail": "frames too small to read a watermark from"}
    return {
        "read": bool(reading.keys),
        "bit_agreement": round(reading.bit_agreement, 3),
        "sync": round(reading.sync, 2),
    }


def _strength(match: dict) -> tuple:
    """Manifest first, then the watermark, then the closest fingerprint."""
    signals = match["signals"]
    fingerprint = signals["fingerprint"] or {}
    return (signals["manifest"] is None, signals["watermark"] is None, fingerprint.get("distance", 999))


def _detail(matches: list[dict], manifest: dict, reading: MarkReading | None, copy: CopySignals) -> str:
    if not matches:
        return (
            "no match: no manifest, watermark or fingerprint of this lab's clips "
            f"({'signed elsewhere' if manifest['signed'] else 'no C2PA manifest'}, "
            f"{'no watermark key read' if reading is None or not reading.keys else 'a watermark key no clip has'}, "
            f"{len(copy.hashes)} one-second windows hashed)"
        )
    hidden = sum(1 for m in matches if not m["visible"])
    shown = len(matches) - hidden
    parts = [f"{shown} clip(s) of this lab"] if shown else []
    if hidden:
        parts.append(f"{hidden} clip(s) of this lab you cannot see (a draft, deleted or hidden)")
    return "copy of " + " and ".join(parts)

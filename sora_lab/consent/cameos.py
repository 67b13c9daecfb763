"""Cameos: a person's likeness (or a character), used only with the owner's current consent.

Registration keeps one reference crop (sora_lab.consent.references): a person's from a clip that
passes the liveness challenge (or a photo, where the operator turned `cameo_liveness_required`
off), a character's from a picture that shows no human face. A person cameo takes its owner's
account handle, a character `owner/name`; a face already registered is refused
(sora_lab.consent.registration).

Owners choose who may use a cameo (see sora_lab.consent.rules), approve and revoke
people, write restrictions, see and remove every video using it, and read an
audit trail of every use and decision (cameo_* events).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sora_lab.accounts.service import clean_handle, handle_of
from sora_lab.consent.faces import encode_png, read_png
from sora_lab.consent.liveness import issue_challenge, open_challenge
from sora_lab.consent.references import pixels_digest, reference_from_image, reference_from_video
from sora_lab.consent.registration import (
    cameo_handle,
    check_face_free,
    face_conflict,
    face_match,
    handle_owned_sql,
    release_squatted,
)
from sora_lab.consent.rules import PERMISSIONS, cameo_visibility_sql, parse_restriction, permission_sql
from sora_lab.core.errors import Conflict, ConsentError, Forbidden, InputError, LabError, NotFound
from sora_lab.core.home import write_bytes_atomic
from sora_lab.core.ids import iso_utc, new_id, utcnow
from sora_lab.core.settings import load_settings
from sora_lab.core.text import clean_text, handle_key
from sora_lab.store.db import Store
from sora_lab.store.events import append_event

KINDS = ("person", "character")
MAX_RESTRICTIONS = 20
MAX_RESTRICTION_CHARS = 200
_CAMEO_COLUMNS = "cameo_id, owner_id, handle, kind, reference_path, permission, restrictions, created_at, deleted_at"


class CameoService:
    """Registration, permissions, restrictions, uses and audit for cameos."""

    def __init__(self, store: Store, home: Path):
        self.store = store
        self.home = home

    # --- registration ------------------------------------------------------------------
    def start_challenge(self, *, actor_id: str) -> dict:
        """Issue a one-time liveness phrase; record yourself saying it, then upload within 10 minutes."""
        return issue_challenge(self.store, actor_id)

    def create(
        self,
        *,
        actor_id: str,
        handle: str | None = None,
        image: bytes | None = None,
        video: bytes | None = None,
        challenge_id: str | None = None,
        kind: str = "person",
        permission: str = "only_me",
        restrictions: list[str] | None = None,
    ) -> dict:
        """Register a cameo: a person from a liveness clip (`video` + `challenge_id`; a photo only where the
        operator turned `cameo_liveness_required` off), a face-free character from a photo or clip."""
        if kind not in KINDS:
            raise InputError(f"kind {kind!r} is not one of {', '.join(KINDS)} (character: pets, objects, drawings)")
        if (image is None) == (video is None):
            raise InputError("give exactly one of image (a photo) or video (a liveness clip)")
        _check_permission(permission)
        rules = _clean_restrictions(restrictions or [])
        handle = cameo_handle(kind, handle, handle_of(self.store, actor_id))
        if kind == "person" and image is not None and load_settings(self.store).cameo_liveness_required:
            raise InputError(
                "image: a person cameo needs the liveness check: call start_challenge, record yourself saying the "
                "phrase and upload the clip as video= with its challenge_id (a photo could be anyone's)"
            )
        with self.store.read() as cur:
            _check_handle_free(cur, handle)  # before decoding the upload
        if video is not None:
            challenge = open_challenge(self.store, challenge_id, actor_id) if kind == "person" else None
            ref = reference_from_video(video, kind, challenge)
        else:
            ref = reference_from_image(image, kind)
        if ref.embedding is not None:
            check_face_free(self.store, self.home, ref.embedding, actor_id=actor_id, handle=handle)
        cameo_id = new_id("cam")
        rel_path = f"media/cameos/{cameo_id}.png"
        write_bytes_atomic(self.home / rel_path, encode_png(ref.pixels))
        now = utcnow()
        embedding = None if ref.embedding is None else ref.embedding.tolist()
        try:
            with self.store.write() as cur:
                release_squatted(cur, handle)
                _check_handle_free(cur, handle)  # again inside the write: another upload may have taken it
                if ref.embedding is not None and (match := face_match(cur, ref.embedding)):
                    raise face_conflict(match, actor_id)  # another upload of this face got there first
                cur.execute(
                    f"INSERT INTO cameos ({_CAMEO_COLUMNS}, face_embedding, has_face) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                    [cameo_id, actor_id, handle, kind, rel_path, permission, rules, now, embedding,
                     ref.embedding is not None],
                )
                if ref.liveness.get("challenge_id"):
                    cur.execute(
                        "UPDATE cameo_challenges SET used_at = ? WHERE challenge_id = ?",
                        [now, ref.liveness["challenge_id"]],
                    )
                props = {"kind": kind, "source": "video" if video is not None else "image", "permission": permission}
                append_event(cur, now, actor_id, "cameo_created", target_id=cameo_id, props=props | ref.liveness)
        except BaseException:
            (self.home / rel_path).unlink(missing_ok=True)
            raise
        return self._describe(self._row(cameo_id=cameo_id), actor_id) | {"liveness": ref.liveness or None}

    # --- permissions and restrictions (owner only) ---------------------------------------
    def set_permission(self, *, actor_id: str, handle: str, permission: str) -> dict:
        _check_permission(permission)
        row = self._owned(handle, actor_id)
        with self.store.write() as cur:
            cur.execute("UPDATE cameos SET permission = ? WHERE cameo_id = ?", [permission, row["cameo_id"]])
            append_event(
                cur, utcnow(), actor_id, "cameo_permission", target_id=row["cameo_id"],
                props={"from": row["permission"], "to": permission},
            )
        return self._describe(self._row(cameo_id=row["cameo_id"]), actor_id)

    def approve(self, *, actor_id: str, handle: str, user: str) -> dict:
        """Let one person use the cameo (and lift an earlier revocation of them)."""
        row = self._owned(handle, actor_id)
        grantee = self._user_id(user)
        if grantee == actor_id:
            raise InputError("you can always use your own cameo; approve someone else")
        with self.store.write() as cur:
            cur.execute("INSERT OR IGNORE INTO cameo_grants VALUES (?, ?, ?)", [row["cameo_id"], grantee, utcnow()])
            cur.execute("DELETE FROM cameo_blocks WHERE cameo_id = ? AND user_id = ?", [row["cameo_id"], grantee])
            append_event(cur, utcnow(), actor_id, "cameo_grant", target_id=row["cameo_id"],
                         props={"user": grantee, "handle": clean_handle(user)})
        return self._describe(self._row(cameo_id=row["cameo_id"]), actor_id)

    def revoke(self, *, actor_id: str, handle: str, user: str) -> dict:
        """Stop one person using the cameo at every permission level; their videos with it leave feeds."""
        row = self._owned(handle, actor_id)
        target = self._user_id(user)
        if target == actor_id:
            raise InputError("you cannot revoke yourself; delete the cameo instead")
        with self.store.write() as cur:
            cur.execute("DELETE FROM cameo_grants WHERE cameo_id = ? AND grantee_id = ?", [row["cameo_id"], target])
            cur.execute("INSERT OR IGNORE INTO cameo_blocks VALUES (?, ?, ?)", [row["cameo_id"], target, utcnow()])
            append_event(cur, utcnow(), actor_id, "cameo_revoke", target_id=row["cameo_id"],
                         props={"user": target, "handle": clean_handle(user)})
        return self._describe(self._row(cameo_id=row["cameo_id"]), actor_id)

    def set_restrictions(self, *, actor_id: str, handle: str, restrictions: list[str]) -> dict:
        """Replace the cameo's rules; the answer shows how each rule was read."""
        row = self._owned(handle, actor_id)
        rules = _clean_restrictions(restrictions)
        with self.store.write() as cur:
            cur.execute("UPDATE cameos SET restrictions = ? WHERE cameo_id = ?", [rules, row["cameo_id"]])
            append_event(
                cur, utcnow(), actor_id, "cameo_permission", target_id=row["cameo_id"], props={"restrictions": rules}
            )
        return self._describe(self._row(cameo_id=row["cameo_id"]), actor_id)

    def delete(self, *, actor_id: str, handle: str) -> dict:
        """Delete a cameo: every video using it leaves the feeds; the reference image is removed."""
        row = self._owned(handle, actor_id)
        now = utcnow()
        with self.store.write() as cur:
            cur.execute(
                "UPDATE cameos SET deleted_at = ?, handle = ? WHERE cameo_id = ?",
                [now, f"{row['handle']}~deleted~{row['cameo_id']}", row["cameo_id"]],
            )
            append_event(cur, now, actor_id, "cameo_deleted", target_id=row["cameo_id"])
        if row["reference_path"]:
            (self.home / row["reference_path"]).unlink(missing_ok=True)
        return {"deleted": row["handle"], "cameo_id": row["cameo_id"]}

    # --- views -----------------------------------------------------------------------------
    def get(self, *, actor_id: str, handle: str) -> dict:
        return self._describe(self._row(handle=handle), actor_id)

    def mine(self, *, actor_id: str) -> list[dict]:
        with self.store.read() as cur:
            ids = [r[0] for r in cur.execute(
                "SELECT cameo_id FROM cameos WHERE owner_id = ? AND deleted_at IS NULL ORDER BY created_at", [actor_id]
            ).fetchall()]
        return [self._describe(self._row(cameo_id=i), actor_id) for i in ids]

    def available(self, *, actor_id: str) -> list[dict]:
        """Other people's cameos this user may use right now."""
        with self.store.read() as cur:
            rows = cur.execute(
                f"SELECT c.handle, c.kind, u.handle FROM cameos c JOIN users u ON u.user_id = c.owner_id, "
                f"(SELECT ?::VARCHAR AS uid) me WHERE c.owner_id <> me.uid AND {permission_sql('c', 'me.uid')} "
                "ORDER BY c.handle",
                [actor_id],
            ).fetchall()
        return [{"handle": r[0], "kind": r[1], "owner": r[2]} for r in rows]

    def uses(self, *, actor_id: str, handle: str) -> list[dict]:
        """Every video and draft, anyone's, that uses my cameo — and whether feeds show it now."""
        row = self._owned(handle, actor_id, allow_deleted=True)
        with self.store.read() as cur:
            rows = cur.execute(
                f"""SELECT v.video_id, u.handle, v.status, v.prompt, v.created_at, v.published_at,
                           EXISTS (SELECT 1 FROM cameo_removed_uses r
                                   WHERE r.cameo_id = vc.cameo_id AND r.video_id = v.video_id) AS removed,
                           {cameo_visibility_sql("v")} AS visible
                    FROM video_cameos vc JOIN videos v ON v.video_id = vc.video_id
                    LEFT JOIN users u ON u.user_id = v.author_id
                    WHERE vc.cameo_id = ? ORDER BY v.created_at DESC""",
                [row["cameo_id"]],
            ).fetchall()
        return [
            {
                "video_id": r[0],
                "author": r[1],
                "status": r[2],
                "prompt": r[3],
                "created_at": iso_utc(r[4]),
                "published_at": iso_utc(r[5]),
                "removed": bool(r[6]),
                "visible": bool(r[7]) and r[2] == "published",
            }
            for r in rows
        ]

    def remove_use(self, *, actor_id: str, handle: str, video_id: str) -> dict:
        """Take my cameo out of someone's video: it leaves every feed on the next read."""
        row = self._owned(handle, actor_id)
        with self.store.write() as cur:
            linked = cur.execute(
                "SELECT 1 FROM video_cameos WHERE cameo_id = ? AND video_id = ?", [row["cameo_id"], video_id]
            ).fetchone()
            if not linked:
                raise NotFound(f"video {video_id!r} does not use @{row['handle']}; see `cameo uses {row['handle']}`")
            cur.execute(
                "INSERT OR IGNORE INTO cameo_removed_uses VALUES (?, ?, ?, ?)",
                [row["cameo_id"], video_id, actor_id, utcnow()],
            )
            append_event(cur, utcnow(), actor_id, "cameo_removed_use", video_id=video_id, target_id=row["cameo_id"])
        return {"removed": True, "video_id": video_id, "cameo": row["handle"]}

    def audit(self, *, actor_id: str, handle: str, limit: int = 200) -> list[dict]:
        """Every use and decision about my cameo, newest first."""
        row = self._owned(handle, actor_id, allow_deleted=True)
        if not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InputError("limit must be an integer from 1 to 10000")
        with self.store.read() as cur:
            rows = cur.execute(
                """SELECT e.ts, e.type, u.handle, e.video_id, e.props FROM events e
                   LEFT JOIN users u ON u.user_id = e.user_id
                   WHERE e.target_id = ? AND e.type LIKE 'cameo_%' ORDER BY e.ts DESC LIMIT ?""",
                [row["cameo_id"], limit],
            ).fetchall()
        return [
            {
                "ts": iso_utc(r[0]), "type": r[1], "actor": r[2], "video_id": r[3],
                "props": json.loads(r[4]) if r[4] else {},
            }
            for r in rows
        ]

    # --- for generation (Python callers, not RPC) ---------------------------------------------
    def reference_for_generation(self, *, handle: str, actor_id: str) -> tuple[str, np.ndarray]:
        """(cameo_id, RGB uint8 reference) if `actor_id` may use the cameo now; ConsentError otherwise.

        Logs cameo_use or cameo_refused either way.
        """
        key = handle_key(handle)
        with self.store.read() as cur:
            row = cur.execute(
                f"SELECT c.cameo_id, c.reference_path, {permission_sql('c', 'me.uid')}, u.handle "
                "FROM cameos c JOIN users u ON u.user_id = c.owner_id, (SELECT ?::VARCHAR AS uid) me "
                f"WHERE c.handle = ? AND c.deleted_at IS NULL AND {handle_owned_sql('c', 'u')}",
                [actor_id, key],
            ).fetchone()
        if row is None:
            raise ConsentError(f"no cameo @{key}; check the handle (sora-lab cameo list)")
        cameo_id, rel_path, permitted, owner = row
        now = utcnow()
        if not permitted:
            with self.store.write() as cur:
                append_event(cur, now, actor_id, "cameo_refused", target_id=cameo_id, props={"stage": "reference"})
            raise ConsentError(f"@{owner} has not allowed you to use the cameo @{key}; ask them to approve you")
        try:
            reference = read_png((self.home / rel_path).read_bytes())
        except (OSError, ValueError) as exc:
            raise LabError(
                f"cameo @{key}'s reference image is missing ({exc}); its owner must register it again"
            ) from exc
        with self.store.write() as cur:
            append_event(cur, now, actor_id, "cameo_use", target_id=cameo_id, props={"stage": "reference"})
        return cameo_id, reference

    def verify_output_references(self, *, actor_id: str, references: list[np.ndarray]) -> list[str]:
        """Output check: each reference image a backend used must be a cameo this user may use now.

        Returns the matching cameo ids; raises ConsentError for any image that is not one.
        """
        with self.store.read() as cur:
            rows = cur.execute(
                f"SELECT c.cameo_id, c.reference_path FROM cameos c, (SELECT ?::VARCHAR AS uid) me "
                f"WHERE {permission_sql('c', 'me.uid')}",
                [actor_id],
            ).fetchall()
        known = {}
        for cameo_id, rel_path in rows:
            try:
                known[pixels_digest(read_png((self.home / rel_path).read_bytes()))] = cameo_id
            except (OSError, ValueError):
                continue
        out = []
        for i, ref in enumerate(references):
            cameo_id = known.get(pixels_digest(ref))
            if cameo_id is None:
                raise ConsentError(
                    f"references[{i}] is not the reference of a cameo you may use; generation output refused"
                )
            out.append(cameo_id)
        return out

    def record_use(self, *, actor_id: str, video_id: str, cameo_ids: list[str]) -> list[str]:
        """Link a new video (or draft) to the cameos it uses, after re-checking consent; audited."""
        if not cameo_ids:
            return []
        with self.store.write() as cur:
            rows = cur.execute(
                f"SELECT c.cameo_id, {permission_sql('c', 'me.uid')} FROM cameos c, (SELECT ?::VARCHAR AS uid) me "
                "WHERE c.cameo_id IN (SELECT unnest(?))",
                [actor_id, list(cameo_ids)],
            ).fetchall()
            permitted = {r[0] for r in rows if r[1]}
            missing = [c for c in cameo_ids if c not in permitted]
            now = utcnow()
            if missing:
                for cameo_id in missing:
                    if any(r[0] == cameo_id for r in rows):
                        append_event(cur, now, actor_id, "cameo_refused", video_id=video_id, target_id=cameo_id,
                                     props={"stage": "record_use"})
                raise ConsentError(f"cameo {missing[0]} may not be used by you (any more); nothing was linked")
            for cameo_id in cameo_ids:
                cur.execute("INSERT OR IGNORE INTO video_cameos VALUES (?, ?)", [video_id, cameo_id])
                append_event(cur, now, actor_id, "cameo_use", video_id=video_id, target_id=cameo_id,
                             props={"stage": "video"})
        return list(cameo_ids)

    # --- helpers -------------------------------------------------------------------------------
    def _row(self, *, handle: str | None = None, cameo_id: str | None = None, allow_deleted: bool = False) -> dict:
        with self.store.read() as cur:
            if cameo_id is not None:
                r = cur.execute(f"SELECT {_CAMEO_COLUMNS} FROM cameos WHERE cameo_id = ?", [cameo_id]).fetchone()
            else:
                key = handle_key(handle)
                r = cur.execute(f"SELECT {_CAMEO_COLUMNS} FROM cameos WHERE handle = ?", [key]).fetchone()
        if r is None or (r[8] is not None and not allow_deleted):
            raise NotFound(f"no cameo @{(handle or cameo_id or '').lstrip('@')}; see `sora-lab cameo list`")
        keys = _CAMEO_COLUMNS.split(", ")
        return dict(zip(keys, r, strict=True))

    def _owned(self, handle: str, actor_id: str, *, allow_deleted: bool = False) -> dict:
        row = self._row(handle=handle, allow_deleted=allow_deleted)
        if row["owner_id"] != actor_id:
            raise Forbidden(f"@{row['handle']} is not your cameo; only its owner can do this")
        return row

    def _describe(self, row: dict, actor_id: str) -> dict:
        with self.store.read() as cur:
            owner = cur.execute("SELECT handle FROM users WHERE user_id = ?", [row["owner_id"]]).fetchone()[0]
            can_use = cur.execute(
                f"SELECT {permission_sql('c', 'me.uid')} FROM cameos c, (SELECT ?::VARCHAR AS uid) me "
                "WHERE c.cameo_id = ?",
                [actor_id, row["cameo_id"]],
            ).fetchone()[0]
            approved = blocked = None
            if row["owner_id"] == actor_id:
                approved = [r[0] for r in cur.execute(
                    "SELECT u.handle FROM cameo_grants g JOIN users u ON u.user_id = g.grantee_id "
                    "WHERE g.cameo_id = ? ORDER BY u.handle", [row["cameo_id"]]).fetchall()]
                blocked = [r[0] for r in cur.execute(
                    "SELECT u.handle FROM cameo_blocks b JOIN users u ON u.user_id = b.user_id "
                    "WHERE b.cameo_id = ? ORDER BY u.handle", [row["cameo_id"]]).fetchall()]
        out = {
            "cameo_id": row["cameo_id"],
            "handle": row["handle"],
            "owner": owner,
            "kind": row["kind"],
            "is_character": row["kind"] == "character",
            "permission": row["permission"],
            "can_use": bool(can_use),
            "created_at": iso_utc(row["created_at"]),
        }
        if row["owner_id"] == actor_id:
            out |= {
                "reference_path": row["reference_path"],
                "restrictions": [
                    {"text": r, "kind": parse_restriction(r).kind} for r in (row["restrictions"] or [])
                ],
                "approved": approved,
                "revoked": blocked,
            }
        return out

    def _user_id(self, user: str) -> str:
        cleaned = clean_handle(user)
        with self.store.read() as cur:
            r = cur.execute("SELECT user_id FROM users WHERE handle = ?", [cleaned]).fetchone()
        if r is None:
            raise NotFound(f"no user @{cleaned}; check the handle")
        return r[0]


def _clean_restrictions(restrictions) -> list[str]:
    if not isinstance(restrictions, list):
        raise InputError("restrictions must be a list of short rules, e.g. ['no political content']")
    if len(restrictions) > MAX_RESTRICTIONS:
        raise InputError(f"restrictions: at most {MAX_RESTRICTIONS} rules")
    rules = [
        " ".join(clean_text(r, f"restrictions[{i}]", max_chars=MAX_RESTRICTION_CHARS, required=False).split())
        for i, r in enumerate(restrictions)
    ]
    return [r for r in rules if r]


def _check_permission(permission: str) -> None:
    if permission not in PERMISSIONS:
        raise InputError(f"permission {permission!r} is not one of {', '.join(PERMISSIONS)}")


def _check_handle_free(cur, handle: str) -> None:
    """Conflict when a cameo that owns `handle` exists (a squatted one is released at insert)."""
    if cur.execute(f"SELECT 1 FROM cameos c JOIN users u ON u.user_id = c.owner_id WHERE c.handle = ? "
                   f"AND {handle_owned_sql('c', 'u')}", [handle]).fetchone():
        raise Conflict(f"cameo handle @{handle} is taken; choose another with handle=")

"""Registering a cameo: which handle it gets, and whether its face is already someone's cameo.

Handles cannot be squatted: a person cameo's handle is its owner's account handle (one per
account), and a character's is namespaced under it (`theo/toy`), so it never equals an account
handle and `@lena` can only ever mean lena's own cameo (`handle_owned_sql`).

A face cannot be registered twice: a new cameo's face embedding is compared with every live
cameo's (sora_lab.consent.likeness); a match is refused, and written to the audit trail of the
cameo it matched, so its owner sees who tried.
"""

from __future__ import annotations

import re

import numpy as np

from sora_lab.consent.faces import read_png
from sora_lab.consent.likeness import MATCH_DISTANCE, closest, reference_embedding
from sora_lab.core.errors import Conflict, InputError
from sora_lab.core.ids import utcnow
from sora_lab.core.text import handle_key
from sora_lab.store.events import append_event

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.]{1,29}$")
"""A character's own name, after its owner's handle and a slash: 'toy' in 'theo/toy'."""


def cameo_handle(kind: str, handle: object, owner_handle: str) -> str:
    """The handle a new cameo gets: the owner's account handle for a person, 'owner/name' for a character."""
    if handle is not None and not isinstance(handle, str):
        raise InputError("handle must be text, e.g. 'theo/toy' for a character")
    given = handle_key(handle)
    if kind == "person":
        if given and given != owner_handle:
            raise InputError(f"handle: a person cameo's handle is your account handle @{owner_handle}; leave handle "
                             "out (a character gets its own name, e.g. handle='toy')")
        return owner_handle
    if not given:
        raise InputError(f"handle is required for a character cameo, e.g. handle='toy' (@{owner_handle}/toy)")
    owner, slash, name = given.rpartition("/")
    if slash and owner != owner_handle:
        raise InputError(f"handle: a character's handle starts with your own handle, e.g. '{owner_handle}/{name}'")
    if not NAME_RE.match(name):
        raise InputError(f"handle {handle!r}: a character's name is 2-30 characters (a-z, 0-9, '_', '.'), "
                         "starting with a letter or digit, e.g. 'toy'")
    return f"{owner_handle}/{name}"


def handle_owned_sql(cameo: str, owner: str) -> str:
    """Boolean SQL: the cameo row `cameo` carries a handle of its owner (users row `owner`).

    How a bare @mention can only reach the account of that name: rows that do not pass
    (handles taken before this rule) resolve to nothing.
    """
    return f"({cameo}.handle = {owner}.handle OR starts_with({cameo}.handle, {owner}.handle || '/'))"


def release_squatted(cur, handle: str) -> None:
    """A live cameo that holds `handle` without owning it (taken before handles were tied to accounts)
    moves to its owner's namespace (`theo/lena`), so the account `handle` names can register its own."""
    cur.execute(
        "UPDATE cameos SET handle = u.handle || '/' || replace(cameos.handle, '/', '.') FROM users u "
        f"WHERE u.user_id = cameos.owner_id AND cameos.handle = ? AND NOT {handle_owned_sql('cameos', 'u')}",
        [handle],
    )


def check_face_free(store, home, embedding: np.ndarray, *, actor_id: str, handle: str) -> None:
    """Refuse (Conflict) a face that matches a live cameo's, after writing the attempt to that cameo's audit."""
    _fill_missing_embeddings(store, home)
    with store.read() as cur:
        match = face_match(cur, embedding)
    if match is None:
        return
    cameo_id, owner_id, distance = match
    with store.write() as cur:
        append_event(cur, utcnow(), actor_id, "cameo_face_match", target_id=cameo_id,
                     props={"attempted_handle": handle, "distance": round(distance, 3), "refused": True})
    raise face_conflict(match, actor_id)


def face_match(cur, embedding: np.ndarray) -> tuple[str, str, float] | None:
    """(cameo_id, owner_id, distance) of the live cameo whose face matches `embedding`, or None."""
    rows = cur.execute(
        "SELECT cameo_id, owner_id, face_embedding FROM cameos WHERE deleted_at IS NULL AND face_embedding IS NOT NULL"
    ).fetchall()
    found = closest(embedding, {r[0]: np.asarray(r[2], np.float32) for r in rows})
    if found is None or found[1] >= MATCH_DISTANCE:
        return None
    owner_id = next(r[1] for r in rows if r[0] == found[0])
    return found[0], owner_id, found[1]


def face_conflict(match: tuple[str, str, float], actor_id: str) -> Conflict:
    """The refusal for a matched face; it names nobody else (their cameo may not be visible to this user)."""
    _, owner_id, distance = match
    own = owner_id == actor_id
    return Conflict(
        "this face is already registered as " + ("your cameo" if own else "someone else's cameo")
        + f" (face distance {distance:.2f} < {MATCH_DISTANCE}); a face can belong to one cameo only. "
        + ("Use the one you have." if own else "If it is your face, ask the lab operator to look into it.")
    )


def _fill_missing_embeddings(store, home) -> None:
    """Cameos registered before embeddings were kept: compute theirs from the stored reference, once."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT cameo_id, reference_path FROM cameos WHERE deleted_at IS NULL AND has_face IS NULL"
        ).fetchall()
    for cameo_id, rel_path in rows:
        try:
            embedding = reference_embedding(read_png((home / rel_path).read_bytes()))
        except (OSError, ValueError, TypeError):
            continue  # no readable reference: nothing to compare against
        with store.write() as cur:
            cur.execute(
                "UPDATE cameos SET face_embedding = ?, has_face = ? WHERE cameo_id = ?",
                [None if embedding is None else embedding.tolist(), embedding is not None, cameo_id],
            )

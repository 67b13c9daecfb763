"""Workshop mode: a teacher opens N seats (one invite code each), watches the class live, and closes it.

A seat is an ordinary invite code minted by the operator, remembered in `workshop_seats` so the class
view can follow who redeemed it and what they did, and so closing revokes exactly the codes nobody used.
One workshop is open at a time.
"""

from __future__ import annotations

from sora_lab.accounts.service import ADMIN_HANDLE
from sora_lab.core.errors import Conflict, InputError, NotFound
from sora_lab.core.ids import iso_utc, new_id, utcnow

MAX_SEATS = 200


class WorkshopService:
    """Open, watch and close a workshop; every method is the operator's."""

    def __init__(self, store, accounts):
        self.store = store
        self.accounts = accounts

    def open(self, *, seats: int) -> dict:
        """Mint `seats` invite codes for one class; refused while another workshop is open."""
        if isinstance(seats, bool) or not isinstance(seats, int) or not 1 <= seats <= MAX_SEATS:
            raise InputError(f"seats must be a whole number from 1 to {MAX_SEATS}")
        if self._current(open_only=True):
            raise Conflict("a workshop is already open: close it first (sora-lab workshop close)")
        operator = self.accounts.by_handle(ADMIN_HANDLE)
        codes = [self.accounts.invite(actor_id=operator.user_id)["code"] for _ in range(seats)]
        workshop_id, now = new_id("w"), utcnow()
        with self.store.write() as cur:
            cur.executemany("INSERT INTO workshop_seats VALUES (?, ?, ?, ?, NULL)",
                            [[workshop_id, n, code, now] for n, code in enumerate(codes, start=1)])
        return {"workshop_id": workshop_id, "opened_at": iso_utc(now),
                "seats": [{"seat": n, "code": code} for n, code in enumerate(codes, start=1)]}

    def close(self) -> dict:
        """Revoke the open workshop's unused codes (they stop redeeming at once); seats taken stay."""
        workshop_id = self._current(open_only=True)
        if workshop_id is None:
            raise NotFound("no workshop is open (sora-lab workshop open --seats N)")
        now = utcnow()
        with self.store.write() as cur:
            unused = [r[0] for r in cur.execute(
                "SELECT s.code FROM workshop_seats s JOIN invites i USING (code) "
                "WHERE s.workshop_id = ? AND i.redeemed_by IS NULL", [workshop_id]).fetchall()]
            if unused:
                cur.execute("DELETE FROM invites WHERE list_contains(?, code)", [unused])
            cur.execute("UPDATE workshop_seats SET closed_at = ? WHERE workshop_id = ?", [now, workshop_id])
            seats = cur.execute("SELECT count(*) FROM workshop_seats WHERE workshop_id = ?",
                                [workshop_id]).fetchone()[0]
        return {"workshop_id": workshop_id, "closed_at": iso_utc(now), "revoked": len(unused),
                "redeemed": seats - len(unused)}

    def reseat(self, *, seat: int) -> dict:
        """A new code for one unused seat of the open workshop (a lost or photographed card): the old code stops
        redeeming at once. A taken seat keeps its account; its person needs a login link instead."""
        workshop_id = self._current(open_only=True)
        if workshop_id is None:
            raise NotFound("no workshop is open (sora-lab workshop open --seats N)")
        if isinstance(seat, bool) or not isinstance(seat, int) or not 1 <= seat <= MAX_SEATS:
            raise InputError(f"seat must be a seat number from 1 to {MAX_SEATS}, as printed on the sheet")
        with self.store.read() as cur:
            row = cur.execute(
                "SELECT s.code, s.opened_at, u.handle FROM workshop_seats s JOIN invites i USING (code) "
                "LEFT JOIN users u ON u.user_id = i.redeemed_by WHERE s.workshop_id = ? AND s.seat = ?",
                [workshop_id, seat]).fetchone()
        if row is None:
            raise NotFound(f"this workshop has no seat {seat}")
        old_code, opened_at, handle = row
        if handle is not None:
            raise Conflict(f"seat {seat} is @{handle}'s already: give them a new login link instead "
                           f"(sora-lab login-link --for {handle})")
        code = self.accounts.invite(actor_id=self.accounts.by_handle(ADMIN_HANDLE).user_id)["code"]
        with self.store.write() as cur:
            cur.execute("DELETE FROM workshop_seats WHERE code = ?", [old_code])
            cur.execute("DELETE FROM invites WHERE code = ? AND redeemed_by IS NULL", [old_code])
            cur.execute("INSERT INTO workshop_seats VALUES (?, ?, ?, ?, NULL)", [workshop_id, seat, code, opened_at])
        return {"workshop_id": workshop_id, "seat": seat, "code": code}

    def status(self) -> dict:
        """The class live: per seat, who took it and their clips, remixes and likes (given and received)."""
        workshop_id = self._current(open_only=False)
        if workshop_id is None:
            raise NotFound("no workshop yet (sora-lab workshop open --seats N)")
        with self.store.read() as cur:
            rows = cur.execute(
                """
                SELECT s.seat, s.code, s.opened_at, s.closed_at, u.handle, i.redeemed_at,
                       (SELECT count(*) FROM videos v WHERE v.author_id = u.user_id AND v.status <> 'removed'),
                       (SELECT count(*) FROM videos v WHERE v.author_id = u.user_id AND v.status <> 'removed'
                                                         AND v.parent_id IS NOT NULL),
                       (SELECT count(*) FROM likes l WHERE l.user_id = u.user_id),
                       (SELECT count(*) FROM likes l JOIN videos v USING (video_id) WHERE v.author_id = u.user_id)
                FROM workshop_seats s LEFT JOIN invites i USING (code) LEFT JOIN users u ON u.user_id = i.redeemed_by
                WHERE s.workshop_id = ? ORDER BY s.seat
                """, [workshop_id]).fetchall()
        seats = [{"seat": r[0], "code": r[1] if r[4] is None and r[3] is None else None, "handle": r[4],
                  "redeemed_at": iso_utc(r[5]), "clips": r[6] if r[4] else 0, "remixes": r[7] if r[4] else 0,
                  "likes_given": r[8] if r[4] else 0, "likes_received": r[9] if r[4] else 0} for r in rows]
        taken = [s for s in seats if s["handle"]]
        return {"workshop_id": workshop_id, "opened_at": iso_utc(rows[0][2]), "closed_at": iso_utc(rows[0][3]),
                "seats_total": len(seats), "seats_redeemed": len(taken),
                "clips": sum(s["clips"] for s in taken), "remixes": sum(s["remixes"] for s in taken),
                "likes": sum(s["likes_given"] for s in taken), "seats": seats}

    def _current(self, *, open_only: bool) -> str | None:
        """The newest workshop (only if still open, with `open_only`)."""
        with self.store.read() as cur:
            row = cur.execute("SELECT workshop_id, closed_at FROM workshop_seats ORDER BY opened_at DESC, seat "
                              "LIMIT 1").fetchone()
        if row is None or (open_only and row[1] is not None):
            return None
        return row[0]

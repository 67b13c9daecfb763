"""Accounts, invite codes and bearer tokens: the invite-only access model.

A person signs up (account + token, no access yet: the waitlist) and redeems an
invite code to get access. Every redeemed user can mint a fixed number of codes
(`LabSettings.invites_per_user`). Tokens are stored only as sha256 hashes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from sora_lab.accounts.signin import session_user_id
from sora_lab.core.errors import AuthError, Conflict, Forbidden, InputError, NotFound
from sora_lab.core.ids import iso_utc, new_id, new_invite_code, new_token, normalize_invite_code, token_hash, utcnow
from sora_lab.core.settings import load_settings
from sora_lab.core.text import clean_text
from sora_lab.store.db import Store
from sora_lab.store.events import append_event as _event

ADMIN_HANDLE = "lab"
"""The operator's handle: the account `sora-lab init` creates, whose token the operator keeps."""

HANDLE_RE = re.compile(r"^[a-z0-9][a-z0-9_.]{1,29}$")
MAX_DISPLAY_NAME = 80


@dataclass
class User:
    user_id: str
    handle: str
    display_name: str | None
    region: str
    created_at: str
    redeemed_at: str | None
    invited_by: str | None
    invites_left: int
    is_admin: bool

    @property
    def has_access(self) -> bool:
        return self.redeemed_at is not None or self.is_admin


_USER_COLUMNS = "user_id, handle, display_name, region, created_at, redeemed_at, invited_by, invites_left, is_admin"


def _user_from_row(row) -> User:
    return User(
        user_id=row[0],
        handle=row[1],
        display_name=row[2],
        region=row[3],
        created_at=iso_utc(row[4]),
        redeemed_at=iso_utc(row[5]),
        invited_by=row[6],
        invites_left=row[7],
        is_admin=row[8],
    )


def handle_of(store: Store, user_id: str) -> str:
    """The handle of `user_id`; NotFound when no such account exists."""
    with store.read() as cur:
        row = cur.execute("SELECT handle FROM users WHERE user_id = ?", [user_id]).fetchone()
    if row is None:
        raise NotFound(f"user {user_id!r} does not exist")
    return row[0]


def clean_handle(handle: str) -> str:
    """'@Alice' -> 'alice'; refuses what cannot be a handle."""
    if not isinstance(handle, str):
        raise InputError("handle must be a string like 'alice'")
    if len(handle) > 64:
        raise InputError(f"handle is {len(handle)} characters; use 2-30 (a-z, 0-9, '_', '.')")
    cleaned = handle.strip().lstrip("@").lower()
    if not HANDLE_RE.match(cleaned):
        raise InputError(
            f"handle {handle!r} is not valid: use 2-30 characters (a-z, 0-9, '_', '.'), "
            "starting with a letter or digit"
        )
    return cleaned


def clean_display_name(display_name: object) -> str | None:
    """A display name as stored: one line of visible text, NFC, at most MAX_DISPLAY_NAME characters."""
    if display_name is None:
        return None
    return clean_text(display_name, "display_name", max_chars=MAX_DISPLAY_NAME).strip()


def clean_region(region: str) -> str:
    if not isinstance(region, str) or len(region.strip()) != 2 or not region.strip().isascii() \
            or not region.strip().isalpha():
        shown = region[:20] if isinstance(region, str) else type(region).__name__
        raise InputError(f"region {shown!r} is not valid: use a two-letter country code such as 'US' or 'CA'")
    return region.strip().upper()


class AccountService:
    """Sign-up, invites, redemption and token checks."""

    def __init__(self, store: Store):
        self.store = store

    # --- lookups -----------------------------------------------------------
    def get(self, *, user_id: str) -> User:
        user = self._find("user_id", user_id)
        if user is None:
            raise NotFound(f"user {user_id!r} does not exist")
        return user

    def by_handle(self, handle: str) -> User:
        cleaned = clean_handle(handle)
        user = self._find("handle", cleaned)
        if user is None:
            raise NotFound(f"no user @{cleaned}; check the handle or redeem an invite first")
        return user

    def authenticate(self, token: str) -> User:
        """The user a bearer token (the account's own, or a live session's) belongs to (server side)."""
        user = self._find("token_hash", token_hash(token))
        if user is None and token.startswith("sls_"):  # a page's session (sora_lab.accounts.signin)
            with self.store.read() as cur:
                user_id = session_user_id(cur, token)
            user = self._find("user_id", user_id) if user_id else None
        if user is None:
            raise AuthError("unknown bearer token: redeem an invite (sora-lab redeem) to get one")
        return user

    def _find(self, column: str, value: str) -> User | None:
        """The user whose `column` (user_id, handle or token_hash: each unique) equals `value`."""
        with self.store.read() as cur:
            row = cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE {column} = ?", [value]).fetchone()
        return _user_from_row(row) if row is not None else None

    def require_access(self, user: User) -> User:
        if not user.has_access:
            raise Forbidden(
                f"@{user.handle} has no access yet: redeem an invite code (sora-lab redeem CODE --as {user.handle})"
            )
        return user

    # --- RPC methods (keyword-only, JSON in/out) ------------------------------
    def whoami(self, *, actor_id: str) -> dict:
        user = self.get(user_id=actor_id)
        return asdict(user) | {"has_access": user.has_access}

    def create_admin(self, *, handle: str = ADMIN_HANDLE, region: str = "US") -> dict:
        """The lab operator's account: full access, unlimited invites. Only `admin.bootstrap` calls it."""
        cleaned = clean_handle(handle)
        with self.store.write() as cur:
            existing = cur.execute("SELECT user_id FROM users WHERE handle = ?", [cleaned]).fetchone()
            if existing:
                raise Conflict(f"handle @{cleaned} is taken; the admin account already exists")
            token = new_token()
            user_id = new_id("u")
            now = utcnow()
            cur.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, true)",
                [user_id, cleaned, "Lab operator", clean_region(region), now, now, 0, token_hash(token)],
            )
        return {"user_id": user_id, "handle": cleaned, "token": token}

    def signup(self, *, handle: str, region: str, display_name: str | None = None) -> dict:
        """Create an account without access (the waitlist). Returns its bearer token once."""
        cleaned = clean_handle(handle)
        region = clean_region(region)
        display_name = clean_display_name(display_name)
        token = new_token()
        user_id = new_id("u")
        now = utcnow()
        with self.store.write() as cur:
            if cur.execute("SELECT 1 FROM users WHERE handle = ?", [cleaned]).fetchone():
                raise Conflict(f"handle @{cleaned} is taken; choose another")
            cur.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?, NULL, NULL, 0, ?, false)",
                [user_id, cleaned, display_name, region, now, token_hash(token)],
            )
            _event(cur, now, user_id, "install", region=region)
        return {"user_id": user_id, "handle": cleaned, "token": token, "has_access": False}

    def redeem(
        self,
        *,
        code: str,
        actor_id: str | None = None,
        handle: str | None = None,
        region: str | None = None,
        display_name: str | None = None,
    ) -> dict:
        """Redeem an invite code: for a signed-up account (`actor_id`), or create one (`handle`, `region`)."""
        if not isinstance(code, str) or not code.strip() or len(code) > 40:
            raise InputError("code is required: paste the invite code you were sent, e.g. ABCD-2345")
        code = normalize_invite_code(code)
        display_name = clean_display_name(display_name)  # before anything is written
        settings = load_settings(self.store)
        created = None
        if actor_id is None:
            if handle is None or region is None:
                raise InputError("handle and region are required to redeem a code without an account")
            region = clean_region(region)
            self._check_region(region, settings.allowed_regions)
            with self.store.read() as cur:
                _usable_code_inviter(cur, code)  # before creating an account for it
            created = self.signup(handle=handle, region=region, display_name=display_name)
            actor_id = created["user_id"]
        user = self.get(user_id=actor_id)
        self._check_region(user.region, settings.allowed_regions)
        if user.has_access:
            raise Conflict(f"@{user.handle} already has access; keep the code {code} for someone else")
        now = utcnow()
        with self.store.write() as cur:
            inviter_id = _usable_code_inviter(cur, code)
            cur.execute("UPDATE invites SET redeemed_by = ?, redeemed_at = ? WHERE code = ?", [actor_id, now, code])
            cur.execute(
                "UPDATE users SET redeemed_at = ?, invited_by = ?, invites_left = ? WHERE user_id = ?",
                [now, inviter_id, settings.invites_per_user, actor_id],
            )
            _event(
                cur, now, actor_id, "invite_redeemed", target_id=inviter_id, region=user.region, props={"code": code}
            )
        result = asdict(self.get(user_id=actor_id)) | {"has_access": True}
        if created:
            result["token"] = created["token"]
        return result

    def invite(self, *, actor_id: str) -> dict:
        """Mint one invite code, spending one of the actor's invites (admins: unlimited)."""
        user = self.require_access(self.get(user_id=actor_id))
        code = new_invite_code()
        now = utcnow()
        with self.store.write() as cur:
            if not user.is_admin:
                left = cur.execute("SELECT invites_left FROM users WHERE user_id = ?", [actor_id]).fetchone()[0]
                if left <= 0:
                    raise Forbidden(f"@{user.handle} has no invites left (each user gets a fixed number)")
                cur.execute("UPDATE users SET invites_left = invites_left - 1 WHERE user_id = ?", [actor_id])
            cur.execute("INSERT INTO invites VALUES (?, ?, ?, NULL, NULL)", [code, actor_id, now])
            _event(cur, now, actor_id, "invite_sent", target_id=code, region=user.region)
        return {"code": code, "invites_left": None if user.is_admin else user.invites_left - 1}

    def list_users(self) -> list[dict]:
        with self.store.read() as cur:
            rows = cur.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY created_at, handle").fetchall()
        return [asdict(_user_from_row(r)) for r in rows]

    # --- checks --------------------------------------------------------------
    def _check_region(self, region: str, allowed: list[str]) -> None:
        if allowed and region not in allowed:
            raise Forbidden(
                f"region {region} is not open yet (open: {', '.join(allowed)}); join the waitlist with `signup`"
            )


def _usable_code_inviter(cur, code: str) -> str:
    """Who minted an invite code that exists and is unused; NotFound or Conflict otherwise."""
    row = cur.execute("SELECT inviter_id, redeemed_by FROM invites WHERE code = ?", [code]).fetchone()
    if row is None:
        raise NotFound(f"invite code {code} does not exist; check for typos")
    if row[1] is not None:
        raise Conflict(f"invite code {code} was already used; ask your inviter for a new one")
    return row[0]

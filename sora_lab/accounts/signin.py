"""Signing in to the lab's pages: one-time login codes and the session tokens they buy.

A login code is a short-lived, single-use secret a member (or the operator, for anyone) mints and
sends as a link; redeeming it gives a *session token*, which a page keeps in an HttpOnly cookie.
Session tokens act like the account's own token until they expire or are ended (sign-out), so
signing out never touches the token the CLI keeps. Both are stored only as sha256 hashes: a
database copy grants nothing, and a code redeemed once grants nothing the second time.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sora_lab.core.errors import AuthError, Forbidden, InputError
from sora_lab.core.ids import iso_utc, token_hash, utcnow

LOGIN_CODE_MINUTES = 15
"""How long a login link stays good (minutes); the default of `sora-lab login-link`."""
MAX_LOGIN_CODE_MINUTES = 24 * 60
SESSION_HOURS = 24
"""How long a page stays signed in without signing in again (a workshop day)."""
_MAX_SECRET_CHARS = 200


def new_login_code() -> str:
    return "slc_" + secrets.token_urlsafe(24)


def new_session_token() -> str:
    return "sls_" + secrets.token_urlsafe(32)


def _check_secret(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_SECRET_CHARS:
        raise InputError(f"{field} must be the code from your login link (slc_...), at most {_MAX_SECRET_CHARS} "
                         "characters")
    return value.strip()


class SignInService:
    """Login codes and sessions over the lab's store; `accounts` answers who a handle is."""

    def __init__(self, store, accounts):
        self.store = store
        self.accounts = accounts

    def login_link(self, *, actor_id: str, handle: str | None = None, minutes: int = LOGIN_CODE_MINUTES) -> dict:
        """Mint a one-time login code for yourself, or (the operator only) for `handle`. The code is shown once."""
        actor = self.accounts.get(user_id=actor_id)
        target = actor if handle is None else self.accounts.by_handle(handle)
        if target.user_id != actor.user_id and not actor.is_admin:
            raise Forbidden("only the lab operator may mint a login link for someone else; leave handle out")
        self.accounts.require_access(target)
        _refuse_operator(target)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_LOGIN_CODE_MINUTES:
            raise InputError(f"minutes must be a whole number from 1 to {MAX_LOGIN_CODE_MINUTES}")
        code = new_login_code()
        now = utcnow()
        expires = now + timedelta(minutes=minutes)
        with self.store.write() as cur:
            cur.execute("INSERT INTO login_codes VALUES (?, ?, ?, ?, NULL)", [token_hash(code), target.user_id, now,
                                                                              expires])
        return {"code": code, "handle": target.handle, "expires_at": iso_utc(expires)}

    def sign_in(self, *, code: str) -> dict:
        """Spend a login code: a new session token for its account. A used, expired or unknown code is a 401."""
        code = _check_secret(code, "code")
        now = utcnow()
        with self.store.write() as cur:
            row = cur.execute(
                "UPDATE login_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? "
                "RETURNING user_id", [now, token_hash(code), now]).fetchone()
            if row is None:
                raise AuthError("this login link was already used, has expired or does not exist: ask for a new one "
                                "(sora-lab login-link --as HANDLE)")
            token = self._start(cur, row[0], now)
        user = self.accounts.get(user_id=row[0])
        return {"token": token["token"], "expires_at": token["expires_at"], "handle": user.handle,
                "user_id": user.user_id}

    def start_session(self, *, actor_id: str) -> dict:
        """Trade the account's own token for a session token (a page signs in with it after redeeming an invite)."""
        user = _refuse_operator(self.accounts.get(user_id=actor_id))
        with self.store.write() as cur:
            token = self._start(cur, actor_id, utcnow())
        return token | {"handle": user.handle, "user_id": user.user_id}

    def sign_out(self, *, token: str) -> dict:
        """End a session token (knowing it is the proof); an account's own token is never ended here."""
        token = _check_secret(token, "token")
        now = utcnow()
        with self.store.write() as cur:
            row = cur.execute("UPDATE sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL "
                              "RETURNING user_id", [now, token_hash(token)]).fetchone()
        return {"ended": row is not None}

    def _start(self, cur, user_id: str, now) -> dict:
        token = new_session_token()
        expires = now + timedelta(hours=SESSION_HOURS)
        cur.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, NULL)", [token_hash(token), user_id, now, expires])
        return {"token": token, "expires_at": iso_utc(expires)}


def _refuse_operator(user):
    """Pages that run code for their viewer (the feed's kernels) never hold the operator's power: no session is
    ever the operator's. The operator signs in to the growth dashboard with the admin token instead."""
    if user.is_admin:
        raise Forbidden("the operator account does not sign in to the feed; sign in to the growth dashboard with "
                        "the admin token, and watch the feed as a member")
    return user


def session_user_id(cur, token: str) -> str | None:
    """The account a live session token belongs to, else None (AccountService.authenticate asks)."""
    row = cur.execute("SELECT user_id FROM sessions WHERE token_hash = ? AND ended_at IS NULL AND expires_at > ?",
                      [token_hash(token), utcnow()]).fetchone()
    return row[0] if row else None

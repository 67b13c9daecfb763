"""The `Lab` facade: the one object notebooks, dashboards and the CLI use.

    lab = Lab.open("data/lab")            # embedded: this process owns the DuckDB file
    lab = Lab.connect("http://127.0.0.1:8765", home="data/lab")   # through a running server
    lab = Lab.auto()                      # the server if one runs for this home, else embedded

Both modes expose the same operations, `lab.<area>.<method>(..., as_user="alice")`,
listed in `sora_lab.api.access.ACCESS`; `sora_lab.client` carries the remote calls to the
server's v1 routes, found by operation name.
DuckDB locks its file against every other process, so several kernels and apps share
one lab only through the server; `Lab.auto` picks that path whenever the server is up.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sora_lab.accounts.service import ADMIN_HANDLE, clean_handle
from sora_lab.admin.bootstrap import initialise
from sora_lab.api.access import ACCESS, dispatch, to_json
from sora_lab.client import LabClient, add_local_paths, running_server_url, wait_for_job, wait_for_sweep
from sora_lab.core.errors import AuthError, InputError, NotFound
from sora_lab.core.home import load_credentials, media_dir, resolve_home, save_credential
from sora_lab.core.text import handle_key


class _Area:
    """`lab.accounts`, `lab.engagement`, ...: attribute access becomes a call by name."""

    def __init__(self, lab: Lab, area: str):
        self._lab = lab
        self._area = area

    def __getattr__(self, method: str):
        name = f"{self._area}.{method}"
        if name not in ACCESS:
            raise AttributeError(f"the lab has no operation {name!r}")

        def call(*, as_user: str | None = None, **kwargs: Any) -> Any:
            return self._lab.call(name, as_user=as_user, **kwargs)

        call.__name__ = method
        return call

    def __dir__(self):
        return [n.split(".", 1)[1] for n in ACCESS if n.startswith(self._area + ".")]


class Lab:
    """Operations on one lab home, embedded or through its server."""

    def __init__(self, home: Path, *, services=None, url: str | None = None, tokens: dict | None = None):
        """Use `Lab.open`, `Lab.connect` or `Lab.auto`; `services` is an open `sora_lab.services.Services`
        (the embedded lab then uses it and closes it), `url` a server's address."""
        self.home = Path(home)
        self._services = services
        self._client = LabClient(url) if url else None
        self.url = self._client.url if self._client else None
        self._tokens = dict(tokens or {})
        self._save_tokens = True  # False for a page's kernel: it holds one session and writes no file

    # --- construction ------------------------------------------------------------
    @classmethod
    def open(cls, home: str | Path | None = None) -> Lab:
        """Embedded: open (create, migrate) the lab's DuckDB file in this process."""
        from sora_lab.services import Services

        home = resolve_home(home)
        return cls(home, services=Services.open(home))

    @classmethod
    def connect(cls, url: str, *, home: str | Path | None = None, tokens: dict | None = None) -> Lab:
        """Through a running `sora-lab serve`. Tokens come from `tokens` and the home's credentials file."""
        home = resolve_home(home)
        known = load_credentials(home) | dict(tokens or {})
        lab = cls(home, url=url, tokens=known)
        lab.health()
        return lab

    @classmethod
    def auto(cls, home: str | Path | None = None) -> Lab:
        """The server named by SORA_LAB_SERVER (a room's lab on another machine), else the running server for
        this home if there is one, else embedded."""
        home = resolve_home(home)
        url = os.environ.get("SORA_LAB_SERVER", "").strip() or running_server_url(home)
        return cls.connect(url, home=home) if url else cls.open(home)

    def adopt_session(self, token: str) -> str:
        """Act as the one account a page's session token belongs to, and only as it (the feed's kernel):
        forgets every other token, reads and writes no credentials file. Returns the account's handle."""
        me = self._client.call("accounts.whoami", {}, token=token)
        self._tokens = {me["handle"]: token}
        self._save_tokens = False
        return me["handle"]

    def join(self, handle: str, *, code: str | None = None, region: str = "US") -> str:
        """Become `handle` for `as_user=` calls; returns the handle. How, in order: a token this machine already
        holds for it (or, embedded, an account that exists); else `code`, a seat's invite code (the account is
        created) or a login code `slc_...` (a session for the account it names); else, on an embedded lab you
        own, the operator invites you. Through a room's server without a known token, a code is required."""
        handle = clean_handle(handle)
        if self._known(handle):
            return handle
        if code:
            code = code.strip()
            if code.startswith("slc_"):
                result = self.signin.sign_in(code=code)
                if result["handle"] != handle:
                    raise AuthError(f"that login link signs in @{result['handle']}, not @{handle}: "
                                    f"join as {result['handle']!r} or ask for your own link")
                return handle
            return self.accounts.redeem(code=code, handle=handle, region=region)["handle"]
        if not self.embedded:
            raise AuthError(f"no token for @{handle} on this machine: pass code= the invite code on your seat card "
                            "(or a login link's slc_... code)")
        initialise(self._services.store, self.home, self._services.accounts)
        invite = self.accounts.invite(as_user=ADMIN_HANDLE)
        return self.accounts.redeem(code=invite["code"], handle=handle, region=region)["handle"]

    def _known(self, handle: str) -> bool:
        """Whether `as_user=handle` works already: a live token here (remote), an account with access (embedded)."""
        if not self.embedded:
            token = self._tokens.get(handle)
            if token is None:
                return False
            try:
                return self._client.call("accounts.whoami", {}, token=token)["handle"] == handle
            except AuthError:  # expired session or a token from another lab
                return False
        try:
            return self._services.accounts.by_handle(handle).has_access
        except NotFound:
            return False

    @property
    def embedded(self) -> bool:
        return self._services is not None

    def __getattr__(self, area: str) -> _Area:
        if area.startswith("_") or not any(n.startswith(area + ".") for n in ACCESS):
            raise AttributeError(area)
        return _Area(self, area)

    # --- calls ---------------------------------------------------------------------
    def call(self, name: str, *, as_user: str | None = None, **kwargs: Any) -> Any:
        if self.embedded:
            actor = self._services.accounts.by_handle(as_user) if as_user else None
            result = to_json(dispatch(self._services, name, kwargs, actor, trusted=True))
        else:
            result = self._remote_call(name, as_user, kwargs)
        self._remember_token(result)
        return result

    def _remote_call(self, name: str, as_user: str | None, kwargs: dict) -> Any:
        result = self._client.call(name, kwargs, token=self._token_for(name, as_user))
        return add_local_paths(result, media_dir(self.home))

    def _token_for(self, name: str, as_user: str | None) -> str | None:
        if as_user is None:
            return self._tokens.get(ADMIN_HANDLE) if ACCESS[name] == "admin" else None
        handle = handle_key(as_user)
        token = self._tokens.get(handle)
        if token is None:
            raise AuthError(
                f"no token for @{handle} on this machine: redeem an invite as {handle} "
                f"(sora-lab redeem CODE --handle {handle}) or pass tokens={{'{handle}': '...'}}"
            )
        return token

    def _remember_token(self, result: Any) -> None:
        """Keep tokens returned by signup/redeem so `as_user=` works next time."""
        if self._save_tokens and isinstance(result, dict) and isinstance(result.get("token"), str) \
                and "handle" in result:
            self._tokens[result["handle"]] = result["token"]
            save_credential(self.home, result["handle"], result["token"])

    def pause_on_job(self, job_id: str, seconds: float) -> None:
        """The pause between two polls of a job: embedded, it ends as soon as the job ends in this process
        (so a waiter sees the end at once, not up to a poll later); through a server, a plain sleep."""
        if self.embedded:
            self._services.videos.queue.wait_for_end(job_id, seconds)
        else:
            time.sleep(seconds)

    # --- conveniences used everywhere --------------------------------------------
    def generate(self, prompt: str, *, as_user: str, progress: bool = True, **options: Any) -> dict:
        """Queue a clip and wait for it with a progress bar; options as `sora-lab generate`
        (seconds, seed, cameos, backend, model, draft, remix_of, options)."""
        job = self.videos.submit(as_user=as_user, prompt=prompt, **options)
        return wait_for_job(self, job, as_user=as_user, bar="tqdm" if progress else "none")

    def sweep(self, prompts: list[str], *, as_user: str, seeds: list[int], progress: bool = True,
              order_by: str = "cell", **options: Any) -> dict:
        """Queue prompts x seeds x settings as drafts and wait for every cell with a progress bar; options as
        `sora-lab sweep` (options={'steps': [8, 16]}, seconds, backend, model). Cells sorted by `order_by`."""
        sweep = self.videos.sweep(as_user=as_user, prompts=list(prompts), seeds=list(seeds), **options)
        return wait_for_sweep(self, sweep, as_user=as_user, bar="tqdm" if progress else "none", order_by=order_by)

    def feed_link(self, *, as_user: str) -> str:
        """A one-time link (15 minutes) that opens the room's feed signed in as `as_user`: how a learner who
        joined from a notebook gets to the same account in a browser."""
        if self.embedded:
            raise InputError("a lab in this process serves no feed page: start one with `make demo`")
        from sora_lab.admin.sheet import feed_url

        code = self.signin.login_link(as_user=as_user)["code"]
        return f"{feed_url(urlsplit(self.url).hostname)}login?code={code}"

    def health(self) -> dict:
        if self.embedded:
            return {"ok": True, "mode": "embedded", "home": str(self.home)}
        return self._client.health() | {"mode": "server", "home": str(self.home)}

    def media_url(self, relative_path: str) -> str:
        """Where a viewer fetches a media file: the server's URL, or a local path when embedded."""
        if self.url:
            return f"{self.url}/media/{relative_path}"
        return str(media_dir(self.home) / relative_path)

    def media_headers(self, as_user: str | None) -> dict:
        """What a download from `media_url` sends so that `as_user` gets their own drafts and cameo
        images too (media follow the visibility rule; without a token only published clips answer)."""
        token = self._token_for("videos.get", as_user) if self.url else None  # the token a read as as_user sends
        return {"Authorization": f"Bearer {token}"} if token else {}

    def media_bytes(self, relative_path: str, *, as_user: str | None = None) -> bytes:
        """A media file's bytes (a record's `media_path` or `poster_path`): read from this lab home when
        embedded, else downloaded from the server as `as_user`, so a notebook on another machine than the
        room's server gets its own drafts too (NotFound for a file the visibility rule hides from them)."""
        if not self.url:
            return (media_dir(self.home) / relative_path).read_bytes()
        return self._client.media(relative_path, headers=self.media_headers(as_user))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._services is not None:
            self._services.close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

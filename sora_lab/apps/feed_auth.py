"""Who is watching the Voilà feed: a jupyter-server IdentityProvider (Voilà's own auth hook) over lab sessions.

The page starts signed out. /login takes a login-link code or an invite code (plus a handle) and asks the lab
server for a *session token* (sora_lab.accounts.signin), kept in an HttpOnly cookie. Every Voilà request is
checked against the server (cached briefly); the page request also carries the token, and only it, to the
viewer's kernel in the `X-Sora-Session` header (Voilà's `http_header_envs`), so a kernel holds one viewer's
session — never credentials.json, never the operator's token — and only that viewer may reach the kernel
(KernelOwnerAuthorizer). /logout ends the session on the server.
This process reads the server's address from the lab home, nothing else.
"""

from __future__ import annotations

import html
import time

import httpx
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import JupyterHandler

from sora_lab.client import running_server_url
from sora_lab.core.home import resolve_home

COOKIE = "sora_feed_session"
SESSION_HEADER = "X-Sora-Session"
"""The request header that carries the viewer's session token into the kernel (as HTTP_X_SORA_SESSION)."""
CHECK_S = 20.0  # a session is re-checked with the server at least this often (sign-out elsewhere shows by then)


def lab_url() -> str:
    url = running_server_url(resolve_home())
    if url is None:
        raise httpx.ConnectError("the lab server is not running (sora-lab serve / make demo)")
    return url


class LabIdentityProvider(IdentityProvider):
    """Voilà's identity provider: the viewer is the lab account of the session token in the cookie."""

    _checked: dict[str, tuple[float, User | None]] = {}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        guard_voila_handlers()

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True

    @property
    def logout_available(self) -> bool:
        return True

    def get_handlers(self) -> list:
        return [(r"/(?:login|signin|redeem)", SignInHandler), (r"/logout", SignOutHandler)]

    async def get_user(self, handler) -> User | None:
        handler.request.headers.pop(SESSION_HEADER, None)  # only this provider sets it, never the browser
        token = handler.get_cookie(COOKIE)
        if not token:
            return None
        user = await self.check(token)
        if user is not None:
            handler.request.headers[SESSION_HEADER] = token
        return user

    async def check(self, token: str) -> User | None:
        """The member the session token belongs to (asking the server, cached CHECK_S), else None."""
        now = time.monotonic()
        cached = self._checked.get(token)
        if cached and now - cached[0] < CHECK_S:
            return cached[1]
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.get(f"{lab_url()}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            return None
        me = answer.json() if answer.status_code == 200 else {}
        ok = me.get("has_access") and not me.get("is_admin") and token.startswith("sls_")
        user = User(username=me["handle"], name=me["handle"], display_name=f"@{me['handle']}") if ok else None
        if len(self._checked) > 10_000:
            self._checked.clear()
        self._checked[token] = (now, user)
        return user

    def forget(self, token: str) -> None:
        self._checked.pop(token, None)


class KernelOwnerAuthorizer(Authorizer):
    """A viewer reaches only the kernel their own page was given. Each kernel holds one viewer's session token,
    and Voilà would otherwise let any signed-in viewer who learns a kernel id (it is in that page's HTML) talk
    to it, or shut it down, and act as its viewer. The first viewer to reach a kernel owns it: the page that was
    handed the id connects within seconds, before anyone else could know it. Everyone else gets a 403."""

    _owners: dict[str, str] = {}

    def is_authorized(self, handler, user, action: str, resource: str) -> bool:
        if user is None:
            return False
        kernel_id = (getattr(handler, "path_kwargs", None) or {}).get("kernel_id")
        if resource != "kernels" or not kernel_id:
            return True
        return self.owns(user.username, kernel_id, handler.kernel_manager.list_kernel_ids())

    @classmethod
    def owns(cls, username: str, kernel_id: str, live_ids) -> bool:
        live = set(live_ids)
        for gone in [k for k in cls._owners if k not in live]:  # culled or shut down: forget its owner
            del cls._owners[gone]
        if kernel_id not in live:
            return True  # jupyter-server answers 404 for a kernel that does not exist
        return cls._owners.setdefault(kernel_id, username) == username


def guard_voila_handlers() -> None:
    """Close two doors Voilà leaves open around pre-heated kernels (called once, when Voilà makes our provider).

    - /voila/query/<kernel id> is an unauthenticated websocket over which Voilà hands a kernel its viewer's
      request, our session header included, and it keeps a copy for a late connection. Only the kernel itself
      should connect there, and it does so first, from this machine, before any page exists: a connection from
      elsewhere or a second one for the same kernel is closed, and the copy is dropped once delivered.
      Its close handler also drops the *last* waiting kernel when the closing socket is not in its table (a
      refused one never is), which would leave a viewer's page waiting for ever: it drops only its own entry.
    - /voila/api/shutdown/<kernel id> lets any signed-in viewer shut down any kernel: only its owner may.
    """
    from tornado.web import HTTPError
    from voila.request_info_handler import RequestInfoSocketHandler
    from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler

    if getattr(RequestInfoSocketHandler, "_sora_guarded", False):
        return
    connected: set[str] = set()
    open_query, post_shutdown = RequestInfoSocketHandler.open, VoilaShutdownKernelHandler.post

    def open_once(self, kernel_id: str) -> None:
        if self.request.remote_ip not in ("127.0.0.1", "::1") or kernel_id in connected:
            self.close(code=1008, reason="not this kernel's own connection")
            return
        if len(connected) > 100_000:
            connected.clear()
        connected.add(kernel_id)
        open_query(self, kernel_id)
        RequestInfoSocketHandler._cache.pop(kernel_id, None)

    def close_own(self) -> None:
        waiters = RequestInfoSocketHandler._waiters
        for kernel_id in [k for k, socket in waiters.items() if socket is self]:
            del waiters[kernel_id]

    async def shutdown_own(self, kernel_id: str) -> None:
        user = self.current_user
        if user is None or not KernelOwnerAuthorizer.owns(user.username, kernel_id,
                                                           self.kernel_manager.list_kernel_ids()):
            raise HTTPError(403)
        await post_shutdown(self, kernel_id)

    RequestInfoSocketHandler.open, RequestInfoSocketHandler.on_close = open_once, close_own
    VoilaShutdownKernelHandler.post = shutdown_own
    RequestInfoSocketHandler._sora_guarded = True


def _api(path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.post(f"{lab_url()}/api/v1{path}", json=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        return 503, {"error": {"message": f"the lab server did not answer ({exc})"}}
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, {}


def _message(status: int, payload: dict) -> str:
    detail = payload.get("error") or {}
    fields = detail.get("fields") or []
    if fields:
        return "; ".join(f"{f.get('field')}: {f.get('message')}" for f in fields if isinstance(f, dict))
    return detail.get("message") or f"the lab server answered HTTP {status}"


class SignInHandler(JupyterHandler):
    """GET: the sign-in page (a login link lands here with ?code=, a workshop QR code with ?invite=).
    POST: spend the code or redeem the invite, set the session cookie, go to the feed."""

    @allow_unauthenticated
    def get(self) -> None:
        self.render_page(code=self.get_argument("code", ""), invite=self.get_argument("invite", ""))

    @allow_unauthenticated
    def post(self) -> None:
        kind = self.get_argument("kind", "")
        if kind == "code":
            status, payload = _api("/sessions", {"code": self.get_argument("code", "").strip()})
        elif kind == "invite":
            status, payload = _api("/invites/redeem", {"code": self.get_argument("invite", "").strip(),
                                                       "handle": self.get_argument("handle", "").strip(),
                                                       "region": self.get_argument("region", "US").strip()})
            if status < 300:  # the account is made: trade its own token for a page session, keep only that
                status, payload = _api("/sessions/from-token", {}, token=payload.get("token"))
        else:
            status, payload = 400, {"error": {"message": "choose: sign in with a code, or redeem an invite"}}
        if status >= 300 or not str(payload.get("token", "")).startswith("sls_"):
            self.set_status(status if 400 <= status < 500 else 400)
            self.render_page(code=self.get_argument("code", ""), invite=self.get_argument("invite", ""),
                             error=_message(status, payload))
            return
        self.set_cookie(COOKIE, payload["token"], httponly=True, samesite="Lax", path="/", expires_days=1)
        self.redirect(self.base_url)

    def render_page(self, *, code: str = "", invite: str = "", error: str = "") -> None:
        self.set_header("Cache-Control", "no-store")
        self.write(SIGN_IN_PAGE.format(
            xsrf=self.xsrf_form_html(), code=html.escape(code[:200], quote=True),
            invite=html.escape(invite[:40], quote=True),
            error=f'<p class="error" data-testid="signin-error">{html.escape(error)}</p>' if error else ""))


class SignOutHandler(JupyterHandler):
    """End the session on the lab server and forget the cookie; the kernel's copy stops working too."""

    @allow_unauthenticated
    def get(self) -> None:
        token = self.get_cookie(COOKIE)
        if token:
            _api("/sessions/end", {"token": token})
            self.identity_provider.forget(token)
        self.clear_cookie(COOKIE, path="/")
        self.set_header("Cache-Control", "no-store")
        self.write(SIGNED_OUT_PAGE)


_STYLE = """<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#111}
form{border:1px solid #ccc;border-radius:10px;padding:1rem;margin:1rem 0}label{display:block;margin:.5rem 0 .2rem}
input,select{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}button{margin-top:.8rem;padding:.6rem 1.2rem;
font-size:1rem}.error{color:#b00020;font-weight:600}</style>"""

SIGN_IN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width,initial-scale=1"><title>Sora Lab — sign in</title>""" + _STYLE.replace("{", "{{").replace(
    "}", "}}") + """</head><body data-testid="signin-page"><h1>Sora Lab feed</h1><p>You are signed out.</p>{error}
<form method="post" data-testid="code-form">{xsrf}<input type="hidden" name="kind" value="code">
<h2>Sign in with a login link</h2><label for="code">Code from your link</label>
<input id="code" name="code" value="{code}" autocomplete="off" placeholder="slc_…">
<button type="submit" data-testid="code-submit">Sign in</button></form>
<form method="post" data-testid="invite-form">{xsrf}<input type="hidden" name="kind" value="invite">
<h2>New here? Redeem an invite</h2><label for="invite">Invite code</label>
<input id="invite" name="invite" value="{invite}" autocomplete="off" placeholder="ABCD-2345">
<label for="handle">Pick a handle</label><input id="handle" name="handle" placeholder="2-30 of a-z 0-9 _ ."
autocomplete="off"><label for="region">Region</label><input id="region" name="region" value="US" maxlength="2">
<button type="submit" data-testid="invite-submit">Join and sign in</button></form></body></html>"""

SIGNED_OUT_PAGE = ("""<!doctype html><html><head><meta charset="utf-8"><title>Sora Lab — signed out</title>"""
                   + _STYLE + """</head><body data-testid="signed-out"><h1>Signed out</h1>
<p><a href="login">Sign in again</a></p></body></html>""")

"""Who may open the growth dashboard: the lab operator, checked by Panel's own login machinery.

    panel serve dashboards/growth.py dashboards/workshop.py --auth-module sora_lab/apps/growth_auth.py
    (with PANEL_COOKIE_SECRET set; `make demo` does both)

Bokeh's auth-module hook (`--auth-module`) takes `get_user`, `login_url`, `LoginHandler`, `logout_url` and
`LogoutHandler` from this file. The login handler is Panel's `BasicLoginHandler` with one change: a
password is good when it is the operator's token, as the lab server says (`GET /api/v1/me`: is_admin).
Panel then keeps the signed-in name in its own signed, HttpOnly `user` cookie — never the token — and
every page and websocket of the app without that cookie is sent to the login page, so no metric is drawn
for anyone else. A member's token, a feed session or nothing at all: the login page.
"""

from __future__ import annotations

import httpx
from jinja2 import Template
from panel.auth import BasicLoginHandler
from panel.auth import LogoutHandler as PanelLogoutHandler
from panel.config import config

from sora_lab.accounts.service import ADMIN_HANDLE
from sora_lab.client import running_server_url
from sora_lab.core.home import resolve_home
from sora_lab.core.text import handle_key

login_url = "/login"
logout_url = "/logout"

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sora Lab — operator sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box;margin:.3rem 0 .8rem}
button{padding:.6rem 1.2rem;font-size:1rem}.error{color:#b00020;font-weight:600}</style></head>
<body data-testid="dashboard-login"><h1>Growth dashboard</h1>
<p>For the lab operator. Sign in with the operator's handle and admin token
(<code>sora-lab init</code> saved it in the lab home's credentials.json).</p>
{% if errormessage %}<p class="error" data-testid="login-error">{{ errormessage }}</p>{% endif %}
<form action="{{ login_endpoint }}" method="post">
<label for="username">Handle</label><input id="username" name="username" value="lab" autocomplete="username">
<label for="password">Admin token</label><input id="password" name="password" type="password"
autocomplete="current-password"><button type="submit" data-testid="login-submit">Sign in</button></form>
</body></html>"""

_SIGNED_OUT = Template("""<!doctype html><html><head><meta charset="utf-8"><title>Signed out</title></head>
<body><h1>Signed out</h1><p><a href="{{ LOGIN_ENDPOINT }}">Sign in again</a></p></body></html>""")


def operator_token_ok(username: str, token: str) -> bool:
    """True when `token` is the operator's own token and `username` names that account."""
    if handle_key(username) != ADMIN_HANDLE or not token or len(token) > 200:
        return False
    url = running_server_url(resolve_home())
    if url is None:
        return False
    try:
        answer = httpx.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token.strip()}"}, timeout=10)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.json().get("is_admin") is True


class LoginHandler(BasicLoginHandler):
    """Panel's login form and cookie; the password check asks the lab server."""

    _login_endpoint = login_url
    _login_template = Template(_PAGE)

    def _validate(self, username, password):
        return operator_token_ok(username, password)


class LogoutHandler(PanelLogoutHandler):
    _login_endpoint = login_url
    _logout_template = _SIGNED_OUT


def get_user(request_handler) -> str | None:
    """The signed-in operator's name from Panel's signed `user` cookie, else None (the login page)."""
    user = request_handler.get_secure_cookie("user", max_age_days=config.oauth_expiry)
    return user.decode() if user else None

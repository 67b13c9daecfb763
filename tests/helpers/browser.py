"""Headless chromium on the served feed: launch flags, the page size the tests serve, and the page
helpers more than one browser test uses (open the feed, find the visible clip, wait until it plays)."""

from __future__ import annotations

import time

CHROMIUM = "/usr/bin/chromium"
# Three browser windows share two cores in the many-viewers test; without the last three flags Chromium may treat
# the earliest window as backgrounded or occluded and stall its video (seen once in CI: a clip stuck mid-way for 30 s).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows", "--disable-background-timer-throttling"]
PAGE_SIZE = 3  # clips per feed page in the browser tests: a few swipes cross two page fetches


def block_outside(target) -> list[str]:
    """Refuse every request a page (or a whole context) makes to anything but this machine, as a room without
    network would, and list them: an app that reaches for a CDN shows up here instead of drawing blank."""
    asked: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "data:", "blob:")):
            return request_route.continue_()
        asked.append(url)
        return request_route.abort("internetdisconnected")

    target.route("**/*", route)
    return asked


def login_code(home, handle: str) -> str:
    """A one-time login code for `handle`, minted with that member's own token (the tests are the operator)."""
    from sora_lab.lab import Lab

    with Lab.auto(home) as lab:
        return lab.signin.login_link(as_user=handle)["code"]


def sign_in(page, url: str, code: str, timeout_ms: int = 60_000) -> None:
    """Follow a login link (`/login?code=…`) and press Sign in, as a person would."""
    page.goto(f"{url}login?code={code}", wait_until="domcontentloaded", timeout=timeout_ms)
    page.click("[data-testid=code-submit]")


def open_feed(browser, url: str, viewer: str, home, timeout_ms: int = 240_000):
    """A new context signed in to the feed as `viewer` (through a login link); returns (context, page, timings in ms).

    'interactive' is when the widget (controls and phone) is on the page — Voilà has run the
    notebook and the kernel is connected; 'first_clip' is when the first clip shows a frame.
    """
    context = browser.new_context(viewport={"width": 520, "height": 1200})
    outside = block_outside(context)
    page = context.new_page()
    sign_in(page, url, login_code(home, viewer), timeout_ms)
    page.wait_for_selector(".sl-root [data-testid=steer-input]", state="visible", timeout=timeout_ms)
    interactive = page.evaluate("performance.now()")
    page.wait_for_function(
        "(() => { const v = document.querySelector('[data-testid=clip] video'); "
        "return v && v.readyState >= 2 && v.getBoundingClientRect().height > 0; })()",
        timeout=timeout_ms, polling=50,
    )
    first_clip = page.evaluate("performance.now()")
    assert not outside, f"the feed asked outside this machine for {outside}"
    return context, page, {"navigation_to_interactive_ms": round(interactive),
                           "interactive_to_first_clip_ms": round(first_clip - interactive)}


def visible_index(page) -> int:
    return int(page.evaluate("document.querySelector('.sl-root').dataset.visibleIndex || '-1'"))


def wait_playing(page, timeout_s: float = 30) -> dict:
    """The visible clip reaches readyState >= 2 and its currentTime advances."""
    script = """(() => { const root = document.querySelector('.sl-root');
        const i = Number(root.dataset.visibleIndex);
        const v = document.querySelectorAll('[data-testid=clip] video')[i];
        return {readyState: v.readyState, t: v.currentTime, src: v.currentSrc, paused: v.paused,
                duration: v.duration, hidden: document.hidden, feed: {...root.dataset}};
        })()"""
    deadline = time.monotonic() + timeout_s
    first = None
    while time.monotonic() < deadline:
        state = page.evaluate(script)
        if state["readyState"] >= 2:
            if first is None:
                first = state
            elif state["t"] > first["t"]:
                return {"first": first, "later": state}
        time.sleep(0.3)
    raise AssertionError(f"the visible clip did not play: {page.evaluate(script)}")


def visible_clip(page):
    return page.locator("[data-testid=clip]").nth(visible_index(page))


def operator_sign_in(page, app_url: str, home, timeout_ms: int = 120_000) -> None:
    """Sign in to the Panel dashboard at `app_url` (…/growth) with the operator's token, then open it."""
    from sora_lab.core.home import load_credentials

    base, app = app_url.rsplit("/", 1)
    page.goto(f"{base}/login?next=/{app}", timeout=timeout_ms)  # Panel's login handler goes on to `next`
    page.fill("#username", "lab")
    page.fill("#password", load_credentials(home)["lab"])
    page.click("[data-testid=login-submit]")
    page.wait_for_url(app_url, timeout=timeout_ms)

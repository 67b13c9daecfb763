"""Everyone signs in, in headless chromium: two workshop participants redeem seats from two browser contexts and
like as themselves; `?as=maya` and a replayed login link grant nothing; sign-out ends the session; a member gets
the dashboard's login page and the operator sees the class view."""

from __future__ import annotations

import pytest
from helpers.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    block_outside,
    login_code,
    operator_sign_in,
    sign_in,
    visible_clip,
)
from helpers.processes import PanelProcess, ServerProcess, VoilaProcess

from sora_lab.core.home import load_credentials
from sora_lab.lab import Lab

pytestmark = [pytest.mark.browser]


@pytest.fixture
def stack(seeded_home, tmp_path):
    with Lab.open(seeded_home) as lab:  # three real clips, made before the server takes the file
        for author, prompt in (("theo", "a calm ocean wave"), ("priya", "spinning stars"), ("lena", "a red fox")):
            lab.videos.generate(as_user=author, prompt=prompt, seconds=2.0)
    server = ServerProcess(seeded_home).start()
    voila = VoilaProcess(seeded_home, tmp_path, page_size=3).start()
    panel = PanelProcess(seeded_home).start()
    yield {"home": seeded_home, "server": server, "voila": voila, "panel": panel}
    panel.stop()
    voila.stop()
    server.stop()


def _feed_ready(page) -> str:
    page.wait_for_selector(".sl-root [data-testid=steer-input]", state="visible", timeout=180_000)
    return page.locator("text=Watching as").first.inner_text()


def _signed_out(page) -> bool:
    return page.locator("[data-testid=signin-page]").count() == 1 and page.locator(".sl-root").count() == 0


def test_participants_sign_in_as_themselves_and_nobody_else_gets_in(stack, output_dir):
    from playwright.sync_api import sync_playwright

    home, url = stack["home"], stack["voila"].url
    operator = Lab.connect(stack["server"].url, home=home)
    seats = [s["code"] for s in operator.workshop.open(seats=2)["seats"]]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = {}
        for handle, code in zip(("ada", "bob"), seats, strict=True):  # a QR code on the sheet opens /login?invite=
            context = browser.new_context(viewport={"width": 520, "height": 1100})
            page = context.new_page()
            page.goto(f"{url}login?invite={code}", wait_until="domcontentloaded")
            page.fill("#handle", handle)
            page.click("[data-testid=invite-submit]")
            assert f"@{handle}" in _feed_ready(page)
            clip = visible_clip(page)
            video_id = clip.get_attribute("data-video-id")
            clip.locator("[data-testid=like-button]").click()
            page.wait_for_function(f"document.querySelector('[data-video-id=\"{video_id}\"] "
                                   "[data-testid=like-button]').dataset.liked === 'true'", timeout=30_000)
            page.screenshot(path=str(output_dir / f"feed-{handle}.png"))
            pages[handle] = page
        class_view = {s["handle"]: s for s in operator.workshop.status()["seats"]}
        assert class_view["ada"]["likes_given"] == 1 and class_view["bob"]["likes_given"] == 1
        _only_its_viewer_reaches_a_kernel(url, pages)

        # ?as= chooses nobody: the page is the sign-in form, and no kernel runs for it
        stranger = browser.new_context().new_page()
        stranger.goto(f"{url}?as=maya", wait_until="domcontentloaded")
        assert _signed_out(stranger) and "@maya" not in stranger.content()
        stranger.screenshot(path=str(output_dir / "as-maya-signed-out.png"))

        # a login link works once; replayed in another browser it grants nothing
        code = login_code(home, "maya")
        first = browser.new_context().new_page()
        sign_in(first, url, code)
        assert "@maya" in _feed_ready(first)
        replay = browser.new_context().new_page()
        sign_in(replay, url, code)
        assert "already used" in replay.locator("[data-testid=signin-error]").inner_text()
        replay.screenshot(path=str(output_dir / "replayed-link.png"))
        replay.goto(url, wait_until="domcontentloaded")
        assert _signed_out(replay)

        # sign-out ends the session: the page is signed out again
        first.goto(f"{url}logout", wait_until="domcontentloaded")
        first.wait_for_selector("[data-testid=signed-out]")
        first.goto(url, wait_until="domcontentloaded")
        assert _signed_out(first)

        # the dashboard: a member signed in to the feed gets its login page, and a member's token does not open it
        growth = stack["panel"].url
        member = pages["ada"]
        member.goto(growth, wait_until="domcontentloaded")
        member.wait_for_selector("[data-testid=dashboard-login]")
        member.fill("#username", "maya")
        member.fill("#password", load_credentials(home)["maya"])
        member.click("[data-testid=login-submit]")
        member.wait_for_selector("[data-testid=login-error]")
        assert member.locator(".growth-status").count() == 0
        member.screenshot(path=str(output_dir / "member-dashboard-login.png"))

        # the operator sees the class live
        teacher = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
        outside = block_outside(teacher)
        operator_sign_in(teacher, growth.replace("/growth", "/workshop"), home)
        teacher.locator(".workshop-headline").filter(has_text="seats redeemed 2 / 2").wait_for(timeout=60_000)
        teacher.locator(".workshop-seats").filter(has_text="ada").wait_for(timeout=30_000)
        assert outside == [], f"the class view asked outside this machine for {outside}"
        teacher.screenshot(path=str(output_dir / "workshop-class-view.png"))
        browser.close()


def _only_its_viewer_reaches_a_kernel(url: str, pages: dict) -> None:
    """Ada's kernel holds her session: Bob, who learns its id, can neither reach it nor shut it down, and
    nobody can read the request Voilà handed it (its query socket takes the kernel's own connection only)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from tornado.websocket import websocket_connect

    def cookies(handle):
        return {c["name"]: c["value"] for c in pages[handle].context.cookies()}

    kernel_id = pages["ada"].evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)"
                                      ".kernelId")
    assert kernel_id
    ada = httpx.Client(base_url=url, timeout=30, cookies=cookies("ada"))
    bob = httpx.Client(base_url=url, timeout=30, cookies=cookies("bob"))
    with ada, bob:
        assert ada.get(f"api/kernels/{kernel_id}").status_code == 200
        assert bob.get(f"api/kernels/{kernel_id}").status_code == 403
        shutdown = bob.post(f"voila/api/shutdown/{kernel_id}", headers={"X-XSRFToken": bob.cookies.get("_xsrf", "")})
        assert shutdown.status_code == 403
        assert ada.get(f"api/kernels/{kernel_id}").status_code == 200  # still running
        own = ada.post(f"voila/api/shutdown/{kernel_id}", headers={"X-XSRFToken": ada.cookies.get("_xsrf", "")})
        assert own.status_code == 204  # the same request from its owner: so Bob's 403 was the owner check

    async def query() -> object:  # (the kernel is gone now; its id is still refused on the query socket)
        socket = await websocket_connect(url.replace("http", "ws") + f"voila/query/{kernel_id}")
        return await asyncio.wait_for(socket.read_message(), 10)

    with ThreadPoolExecutor(1) as thread:  # Playwright's loop runs in this thread
        assert thread.submit(asyncio.run, query()).result() is None  # closed at once: no request info, no token

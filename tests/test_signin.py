"""Signing in to pages (one-time login codes, session tokens, sign-out) and workshop mode (seats, class view,
close), embedded and over HTTP; the sign-in sheet's HTML and PDF."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from sora_lab.core.errors import AuthError, Conflict, Forbidden, InputError, NotFound
from sora_lab.core.home import load_credentials
from sora_lab.core.ids import token_hash, utcnow


def test_a_login_code_signs_in_once_and_a_session_ends_at_sign_out(lab, services):
    link = lab.signin.login_link(as_user="maya")
    assert link["handle"] == "maya" and link["code"].startswith("slc_")
    with services.store.read() as cur:  # stored hashed only
        assert cur.execute("SELECT count(*) FROM login_codes WHERE code_hash = ?", [link["code"]]).fetchone()[0] == 0
        assert cur.execute("SELECT count(*) FROM login_codes WHERE code_hash = ?",
                           [token_hash(link["code"])]).fetchone()[0] == 1
    session = lab.signin.sign_in(code=link["code"])
    assert session["handle"] == "maya" and session["token"].startswith("sls_")
    assert services.accounts.authenticate(session["token"]).handle == "maya"
    with pytest.raises(AuthError, match="already used"):  # a replay grants nothing
        lab.signin.sign_in(code=link["code"])
    assert lab.signin.sign_out(token=session["token"]) == {"ended": True}
    with pytest.raises(AuthError):
        services.accounts.authenticate(session["token"])
    assert lab.signin.sign_out(token=session["token"]) == {"ended": False}


def test_expired_codes_and_sessions_grant_nothing(lab, services):
    link = lab.signin.login_link(as_user="theo", minutes=1)
    session = lab.signin.sign_in(code=lab.signin.login_link(as_user="theo")["code"])
    past = utcnow() - timedelta(minutes=1)
    with services.store.write() as cur:
        cur.execute("UPDATE login_codes SET expires_at = ?", [past])
        cur.execute("UPDATE sessions SET expires_at = ?", [past])
    with pytest.raises(AuthError, match="expired"):
        lab.signin.sign_in(code=link["code"])
    with pytest.raises(AuthError):
        services.accounts.authenticate(session["token"])


def test_only_the_operator_mints_a_link_for_someone_else(lab):
    with pytest.raises(Forbidden, match="operator"):
        lab.signin.login_link(as_user="maya", handle="theo")
    assert lab.signin.login_link(as_user="lab", handle="theo")["handle"] == "theo"
    with pytest.raises(Forbidden, match="operator account"):  # no session is ever the operator's
        lab.signin.login_link(as_user="lab")
    with pytest.raises(Forbidden, match="operator account"):
        lab.signin.start_session(as_user="lab")
    for bad in (0, 10**6, True, "5"):
        with pytest.raises(InputError, match="minutes"):
            lab.signin.login_link(as_user="maya", minutes=bad)
    for bad in ("", "x" * 500, None, 5):
        with pytest.raises(InputError, match="code"):
            lab.signin.sign_in(code=bad)


def test_a_workshop_opens_seats_shows_the_class_and_closes(lab):
    opened = lab.workshop.open(seats=3)
    codes = [s["code"] for s in opened["seats"]]
    assert [s["seat"] for s in opened["seats"]] == [1, 2, 3] and len(set(codes)) == 3
    with pytest.raises(Conflict, match="already open"):
        lab.workshop.open(seats=2)
    lab.accounts.redeem(code=codes[0], handle="ada", region="US")
    view = lab.workshop.status()
    assert view["seats_total"] == 3 and view["seats_redeemed"] == 1
    assert view["seats"][0]["handle"] == "ada" and view["seats"][0]["code"] is None
    assert view["seats"][1]["code"] == codes[1]
    with pytest.raises(Conflict, match="login-link --for ada"):  # a taken seat keeps its account
        lab.workshop.reseat(seat=1)
    fresh = lab.workshop.reseat(seat=2)  # a lost card: the old code stops working at once
    assert fresh["seat"] == 2 and fresh["code"] != codes[1]
    with pytest.raises(NotFound):
        lab.accounts.redeem(code=codes[1], handle="eve", region="US")
    assert lab.workshop.status()["seats"][1]["code"] == fresh["code"]
    codes[1] = fresh["code"]
    for bad in (0, 999, True, "2"):
        with pytest.raises((InputError, NotFound)):
            lab.workshop.reseat(seat=bad)
    closed = lab.workshop.close()
    assert closed["revoked"] == 2 and closed["redeemed"] == 1
    with pytest.raises(NotFound):  # an unused code stops working at close
        lab.accounts.redeem(code=codes[1], handle="bob", region="US")
    with pytest.raises(NotFound, match="no workshop is open"):
        lab.workshop.close()
    assert lab.workshop.status()["closed_at"] is not None
    for bad in (0, 201, True):
        with pytest.raises(InputError, match="seats"):
            lab.workshop.open(seats=bad)


def test_sign_in_over_http_and_who_may_call_what(server, tmp_path):
    tokens = load_credentials(server.home)
    api = f"{server.url}/api/v1"

    def post(path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{api}{path}", json=body, headers=headers, timeout=30)

    code = post("/login-links", {}, tokens["maya"]).json()["code"]
    session = post("/sessions", {"code": code})
    assert session.status_code == 201
    token = session.json()["token"]
    assert httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {token}"}).json()["handle"] == "maya"
    assert post("/sessions", {"code": code}).status_code == 401  # replay
    assert post("/workshop", {"seats": 2}, token).status_code == 403  # a member's session is not the operator
    assert httpx.get(f"{api}/workshop", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert post("/login-links", {"handle": "theo"}, token).status_code == 403
    assert post("/sessions", {"code": "slc_" + "a" * 30}).status_code == 401
    assert post("/sessions", {"code": "not a code"}).status_code == 422
    assert post("/sessions/end", {"token": token}).json() == {"ended": True}
    assert httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    opened = post("/workshop", {"seats": 2}, tokens["lab"])
    assert opened.status_code == 201 and len(opened.json()["seats"]) == 2
    assert httpx.delete(f"{api}/workshop", headers={"Authorization": f"Bearer {tokens['lab']}"}).json()["revoked"] == 2


def test_the_sign_in_sheet_has_a_readable_qr_code_per_seat(tmp_path):
    import io

    import cv2
    import numpy as np
    import segno

    from sora_lab.admin.sheet import redeem_url, write_sheet

    seats = [{"seat": n, "code": f"ABCD-{n:04d}"} for n in range(1, 10)]
    paths = write_sheet(tmp_path / "w1", "http://192.168.1.20:8866/", seats)
    page = (tmp_path / "w1" / "sheet.html").read_text()
    assert page.count("<svg") == 9 and "http://192.168.1.20:8866/login?invite=ABCD-0009" in page
    pdf = (tmp_path / "w1" / "sheet.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 2  # 9 cards, 8 a page
    assert paths["pdf"].endswith("sheet.pdf")
    png = io.BytesIO()
    segno.make(redeem_url("http://192.168.1.20:8866/", "ABCD-0001"), error="m").save(png, kind="png", scale=6)
    image = cv2.imdecode(np.frombuffer(png.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == "http://192.168.1.20:8866/login?invite=ABCD-0001"


def test_workshop_cli_warns_beyond_loopback_and_refuses_what_is_not_an_address(seeded_home):
    from typer.testing import CliRunner

    from sora_lab.cli.main import app

    runner = CliRunner()
    opened = runner.invoke(app, ["workshop", "open", "--seats", "2", "--host", "10.1.2.3", "--home", str(seeded_home)])
    assert opened.exit_code == 0, opened.output
    assert "WARNING" in opened.output and "http://10.1.2.3:8866/login?invite=" in opened.output
    assert runner.invoke(app, ["workshop", "open", "--seats", "2", "--host", "lab.example",
                               "--home", str(seeded_home)]).exit_code != 0
    link = runner.invoke(app, ["login-link", "--as", "maya", "--home", str(seeded_home), "--json"])
    assert link.exit_code == 0 and "/login?code=slc_" in link.output
    closed = runner.invoke(app, ["workshop", "close", "--home", str(seeded_home), "--json"])
    assert closed.exit_code == 0 and '"revoked": 2' in closed.output


def test_join_on_an_embedded_lab_invites_you_and_is_idempotent(tmp_path):
    from sora_lab.lab import Lab

    with Lab.open(tmp_path / "own") as lab:
        assert lab.join("@Ada") == "ada"  # a lab of your own: the operator invites you
        assert lab.join("ada") == "ada"  # joined already: nothing new
        assert lab.accounts.whoami(as_user="ada")["has_access"] is True
        assert [u["handle"] for u in lab.accounts.list_users()].count("ada") == 1
        with pytest.raises(InputError, match="handle"):
            lab.join("no spaces allowed")


def test_join_through_a_room_server_needs_a_seat_or_a_login_code(server, seeded_home, tmp_path, monkeypatch):
    from sora_lab.lab import Lab

    monkeypatch.setenv("SORA_LAB_SERVER", server.url)  # a laptop whose own home has no server: the room's lab
    with Lab.auto(tmp_path / "laptop") as remote:
        assert not remote.embedded and remote.health()["mode"] == "server"
    monkeypatch.delenv("SORA_LAB_SERVER")
    operator = Lab.connect(server.url, home=seeded_home)
    seats = operator.workshop.open(seats=2)["seats"]
    learner = Lab(seeded_home, url=server.url)  # a learner's kernel that holds no token yet
    with pytest.raises(AuthError, match="seat card"):
        learner.join("ada")
    assert learner.join("ada", code=seats[0]["code"]) == "ada"
    assert learner.accounts.whoami(as_user="ada")["handle"] == "ada"
    assert learner.join("ada") == "ada"  # the token it holds still works: no second code needed
    link = learner.feed_link(as_user="ada")  # the same account in a browser
    assert link.startswith("http://127.0.0.1:") and "/login?code=slc_" in link
    assert operator.signin.sign_in(code=link.split("code=")[1])["handle"] == "ada"
    with pytest.raises(NotFound):  # a code that does not exist
        learner.join("bob", code="ABCD-2345")
    with pytest.raises(Conflict):  # a spent seat cannot make a second account... it already made ada
        learner.join("ada2", code=seats[0]["code"])
    link = operator.signin.login_link(as_user="lab", handle="maya")["code"]
    with pytest.raises(AuthError, match="signs in @maya"):  # a login code names its own account
        learner.join("theo", code=link)
    link = operator.signin.login_link(as_user="lab", handle="maya")["code"]
    assert learner.join("maya", code=link) == "maya"
    assert learner.videos.limits(as_user="maya")
    learner.close()
    operator.close()

"""The real server on a loopback port: auth, bad input, media ranges, concurrency, crash safety."""

import json
import signal
import threading
from contextlib import closing

import httpx
import pytest
from helpers.feed_rows import add_many, add_video
from helpers.processes import ServerProcess

from sora_lab.core.errors import NotFound
from sora_lab.core.home import load_credentials
from sora_lab.lab import Lab
from sora_lab.services import Services
from sora_lab.store.db import DB_FILENAME, Store


def call(url, method, path, body=None, token=None, **kw):
    """One request to the v1 API (path relative to /api/v1)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{url}/api/v1{path}", json=body, headers=headers, timeout=30, **kw)


def counts(home):
    store = Store.open(home / DB_FILENAME)
    with store.read() as cur:
        result = {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("users", "events", "likes")}
    store.close()
    return result


def test_health_binds_loopback_and_names_no_path(server):
    body = httpx.get(f"{server.url}/health").json()
    assert body["ok"] and body["instance"] and set(body) == {"ok", "version", "schema_version", "instance"}
    assert str(server.home) not in json.dumps(body)
    assert server.url.startswith("http://127.0.0.1:")


def test_lab_connect_uses_the_same_methods(server):
    lab = Lab.connect(server.url, home=server.home)
    me = lab.accounts.whoami(as_user="maya")
    assert me["handle"] == "maya" and me["has_access"]
    code = lab.accounts.invite(as_user="maya")["code"]
    new = lab.accounts.redeem(code=code, handle="remote", region="US")
    assert load_credentials(server.home)["remote"] == new["token"]
    assert lab.accounts.whoami(as_user="remote")["handle"] == "remote"
    lab.close()


def test_lab_auto_prefers_the_running_server(server):
    lab = Lab.auto(server.home)
    assert not lab.embedded and lab.url == server.url
    lab.close()


def test_bad_requests_get_clear_4xx_and_store_nothing(server):
    tokens = load_credentials(server.home)
    url = server.url
    code = call(url, "POST", "/invites", token=tokens["maya"]).json()["code"]
    assert call(url, "POST", "/invites/redeem", {"code": code, "handle": "used", "region": "US"}).status_code == 200

    def stats():  # the server owns the file, so row counts come through it
        return call(url, "GET", "/admin/stats", token=tokens["lab"]).json()["rows"]

    before = stats()
    maya = tokens["maya"]
    cases = [
        (call(url, "POST", "/invites/redeem", {"code": "QQQQ-QQQQ", "handle": "x1", "region": "US"}), 404,
         "does not exist", None),
        (call(url, "POST", "/invites/redeem", {"code": code, "handle": "x2", "region": "US"}), 409, "already used",
         None),
        (call(url, "POST", "/invites"), 401, "signed-in user", None),
        (call(url, "POST", "/invites", token="slt_forged"), 401, "unknown bearer token", None),
        (call(url, "GET", "/admin/stats", token=maya), 403, "lab operator", None),
        (call(url, "POST", "/engagement", {"events": [{"type": "teleport"}]}, token=maya), 422, "events[0].type",
         "events[0].type"),
        (call(url, "POST", "/engagement", {"events": [{"type": "view", "video_id": "v1", "watch_ms": True}]},
              token=maya), 422, "valid integer", "events[0].watch_ms"),
        (httpx.post(f"{url}/api/rpc/accounts.invite", headers={"Authorization": f"Bearer {maya}"}), 404,
         "Not Found", None),  # the old untyped route is gone
        (call(url, "POST", "/policy/check", {"prompt": "a cat", "bogus": 1}, token=maya), 422, "unknown field",
         "bogus"),
        (call(url, "POST", "/policy/check", {"prompt": "a cat", "actor_id": "u_other"}, token=maya), 422,
         "unknown field", "actor_id"),
        (call(url, "GET", "/feed?limit=51", token=maya), 422, "less than or equal to 50", "limit"),
        (call(url, "GET", "/feed?limit=true", token=maya), 422, "valid integer", "limit"),
        (call(url, "GET", "/videos/abc/counts", token=maya), 404, "abc", None),
        (call(url, "POST", "/cameos", {"image": "not base64!"}, token=maya), 422, "not valid base64", "image"),
        (call(url, "POST", "/cameos", {"image": 5}, token=maya), 422, "valid string", "image"),
        (call(url, "POST", "/policy/check", {"prompt": "a cat\u202e"}, token=maya), 422, "control character",
         "prompt"),
        (call(url, "POST", "/videos", {"prompt": "a cat", "options": "abc"}, token=maya), 422, "options", "options"),
        (call(url, "POST", "/blocks", {"user_id": 5}, token=maya), 422, "valid string", "user_id"),
        (call(url, "GET", "/cameos/maya/audit?limit=-1", token=maya), 422, "greater than or equal to 1", "limit"),
    ]
    malformed = httpx.post(f"{url}/api/v1/invites/redeem", content=b"{not json", timeout=30,
                           headers={"Content-Type": "application/json"})
    cases.append((malformed, 422, "not valid JSON", None))
    not_utf8 = httpx.post(f"{url}/api/v1/invites/redeem", content=b'{"code": "\xff\xfe"}', timeout=30,
                          headers={"Content-Type": "application/json"})
    cases.append((not_utf8, 400, "not valid JSON", None))
    deep = httpx.post(f"{url}/api/v1/invites/redeem", content=b"[" * 5000 + b"]" * 5000, timeout=30,
                      headers={"Content-Type": "application/json"})  # no token: refused, not a RecursionError
    cases.append((deep, 400, "not valid JSON", None))
    huge = httpx.post(f"{url}/api/v1/engagement", content=b"[" + b"1," * (9 * 1024 * 1024) + b"1]", timeout=60,
                      headers={"Authorization": f"Bearer {maya}", "Content-Type": "application/json"})
    cases.append((huge, 413, "larger than", None))
    waitlisted = call(url, "POST", "/accounts", {"handle": "waiter", "region": "US"}).json()["token"]
    cases.append((call(url, "POST", "/invites", token=waitlisted), 403, "no access yet", None))

    for response, status, words, field in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert words in error["message"], error
        assert error.get("field") == field, error
    after = stats()
    assert after["users"] == before["users"] + 1  # only the waitlisted sign-up
    assert after["invites"] == before["invites"]
    assert after["likes"] == before["likes"]


def test_the_connection_survives_refusals(server):
    """After 4xx answers (even to a body the server would not parse) the same keep-alive connection serves on."""
    token = load_credentials(server.home)["maya"]
    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as http:
        answers = [http.post("/engagement", json={"events": [{"type": "view", "video_id": ["x"]}]}).status_code,
                   http.post("/engagement", content=b"[" * 5000, headers={"Content-Type": "application/json"}
                             ).status_code,
                   http.get("/me").status_code]
    assert answers == [422, 400, 200]


def test_media_is_served_with_ranges_through_the_visibility_rule(seeded_home):
    """A published clip answers anyone, with ranges; a draft only its author's token; nothing is
    cached by shared caches; no path escapes the media folder."""
    with closing(Services.open(seeded_home)) as services:
        published = add_video(services, "maya", "a published clip")
        draft = add_video(services, "maya", "a draft clip", status="draft")
    media = seeded_home / "media"
    payload = bytes(range(256)) * 40
    for video_id in (published, draft):
        (media / "videos").mkdir(parents=True, exist_ok=True)
        (media / "videos" / f"{video_id}.mp4").write_bytes(payload)
    (seeded_home / "secret.txt").write_text("do not serve")
    tokens = load_credentials(seeded_home)
    proc = ServerProcess(seeded_home).start()
    try:
        whole = httpx.get(f"{proc.url}/media/videos/{published}.mp4")
        assert whole.status_code == 200 and whole.content == payload
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["cache-control"] == "private, no-cache"
        part = httpx.get(f"{proc.url}/media/videos/{published}.mp4", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.content == payload[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(payload)}"
        as_ = {who: {"Authorization": f"Bearer {tokens[who]}"} for who in ("maya", "theo")}
        answers = {who: httpx.get(f"{proc.url}/media/videos/{draft}.mp4", headers=as_.get(who, {})).status_code
                   for who in ("maya", "theo", None)}
        assert answers == {"maya": 200, "theo": 404, None: 404}
        with Lab.connect(proc.url, home=seeded_home) as lab:  # the Python client downloads as the person it acts for
            assert lab.media_bytes(f"videos/{draft}.mp4", as_user="maya") == payload
            assert lab.media_bytes(f"videos/{published}.mp4") == payload
            with pytest.raises(NotFound):
                lab.media_bytes(f"videos/{draft}.mp4", as_user="theo")
            with pytest.raises(NotFound):
                lab.media_bytes("videos/../../secret.txt", as_user="maya")
        bad_token = httpx.get(f"{proc.url}/media/videos/{published}.mp4", headers={"Authorization": "Bearer nope"})
        assert bad_token.status_code == 401
        for bad in ["videos/..%2F..%2Fsecret.txt", "videos/../../secret.txt", "../secret.txt",
                    "videos/%2e%2e%2fsecret.txt", f"videos/{published}.MP4", "keys/c2pa-signer.key.pem"]:
            response = httpx.get(f"{proc.url}/media/{bad}")
            assert response.status_code == 404, bad
            assert b"do not serve" not in response.content
    finally:
        proc.stop()
    with Lab.open(seeded_home) as lab:  # embedded: the process owns the home and reads the file itself
        assert lab.media_bytes(f"videos/{draft}.mp4", as_user="maya") == payload


def _videos_by_maya(home, n) -> list[str]:
    """n published rows by @maya, written before the server takes the file."""
    with closing(Services.open(home)) as services:
        return add_many(services, n, authors=("maya",))


def _redeem_users(url, admin_token, n):
    tokens = []
    for i in range(n):
        code = call(url, "POST", "/invites", token=admin_token).json()["code"]
        body = call(url, "POST", "/invites/redeem", {"code": code, "handle": f"load{i}", "region": "US"}).json()
        tokens.append(body["token"])
    return tokens


def test_concurrent_writes_lose_nothing(seeded_home):
    videos = _videos_by_maya(seeded_home, 100)
    proc = ServerProcess(seeded_home).start()
    try:
        tokens = _redeem_users(proc.url, load_credentials(seeded_home)["lab"], 8)
        failures = []

        def client(token):
            with httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
                for i, video_id in enumerate(videos):
                    for event in ({"type": "like", "video_id": video_id},
                                  {"type": "view", "video_id": video_id, "watch_ms": 1000 + i}):
                        response = http.post("/api/v1/engagement", json={"events": [event]})
                        if response.status_code != 200:
                            failures.append(response.text)

        threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        lab = Lab.connect(proc.url, home=seeded_home)
        per_video = [lab.engagement.counts(as_user="maya", video_id=v) for v in videos]
        assert all(c["likes"] == 8 and c["views"] == 8 for c in per_video)
        lab.close()
    finally:
        proc.stop()
    totals = counts(seeded_home)
    assert totals["likes"] == 800


def test_sigkill_mid_write_keeps_every_acknowledged_write(seeded_home):
    videos = _videos_by_maya(seeded_home, 50)
    proc = ServerProcess(seeded_home).start()
    token = load_credentials(seeded_home)["theo"]
    acknowledged = []
    stop = threading.Event()

    def writer():
        with httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            i = 0
            while not stop.is_set():
                cid = f"k{i}"
                event = {"type": "view", "video_id": videos[i % 50], "watch_ms": i, "client_event_id": cid}
                try:
                    response = http.post("/api/v1/engagement", json={"events": [event]})
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    acknowledged.append(i)
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    while len(acknowledged) < 150:
        threading.Event().wait(0.02)
    proc.stop(signal.SIGKILL)
    stop.set()
    thread.join()
    assert proc.proc.returncode == -signal.SIGKILL
    store = Store.open(seeded_home / DB_FILENAME)  # reopens after the crash: WAL replay
    with store.read() as cur:
        stored = {r[0] for r in cur.execute(
            "SELECT watch_ms FROM events e JOIN users u ON e.user_id = u.user_id "
            "WHERE u.handle = 'theo' AND type = 'view'").fetchall()}
    store.close()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged writes lost"


def test_idempotent_retries_over_http(server):
    tokens = load_credentials(server.home)
    lab = Lab.connect(server.url, home=server.home)
    batch = [{"type": "session_start", "client_event_id": "s-1"}, {"type": "session_start", "client_event_id": "s-2"}]
    first = lab.engagement.record(as_user="priya", events=batch)
    again = lab.engagement.record(as_user="priya", events=batch)
    assert first == {"stored": 2, "duplicates": 0}
    assert again == {"stored": 0, "duplicates": 2}
    # the same client id from another user is that user's own event
    other = call(server.url, "POST", "/engagement", {"events": batch[:1]}, token=tokens["lena"]).json()
    assert other == {"stored": 1, "duplicates": 0}
    lab.close()


def test_server_refuses_to_start_twice_for_one_home(server):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "sora_lab.cli", "serve", "--home", str(server.home), "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "error:" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("payload", [json.dumps([1, 2]), "null", '"text"'])
def test_body_must_be_an_object(server, payload):
    token = load_credentials(server.home)["maya"]
    response = httpx.post(f"{server.url}/api/v1/policy/check", content=payload,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("request body is")


def test_members_cannot_point_the_server_at_arbitrary_folders(server):
    tokens = load_credentials(server.home)
    (server.home / "models" / "mine").mkdir(parents=True)
    for folder in ["/etc", "../../", "models/../../keys", "mine/../../keys"]:
        response = call(server.url, "POST", "/jobs", {"prompt": "a red circle moves right", "backend": "pretrained",
                                                      "model": folder}, token=tokens["maya"])
        assert response.status_code == 403, response.text
        assert "outside the lab's model folder" in response.json()["error"]["message"]
        assert str(server.home) not in response.text
    missing = call(server.url, "POST", "/jobs", {"prompt": "a red circle", "model": "0" * 400}, token=tokens["maya"])
    assert missing.status_code == 404 and "no model folder" in missing.json()["error"]["message"]


def test_video_records_name_media_by_url_only(seeded_home):
    """A clip's record and C2PA check refer to its files by URL, never by a server path (even when the
    file is missing); the Python client adds the local path under its own lab home, as embedded."""
    video_id = _videos_by_maya(seeded_home, 1)[0]
    proc = ServerProcess(seeded_home).start()
    try:
        raw = httpx.get(f"{proc.url}/api/v1/videos/{video_id}").json()
        assert raw["media_url"] == f"/media/{raw['media_path']}" and "path" not in raw
        checked = httpx.get(f"{proc.url}/api/v1/videos/{video_id}/verification")  # no file behind this row
        assert 400 <= checked.status_code < 500 and str(seeded_home) not in checked.text
        assert str(seeded_home) not in json.dumps(raw)
        with Lab.connect(proc.url, home=seeded_home) as lab:
            assert lab.videos.get(video_id=video_id)["path"] == str(seeded_home / "media" / raw["media_path"])
    finally:
        proc.stop()


def test_demo_prints_the_docs_url_only_when_it_renders(server):
    from helpers.processes import free_port

    from sora_lab.apps.demo_runner import docs_render

    assert docs_render(server.url) is None  # its scripts come from the server: it renders offline
    assert "did not answer" in docs_render(f"http://127.0.0.1:{free_port()}")

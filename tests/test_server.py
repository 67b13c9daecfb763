"""The real server on a loopback port: auth, bad input, media ranges, concurrency, crash safety."""

import json
import signal
import threading
from contextlib import closing

import httpx
import pytest
from helpers.feed_rows import add_many
from helpers.processes import ServerProcess

from sora_lab.core.home import load_credentials
from sora_lab.lab import Lab
from sora_lab.services import Services
from sora_lab.store.db import DB_FILENAME, Store


def rpc(url, name, body=None, token=None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/api/rpc/{name}", json=body if body is not None else {}, headers=headers, timeout=30, **kw)


def counts(home):
    store = Store.open(home / DB_FILENAME)
    with store.read() as cur:
        result = {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("users", "events", "likes")}
    store.close()
    return result


def test_health_binds_loopback_and_reports_home(server):
    body = httpx.get(f"{server.url}/health").json()
    assert body["ok"] and body["home"] == str(server.home)
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
    code = rpc(url, "accounts.invite", token=tokens["maya"]).json()["result"]["code"]
    assert rpc(url, "accounts.redeem", {"code": code, "handle": "used", "region": "US"}).status_code == 200

    def stats():  # the server owns the file, so row counts come through it
        return rpc(url, "admin.stats", token=tokens["lab"]).json()["result"]["rows"]

    before = stats()

    cases = [
        (rpc(url, "accounts.redeem", {"code": "QQQQ-QQQQ", "handle": "x1", "region": "US"}), 404, "does not exist"),
        (rpc(url, "accounts.redeem", {"code": code, "handle": "x2", "region": "US"}), 409, "already used"),
        (rpc(url, "accounts.invite"), 401, "signed-in user"),
        (rpc(url, "accounts.invite", token="slt_forged"), 401, "unknown bearer token"),
        (rpc(url, "admin.stats", token=tokens["maya"]), 403, "lab operator"),
        (rpc(url, "accounts.invite", {"actor_id": "u_other"}, token=tokens["maya"]), 400, "actor_id"),
        (rpc(url, "engagement.record", {"events": [{"type": "teleport"}]}, token=tokens["maya"]), 400, "type"),
        (rpc(url, "no.such_thing", token=tokens["maya"]), 404, "no operation"),
        (rpc(url, "accounts.invite", {"bogus": 1}, token=tokens["maya"]), 400, "unknown argument 'bogus'"),
    ]
    malformed = httpx.post(
        f"{url}/api/rpc/accounts.invite", content=b"{not json", timeout=30,
        headers={"Authorization": f"Bearer {tokens['maya']}", "Content-Type": "application/json"},
    )
    cases.append((malformed, 400, "not valid JSON"))
    huge = httpx.post(
        f"{url}/api/rpc/accounts.invite", content=b"[" + b"1," * (9 * 1024 * 1024) + b"1]", timeout=60,
        headers={"Authorization": f"Bearer {tokens['maya']}"},
    )
    cases.append((huge, 413, "larger than"))
    waitlisted = rpc(url, "accounts.signup", {"handle": "waiter", "region": "US"}).json()["result"]["token"]
    cases.append((rpc(url, "accounts.invite", token=waitlisted), 403, "no access yet"))

    for response, status, words in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert words in error["message"], error
    after = stats()
    assert after["users"] == before["users"] + 1  # only the waitlisted sign-up
    assert after["invites"] == before["invites"]
    assert after["likes"] == before["likes"]


def test_media_is_served_with_ranges_and_no_traversal(seeded_home):
    video_id = "ab" * 16
    media = seeded_home / "media" / "videos"
    media.mkdir(parents=True)
    payload = bytes(range(256)) * 40
    (media / f"{video_id}.mp4").write_bytes(payload)
    (seeded_home / "secret.txt").write_text("do not serve")
    proc = ServerProcess(seeded_home).start()
    try:
        whole = httpx.get(f"{proc.url}/media/videos/{video_id}.mp4")
        assert whole.status_code == 200 and whole.content == payload
        assert whole.headers["content-type"] == "video/mp4"
        part = httpx.get(f"{proc.url}/media/videos/{video_id}.mp4", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.content == payload[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(payload)}"
        for bad in ["videos/..%2F..%2Fsecret.txt", "videos/../../secret.txt", "../secret.txt",
                    "videos/%2e%2e%2fsecret.txt", f"videos/{video_id}.MP4", "keys/c2pa-signer.key.pem"]:
            response = httpx.get(f"{proc.url}/media/{bad}")
            assert response.status_code == 404, bad
            assert b"do not serve" not in response.content
    finally:
        proc.stop()


def _videos_by_maya(home, n) -> list[str]:
    """n published rows by @maya, written before the server takes the file."""
    with closing(Services.open(home)) as services:
        return add_many(services, n, authors=("maya",))


def _redeem_users(url, admin_token, n):
    tokens = []
    for i in range(n):
        code = rpc(url, "accounts.invite", token=admin_token).json()["result"]["code"]
        body = rpc(url, "accounts.redeem", {"code": code, "handle": f"load{i}", "region": "US"}).json()
        tokens.append(body["result"]["token"])
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
                        response = http.post("/api/rpc/engagement.record", json={"events": [event]})
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
                    response = http.post("/api/rpc/engagement.record", json={"events": [event]})
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
    other = rpc(server.url, "engagement.record", {"events": batch[:1]}, token=tokens["lena"]).json()["result"]
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
    response = httpx.post(f"{server.url}/api/rpc/accounts.whoami", content=payload,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]["message"]


def test_members_cannot_point_the_server_at_arbitrary_folders(server):
    tokens = load_credentials(server.home)
    for folder in ["/etc", "../../", "models/../../keys"]:
        response = rpc(server.url, "videos.submit", {"prompt": "a red circle moves right", "backend": "pretrained",
                                                      "model": folder}, token=tokens["maya"])
        assert response.status_code == 403, response.text
        assert "outside the lab's model folder" in response.json()["error"]["message"]

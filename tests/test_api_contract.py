"""The v1 API's contract: its OpenAPI document (operations, schemas, bearer scheme, access levels,
examples) and every access rule of `ACCESS` checked over HTTP against a live server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from helpers.processes import ServerProcess

from sora_lab.api.access import ACCESS
from sora_lab.api.server import create_app
from sora_lab.core.home import load_credentials
from sora_lab.lab import Lab


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> dict:
    with TestClient(create_app(tmp_path_factory.mktemp("spec") / "lab")) as client:
        return client.get("/openapi.json").json()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server for the module, with a waitlisted account beside the operator and the demo members."""
    home = tmp_path_factory.mktemp("live") / "lab"
    with Lab.open(home) as lab:
        lab.admin.seed_demo()
        lab.accounts.signup(handle="waiting", region="US")
    proc = ServerProcess(home).start()
    yield proc
    proc.stop()


def v1_operations(spec: dict) -> dict[str, tuple[str, str, dict]]:
    return {op["operationId"]: (method, path, op) for path, item in spec["paths"].items()
            if path.startswith("/api/v1/") for method, op in item.items()}


def schema_of(spec: dict, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def test_every_operation_is_a_typed_documented_route(spec):
    operations = v1_operations(spec)
    assert len(operations) >= 25
    assert set(ACCESS) <= set(operations), f"operations without a v1 route: {sorted(set(ACCESS) - set(operations))}"
    assert set(operations) <= set(ACCESS), "every route is an operation of ACCESS"
    for name, (_method, _path, op) in operations.items():
        level = ACCESS[name]
        assert op.get("summary"), name
        assert op["x-access"] == level and op["description"].startswith(f"**Access: {level}**"), name
        assert ("security" in op) == (level != "public"), name  # the bearer scheme wherever a token counts
        ok = next(c for c in op["responses"] if c.startswith("2"))
        assert op["responses"][ok]["content"]["application/json"]["schema"], name
        for code in ("401", "404", "422", "500"):
            assert op["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
        examples = []
        if "requestBody" in op:
            body = schema_of(spec, op["requestBody"]["content"]["application/json"]["schema"])
            assert body.get("additionalProperties") is False or body["properties"], name
            examples += body.get("examples", [])
        response = op["responses"][ok]["content"]["application/json"]["schema"]
        examples += schema_of(spec, response.get("items", response)).get("examples", [])
        examples += [p for p in op.get("parameters", []) if p.get("example") or p["schema"].get("examples")]
        assert examples, f"{name} has no example"
    bearer = spec["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_each_access_rule_holds_over_http(live, spec, name):
    """No token: 401 unless public/optional. A waitlisted token: 403 for member and admin operations.
    A member's token: 403 for the operator's. The level's own caller is never refused for who they are."""
    method, path, op = v1_operations(spec)[name]
    tokens = load_credentials(live.home)
    url = live.url + path.replace("{", "").replace("}", "")  # path parameters: their own names as values
    body = {"not_a_field": 1} if "requestBody" in op else None  # past the auth check, nothing may run

    def status(token: str | None) -> int:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method.upper(), url, json=body, headers=headers, timeout=60).status_code

    level = ACCESS[name]
    anonymous = status(None)
    assert (anonymous == 401) == (level in ("user", "member", "admin")), (name, anonymous)
    waiting = status(tokens["waiting"])
    assert (waiting == 403) == (level in ("member", "admin")), (name, waiting)
    if level == "admin":
        assert status(tokens["maya"]) == 403
        assert status(tokens["lab"]) not in (401, 403)
    else:
        assert status(tokens["maya"]) not in (401, 403)


def test_the_settings_models_follow_the_lab_settings():
    """A setting added to LabSettings must be readable and changeable over HTTP too."""
    from dataclasses import fields

    from sora_lab.api.routes.admin import Settings, SettingsChanges
    from sora_lab.core.settings import LabSettings

    names = {f.name for f in fields(LabSettings)}
    assert set(Settings.model_fields) == names == set(SettingsChanges.model_fields)


def test_a_member_reads_only_their_own_activity_over_http(live):
    """/metrics/mine answers with the caller's events only, whatever names another person in the query;
    wrong types are a 422 naming the field, never a 5xx."""
    import httpx

    tokens = load_credentials(live.home)
    url = f"{live.url}/api/v1/metrics/mine"

    def mine(who: str, **params) -> httpx.Response:
        return httpx.get(url, params=params, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60)

    before = {h: mine(h).json()["totals"] for h in ("maya", "theo")}
    theo_id = httpx.get(f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {tokens['theo']}"},
                        timeout=60).json()["user_id"]
    recorded = httpx.post(f"{live.url}/api/v1/engagement", json={"events": [{"type": "session_start"}] * 3},
                          headers={"Authorization": f"Bearer {tokens['theo']}"}, timeout=60)
    assert recorded.status_code < 300, recorded.text
    theo_after, maya_after = mine("theo").json(), mine("maya", user_id=theo_id, handle="theo", as_user="theo").json()
    assert theo_after["totals"].get("session_start", 0) == before["theo"].get("session_start", 0) + 3
    assert maya_after["totals"] == before["maya"], "another member's events reached maya's activity"
    assert {r["type"] for r in maya_after["rows"]} == set(before["maya"])
    for params, field in (({"by": "week"}, "by"), ({"days": "0"}, "days"), ({"days": "abc"}, "days"),
                          ({"days": "91"}, "days"), ({"days": "1e9"}, "days")):
        answer = mine("maya", **params)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field, (params, answer.text)

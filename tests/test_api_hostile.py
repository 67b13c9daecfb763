"""Hostile input over every v1 route of a live server, with the operator's token, a member's and none:
wrong JSON types, nulls, huge and negative numbers, booleans for integers, deep nesting, bodies over the
limit (declared and streamed), non-UTF-8 bytes, invalid base64, junk in paths and queries.

Not one answer may be a 5xx, none may contain the lab home's absolute path, and every refusal has the
one error shape. The variants are built from the server's own OpenAPI document, so a new route is
covered the day it is added; each is invalid by construction, so nothing costly ever runs.
"""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from helpers.processes import ServerProcess

from sora_lab.api.types import MAX_BODY_BYTES
from sora_lab.core.home import load_credentials
from sora_lab.lab import Lab

WRONG = [5, 1.5, True, "7", ["x"], {"x": 1}]  # one value of each JSON type: those a field does not take are sent
EDGE = {  # values of a type the field takes that are still out of bounds
    "string": ["\ud800", "a\x00b", "\u202eevil", "x" * 20_000],
    "integer": [2**70, -(2**70)],
    "number": [1e309, -1e309],
    "array": [[[["x"]]], list(range(10_000))],
}


def _kind(value) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}[
        type(value)]


PATH_JUNK = ["%00", "..%2F..%2Fkeys", "x" * 600, "%ff%fe", "@@@", "%E2%80%AE"]
QUERY_JUNK = ["", "-99999999999999999999999", "true", "\x00", "9" * 40, "%ff"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = tmp_path_factory.mktemp("hostile") / "lab"
    with Lab.open(home) as lab:
        lab.admin.seed_demo()
    proc = ServerProcess(home).start()
    yield proc
    proc.stop()


def _types(schema: dict, spec: dict) -> set[str]:
    """The JSON types a (possibly $ref / anyOf) schema accepts."""
    if "$ref" in schema:
        return _types(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec)
    if "anyOf" in schema:
        return set().union(*(_types(s, spec) for s in schema["anyOf"]))
    if "enum" in schema or "const" in schema:
        return {"enum"}
    return {schema.get("type", "any")}


def _body_schema(op: dict, spec: dict) -> dict:
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def _variants(method: str, path: str, op: dict, spec: dict):
    """(description, path, query, raw body or None) for one operation: each invalid on purpose."""
    params = [p for p in op.get("parameters", []) if p["in"] == "path"]
    good_path = path
    for p in params:
        good_path = good_path.replace("{" + p["name"] + "}", "x1")
    for junk in PATH_JUNK if params else []:
        yield f"path {junk[:10]}", good_path.replace("/x1", "/" + junk, 1), {}, None
    for p in [p for p in op.get("parameters", []) if p["in"] == "query"]:
        for junk in QUERY_JUNK:
            yield f"query {p['name']}={junk[:10]!r}", good_path, {p["name"]: junk}, None
    if "requestBody" not in op:
        return
    schema = _body_schema(op, spec)
    properties = schema.get("properties", {})
    for name, field in properties.items():
        accepted = _types(field, spec)
        if "any" in accepted:
            continue
        taken = accepted | ({"integer"} if "number" in accepted else set())
        for value in WRONG:  # an enum takes none of them ("7" is no choice of any)
            if _kind(value) not in taken:
                yield f"{name}={_kind(value)}", good_path, {}, json.dumps({name: value}).encode()
        for kind in accepted & EDGE.keys():
            for value in EDGE[kind]:
                yield f"{name} edge", good_path, {}, json.dumps({name: value}).encode()
    if properties:  # every field null at once: a required one is then missing its value
        yield "all null", good_path, {}, json.dumps(dict.fromkeys(properties)).encode()
    for raw in (b"[]", b'"text"', b"null", b"{", b"[" * 5000 + b"]" * 5000, b'{"a": "\xff\xfe"}',
                b"{" + b'"a":{' * 3000 + b"}" * 3001, json.dumps({"x": {"y": [1] * 100_000}}).encode()):
        yield f"raw {raw[:8]!r}", good_path, {}, raw


def _check(response: httpx.Response, home: str, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    assert home not in response.text, f"{what}: the answer names the lab home: {response.text[:300]}"
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str), what


def test_no_hostile_input_gets_a_5xx_or_a_server_path(live):
    spec = httpx.get(f"{live.url}/openapi.json").json()
    tokens = load_credentials(live.home)
    home = str(live.home)
    statuses: Counter = Counter()
    for token in (None, tokens["maya"], tokens["lab"]):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=live.url, headers=headers, timeout=60) as http:
            for path, item in spec["paths"].items():
                for method, op in item.items():
                    for what, url, query, raw in _variants(method, path, op, spec):
                        extra = {"content": raw, "headers": {"Content-Type": "application/json"}} if raw else {}
                        response = http.request(method.upper(), url, params=query, **extra)
                        _check(response, home, f"{method.upper()} {url[:80]} {what} token={bool(token)}")
                        statuses[response.status_code] += 1
    print(f"hostile requests: {sum(statuses.values())}, by status: {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) > 2000, statuses
    assert statuses[422] > 1000, statuses  # most are schema refusals that name the field


def test_oversize_and_odd_bodies_are_refused_before_they_cost_anything(live):
    token = load_credentials(live.home)["maya"]
    big = b'{"prompt": "' + b"a" * (MAX_BODY_BYTES + 1) + b'"}'
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        declared = httpx.post(f"{live.url}/api/v1/policy/check", content=big, timeout=60,
                              headers=headers | {"Content-Type": "application/json"})
        assert declared.status_code == 413 and declared.json()["error"]["code"] == "body_too_large"

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        for _ in range(17):
            yield b" " * (1024 * 1024)

    streamed = httpx.post(f"{live.url}/api/v1/policy/check", content=chunks(), timeout=60,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert streamed.status_code == 413 and "larger than 16 MiB" in streamed.json()["error"]["message"]
    bad_base64 = httpx.post(f"{live.url}/api/v1/cameos", json={"image": "@@@@"}, timeout=60,
                            headers={"Authorization": f"Bearer {token}"})
    assert bad_base64.status_code == 422 and bad_base64.json()["error"]["field"] == "image"
    not_an_image = httpx.post(f"{live.url}/api/v1/cameos", json={"image": "aGVsbG8="}, timeout=60,
                              headers={"Authorization": f"Bearer {token}"})
    assert 400 <= not_an_image.status_code < 500 and "image" in not_an_image.json()["error"]["message"]

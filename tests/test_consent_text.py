"""Clean text at the boundary (sora_lab.core.text) on every field that takes text from outside, the
policy still seeing through the same tricks, and `sora-lab settings get|set` for the operator."""

from __future__ import annotations

import json

import pytest
from helpers.consent_world import drawing_png
from typer.testing import CliRunner

from sora_lab.core.errors import InputError
from sora_lab.core.text import clean_text


@pytest.mark.parametrize(
    "value,problem",
    [
        ("a\x00b", "NUL"),
        ("bell\x07", "control character"),
        ("next\x85line", "control character"),  # C1
        ("del\x7f", "control character"),
        ("evil\u202etxt.exe", "bidirectional"),
        ("iso\u2066late\u2069", "bidirectional"),
        ("na\u200bked", "zero-width character inside a word"),
        ("nu\u2060de", "zero-width character inside a word"),
        ("sw\u200dift", "zero-width character inside a word"),  # a joiner is no Latin spelling
        ("tag\U000e0041s", "invisible format character"),
        ("two\nlines", "line break"),
        ("broken\ud800", "lone surrogate"),
    ],
)
def test_refused_characters_name_the_field_the_position_and_the_fix(value, problem):
    with pytest.raises(InputError, match=problem) as refused:
        clean_text(value, "display_name", max_chars=80)
    assert str(refused.value).startswith("display_name contains") and "U+" in str(refused.value)


def test_what_passes_is_nfc_and_real_writing_is_kept():
    assert clean_text("Zoe\u0301", "f", max_chars=10) == "Zo\u00e9"  # one stored form of one visible text
    assert clean_text("line one\r\nline two", "f", max_chars=40, multiline=True) == "line one\nline two"
    for kept in ("\U0001f469\u200d\U0001f4bb coder", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
                 "\u200bleading space", "\u05e9\u05dc\u05d5\u05dd \u200f(hi)"):
        assert clean_text(kept, "f", max_chars=40) == kept  # emoji ZWJ, Persian ZWNJ, edges, RTL mark
    with pytest.raises(InputError, match="f must be text"):
        clean_text({"a": [1, 2]}, "f", max_chars=10)
    with pytest.raises(InputError, match="at most 10"):
        clean_text("x" * 11, "f", max_chars=10)
    with pytest.raises(InputError, match="empty"):
        clean_text("  ", "f", max_chars=10)


def test_every_text_field_is_checked_at_the_service(lab):
    """The issue's stored-verbatim cases, now refused with the field named (embedded and over HTTP alike)."""
    with pytest.raises(InputError, match="display_name must be text"):
        lab.accounts.signup(handle="zed", region="US", display_name={"a": [1, 2]})
    with pytest.raises(InputError, match="display_name is 100000 characters|display_name contains"):
        lab.accounts.signup(handle="zed", region="US", display_name="\x00" + "z" * 99_999)
    with pytest.raises(InputError, match="handle is 100000 characters"):
        lab.accounts.signup(handle="z" * 100_000, region="US")
    made = lab.accounts.signup(handle="zed", region="US", display_name="Zoe\u0301")
    assert lab.accounts.whoami(as_user="zed")["display_name"] == "Zo\u00e9" and made["handle"] == "zed"
    with pytest.raises(InputError, match=r"restrictions\[0\] contains a NUL"):
        lab.cameos.create(as_user="lena", image=drawing_png(), kind="character", handle="cat",
                          restrictions=["no \x00politics\u202e"])
    with pytest.raises(InputError, match="prompt contains"):
        lab.videos.generate(as_user="maya", prompt="a cat\x00 \u202eon a mat with zero\u200bwidth")
    with pytest.raises(InputError, match="holder contains a bidirectional"):
        lab.rights.register(holder="Studio\u202e", ip_name="Comet Kid", policy="allow")
    with pytest.raises(InputError, match="ip_name must be text"):
        lab.rights.register(holder="Studio", ip_name=["Comet Kid"], policy="allow")


def test_comments_are_checked_and_stored_clean(lab, services):
    from helpers.feed_rows import add_many

    (video,) = add_many(services, 1)
    for text in ("nice\x00", "nice \u202eevil"):
        with pytest.raises(InputError, match=r"events\[0\]\.text contains"):
            lab.engagement.record(as_user="maya", events=[{"type": "comment", "video_id": video, "text": text}])
    lab.engagement.record(as_user="maya", events=[{"type": "comment", "video_id": video,
                                                   "text": " cafe\u0301\nsecond line "}])
    maya = services.accounts.by_handle("maya").user_id
    assert [c["text"] for c in services.engagement.comments(actor_id=maya, video_id=video)] == [
        "caf\u00e9\nsecond line"]


def test_the_policy_still_sees_through_what_storage_refuses(lab):
    decision = lab.policy.check(as_user="jonas", prompt="T\u200ba\u200by\u200blor Swift singing")
    assert [r["code"] for r in decision["reasons"]] == ["public_figure"]


# --- the operator's settings from the shell ------------------------------------------------------------


def test_settings_cli_get_and_set(seeded_home):
    from sora_lab.cli.main import app

    runner = CliRunner()
    home = ["--home", str(seeded_home), "--json"]
    got = runner.invoke(app, ["settings", "get", "cameo_liveness_required", *home])
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout) == {"cameo_liveness_required": True}
    off = runner.invoke(app, ["settings", "set", "cameo_liveness_required", "false", *home])
    assert json.loads(off.stdout) == {"cameo_liveness_required": False}
    regions = runner.invoke(app, ["settings", "set", "allowed_regions", "US,CA,MX", *home])
    assert json.loads(regions.stdout) == {"allowed_regions": ["US", "CA", "MX"]}
    everything = json.loads(runner.invoke(app, ["settings", "get", *home]).stdout)
    assert everything["cameo_liveness_required"] is False and everything["invites_per_user"] == 4
    for args, message in ((["set", "nope", "1"], "unknown setting 'nope'"),
                          (["set", "invites_per_user", "lots"], "whole number"),
                          (["set", "cameo_liveness_required", "maybe"], "true or false"),
                          (["set", "allowed_regions", "usa"], "two-letter"),
                          (["get", "nope"], "unknown setting")):
        bad = runner.invoke(app, ["settings", *args, *home])
        assert bad.exit_code == 1 and message in bad.stderr and json.loads(bad.stdout)["error"], args

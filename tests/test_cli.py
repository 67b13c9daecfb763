"""`sora-lab` commands: --json output, one-line errors, non-zero exit on failure."""

import json
import subprocess
import sys


def run(home, *args):
    result = subprocess.run(
        [sys.executable, "-m", "sora_lab.cli", *args, "--home", str(home)],
        capture_output=True, text=True, timeout=120,
    )
    return result


def test_init_invite_redeem_whoami_round_trip(home):
    first = run(home, "init", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"home": str(home), "created": True, "admin": "lab"}
    assert json.loads(run(home, "init", "--json").stdout)["created"] is False
    assert (home / "keys").is_dir()
    code = json.loads(run(home, "invite", "--as", "lab", "--json").stdout)["code"]
    redeemed = run(home, "redeem", code, "--handle", "ana", "--region", "CA", "--json")
    assert redeemed.returncode == 0, redeemed.stderr
    assert json.loads(redeemed.stdout)["has_access"] is True
    me = json.loads(run(home, "whoami", "--as", "ana", "--json").stdout)
    assert me["handle"] == "ana" and me["region"] == "CA" and me["invites_left"] == 4


def test_seed_demo_is_idempotent(home):
    assert json.loads(run(home, "seed-demo", "--json").stdout)["seeded"] is True
    assert json.loads(run(home, "seed-demo", "--json").stdout)["seeded"] is False


def test_failures_exit_non_zero_with_one_line(home):
    run(home, "init")
    cases = [
        ("redeem", "NOPE-NOPE", "--handle", "zed"),
        ("whoami", "--as", "nobody"),
        ("invite", "--as", "bad handle!"),
    ]
    for args in cases:
        result = run(home, *args)
        assert result.returncode == 1, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        as_json = run(home, *args, "--json")
        assert as_json.returncode == 1
        assert "message" in json.loads(as_json.stdout)["error"]


def test_feed_sync_folds_waiting_engagement(home):
    run(home, "seed-demo")
    result = run(home, "feed", "sync", "--json")
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"videos_added", "prompts_embedded", "signals_folded"}

"""Invite-only access: sign-up, invite codes, redemption, region gating, tokens."""

import pytest

from sora_lab.core.errors import AuthError, Conflict, Forbidden, InputError, NotFound
from sora_lab.lab import Lab


def _events(services, type_):
    with services.store.read() as cur:
        return cur.execute("SELECT user_id, region, target_id FROM events WHERE type = ?", [type_]).fetchall()


def test_invite_then_redeem_gives_access_and_fresh_invites(lab, services):
    before = lab.accounts.whoami(as_user="maya")["invites_left"]
    code = lab.accounts.invite(as_user="maya")["code"]
    assert lab.accounts.whoami(as_user="maya")["invites_left"] == before - 1
    new = lab.accounts.redeem(code=code, handle="Sam_1", region="ca")
    assert new["handle"] == "sam_1" and new["region"] == "CA" and new["has_access"]
    assert new["invites_left"] == 4
    assert new["token"].startswith("slt_")
    assert new["invited_by"] == lab.accounts.whoami(as_user="maya")["user_id"]
    redeemed = _events(services, "invite_redeemed")
    assert any(uid == new["user_id"] for uid, _, _ in redeemed)
    installs = [row for row in _events(services, "install") if row[0] == new["user_id"]]
    assert installs == [(new["user_id"], "CA", None)]


def test_codes_are_typed_forgivingly(lab):
    code = lab.accounts.invite(as_user="maya")["code"]
    sloppy = code.lower().replace("-", " ")
    assert lab.accounts.redeem(code=sloppy, handle="kim", region="US")["has_access"]


def test_reused_code_is_refused_and_stores_nothing(lab):
    code = lab.accounts.invite(as_user="maya")["code"]
    lab.accounts.redeem(code=code, handle="first", region="US")
    users_before = len(lab.accounts.list_users())
    with pytest.raises(Conflict, match="already used"):
        lab.accounts.redeem(code=code, handle="second", region="US")
    assert len(lab.accounts.list_users()) == users_before


def test_unknown_code_is_refused_and_stores_nothing(lab):
    users_before = len(lab.accounts.list_users())
    with pytest.raises(NotFound, match="does not exist"):
        lab.accounts.redeem(code="ZZZZ-ZZZZ", handle="ghost", region="US")
    assert len(lab.accounts.list_users()) == users_before


def test_region_gating_blocks_closed_regions(lab):
    code = lab.accounts.invite(as_user="maya")["code"]
    with pytest.raises(Forbidden, match="region DE is not open"):
        lab.accounts.redeem(code=code, handle="hans", region="DE")
    lab.admin.update_settings(changes={"allowed_regions": []})
    assert lab.accounts.redeem(code=code, handle="hans", region="DE")["has_access"]


def test_waitlisted_account_cannot_use_member_operations(lab):
    lab.accounts.signup(handle="wait", region="US")
    with pytest.raises(Forbidden, match="no access yet"):
        lab.accounts.invite(as_user="wait")
    with pytest.raises(Forbidden, match="no access yet"):
        lab.engagement.record(as_user="wait", events=[{"type": "session_start"}])
    code = lab.accounts.invite(as_user="maya")["code"]
    assert lab.accounts.redeem(code=code, as_user="wait")["has_access"]
    assert lab.engagement.record(as_user="wait", events=[{"type": "session_start"}])["stored"] == 1


def test_invites_run_out(lab):
    lab.admin.update_settings(changes={"invites_per_user": 1})
    code = lab.accounts.invite(as_user="maya")["code"]
    lab.accounts.redeem(code=code, handle="one", region="US")
    lab.accounts.invite(as_user="one")
    with pytest.raises(Forbidden, match="no invites left"):
        lab.accounts.invite(as_user="one")


@pytest.mark.parametrize("handle", ["", "a", "@@", "white space", "x" * 31, "-dash"])
def test_bad_handles_name_the_rule(lab, handle):
    with pytest.raises(InputError, match="handle"):
        lab.accounts.signup(handle=handle, region="US")


def test_taken_handle(lab):
    with pytest.raises(Conflict, match="taken"):
        lab.accounts.signup(handle="MAYA", region="US")


def test_tokens_authenticate_only_their_owner(lab, services):
    token = lab.accounts.signup(handle="tok", region="US")["token"]
    assert services.accounts.authenticate(token).handle == "tok"
    with pytest.raises(AuthError):
        services.accounts.authenticate(token + "x")
    with services.store.read() as cur:
        stored = [r[0] for r in cur.execute("SELECT token_hash FROM users").fetchall()]
    assert token not in stored  # only hashes are kept


def test_settings_validation(lab):
    with pytest.raises(InputError, match="allowed_regions"):
        lab.admin.update_settings(changes={"allowed_regions": ["usa"]})
    with pytest.raises(InputError, match="unknown setting"):
        lab.admin.update_settings(changes={"colour": "red"})
    assert lab.admin.settings()["allowed_regions"] == ["US", "CA"]


def test_settings_survive_reopen(home):
    with Lab.open(home) as lab:
        lab.admin.update_settings(changes={"invites_per_user": 7})
    with Lab.open(home) as lab:
        assert lab.admin.settings()["invites_per_user"] == 7

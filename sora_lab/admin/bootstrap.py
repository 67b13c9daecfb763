"""Make a lab home usable: operator account, settings, signing keys (the database migrates on open).

The one path that creates the operator: `sora-lab init`, `make demo` and demo seeding all call
`initialise`, which is safe to run again on a ready home.
"""

from __future__ import annotations

from pathlib import Path

from sora_lab.accounts.service import ADMIN_HANDLE, AccountService
from sora_lab.core.errors import Conflict
from sora_lab.core.home import save_credential
from sora_lab.core.settings import load_settings, save_settings
from sora_lab.provenance.signing import ensure_signing_identity
from sora_lab.store.db import Store


def initialise(store: Store, home: Path, accounts: AccountService) -> bool:
    """Prepare an open lab; True when the operator account was created now (its token saved to the home)."""
    try:
        admin = accounts.create_admin(handle=ADMIN_HANDLE)
        save_credential(home, ADMIN_HANDLE, admin["token"])
        created = True
    except Conflict:
        created = False
    save_settings(store, load_settings(store))  # writes defaults once, keeps edits
    ensure_signing_identity(home)
    return created

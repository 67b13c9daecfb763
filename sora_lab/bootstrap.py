"""Make a lab home usable: database and migrations, operator account, settings, signing keys.

Shared by `sora-lab init` and `make demo`; safe to run again on a ready home.
"""

from __future__ import annotations

from sora_lab.errors import Conflict
from sora_lab.home import save_credential
from sora_lab.lab import ADMIN_HANDLE, Lab
from sora_lab.provenance import ensure_signing_identity
from sora_lab.settings import load_settings, save_settings


def initialise(lab: Lab) -> bool:
    """Prepare an embedded lab; True when the operator account was created now."""
    if not lab.embedded:
        raise ValueError("initialise needs an embedded lab (Lab.open): the server already owns this home")
    services = lab._services
    try:
        admin = services.accounts.create_admin(handle=ADMIN_HANDLE)
        save_credential(lab.home, ADMIN_HANDLE, admin["token"])
        created = True
    except Conflict:
        created = False
    save_settings(services.store, load_settings(services.store))  # writes defaults once, keeps edits
    ensure_signing_identity(lab.home)
    return created

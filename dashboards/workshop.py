"""Workshop class view: seats taken and, per participant, clips, remixes and likes — live, for the operator.

    panel serve dashboards/growth.py dashboards/workshop.py --auth-module sora_lab/apps/growth_auth.py

Served beside the growth dashboard behind the same operator sign-in (sora_lab/apps/growth_auth.py);
refreshes every few seconds from `lab.workshop.status()`.
"""

from __future__ import annotations

import pandas as pd
import panel as pn

from sora_lab.core.errors import NotFound
from sora_lab.lab import Lab

REFRESH_MS = 3000
COLUMNS = ["seat", "handle", "redeemed_at", "clips", "remixes", "likes_given", "likes_received"]

pn.extension(sizing_mode="fixed")
lab = Lab.auto()
pn.state.on_session_destroyed(lambda _context, lab=lab: lab.close())

headline = pn.pane.Markdown("", css_classes=["workshop-headline"], width=800)
table = pn.pane.DataFrame(pd.DataFrame(columns=COLUMNS), index=False, width=800, css_classes=["workshop-seats"])


def refresh() -> None:
    try:
        view = lab.workshop.status()
    except NotFound as exc:
        headline.object = f"**No workshop yet.** {exc}"
        return
    state = "closed" if view["closed_at"] else "open"
    headline.object = (f"**Workshop {view['workshop_id']}** ({state}) · seats redeemed **{view['seats_redeemed']}"
                       f" / {view['seats_total']}** · clips {view['clips']} · remixes {view['remixes']} · "
                       f"likes {view['likes']}")
    rows = [{k: seat[k] for k in COLUMNS} for seat in view["seats"]]
    table.object = pd.DataFrame(rows, columns=COLUMNS).fillna("—")


refresh()
pn.state.add_periodic_callback(refresh, period=REFRESH_MS)
pn.Column("# Workshop: the class live", headline, table, "[growth dashboard](growth) · [sign out](logout)").servable(
    title="Sora Lab — workshop")

"""The prompt policy: every generation and every publish asks it first.

    policy.check(prompt="@maya surfing at dawn", actor_id=...) ->
        {"allowed": True, "reasons": [], "cameo_ids": ["cam_..."], "instructions": ["@maya: wearing a hat"],
         "attributions": []}

`check` reads what the rules need (the cameos referred to, the compiled registries),
runs every rule in `sora_lab.policy.rules.RULES`, audits the decision for the cameo
owners and returns it. The rules and their codes are listed in that module; matching
folds case, spacing, in-word punctuation, leetspeak, look-alike letters, zero-width
characters and small typos (`sora_lab.policy.text_match`), while ordinary words
("a mouse", "a washington apple", "a man named Sam") stay allowed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from sora_lab.consent.registration import handle_owned_sql
from sora_lab.consent.rights import RightsService, load_registry, registry_signature, rights_version
from sora_lab.consent.rules import parse_restriction, permission_sql
from sora_lab.core.errors import InputError, PolicyViolation
from sora_lab.core.ids import utcnow
from sora_lab.core.limits import MAX_CAMEOS, MAX_PROMPT_CHARS
from sora_lab.core.text import handle_key
from sora_lab.policy.matcher import Matcher
from sora_lab.policy.rules import RULES, Cameo, CameoRef, Prompt, attributions, instructions
from sora_lab.policy.text_match import handle_mentions, tokenize
from sora_lab.store.db import Store
from sora_lab.store.events import append_event

_VECTOR_CACHE_SIZE = 512  # owner topics and IP descriptions repeat across prompts; prompts are not cached


class PolicyService:
    """Decides whether a prompt may be generated or published, and explains why not."""

    def __init__(self, store: Store, home: Path, *, rights: RightsService):
        self.store = store
        self.home = home
        self.rights = rights
        self._lock = threading.Lock()
        self._matcher: Matcher | None = None
        self._matcher_sig: tuple | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.prompt_forwards = 0  # MiniLM forwards spent on prompts (benchmarks split latency by it)

    def check(self, *, prompt: str, actor_id: str, cameos: list[str] | None = None) -> dict:
        """The decision for `actor_id` generating `prompt` with `cameos` (handles or cameo ids)."""
        text, wanted = _validate(prompt, cameos)
        refs = self._resolve_cameos(text, wanted, actor_id)
        p = Prompt(
            text=text,
            tokens=tokenize(text),
            refs=refs,
            figure_links=self._figure_links() if any(r.cameo for r in refs) else {},
            matcher=self._current_matcher(),
            embed=self._embed,
            embed_prompt=self._embed_prompt,
        )
        reasons = [reason for rule in RULES for reason in rule(p)]
        allowed = not reasons
        self._audit(actor_id, p.cameos, allowed, reasons)
        return {
            "allowed": allowed,
            "reasons": reasons,
            "cameo_ids": [c.cameo_id for c in p.permitted_cameos],
            "instructions": instructions(p) if allowed else [],
            "attributions": attributions(p) if allowed else [],
        }

    def enforce(self, *, prompt: str, actor_id: str, cameos: list[str] | None = None) -> dict:
        """`check`, raising PolicyViolation (with the reasons) when the prompt is refused."""
        decision = self.check(prompt=prompt, actor_id=actor_id, cameos=cameos)
        if not decision["allowed"]:
            first = decision["reasons"][0]
            more = len(decision["reasons"]) - 1
            raise PolicyViolation(
                f"prompt refused ({first['code']}): {first['message']}; {first['fix']}"
                + (f" (+{more} more reason{'s' if more > 1 else ''})" if more else ""),
                decision["reasons"],
            )
        return decision

    # --- what the rules read ---------------------------------------------------------------------
    def _resolve_cameos(self, prompt: str, wanted: list[str], actor_id: str) -> list[CameoRef]:
        """@mentions (with spans), then `cameos=` entries, each with its cameo if one is live."""
        refs = [(h, (s, e)) for h, s, e in handle_mentions(prompt)] + [(w, None) for w in wanted]
        if not refs:
            return []
        keys = sorted({ref for ref, _ in refs})
        with self.store.read() as cur:
            rows = cur.execute(
                f"""SELECT c.cameo_id, c.handle, c.kind, u.handle, c.permission, c.restrictions,
                           {permission_sql("c", "me.uid")}, c.kind = 'person' OR coalesce(c.has_face, true)
                    FROM cameos c JOIN users u ON u.user_id = c.owner_id, (SELECT ?::VARCHAR AS uid) me
                    WHERE c.deleted_at IS NULL AND ((c.handle IN (SELECT unnest(?)) AND {handle_owned_sql("c", "u")})
                          OR c.cameo_id IN (SELECT unnest(?)))""",
                [actor_id, keys, keys],
            ).fetchall()
        by_key = {}
        for cameo_id, handle, kind, owner_handle, permission, restrictions, permitted, has_face in rows:
            cam = Cameo(cameo_id, handle, kind, owner_handle, permission,
                        [parse_restriction(r) for r in restrictions or []], bool(permitted), bool(has_face))
            by_key[cam.handle] = by_key[cam.cameo_id] = cam
        return [CameoRef(ref, span, by_key.get(ref)) for ref, span in refs]

    def _figure_links(self) -> dict[str, str]:
        with self.store.read() as cur:
            return dict(cur.execute("SELECT figure, cameo_id FROM public_figure_cameos").fetchall())

    def _current_matcher(self) -> Matcher:
        """The compiled registries, rebuilt when a registry file or a rights registration changed."""
        sig = (registry_signature(self.home), rights_version(self.store))
        with self._lock:
            if self._matcher is None or sig != self._matcher_sig:
                self._matcher = Matcher(load_registry(self.home) + self.rights.registered_entries())
                self._matcher_sig = sig
            return self._matcher

    def _embed(self, text: str) -> np.ndarray:
        """MiniLM vector of an owner topic or IP description, cached (they repeat across prompts)."""
        with self._lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        vec = _embed_one(text)
        with self._lock:
            self._vectors[text] = vec
            while len(self._vectors) > _VECTOR_CACHE_SIZE:
                self._vectors.popitem(last=False)
        return vec

    def _embed_prompt(self, text: str) -> np.ndarray:
        """MiniLM vector of a prompt: not cached, each check pays for its own forward (and counts it)."""
        self.prompt_forwards += 1
        return _embed_one(text)

    def _audit(self, actor_id: str, used: list[Cameo], allowed: bool, reasons: list[dict]) -> None:
        """Every decision that touches a cameo goes to its owner's audit trail."""
        if not used:
            return
        now = utcnow()
        props = {"stage": "policy_check", "allowed": allowed, "codes": sorted({r["code"] for r in reasons})}
        kind = "cameo_use" if allowed else "cameo_refused"
        with self.store.write() as cur:
            for cam in used:
                append_event(cur, now, actor_id, kind, target_id=cam.cameo_id, props=props)


_threads_lock = threading.Lock()


def _embed_one(text: str) -> np.ndarray:
    """One short text through MiniLM on one thread.

    For a single sentence, thread hand-offs cost more than they save, and on a busy
    2-core machine a 2-thread forward measured ~200 ms at the median against ~30 ms
    on one thread. The thread count is restored afterwards.
    """
    import torch

    from sora_lab.core.embeddings import embed

    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return embed([text])[0]
        finally:
            torch.set_num_threads(before)


def _validate(prompt, cameos) -> tuple[str, list[str]]:
    """The prompt, and the `cameos=` handles or ids cleaned ('@Maya ' -> 'maya'); InputError naming the field."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("prompt is required: describe the clip, e.g. 'a red fox running through snow'")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
    if cameos is None:
        cameos = []
    if not isinstance(cameos, list) or not all(isinstance(c, str) and c.strip() for c in cameos):
        raise InputError("cameos must be a list of cameo handles, e.g. ['@maya']")
    if len(cameos) > MAX_CAMEOS:
        raise InputError(f"cameos: at most {MAX_CAMEOS} per prompt")
    return prompt, [handle_key(c) for c in cameos]

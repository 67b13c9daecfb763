"""The C2PA manifest every clip carries: signing an MP4 and verifying any file.

The manifest is for machines: it states that the video is AI-generated (IPTC
`trainedAlgorithmicMedia`), which model made it, for which creator, a hash of the prompt (never
the prompt itself) and, for remixes, the parent video id. It is signed with the lab home's key
(`signing.py`), so any later byte change shows up as tampering.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import c2pa

from sora_lab.core.errors import InputError
from sora_lab.core.home import atomic_writer
from sora_lab.provenance import soft_binding
from sora_lab.provenance.signing import SigningIdentity
from sora_lab.provenance.watermark import LAB_NAME

AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATION_ASSERTION = "org.soralab.generation"
"""Label of our custom assertion holding prompt hash, creator, model and parent id."""


def prompt_sha256(prompt: str) -> str:
    """The prompt's fingerprint: lets the lab match a video to its prompt without publishing it."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GenerationFacts:
    """What the manifest states about how a video was made."""

    creator: str
    prompt_sha256: str
    model_id: str
    parent_video_id: str | None = None
    lab_name: str = LAB_NAME
    soft_bindings: tuple[dict, ...] = ()
    """`c2pa.soft-binding` assertions (soft_binding.assertions): the watermark key and fingerprint."""


def _manifest_definition(facts: GenerationFacts) -> dict:
    handle = facts.creator if facts.creator.startswith("@") else f"@{facts.creator}"
    action = {
        "action": "c2pa.created",
        "digitalSourceType": AI_SOURCE_TYPE,
        "softwareAgent": {"name": facts.lab_name, "version": facts.model_id},
        "parameters": {"model": facts.model_id},
    }
    if facts.parent_video_id:
        action["parameters"]["remix_of"] = facts.parent_video_id
    generation = {
        "creator": handle,
        "generator": facts.model_id,
        "prompt_sha256": facts.prompt_sha256,
        "parent_video_id": facts.parent_video_id,
    }
    return {
        "claim_generator_info": [{"name": facts.lab_name, "version": "0.1"}],
        "title": f"{facts.lab_name} video by {handle}",
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [action]}},
            {"label": GENERATION_ASSERTION, "data": generation},
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {
                    "@context": "https://schema.org",
                    "@type": "CreativeWork",
                    "author": [{"@type": "Person", "name": handle}],
                },
                "kind": "Json",
            },
            *facts.soft_bindings,
        ],
    }


def sign_mp4(src: Path, dst: Path, identity: SigningIdentity, facts: GenerationFacts) -> None:
    """Embed a signed manifest into MP4 `src`, writing the result atomically to `dst`.

    `dst` may equal `src`. The signed bytes go to a temp file beside `dst` first.
    """
    with (
        c2pa.Builder(_manifest_definition(facts)) as builder,
        identity.signer() as signer,
        open(src, "rb") as source,
        atomic_writer(dst) as dest,
    ):
        builder.sign(signer, "video/mp4", source, dest)


# --- verification ---

_UNTRUSTED_ONLY = {"signingCredential.untrusted"}
"""The local root is not a configured trust anchor; that alone is not tampering."""


def _status_codes(report: dict) -> tuple[list[str], list[str]]:
    """(failure codes, informational codes) from a Reader report, across c2pa-rs versions."""
    failures: list[str] = []
    infos: list[str] = []
    results = report.get("validation_results") or {}
    for section in [results.get("activeManifest") or {}, *(results.get("ingredientDeltas") or [])]:
        section = section.get("validationDeltas", section)
        failures += [s.get("code", "") for s in section.get("failure") or []]
        infos += [s.get("code", "") for s in section.get("informational") or []]
    failures += [s.get("code", "") for s in report.get("validation_status") or [] if s.get("code")]
    return sorted(set(failures)), sorted(set(infos))


def _contains_jumbf(path: Path) -> bool:
    """Whether the raw bytes hold a C2PA JUMBF box, i.e. the file was signed before it broke."""
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            window = tail + chunk
            if b"jumb" in window and b"c2pa" in window:
                return True
            tail = chunk[-16:]
    return False


def _unsigned_report(path: Path, reason: str) -> dict:
    return {
        "path": str(path),
        "c2pa_valid": False,
        "ai_generated": False,
        "generator": None,
        "creator": None,
        "tampered": False,
        "signed": False,
        "prompt_sha256": None,
        "parent_video_id": None,
        "validation_state": None,
        "status_codes": [],
        "soft_bindings": {"watermark_key": None, "fingerprint": []},
        "detail": reason,
    }


def verify(path: Path) -> dict:
    """Read and validate the C2PA manifest of `path`.

    Returns c2pa_valid (signature and hashes check out), ai_generated (the created action states
    trainedAlgorithmicMedia), generator, creator, tampered (a manifest is present but its hashes
    or signature fail), signed, prompt_sha256, parent_video_id, validation_state, status_codes,
    soft_bindings (the watermark key and fingerprint the manifest declares).
    An unsigned file reports c2pa_valid False and tampered False.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"path: {path} does not exist; pass the MP4 file to verify")
    try:
        with c2pa.Reader(str(path)) as reader:
            report = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return _unsigned_report(path, "no C2PA manifest found")
    except c2pa.C2paError as error:
        if not _contains_jumbf(path):
            return _unsigned_report(path, f"not a readable signed media file: {error}")
        return {**_unsigned_report(path, f"manifest present but unreadable: {error}"), "signed": True, "tampered": True}

    active = (report.get("manifests") or {}).get(report.get("active_manifest") or "") or {}
    assertion_list = active.get("assertions") or []
    assertions = {a.get("label"): a.get("data") or {} for a in assertion_list}
    actions = (assertions.get("c2pa.actions.v2") or assertions.get("c2pa.actions") or {}).get("actions") or []
    generation = assertions.get(GENERATION_ASSERTION) or {}
    failures, infos = _status_codes(report)
    state = report.get("validation_state")
    hard_failures = [code for code in failures if code not in _UNTRUSTED_ONLY]
    valid = state in ("Valid", "Trusted") and not hard_failures
    return {
        "path": str(path),
        "c2pa_valid": valid,
        "ai_generated": any(a.get("digitalSourceType") == AI_SOURCE_TYPE for a in actions),
        "generator": generation.get("generator"),
        "creator": generation.get("creator"),
        "tampered": not valid,
        "signed": True,
        "prompt_sha256": generation.get("prompt_sha256"),
        "parent_video_id": generation.get("parent_video_id"),
        "validation_state": state,
        "status_codes": sorted(set(failures) | set(infos)),
        "soft_bindings": soft_binding.read(assertion_list),
        "detail": "signed by this lab's local CA (not a public trust anchor)"
        if valid
        else "hash or signature mismatch",
    }

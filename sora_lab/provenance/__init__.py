"""Provenance of every clip: a visible moving watermark for people, a signed C2PA manifest for machines, and
for copies that lost the manifest an invisible watermark and a PDQ fingerprint that `trace` (trace.py) reads."""

from sora_lab.provenance.manifest import GenerationFacts, prompt_sha256, sign_mp4, verify
from sora_lab.provenance.signing import SigningIdentity, ensure_signing_identity
from sora_lab.provenance.watermark import Watermark, burn_watermark

__all__ = [
    "GenerationFacts",
    "SigningIdentity",
    "Watermark",
    "burn_watermark",
    "ensure_signing_identity",
    "prompt_sha256",
    "sign_mp4",
    "verify",
]

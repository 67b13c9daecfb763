"""Provenance for every generated video: a visible moving watermark and a signed C2PA manifest.

Two complementary signals. The watermark is for people: it travels slowly across the whole
frame, so no single crop removes it. The C2PA manifest is for machines: it states that the
video is AI-generated (IPTC `trainedAlgorithmicMedia`), which model made it, for which creator,
a hash of the prompt (never the prompt itself) and, for remixes, the parent video id; it is
signed with a key that belongs to this lab home, so any later byte change shows up as tampering.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import c2pa
import cv2
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sora_lab.errors import InputError
from sora_lab.home import write_bytes_atomic

LAB_NAME = "Sora Lab"
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATION_ASSERTION = "org.soralab.generation"
"""Label of our custom assertion holding prompt hash, creator, model and parent id."""

WATERMARK_SECONDS_PER_CROSSING = 6.0
"""How long the watermark takes to drift from one side of the frame to the other."""


# --------------------------------------------------------------------------- visible watermark


def _text_stamp(lines: list[str], scale: float) -> np.ndarray:
    """Render white text with a dark outline into an alpha mask pair (H, W, 2) float32 in [0, 1].

    Channel 0 is the outline coverage, channel 1 the fill coverage. Drawn once per clip with a
    Hershey font (always available offline) and then pasted per frame, which is cheap.
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(scale * 2))
    outline = thickness + 2
    sizes = [cv2.getTextSize(line, font, scale, outline)[0] for line in lines]
    line_h = max(h for _, h in sizes) + 2 * outline + 2
    width = max(w for w, _ in sizes) + 2 * outline + 2
    height = line_h * len(lines)
    fill = np.zeros((height, width), np.uint8)
    edge = np.zeros((height, width), np.uint8)
    for i, line in enumerate(lines):
        origin = (outline + 1, (i + 1) * line_h - outline - 1)
        cv2.putText(edge, line, origin, font, scale, 255, outline + 2, cv2.LINE_AA)
        cv2.putText(fill, line, origin, font, scale, 255, thickness, cv2.LINE_AA)
    return np.stack([edge, fill], axis=-1).astype(np.float32) / 255.0


def _triangle_wave(phase: np.ndarray) -> np.ndarray:
    """0 → 1 → 0 over one unit of phase: a path that bounces between two edges."""
    frac = np.mod(phase, 1.0)
    return 1.0 - np.abs(2.0 * frac - 1.0)


def watermark_positions(n_frames: int, fps: float, frame_hw: tuple[int, int], stamp_hw: tuple[int, int]) -> np.ndarray:
    """Top-left (y, x) of the watermark per frame, int array (n_frames, 2).

    The path bounces horizontally and vertically at different rates (ratio ~1 : 0.37), so over a
    few seconds it visits every band of the frame — cropping any fixed region cannot remove it.
    """
    height, width = frame_hw
    stamp_h, stamp_w = stamp_hw
    t = np.arange(n_frames) / fps
    phase_x = t / (2 * WATERMARK_SECONDS_PER_CROSSING) + 0.15
    phase_y = t / (2 * WATERMARK_SECONDS_PER_CROSSING / 0.37) + 0.6
    x = _triangle_wave(phase_x) * max(0, width - stamp_w)
    y = _triangle_wave(phase_y) * max(0, height - stamp_h)
    return np.stack([np.round(y), np.round(x)], axis=1).astype(np.int64)


class Watermark:
    """The visible mark for one clip: "Sora Lab" over "@creator", drifting along `watermark_positions`.

    The text is rendered once; `apply` pastes it per frame so frames can stream into the encoder.
    White text on a dark outline at ~85 % opacity stays readable on flat and busy content alike.
    """

    def __init__(self, size_wh: tuple[int, int], fps: float, n_frames: int, creator: str, lab_name: str = LAB_NAME):
        width, height = size_wh
        handle = creator if creator.startswith("@") else f"@{creator}"
        stamp = _text_stamp([lab_name, handle], scale=max(0.35, width / 900))
        self.stamp_h, self.stamp_w = stamp.shape[:2]
        if self.stamp_h > height or self.stamp_w > width:
            raise InputError(
                f"frames: {width}x{height} is too small for the watermark ({self.stamp_w}x{self.stamp_h}); "
                "upscale to the delivery size before watermarking"
            )
        self.edge_alpha = 0.55 * stamp[..., :1]
        self.fill_alpha = 0.85 * stamp[..., 1:]
        self.positions = watermark_positions(n_frames, fps, (height, width), (self.stamp_h, self.stamp_w))

    def apply(self, frame: np.ndarray, index: int) -> np.ndarray:
        """Burn the mark into `frame` (H, W, 3) uint8 in place for output frame `index`; returns it."""
        y, x = self.positions[min(index, len(self.positions) - 1)]
        h, w = self.stamp_h, self.stamp_w
        region = frame[y : y + h, x : x + w].astype(np.float32)
        region = region * (1.0 - self.edge_alpha)  # darken under the outline
        region = region * (1.0 - self.fill_alpha) + 255.0 * self.fill_alpha
        frame[y : y + h, x : x + w] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        return frame


def burn_watermark(frames: np.ndarray, fps: float, creator: str, lab_name: str = LAB_NAME) -> np.ndarray:
    """Return a copy of `frames` (T, H, W, 3) uint8 with "Sora Lab" and "@creator" burned in."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(
            f"frames: expected uint8 array (T, H, W, 3), got {frames.dtype} {frames.shape}; "
            "pass RGB frames from a backend"
        )
    n_frames, height, width, _ = frames.shape
    mark = Watermark((width, height), fps, n_frames, creator, lab_name)
    out = frames.copy()
    for i in range(n_frames):
        mark.apply(out[i], i)
    return out


# --------------------------------------------------------------------------- signing identity


@dataclass(frozen=True)
class SigningIdentity:
    """Where this lab's C2PA key and certificate chain live (PEM files, private key mode 0600)."""

    key_path: Path
    chain_path: Path
    """Leaf certificate followed by the lab CA certificate, as c2pa-rs expects."""
    ca_cert_path: Path

    def signer(self) -> c2pa.Signer:
        info = c2pa.C2paSignerInfo(
            alg=c2pa.C2paSigningAlg.ES256,
            sign_cert=self.chain_path.read_bytes(),
            private_key=self.key_path.read_bytes(),
            ta_url=None,
        )
        return c2pa.Signer.from_info(info)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _build_ca(now: dt.datetime, lab_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, lab_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{lab_name} local root"),
        ]
    )
    public_ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(public_ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _build_leaf(
    now: dt.datetime, lab_name: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, lab_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{lab_name} content signer"),
        ]
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def ensure_signing_identity(home: Path, lab_name: str = LAB_NAME) -> SigningIdentity:
    """Create (once) and return this lab's C2PA signing identity under `home/keys/`.

    A lab-local CA signs a leaf certificate; c2pa-rs refuses self-signed leaves, and it needs
    exactly these extensions (see FIELD_NOTES). The leaf key, then the chain, are written
    atomically; the chain file is written last, so its presence means the identity is complete.
    """
    keys = Path(home) / "keys"
    identity = SigningIdentity(
        key_path=keys / "c2pa-signer.key.pem",
        chain_path=keys / "c2pa-chain.pem",
        ca_cert_path=keys / "c2pa-ca.cert.pem",
    )
    if identity.chain_path.exists() and identity.key_path.exists():
        return identity
    keys.mkdir(parents=True, exist_ok=True)
    os.chmod(keys, 0o700)
    now = dt.datetime.now(dt.UTC)
    ca_key, ca_cert = _build_ca(now, lab_name)
    leaf_key, leaf_cert = _build_leaf(now, lab_name, ca_key, ca_cert)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    write_bytes_atomic(keys / "c2pa-ca.key.pem", _key_pem(ca_key), mode=0o600)
    write_bytes_atomic(identity.ca_cert_path, ca_pem, mode=0o644)
    write_bytes_atomic(identity.key_path, _key_pem(leaf_key), mode=0o600)
    write_bytes_atomic(identity.chain_path, leaf_cert.public_bytes(serialization.Encoding.PEM) + ca_pem, 0o644)
    return identity


# --------------------------------------------------------------------------- C2PA manifest


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
        ],
    }


def sign_mp4(src: Path, dst: Path, identity: SigningIdentity, facts: GenerationFacts) -> None:
    """Embed a signed manifest into MP4 `src`, writing the result atomically to `dst`.

    `dst` may equal `src`. The signed bytes go to a temp file beside `dst` first.
    """
    dst = Path(dst)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".signing")
    try:
        with (
            c2pa.Builder(_manifest_definition(facts)) as builder,
            identity.signer() as signer,
            open(src, "rb") as source,
            os.fdopen(fd, "w+b") as dest,
        ):
            builder.sign(signer, "video/mp4", source, dest)
            dest.flush()
            os.fsync(dest.fileno())
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- verification

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
        "detail": reason,
    }


def verify(path: Path) -> dict:
    """Read and validate the C2PA manifest of `path`.

    Returns c2pa_valid (signature and hashes check out), ai_generated (the created action states
    trainedAlgorithmicMedia), generator, creator, tampered (a manifest is present but its hashes
    or signature fail), signed, prompt_sha256, parent_video_id, validation_state, status_codes.
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
    assertions = {a.get("label"): a.get("data") or {} for a in active.get("assertions") or []}
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
        "detail": "signed by this lab's local CA (not a public trust anchor)"
        if valid
        else "hash or signature mismatch",
    }

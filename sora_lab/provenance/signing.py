"""This lab home's C2PA signing identity: a lab-local CA and an ES256 leaf certificate under `keys/`."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sora_lab.core.home import write_bytes_atomic
from sora_lab.provenance.watermark import LAB_NAME


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

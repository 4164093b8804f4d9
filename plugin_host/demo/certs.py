"""TLS material for the demo's sample API, made with ``cryptography``.

``ensure_certs(folder)`` writes, once, into ``folder`` (e.g. ``instance/demo-tls``):

* ``ca.pem`` — a private certificate authority, the file ``CONNECT_CA_BUNDLE`` names;
* ``server.pem`` — a server certificate for ``127.0.0.1``, ``localhost`` and ``::1``
  signed by that CA;
* ``server-key.pem`` — its private key (mode 0600).

The files are reused while they are valid (readable, matching, signed by the CA, for
the loopback names, and not expiring within a day); otherwise all three are made
again. The CA's own private key is never written anywhere: once the server
certificate is signed it is thrown away, so trusting ``ca.pem`` trusts that one
loopback certificate and nothing else.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"

DNS_NAMES = ("localhost",)
IP_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
VALID_DAYS = 397  # what browsers accept for a server certificate
RENEW_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class CertPaths:
    ca: Path
    cert: Path
    key: Path


def paths(folder: str | os.PathLike) -> CertPaths:
    folder = Path(folder)
    return CertPaths(ca=folder / CA_FILE, cert=folder / CERT_FILE, key=folder / KEY_FILE)


def ensure_certs(folder: str | os.PathLike, *, now: datetime | None = None) -> CertPaths:
    """The CA and server certificate in ``folder``, made when missing, broken or
    (nearly) expired. ``now`` is for tests."""
    now = now or datetime.now(timezone.utc)
    found = paths(folder)
    if not _usable(found, now):
        _generate(found, now)
    return found


# --- checking -------------------------------------------------------------------------


def _usable(found: CertPaths, now: datetime) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(found.ca.read_bytes())
        leaf = x509.load_pem_x509_certificate(found.cert.read_bytes())
        key = serialization.load_pem_private_key(found.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    for cert in (ca, leaf):
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc - RENEW_MARGIN:
            return False
    try:
        leaf.verify_directly_issued_by(ca)
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:  # noqa: BLE001 - not signed by this CA, no names...: make new ones
        return False
    if not set(DNS_NAMES) <= set(names.get_values_for_type(x509.DNSName)):
        return False
    if not set(IP_ADDRESSES) <= set(names.get_values_for_type(x509.IPAddress)):
        return False
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return public == leaf.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)


# --- making ---------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Connect demo"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _generate(found: CertPaths, now: datetime) -> None:
    start = now - timedelta(hours=1)  # tolerate a clock a little behind
    end = now + timedelta(days=VALID_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"Connect demo CA {now:%Y-%m-%d %H:%M:%S}")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1")).issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(name) for name in DNS_NAMES] + [x509.IPAddress(ip) for ip in IP_ADDRESSES]),
            critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    del ca_key  # never stored: the CA can sign nothing else

    found.ca.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(found.key, leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), 0o600)
    _write(found.cert, leaf_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(found.ca, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically, with ``mode`` from the start (no moment where a key is readable)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

"""TLS for dynamokv: a cluster CA, node certificates, and the SSL contexts built from them.

The trust model is one private certificate authority per cluster. It
signs one certificate per node; a node trusts exactly the certificates that CA signed, and
nothing from the system's trust store, so a certificate from any other authority, however
valid elsewhere, is refused. Between peers TLS is *mutual*: the listening node requires a
client certificate, and the connecting node verifies the listener's certificate and host
name. That is what stops a stray process on the network from injecting replication traffic.
The HTTP API may serve TLS with the same node certificate, and may require a client
certificate from the same CA too (``http_client_auth``: then a client without one is refused
at the handshake).

Choices, and why:

* ECDSA P-256 keys: fast to generate (``certs init`` for a 5-node cluster is instant, where
  RSA-2048 would take a noticeable fraction of a second per key) and fast to handshake.
* TLS 1.3 only between peers (both ends are dynamokv); TLS 1.2 or newer for HTTP clients.
* Node certificates carry both ``serverAuth`` and ``clientAuth``, since every node is both,
  and subject alternative names ``IP:127.0.0.1``, ``DNS:localhost``, ``DNS:<node name>`` and
  any further addresses the node is reached at (a host's address on a bridge); the node name
  is also the subject's common name, which :func:`certificate_node_name` reads back to tell
  the core which node an inbound connection belongs to.
* *Client* certificates (for HTTP clients, when the API requires one) are signed by the same
  CA but say so in their subject (``OU=client``) and carry only ``clientAuth``; the peer
  listener refuses them (:func:`certificate_is_node`), so a client certificate never speaks
  for a node.
* Private keys are written with mode 0600 in a 0700 directory, unencrypted: a node must start
  unattended. Protect the directory as you would the data directory.

Files written by :func:`generate_cluster_certificates` (``dynamokv certs init``)::

    <dir>/ca.crt            the cluster CA certificate (give this to HTTP clients)
    <dir>/ca.key            the CA's private key (needed only to add nodes)
    <dir>/<name>.crt        node certificate, signed by the CA
    <dir>/<name>.key        node private key
    <dir>/<client>.crt      client certificate (``clients=``), and its key
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynamokv.errors import DynamoKVError

CA_VALIDITY_DAYS = 3650
"""Validity of a new cluster CA certificate."""

NODE_VALIDITY_DAYS = 825
"""Validity of a new node certificate (the longest browsers accept for a server cert)."""

NODE_NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
"""A node name is one DNS label (lower case), so that it can be a SAN ``DNS`` entry."""

NODE_UNIT = "node"
CLIENT_UNIT = "client"
"""The ``OU`` of node and client certificates (a peer must present a node's)."""

_CLOCK_SKEW_ALLOWANCE = datetime.timedelta(hours=1)
_RESERVED_NAMES = frozenset({"ca"})


class CertificateError(DynamoKVError):
    """Certificates cannot be generated or loaded (bad name, files in the way, unreadable)."""


@dataclass(frozen=True, slots=True)
class NodeCertificatePaths:
    """Where one node's TLS material lives.

    Attributes:
        ca_cert_path: The cluster CA certificate, the only trust anchor.
        cert_path: This node's certificate.
        key_path: This node's private key.
    """

    ca_cert_path: Path
    cert_path: Path
    key_path: Path


def node_certificate_paths(directory: str | os.PathLike[str], name: str) -> NodeCertificatePaths:
    """The paths ``certs init`` uses for node ``name`` under ``directory``."""
    _check_node_name(name)
    base = Path(directory)
    return NodeCertificatePaths(base / "ca.crt", base / f"{name}.crt", base / f"{name}.key")


def _check_node_name(name: str) -> None:
    if not isinstance(name, str) or not NODE_NAME_PATTERN.fullmatch(name):
        raise CertificateError(
            f"node name {name!r} must be lower-case letters, digits and '-' "
            "(1-63 characters, no '-' at either end)"
        )
    if name in _RESERVED_NAMES:
        raise CertificateError(f"node name {name!r} is reserved")


def generate_cluster_certificates(
    directory: str | os.PathLike[str],
    names: Sequence[str],
    *,
    force: bool = False,
    now: datetime.datetime | None = None,
    addresses: Mapping[str, Sequence[str]] | None = None,
    clients: Sequence[str] = (),
) -> list[Path]:
    """Make a cluster CA and one certificate per node name, and write them to ``directory``.

    Args:
        directory: Created (mode 0700) if missing.
        names: Node names: distinct DNS labels, see :data:`NODE_NAME_PATTERN`.
        force: Overwrite existing files (a new CA: every node needs its new certificate).
        now: The validity start, for tests; the current UTC time by default.
        addresses: Node name -> further IP addresses (or DNS names) the node is reached
            at, added to its subject alternative names.
        clients: Names of client certificates to make as well (``OU=client``,
            ``clientAuth`` only): what an HTTP client presents when the API requires one.

    Returns:
        The paths written, CA first.

    Raises:
        CertificateError: A bad or repeated name, or (without ``force``) a file that would
            be overwritten.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if not names:
        raise CertificateError("at least one node name is needed")
    for name in names:
        _check_node_name(name)
    for name in clients:
        _check_node_name(name)
    if len(set(names) | set(clients)) != len(names) + len(clients):
        raise CertificateError(f"names must be distinct: {', '.join([*names, *clients])}")
    base = Path(directory)
    targets = [base / "ca.crt", base / "ca.key"]
    for name in [*names, *clients]:
        paths = node_certificate_paths(base, name)
        targets += [paths.cert_path, paths.key_path]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise CertificateError(
            f"{existing[0]} already exists ({len(existing)} of the files would be "
            "overwritten); pass --force to replace them with a new CA"
        )
    base.mkdir(mode=0o700, parents=True, exist_ok=True)

    start = (now or datetime.datetime.now(datetime.UTC)) - _CLOCK_SKEW_ALLOWANCE
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dynamokv"),
            x509.NameAttribute(NameOID.COMMON_NAME, "dynamokv cluster CA"),
        ]
    )
    ca_public_key = ca_key.public_key()
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=CA_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_public_key), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files: list[tuple[Path, bytes, int]] = [
        (base / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM), 0o644),
        (base / "ca.key", _pem_key(ca_key), 0o600),
    ]
    for name in [*names, *clients]:
        files += _signed_certificate_files(
            base,
            name,
            ca_key=ca_key,
            ca_name=ca_name,
            client=name in clients,
            addresses=(addresses or {}).get(name, ()),
            start=start,
        )
    for path, content, mode in files:
        _write_file(path, content, mode)
    return [path for path, _content, _mode in files]


def issue_node_certificate(
    directory: str | os.PathLike[str],
    name: str,
    *,
    addresses: Sequence[str] = (),
    now: datetime.datetime | None = None,
) -> list[Path]:
    """Sign one more node certificate with the cluster CA in ``directory`` (a node joining
    a running cluster), replacing any certificate of that name.

    Raises:
        CertificateError: a bad name, or no readable CA certificate and key.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    _check_node_name(name)
    base = Path(directory)
    try:
        ca_cert = x509.load_pem_x509_certificate((base / "ca.crt").read_bytes())
        ca_key = serialization.load_pem_private_key((base / "ca.key").read_bytes(), None)
    except (OSError, ValueError) as error:
        raise CertificateError(f"cannot load the cluster CA in {base}: {error}") from error
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{base / 'ca.key'} is not an ECDSA key")
    start = (now or datetime.datetime.now(datetime.UTC)) - _CLOCK_SKEW_ALLOWANCE
    files = _signed_certificate_files(
        base,
        name,
        ca_key=ca_key,
        ca_name=ca_cert.subject,
        client=False,
        addresses=addresses,
        start=start,
    )
    for path, content, mode in files:
        _write_file(path, content, mode)
    return [path for path, _content, _mode in files]


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _signed_certificate_files(
    base: Path,
    name: str,
    *,
    ca_key: Any,
    ca_name: Any,
    client: bool,
    addresses: Sequence[str],
    start: datetime.datetime,
) -> list[tuple[Path, bytes, int]]:
    """A node (or client) certificate for ``name`` signed by the CA, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    node_key = ec.generate_private_key(ec.SECP256R1())
    node_public_key = node_key.public_key()
    alternative_names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
        x509.DNSName(name),
    ]
    for address in addresses:
        try:
            alternative_names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            alternative_names.append(x509.DNSName(address))
    node_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dynamokv"),
                    x509.NameAttribute(
                        NameOID.ORGANIZATIONAL_UNIT_NAME, CLIENT_UNIT if client else NODE_UNIT
                    ),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(node_public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=NODE_VALIDITY_DAYS))
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
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH]
                if client
                else [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(node_public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = node_certificate_paths(base, name)
    return [
        (paths.cert_path, node_cert.public_bytes(serialization.Encoding.PEM), 0o644),
        (paths.key_path, _pem_key(node_key), 0o600),
    ]


def _write_file(path: Path, content: bytes, mode: int) -> None:
    """Write ``content`` atomically (temporary file, then rename) with ``mode`` from the start."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _load_node_material(context: ssl.SSLContext, paths: NodeCertificatePaths) -> None:
    try:
        context.load_verify_locations(cafile=os.fspath(paths.ca_cert_path))
        context.load_cert_chain(os.fspath(paths.cert_path), os.fspath(paths.key_path))
    except (OSError, ssl.SSLError) as error:
        raise CertificateError(f"cannot load TLS material: {error}") from error


def peer_server_ssl_context(paths: NodeCertificatePaths) -> ssl.SSLContext:
    """The context a node's peer listener uses: mutual TLS 1.3 within the cluster.

    A connecting peer must present a certificate signed by the cluster CA; otherwise the
    handshake fails on the listening side (trio raises ``BrokenResourceError`` from
    ``do_handshake``), which the listener logs and counts.

    Raises:
        CertificateError: A file is missing or does not hold what it should.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    _load_node_material(context, paths)
    return context


def peer_client_ssl_context(paths: NodeCertificatePaths) -> ssl.SSLContext:
    """The context a node uses to connect to a peer: present its certificate, verify theirs.

    The peer's certificate must chain to the cluster CA and name the address dialled
    (``127.0.0.1``, ``localhost`` or the node name).

    Raises:
        CertificateError: A file is missing or does not hold what it should.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    _load_node_material(context, paths)
    return context


def http_server_ssl_context(
    paths: NodeCertificatePaths, *, client_auth: bool = False
) -> ssl.SSLContext:
    """The context for HTTPS on the client API: the node's certificate.

    Clients verify it against the cluster CA (``curl --cacert <dir>/ca.crt``). With
    ``client_auth`` a client must also present a certificate the cluster CA signed
    (``curl --cert client.crt --key client.key``), or the handshake fails.

    Raises:
        CertificateError: A file is missing or does not hold what it should.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(os.fspath(paths.cert_path), os.fspath(paths.key_path))
        if client_auth:
            context.load_verify_locations(cafile=os.fspath(paths.ca_cert_path))
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as error:
        raise CertificateError(f"cannot load TLS material: {error}") from error
    return context


def http_client_ssl_context(paths: NodeCertificatePaths) -> ssl.SSLContext:
    """The context an HTTP client of the cluster uses: trust the cluster CA only, and
    present ``paths``' certificate (a client certificate) when the node asks for one.

    Raises:
        CertificateError: A file is missing or does not hold what it should.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    _load_node_material(context, paths)
    return context


def certificate_is_node(peer_certificate: dict[str, Any] | None) -> bool:
    """Whether a verified peer certificate is a node's, not a client's (``OU=client``).

    Certificates made before units were recorded have none: they are nodes'.
    """
    if not peer_certificate:
        return False
    for relative_name in peer_certificate.get("subject", ()):
        for key, value in relative_name:
            if key == "organizationalUnitName" and value != NODE_UNIT:
                return False
    return True


def certificate_node_name(peer_certificate: dict[str, Any] | None) -> str | None:
    """The common name of a verified peer certificate (``SSLObject.getpeercert()``).

    Returns ``None`` when there is no certificate or no common name.
    """
    if not peer_certificate:
        return None
    for relative_name in peer_certificate.get("subject", ()):
        for key, value in relative_name:
            if key == "commonName" and isinstance(value, str):
                return value
    return None

"""Certificates from ``dynamokv certs init`` and mutual TLS between peers."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
import trio
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from dynamokv.impl.cli import main
from dynamokv.impl.runtime import (
    CertificateError,
    certificate_node_name,
    generate_cluster_certificates,
    node_certificate_paths,
    peer_client_ssl_context,
    peer_server_ssl_context,
)
from runtime_helpers import LOOPBACK, listener_port, trio_test


@pytest.fixture(scope="module")
def cluster_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cluster-a")
    generate_cluster_certificates(directory, ["node-1", "node-2"])
    return directory


@pytest.fixture(scope="module")
def cluster_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cluster-b")
    generate_cluster_certificates(directory, ["node-1"])
    return directory


def test_node_certificate_names_the_node_and_loopback_and_is_signed_by_the_ca(
    cluster_a: Path,
) -> None:
    ca = x509.load_pem_x509_certificate((cluster_a / "ca.crt").read_bytes())
    node = x509.load_pem_x509_certificate((cluster_a / "node-2.crt").read_bytes())
    node.verify_directly_issued_by(ca)
    assert node.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node-2"
    san = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "node-2"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usages = node.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_private_keys_are_readable_by_the_owner_only(cluster_a: Path) -> None:
    for name in ("ca.key", "node-1.key", "node-2.key"):
        assert stat.S_IMODE((cluster_a / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(cluster_a.stat().st_mode) & 0o077 in (0, 0o055, 0o005, 0o050)


def test_existing_files_are_not_overwritten_without_force(tmp_path: Path) -> None:
    generate_cluster_certificates(tmp_path, ["node-1"])
    before = (tmp_path / "ca.crt").read_bytes()
    with pytest.raises(CertificateError, match="already exists"):
        generate_cluster_certificates(tmp_path, ["node-1"])
    assert (tmp_path / "ca.crt").read_bytes() == before
    generate_cluster_certificates(tmp_path, ["node-1"], force=True)
    assert (tmp_path / "ca.crt").read_bytes() != before


@pytest.mark.parametrize("names", [[], ["Node1"], ["-x"], ["a", "a"], ["ca"], ["a" * 64], ["a.b"]])
def test_bad_node_names_are_refused(tmp_path: Path, names: list[str]) -> None:
    with pytest.raises(CertificateError):
        generate_cluster_certificates(tmp_path, names)
    assert list(tmp_path.iterdir()) == []


def test_certs_init_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "certs"
    assert main(["certs", "init", "--dir", str(directory), "--nodes", "3"]) == 0
    assert sorted(path.name for path in directory.iterdir()) == [
        "ca.crt",
        "ca.key",
        *[f"node-{i}.{ext}" for i in (1, 2, 3) for ext in ("crt", "key")],
    ]
    capsys.readouterr()
    assert main(["certs", "init", "--dir", str(directory), "--names", "n1,n2"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--force" in error and "Traceback" not in error
    assert main(["certs", "init", "--dir", str(directory), "--names", "n1,n2", "--force"]) == 0
    assert (directory / "n2.key").exists()
    capsys.readouterr()
    assert main(["certs", "init", "--dir", str(directory), "--names", "Bad_Name"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["certs", "init", "--dir", str(directory), "--nodes", "0"]) == 1
    assert main(["certs", "init", "--nodes", "2", "--names", "a"]) == 2  # exclusive options


async def _mtls_attempt(
    server_paths_directory: Path, client_context: ssl.SSLContext | None
) -> tuple[str | None, BaseException | None]:
    """Run one mTLS server handshake on 127.0.0.1; return (peer node name, server error)."""
    server_context = peer_server_ssl_context(
        node_certificate_paths(server_paths_directory, "node-1")
    )
    listeners = await trio.open_tcp_listeners(0, host=LOOPBACK)
    port = listener_port(listeners[0])
    result: list[tuple[str | None, BaseException | None]] = []

    async def server() -> None:
        stream = await listeners[0].accept()
        ssl_stream = trio.SSLStream(stream, server_context, server_side=True)
        try:
            await ssl_stream.do_handshake()
            result.append((certificate_node_name(ssl_stream.getpeercert()), None))
            await ssl_stream.send_all(b"welcome")
        except trio.BrokenResourceError as error:
            result.append((None, error.__cause__))  # what the node logs
        finally:
            await trio.aclose_forcefully(ssl_stream)

    async def client() -> None:
        stream = await trio.open_tcp_stream(LOOPBACK, port)
        if client_context is None:
            await stream.send_all(b"\x16\x03\x01 not really a hello")
            await trio.aclose_forcefully(stream)
            return
        ssl_stream = trio.SSLStream(stream, client_context, server_hostname=LOOPBACK)
        try:
            await ssl_stream.do_handshake()
            await ssl_stream.receive_some(100)
        except trio.BrokenResourceError:
            pass
        finally:
            await trio.aclose_forcefully(ssl_stream)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server)
            nursery.start_soon(client)
    finally:
        await listeners[0].aclose()
    return result[0]


@trio_test
async def test_mutual_tls_accepts_a_node_of_the_cluster(cluster_a: Path) -> None:
    context = peer_client_ssl_context(node_certificate_paths(cluster_a, "node-2"))
    node_name, error = await _mtls_attempt(cluster_a, context)
    assert (node_name, error) == ("node-2", None)


@trio_test
async def test_mutual_tls_refuses_a_certificate_from_another_ca(
    cluster_a: Path, cluster_b: Path
) -> None:
    # The client trusts cluster A's CA (so it would accept the server) but presents B's cert.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(cluster_a / "ca.crt"))
    context.load_cert_chain(str(cluster_b / "node-1.crt"), str(cluster_b / "node-1.key"))
    node_name, error = await _mtls_attempt(cluster_a, context)
    assert node_name is None
    assert isinstance(error, ssl.SSLError) and "certificate verify failed" in str(error)


@trio_test
async def test_mutual_tls_refuses_a_client_without_a_certificate(cluster_a: Path) -> None:
    context = ssl.create_default_context(cafile=str(cluster_a / "ca.crt"))
    node_name, error = await _mtls_attempt(cluster_a, context)
    assert node_name is None
    assert isinstance(error, ssl.SSLError) and "certificate" in str(error).lower()


@trio_test
async def test_mutual_tls_refuses_plain_tcp(cluster_a: Path) -> None:
    node_name, error = await _mtls_attempt(cluster_a, None)
    assert node_name is None and isinstance(error, ssl.SSLError)


@trio_test
async def test_client_refuses_a_server_of_another_cluster(cluster_a: Path, cluster_b: Path) -> None:
    context = peer_client_ssl_context(node_certificate_paths(cluster_b, "node-1"))
    server_context = peer_server_ssl_context(node_certificate_paths(cluster_a, "node-1"))
    listeners = await trio.open_tcp_listeners(0, host=LOOPBACK)

    async def serve_one() -> None:
        stream = await listeners[0].accept()
        ssl_stream = trio.SSLStream(stream, server_context, server_side=True)
        try:
            await ssl_stream.do_handshake()
        except trio.BrokenResourceError:
            pass
        finally:
            await trio.aclose_forcefully(ssl_stream)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_one)
            stream = await trio.open_tcp_stream(LOOPBACK, listener_port(listeners[0]))
            ssl_stream = trio.SSLStream(stream, context, server_hostname=LOOPBACK)
            try:
                with pytest.raises(trio.BrokenResourceError) as raised:
                    await ssl_stream.do_handshake()
                assert "certificate verify failed" in str(raised.value.__cause__)
            finally:
                await trio.aclose_forcefully(ssl_stream)
    finally:
        await listeners[0].aclose()


def test_missing_files_are_a_certificate_error(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="cannot load"):
        peer_server_ssl_context(node_certificate_paths(tmp_path, "node-1"))


def test_certificate_node_name_reads_the_common_name() -> None:
    certificate = {"subject": ((("organizationName", "dynamokv"),), (("commonName", "node-7"),))}
    assert certificate_node_name(certificate) == "node-7"
    assert certificate_node_name(None) is None
    assert certificate_node_name({}) is None

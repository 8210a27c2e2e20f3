"""Test helpers: a TCP proxy (optionally terminating TLS) that can cut connections, and TLS files.

The proxy runs an asyncio loop in a daemon thread and forwards every accepted connection to a
target Redis. Tests use it to put TLS in front of the embedded server (which has no TLS), and to
drop connections at chosen points: all at once (:meth:`Proxy.drop_all`) or each one after a
number of bytes in one direction (``cut``), i.e. in the middle of a command or of its reply.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Per new connection: None (never cut) or (direction, n): cut once n bytes went that way.
#: direction "up" = client to server (the command), "down" = server to client (the reply).
CutPlan = Callable[[], "tuple[str, int] | None"]
#: Called (in the proxy's thread) with the direction and each chunk before it is forwarded;
#: returning True cuts the connection instead (the chunk is dropped).
Tap = Callable[[str, bytes], "bool | None"]


class Proxy:
    """Forward ``host:port`` (chosen at start) to ``target_host:target_port``."""

    def __init__(
        self,
        target_port: int,
        target_host: str = "127.0.0.1",
        *,
        ssl_context: ssl.SSLContext | None = None,
        cut: CutPlan | None = None,
        tap: Tap | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.target = (target_host, target_port)
        self.ssl_context = ssl_context
        self.cut = cut
        self.tap = tap
        self.host = host
        self.port = 0
        self.accepted = 0
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None

    # -- control, from the test's thread ------------------------------------------------------

    def start(self) -> Proxy:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def drop_all(self) -> int:
        """Abort every open connection (both sides); returns how many were open."""
        return asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop).result(10)

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    def url(self, scheme: str = "redis", db: int = 0) -> str:
        return f"{scheme}://{self.host}:{self.port}/{db}"

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the loop's side ------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, 0, ssl=self.ssl_context)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop_all()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _drop_all(self) -> int:
        pairs = list(self._pairs)
        for pair in pairs:
            for writer in pair:
                writer.transport.abort()
        return len(pairs)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        plan = self.cut() if self.cut is not None else None
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer, "up", plan, pair)),
            asyncio.ensure_future(self._pump(up_reader, writer, "down", plan, pair)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for side in pair:
                side.transport.abort()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._pairs.discard(pair)

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        direction: str,
        plan: tuple[str, int] | None,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        budget = plan[1] if plan is not None and plan[0] == direction else None
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    return
                if self.tap is not None and self.tap(direction, data):
                    self.cuts += 1
                    return  # _handle aborts both sides
                if budget is not None and len(data) >= budget:
                    dst.write(data[:budget])
                    await dst.drain()
                    self.cuts += 1
                    return  # _handle aborts both sides
                if budget is not None:
                    budget -= len(data)
                dst.write(data)
                await dst.drain()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            return


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a throwaway CA, a server certificate (127.0.0.1, localhost) and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: verification against it must fail

    def server_context(self, require_client_cert: bool = True) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.ca)
        return ctx


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate the CA and certificates with ``cryptography`` (EC keys: fast)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid_from, valid_to = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write_key(path: Path, private: ec.EllipticCurvePrivateKey) -> Path:
        path.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return path

    def write_cert(path: Path, cert: x509.Certificate) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def make_ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        ca_key = key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(name(common))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from)
            .not_valid_after(valid_to)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        return ca_key, cert

    def leaf(
        ca_key: ec.EllipticCurvePrivateKey,
        ca_cert: x509.Certificate,
        common: str,
        usage: x509.ObjectIdentifier,
        san: list[x509.GeneralName] | None,
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        leaf_key = key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(ca_cert.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from)
            .not_valid_after(valid_to)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return leaf_key, builder.sign(ca_key, hashes.SHA256())

    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = make_ca("redis-client test CA")
    _, other_cert = make_ca("some other CA")
    server_san: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    s_key, s_cert = leaf(ca_key, ca_cert, "localhost", ExtendedKeyUsageOID.SERVER_AUTH, server_san)
    c_key, c_cert = leaf(ca_key, ca_cert, "bot", ExtendedKeyUsageOID.CLIENT_AUTH, None)
    return TlsFiles(
        ca=write_cert(directory / "ca.pem", ca_cert),
        server_cert=write_cert(directory / "server.pem", s_cert),
        server_key=write_key(directory / "server.key", s_key),
        client_cert=write_cert(directory / "client.pem", c_cert),
        client_key=write_key(directory / "client.key", c_key),
        other_ca=write_cert(directory / "other-ca.pem", other_cert),
    )

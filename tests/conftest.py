"""Every async test runs on asyncio and on trio (anyio's pytest plugin).

Redis tests get a real `redis-server` (Debian's package) on 127.0.0.1 and a free port:

- `redis_server`: one server for the whole session, emptied (FLUSHALL) before each test and
  started again first if an earlier test stopped it. A test may `stop()` and `start()` it.
- `redis_server_factory`: `factory(password=None, tls=None, extra_args=())` starts a server of
  the test's own (`--requirepass`, TLS with `RedisTls` files, other options); every server it
  made is stopped at teardown.

Without `redis-server` on PATH the Redis tests skip ("redis-server not installed"), unless
`TRIMCP_REQUIRE_REDIS=1` is set (CI sets it): then they fail, so CI never skips them silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REDIS_START_TIMEOUT = 10.0  # seconds for a started redis-server to answer PING
REDIS_STOP_TIMEOUT = 10.0  # seconds for a terminated redis-server to exit


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


def _redis_binary() -> str:
    """The `redis-server` executable, or skip (fail when `TRIMCP_REQUIRE_REDIS=1`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("TRIMCP_REQUIRE_REDIS") == "1":
            pytest.fail(
                "TRIMCP_REQUIRE_REDIS=1 but redis-server is not installed "
                "(apt-get install -y redis-server)",
                pytrace=False,
            )
        pytest.skip("redis-server not installed")
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PortTakenError(RuntimeError):
    pass


@dataclass(frozen=True)
class RedisTls:
    """PEM files for a TLS `redis-server`: its certificate and key, and the CA that signed
    the certificate (clients verify against it; the server does not ask for theirs)."""

    cert_file: Path
    key_file: Path
    ca_file: Path


class RedisServer:
    """A `redis-server` process on 127.0.0.1:`port`, no persistence, no daemon.

    `stop()` terminates it and waits for the exit; `start()` starts it again on the same port
    and returns once it answers PING (a fresh, empty server: nothing is saved).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        binary: str,
        directory: Path,
        *,
        port: int | None = None,
        password: str | None = None,
        tls: RedisTls | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.port = port if port is not None else _free_port()
        self.password = password
        self.tls = tls
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.fixed_port = port is not None  # else a first start may move to another free port
        self.log = directory / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        """`redis://127.0.0.1:<port>/0` (with the password, when the server has one;
        `rediss://` for a TLS server)."""
        auth = f":{self.password}@" if self.password is not None else ""
        scheme = "rediss" if self.tls is not None else "redis"
        return f"{scheme}://{auth}{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        for _ in range(3):  # a free port may be taken between `_free_port()` and the bind
            try:
                self._start()
            except PortTakenError:
                if self.fixed_port:
                    raise
                self.port = _free_port()
            else:
                self.fixed_port = True  # `start()` after `stop()`: the same port
                return
        self._start()

    def _start(self) -> None:
        if self.tls is None:
            ports = ["--port", str(self.port)]
        else:
            ports = [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert_file),
                "--tls-key-file", str(self.tls.key_file),
                "--tls-ca-cert-file", str(self.tls.ca_file),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        args = [
            self.binary,
            *ports,
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.log),
        ]  # fmt: skip
        if self.password is not None:
            args += ["--requirepass", self.password]
        args += self.extra_args
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                stderr = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                self.process = None
                error = PortTakenError if "Address already in use" in stderr + log else RuntimeError
                raise error(
                    f"redis-server on port {self.port} exited at start:\n{stderr}{log[-2000:]}"
                )
            if self.ping():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"redis-server on port {self.port} did not answer PING "
                    f"within {REDIS_START_TIMEOUT} s"
                )
            time.sleep(0.01)  # poll interval of a bounded readiness loop

    def ping(self) -> bool:
        """Whether the server answers PING now (a NOAUTH error counts: it is up)."""
        return self._command(b"PING\r\n", expect=(b"+PONG", b"-NOAUTH"))

    def flushall(self) -> None:
        auth = b""
        if self.password is not None:
            pw = self.password.encode()
            auth = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw)
        if not self._command(auth + b"FLUSHALL\r\n", expect=(b"+OK",), replies=2 if auth else 1):
            raise RuntimeError(f"FLUSHALL failed on redis-server port {self.port}")

    def _command(self, request: bytes, *, expect: tuple[bytes, ...], replies: int = 1) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as plain:
                sock = plain
                if self.tls is not None:
                    context = ssl.create_default_context(cafile=str(self.tls.ca_file))
                    sock = context.wrap_socket(plain, server_hostname=self.host)
                sock.sendall(request)
                data = b""
                while data.count(b"\r\n") < replies:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
        except OSError:  # ssl.SSLError is one
            return False
        last = data.split(b"\r\n")[replies - 1]
        return last.startswith(expect)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=REDIS_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=REDIS_STOP_TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(scope="session")
def redis_session_server() -> Iterator[RedisServer]:
    """One `redis-server` for the whole session (use `redis_server` in tests)."""
    binary = _redis_binary()
    with tempfile.TemporaryDirectory(prefix="trimcp-redis-") as directory:
        server = RedisServer(binary, Path(directory))
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_server(redis_session_server: RedisServer) -> RedisServer:
    """The session's `redis-server`, running and empty."""
    redis_session_server.start()  # again, if an earlier test stopped it
    redis_session_server.flushall()
    return redis_session_server


RedisServerFactory = Callable[..., RedisServer]


@pytest.fixture
def redis_server_factory() -> Iterator[RedisServerFactory]:
    """`factory(*, password=None, tls=None, extra_args=())`: a started `redis-server` of the
    test's own."""
    binary = _redis_binary()
    servers: list[RedisServer] = []
    with tempfile.TemporaryDirectory(prefix="trimcp-redis-") as directory:

        def factory(
            *,
            password: str | None = None,
            tls: RedisTls | None = None,
            extra_args: Sequence[str] = (),
        ) -> RedisServer:
            server = RedisServer(
                binary, Path(directory), password=password, tls=tls, extra_args=extra_args
            )
            servers.append(server)
            server.start()
            return server

        try:
            yield factory
        finally:
            for server in servers:
                server.stop()

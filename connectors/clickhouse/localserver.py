"""A throwaway ClickHouse server on loopback: own config, ports and data directory; stopped by its PID.

Used by the integration tests (and usable by a local `up`): `clickhouse-server --config-file=DIR/config.xml`
with tcp/http ports on 127.0.0.1, everything under DIR, logs to DIR/log. `stop()` then `start()` reuses the
same ports and data (a restart), which is how the tests take ClickHouse down and bring it back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["LocalClickHouse", "free_port"]

_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>{dir}/log/server.log</log>
    <errorlog>{dir}/log/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default>
  </quotas>
</yandex>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalClickHouse:
    def __init__(self, directory: Path | str, binary: str = "clickhouse-server"):
        self.dir = Path(directory)
        self.binary = shutil.which(binary) or binary
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start_seconds = 0.0
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "config.xml").write_text(_CONFIG.format(dir=self.dir, tcp_port=self.tcp_port,
                                                            http_port=self.http_port))
        (self.dir / "users.xml").write_text(_USERS)

    def url(self, database: str = "default") -> str:
        return f"clickhouse://127.0.0.1:{self.tcp_port}/{database}"

    def start(self, timeout_s: float = 30.0) -> "LocalClickHouse":
        t0 = time.monotonic()
        out = open(self.dir / "log" / "stdout.log", "ab")
        self.proc = subprocess.Popen([self.binary, f"--config-file={self.dir / 'config.xml'}"], cwd=self.dir,
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self._wait_ready(t0 + timeout_s)
        self.start_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, deadline: float) -> None:
        from clickhouse_driver import Client

        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clickhouse-server exited with {self.proc.returncode}; see {self.dir}/log")
            client = Client(host="127.0.0.1", port=self.tcp_port, connect_timeout=1)
            try:
                with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1):
                    pass                    # listening: now ask (the driver logs a traceback per refusal)
                client.execute("SELECT 1")
                return
            except Exception:  # noqa: BLE001 — not listening or not answering yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"clickhouse-server not answering on {self.tcp_port}; see {self.dir}/log")
                time.sleep(0.05)
            finally:
                client.disconnect()

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM our process (by its PID, through Popen), SIGKILL if it does not exit in time.

        A graceful stop waits up to ~10 s for open client connections to close: disconnect clients first."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL our process (a crash: no graceful shutdown, open connections just break)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> "LocalClickHouse":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""Every test starts with an empty config directory ($SYNSEC_CONFIG_DIR): commands fall back to synsec's own content
unless a test installs some, whatever /etc/synsec or ~/.config/synsec of the machine holds."""

from __future__ import annotations

import os
import shutil
import tempfile


def pytest_configure(config) -> None:
    os.environ["SYNSEC_CONFIG_DIR"] = config._synsec_config_dir = tempfile.mkdtemp(prefix="synsec-config-")


def pytest_unconfigure(config) -> None:
    shutil.rmtree(getattr(config, "_synsec_config_dir", ""), ignore_errors=True)


# No test sends a reverse_dns lookup to the machine's resolver (off loopback): lookups are off unless a test
# starts its own DNS server and names it (tests/integration/test_reverse_dns.py).
os.environ.setdefault("SYNSEC_DNS_SERVER", "off")

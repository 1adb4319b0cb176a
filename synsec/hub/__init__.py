"""The hub lifecycle: CrowdSec `.index.json` indexes, dependency resolution and installs into one config dir.

`index` reads an index (pure: names and paths checked, nothing trusted), `resolve` computes dependency closures
and reverse dependencies (pure), `fetch` gets bytes from the configured hub only (size caps, timeouts),
`builtin` makes the index of synsec's own content, `tree` reads item states and writes files in a config
directory in CrowdSec's layout without ever writing outside it, `install` updates, installs, upgrades and removes,
`enable` enables and disables.
"""

from __future__ import annotations

from synsec.hub.index import HubError, HubIndex, Item, parse_index

__all__ = ["HubError", "HubIndex", "Item", "parse_index"]

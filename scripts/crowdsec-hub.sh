#!/usr/bin/env bash
# Fetch and unpack the Debian CrowdSec 1.4.6 packages (crowdsec + crowdsec-custom-bouncer)
# without installing them.
#
# Usage: scripts/crowdsec-hub.sh [DEST]     (default: <repo>/.cache/crowdsec)
#
# - Idempotent: if DEST/root already holds the unpacked binaries, nothing is downloaded.
# - Never runs `apt-get install crowdsec`: its post-install tries to register with the
#   online API, fails, and leaves dpkg in a state where every later `apt-get install`
#   exits 100. `apt-get download` + `dpkg-deb -x` run no maintainer scripts.
# - Works as root on a fresh Debian 12 machine (runs `apt-get update` once if the
#   download fails because the package lists are missing or stale).
#
# Prints, one per line as KEY=PATH (easy to `eval` or grep):
#   CROWDSEC_BIN, CSCLI_BIN, CROWDSEC_HUB, CROWDSEC_PATTERNS, CROWDSEC_DATA, CUSTOM_BOUNCER_BIN
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
DEST="${1:-$here/../.cache/crowdsec}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
ROOT="$DEST/root"
DEBS="$DEST/debs"
PKGS=(crowdsec crowdsec-custom-bouncer)

bin_cs="$ROOT/usr/bin/crowdsec"
bin_cscli="$ROOT/usr/bin/cscli"
bin_bouncer="$ROOT/usr/bin/crowdsec-custom-bouncer"

log() { echo "crowdsec-hub: $*" >&2; }

unpacked() {
    [[ -x "$bin_cs" && -x "$bin_cscli" && -x "$bin_bouncer" \
       && -d "$ROOT/usr/share/crowdsec/hub" && -d "$ROOT/etc/crowdsec/patterns" ]]
}

download() {
    # apt-get download writes into the current directory; run it as a user that can
    # write there. As root, apt drops privileges to _apt for downloads, so make the
    # directory writable for it (or it warns and falls back to root).
    (cd "$DEBS" && apt-get download "${PKGS[@]}") >&2
}

if ! unpacked; then
    mkdir -p "$DEBS" "$ROOT"
    chmod 0777 "$DEBS" 2>/dev/null || true
    have_all=1
    for p in "${PKGS[@]}"; do
        compgen -G "$DEBS/${p}_*.deb" >/dev/null || have_all=0
    done
    if [[ $have_all -eq 0 ]]; then
        log "downloading ${PKGS[*]} into $DEBS"
        if ! download; then
            log "apt-get download failed; running apt-get update and retrying"
            apt-get update >&2
            download
        fi
    fi
    for p in "${PKGS[@]}"; do
        deb="$(ls -1 "$DEBS/${p}_"*.deb | sort -V | tail -n1)"
        log "unpacking $(basename "$deb") into $ROOT"
        dpkg-deb -x "$deb" "$ROOT"
    done
    if ! unpacked; then
        log "unpack incomplete: expected binaries/hub not found under $ROOT"
        exit 1
    fi
fi

echo "CROWDSEC_BIN=$bin_cs"
echo "CSCLI_BIN=$bin_cscli"
echo "CROWDSEC_HUB=$ROOT/usr/share/crowdsec/hub"
echo "CROWDSEC_PATTERNS=$ROOT/etc/crowdsec/patterns"
echo "CROWDSEC_DATA=$ROOT/usr/share/crowdsec/data"
echo "CUSTOM_BOUNCER_BIN=$bin_bouncer"

#!/usr/bin/env bash
# SIPp with TLS for the TLS benchmark (and, by SIPP_TLS_BIN, the optional SIPp-over-TLS test),
# from Debian packages only. Prints the path of a `sipp` that speaks `-t l1` / `-t ln`.
#
# Why not the system's sipp: bookworm's sip-tester 3.6.1 is built without TLS on purpose (its
# source package declares Build-Conflicts: libssl-dev), so `sipp -t l1` answers "To use a TLS
# transport you must compile SIPp with OpenSSL". Rebuilding it is not possible here either: the
# package mirror serves sip-tester's .dsc but not its source tarballs (404 for
# sip-tester_3.6.1.orig.tar.gz and sip-tester_3.7.3.orig.tar.gz), and nothing else may be fetched.
# Debian trixie's sip-tester 3.7.3-2 is built with wolfSSL ("SIPp v3.7.3-TLS-SCTP-PCAP-SHA256") but
# needs glibc 2.38; bookworm has 2.36. So this script downloads that .deb and the trixie libraries
# it needs (glibc, libstdc++, wolfSSL, GSL, ncurses, pcap, sctp) with `apt-get download` against a
# private sources list and package-list directory (the machine's apt configuration is not
# touched), unpacks them under bench/sipp-tls/build/root (git-ignored), and writes
# bench/sipp-tls/build/sipp: a wrapper that runs trixie's sipp through trixie's own dynamic loader
# with only those libraries first on the search path. Nothing is installed system-wide.
#
# Takes under a minute (the trixie package list, then about 7 MB of packages); later runs reuse
# the cache. --force downloads again.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${SIPP_TLS_BUILD:-$HERE/build}
SUITE=trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
PACKAGES=(sip-tester libc6 libgcc-s1 libstdc++6 libgsl28 libgslcblas0 libncursesw6 libtinfo6
          libpcap0.8t64 libsctp1 libwolfssl42t64)

log() { printf 'sipp-tls: %s\n' "$*" >&2; }

FORCE=0
case "${1:-}" in
    --force) FORCE=1 ;;
    "") ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bench/sipp-tls/fetch.sh [--force]" >&2; exit 2 ;;
esac

WRAPPER=$BUILD/sipp
works() {  # sipp -v exits 1 after printing its version
    local version
    version=$("$WRAPPER" -v 2>&1 || true)
    [[ $version == *"-TLS"* ]]
}
if [[ $FORCE == 0 && -x $WRAPPER ]] && works; then
    echo "$WRAPPER"
    exit 0
fi

[[ $(dpkg --print-architecture 2>/dev/null) == amd64 ]] || { log "only amd64 is handled"; exit 1; }
[[ -r $KEYRING ]] || { log "$KEYRING not found (Debian package debian-archive-keyring)"; exit 1; }
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { log "needs apt-get and dpkg-deb"; exit 1; }

started=$SECONDS
rm -rf "$BUILD/apt" "$BUILD/debs" "$BUILD/root"
mkdir -p "$BUILD/apt/parts" "$BUILD/apt/lists/partial" "$BUILD/debs/partial" "$BUILD/root"
printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$BUILD/apt/sources.list"
APT=(-o "Dir::Etc::SourceList=$BUILD/apt/sources.list" -o "Dir::Etc::SourceParts=$BUILD/apt/parts"
     -o "Dir::State::Lists=$BUILD/apt/lists" -o "Dir::Cache::archives=$BUILD/debs"
     -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
log "reading the $SUITE package list (private to $BUILD/apt)"
timeout 300 apt-get "${APT[@]}" -q update >"$BUILD/apt/update.log" 2>&1 || { cat "$BUILD/apt/update.log" >&2; exit 1; }
log "downloading ${PACKAGES[*]}"
(cd "$BUILD/debs" && timeout 300 apt-get "${APT[@]}" -q download "${PACKAGES[@]}") >"$BUILD/apt/download.log" 2>&1 ||
    { cat "$BUILD/apt/download.log" >&2; exit 1; }
for deb in "$BUILD"/debs/*.deb; do
    dpkg-deb -x "$deb" "$BUILD/root"
done
cat >"$WRAPPER" <<'EOF'
#!/bin/sh
# Debian trixie's sipp (built with TLS) through trixie's loader and libraries; see fetch.sh.
R=$(dirname "$(readlink -f "$0")")/root
exec "$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
    --library-path "$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu" "$R/usr/bin/sipp" "$@"
EOF
chmod +x "$WRAPPER"
works || { log "the unpacked sipp does not run or has no TLS: $("$WRAPPER" -v 2>&1 | head -3)"; exit 1; }
version=$("$WRAPPER" -v 2>&1 || true)
log "$(grep -o 'SIPp v[^ ]*' <<<"$version" | head -1) ready in $((SECONDS - started)) s"
echo "$WRAPPER"

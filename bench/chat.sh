#!/usr/bin/env bash
# Chat delivery benchmark: N people with one open stream each, in M group chats, messages sent at
# fixed total rates through the REST API; measures delivered messages per second, send-to-receive
# latency (p50/p99/p99.9) and CPU, held against Centrifugo's published figure (about 500,000
# delivered messages/s on 40 CPUs, p99 200 ms: ~12,500 per CPU). Run by hand; never part of the
# test suite. See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    cat <<EOF
usage: bench/chat.sh [--people N] [--chats M] [--rates R1,R2,...] [--seconds S] [--quick] [--no-docs]

  --people N     people, each with one stream (default 1000)
  --chats M      group chats; people are split evenly (default 100; N must be a multiple of M)
  --rates LIST   total messages sent per second, one step each (default 250,500,1000,1500,2000,3000)
  --seconds S    length of each step (default 20; --quick 8)
  --quick        smoke check: 8-second steps, rates 250,1000
  --no-docs      print the table but do not append it to docs/benchmarks/chat.md

Environment: CHAT_HTTP (18090), WARM_UP_SECONDS (30), SWITCHBOARD_START_TIMEOUT (300 s), SWITCHBOARD_RUN_ARGS,
BENCH_OUT.
EOF
}

PEOPLE=1000
CHATS=100
RATES=250,500,1000,1500,2000,3000
STEP_SECONDS=""
QUICK=0
WRITE_DOCS=1
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --people) PEOPLE=${2:?}; shift ;;
        --chats) CHATS=${2:?}; shift ;;
        --rates) RATES=${2:?}; shift ;;
        --seconds) STEP_SECONDS=${2:?}; shift ;;
        --quick) QUICK=1 ;;
        --no-docs) WRITE_DOCS=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [[ $QUICK == 1 ]]; then
    STEP_SECONDS=${STEP_SECONDS:-8}
    RATES=250,1000
fi
STEP_SECONDS=${STEP_SECONDS:-20}
[[ $PEOPLE =~ ^[0-9]+$ && $CHATS =~ ^[0-9]+$ && $CHATS -ge 1 && $((PEOPLE % CHATS)) -eq 0 && $PEOPLE -le 20000 ]] \
    || { echo "--people must be a multiple of --chats, at most 20000" >&2; exit 2; }
[[ $RATES =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "--rates: numbers separated by commas" >&2; exit 2; }
[[ $STEP_SECONDS =~ ^[0-9]+$ && $STEP_SECONDS -ge 1 && $STEP_SECONDS -le 300 ]] || { echo "--seconds: 1..300" >&2; exit 2; }

CHAT_HTTP=${CHAT_HTTP:-18090}
# On 2 cores the JIT compiler is still busy a minute into the load; 30 s at the first rate lets
# most of the hot path be compiled before anything is measured.
WARM_UP_SECONDS=${WARM_UP_SECONDS:-30}
SWITCHBOARD_START_TIMEOUT=${SWITCHBOARD_START_TIMEOUT:-300}
STARTED_PIDS=()
SERVER_PID=""
trap 'cleanup' EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
JAVA="$("$ROOT/switchboard" jdk)/bin/java"
log "building when needed"
"$ROOT/switchboard" --version >/dev/null

start_node() {
    local data="$OUT/node-chat"
    port_free "$CHAT_HTTP" || die "port $CHAT_HTTP is in use"
    rm -rf "$data"
    mkdir -p "$data"
    # Signing 1,000 people up is set-up, not what is measured: cheap password hashes. The per-address
    # sign-up brake is lifted because every person comes from 127.0.0.1.
    printf 'auth:\n  passwordHashMemory: 64\n  passwordHashIterations: 1\n  signInFailuresPerAddress: 1000000\n' \
        >"$OUT/switchboard-chat.yaml"
    log "starting switchboard, http 127.0.0.1:$CHAT_HTTP, no SIP"
    # shellcheck disable=SC2086  # SWITCHBOARD_RUN_ARGS: extra flags, split on purpose
    "$ROOT/switchboard" run --data-dir "$data" --sip "" --http "127.0.0.1:$CHAT_HTTP" \
        --config "$OUT/switchboard-chat.yaml" ${SWITCHBOARD_RUN_ARGS:-} >"$OUT/switchboard-chat.log" 2>&1 &
    SERVER_PID=$!
    STARTED_PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + SWITCHBOARD_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard exited: $(tail -5 "$OUT/switchboard-chat.log")"
        http_ok "http://127.0.0.1:$CHAT_HTTP/readyz" && return 0
        sleep 0.5
    done
    die "switchboard not ready within $SWITCHBOARD_START_TIMEOUT s (see $OUT/switchboard-chat.log)"
}

start_node
log "load: $PEOPLE people in $CHATS chats, rates $RATES, $STEP_SECONDS s each"
# The launcher execs the JVM, so SERVER_PID is the server process itself.
timeout $((600 + STEP_SECONDS * 20)) "$JAVA" "$ROOT/bench/chat/ChatLoad.java" --base "http://127.0.0.1:$CHAT_HTTP" \
    --server-pid "$SERVER_PID" --people "$PEOPLE" --chats "$CHATS" --rates "$RATES" --seconds "$STEP_SECONDS" \
    --warmup "$WARM_UP_SECONDS" \
    >"$OUT/chat.tsv" 2>"$OUT/chat-load.log" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
wait "$LOAD_PID" || die "the load generator failed: $(tail -5 "$OUT/chat-load.log")"
forget_pid "$LOAD_PID"
stop_server

TABLE=$(awk -F'\t' 'NR == 1 { next } {
    printf "| %s/s | %s/s | %s | %s/s | %s / %s / %s | %s%% | %s%% | %s | %s |\n", $1, $2, $3, $4, $6, $7, $8, $9, $10, $11, $12
}' "$OUT/chat.tsv")
BEST=$(awk -F'\t' 'NR > 1 && $3 == 0 && $12 == 0 && $7 <= 50 && $4 >= 0.98 * $5 { best = $0 } END { print best }' "$OUT/chat.tsv")
HEADER="| send rate | sent | send errors | delivered | latency p50 / p99 / p99.9 (ms) | server CPU | load generator CPU | delivered per server core-second | streams closed |
|---|---|---|---|---|---|---|---|---|"
printf '\n%s\n%s\n' "$HEADER" "$TABLE"
if [[ -n $BEST ]]; then
    SUMMARY=$(awk -F'\t' '{ printf "Highest step with no send error, no stream closed, p99 <= 50 ms and >= 98%% of expected deliveries: %s messages/s sent, %s delivered/s (%s per server core-second), p99 %s ms.", $1, $4, $11, $7 }' <<<"$BEST")
else
    SUMMARY="No step met the target (no send error, no stream closed, p99 <= 50 ms, >= 98% of expected deliveries)."
fi
printf '\n%s\n' "$SUMMARY"

if [[ $WRITE_DOCS == 1 ]]; then
    MACHINE="$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1 | awk '{print $1, $2}'), Linux $(uname -r)"
    TITLE="Chat delivery"
    [[ $QUICK == 1 ]] && TITLE="Chat delivery: harness smoke check (--quick), not a result"
    {
        printf '\n## %s UTC — %s\n\n' "$(date -u '+%Y-%m-%d %H:%M')" "$TITLE"
        printf 'Command: `bench/chat.sh%s` (%s people, one stream each, in %s chats; %s-second steps).\n' \
            "$( ((${#ARGS[@]})) && printf ' %s' "${ARGS[@]}")" "$PEOPLE" "$CHATS" "$STEP_SECONDS"
        printf 'Machine: %s; Switchboard %s. Anchor: Centrifugo, ~12,500 delivered messages/s per CPU, p99 200 ms.\n\n' \
            "$MACHINE" "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
        printf '%s\n%s\n\n%s\n' "$HEADER" "$TABLE" "$SUMMARY"
    } >>"$ROOT/docs/benchmarks/chat.md"
    log "appended to docs/benchmarks/chat.md"
fi

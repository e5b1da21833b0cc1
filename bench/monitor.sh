#!/usr/bin/env bash
# Monitor benchmark: 10,000 http monitors at a 10-second interval on one Switchboard node against a
# loopback HTTP target, and the raw probe rate of Prometheus blackbox_exporter (Debian
# prometheus-blackbox-exporter) beside Switchboard's own, in the same run. Run by hand; never part
# of the test suite. See bench/README.md and docs/benchmarks/monitor.md ("Method: monitor").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}/monitor

usage() {
    cat <<EOF
usage: bench/monitor.sh [--quick] [--monitors N] [--interval SECONDS] [--duration SECONDS]
                        [--raw-duration SECONDS] [--fold-rows N] [--no-blackbox] [--no-docs]

  --quick            2,000 monitors, 30-second phases: a smoke check of the harness
  --monitors N       http monitors on the node (default 10000)
  --interval S       their interval (default 10)
  --duration S       the scheduled phase's measured length, after the warm-up (default 120)
  --raw-duration S   each raw-rate run (default 30)
  --fold-rows N      add a fold-and-delete phase: N old raw results (3 to 26 hours old) are written
                     into the stopped node's store, which restarts with rawRetention 2h and folds and
                     deletes them while the monitors run; measures lateness meanwhile (default 0: no phase)
  --no-blackbox      skip blackbox_exporter
  --no-docs          print the table but do not append it to docs/benchmarks/monitor.md

Environment (defaults): TARGET_PORT (18900), SWITCHBOARD_HTTP (18080), BLACKBOX_PORT (19115),
BLACKBOX_CONCURRENCY (64), WARM_UP (45 s), SWITCHBOARD_START_TIMEOUT (300 s), BENCH_OUT (bench/out),
FOLD_DURATION (150 s: the fold phase's measured length; the node folds 5 s after start, then every minute).
EOF
}

QUICK=0
MONITORS=""
INTERVAL=10
DURATION=""
RAW_DURATION=""
BLACKBOX=1
WRITE_DOCS=1
FOLD_ROWS=0
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --monitors) MONITORS=${2:?}; shift ;;
        --interval) INTERVAL=${2:?}; shift ;;
        --duration) DURATION=${2:?}; shift ;;
        --raw-duration) RAW_DURATION=${2:?}; shift ;;
        --fold-rows) FOLD_ROWS=${2:?}; shift ;;
        --no-blackbox) BLACKBOX=0 ;;
        --no-docs) WRITE_DOCS=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [[ $QUICK == 1 ]]; then
    MONITORS=${MONITORS:-2000}; DURATION=${DURATION:-30}; RAW_DURATION=${RAW_DURATION:-15}
else
    MONITORS=${MONITORS:-10000}; DURATION=${DURATION:-120}; RAW_DURATION=${RAW_DURATION:-30}
fi
[[ $MONITORS =~ ^[0-9]+$ && $MONITORS -ge 1 && $MONITORS -le 100000 ]] || { echo "--monitors: 1..100000" >&2; exit 2; }
[[ $INTERVAL =~ ^[0-9]+$ && $INTERVAL -ge 1 && $INTERVAL -le 3600 ]] || { echo "--interval: 1..3600" >&2; exit 2; }
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 10 && $DURATION -le 3600 ]] || { echo "--duration: 10..3600" >&2; exit 2; }
[[ $RAW_DURATION =~ ^[0-9]+$ && $RAW_DURATION -ge 5 && $RAW_DURATION -le 600 ]] || { echo "--raw-duration: 5..600" >&2; exit 2; }
[[ $FOLD_ROWS =~ ^[0-9]+$ && $FOLD_ROWS -le 100000000 ]] || { echo "--fold-rows: 0..100000000" >&2; exit 2; }
FOLD_DURATION=${FOLD_DURATION:-150}
[[ $FOLD_DURATION =~ ^[0-9]+$ && $FOLD_DURATION -ge 70 ]] || { echo "FOLD_DURATION: at least 70 (s)" >&2; exit 2; }

TARGET_PORT=${TARGET_PORT:-18900}
SWITCHBOARD_HTTP=${SWITCHBOARD_HTTP:-18080}
BLACKBOX_PORT=${BLACKBOX_PORT:-19115}
BLACKBOX_CONCURRENCY=${BLACKBOX_CONCURRENCY:-64}
WARM_UP=${WARM_UP:-45}
SWITCHBOARD_START_TIMEOUT=${SWITCHBOARD_START_TIMEOUT:-300}
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STARTED_PIDS=()
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ------------------------------------------------------------------ 1. packages and the JDK
install_monitor_packages() {
    local missing=()
    command -v sqlite3 >/dev/null || missing+=(sqlite3)
    if [[ $BLACKBOX == 1 ]]; then
        command -v prometheus-blackbox-exporter >/dev/null || missing+=(prometheus-blackbox-exporter)
        command -v ab >/dev/null || missing+=(apache2-utils)
    fi
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]} (Debian packages)"
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
        "${sudo[@]}" apt-get update -q >/dev/null
        "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null
    }
    # the package may enable its own service on :9115; this benchmark runs its own instance
    if [[ " ${missing[*]} " == *" prometheus-blackbox-exporter "* ]] && command -v systemctl >/dev/null; then
        "${sudo[@]}" systemctl disable --now prometheus-blackbox-exporter >/dev/null 2>&1 || true
    fi
}

find_java() {  # a JDK 21+ for the target: $JAVA_HOME, else the newest under /usr/lib/jvm
    local home v best="" best_major=0 major
    for home in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
        [[ -n $home && -x $home/bin/java && -f $home/release ]] || continue
        v=$(sed -n 's/^JAVA_VERSION="\(.*\)"$/\1/p' "$home/release"); v=${v#1.}; major=${v%%[.+_-]*}
        [[ $major =~ ^[0-9]+$ ]] || continue
        if ((major >= 21 && major > best_major)); then best="$home/bin/java"; best_major=$major; fi
    done
    [[ -n $best ]] || die "no JDK 21 or newer found for the target"
    echo "$best"
}

# ------------------------------------------------------------------ 2. processes
TARGET_PID=""
start_target() {
    port_free "$TARGET_PORT" || die "port $TARGET_PORT is in use"
    log "starting the loopback target on 127.0.0.1:$TARGET_PORT"
    "$JAVA" -XX:+UseParallelGC -Xmx512m "$ROOT/bench/monitor/Target.java" "$TARGET_PORT" >"$OUT/target.log" 2>&1 &
    TARGET_PID=$!
    STARTED_PIDS+=("$TARGET_PID")
    local i
    for ((i = 0; i < 120; i++)); do
        http_ok "http://127.0.0.1:$TARGET_PORT/health" && return 0
        kill -0 "$TARGET_PID" 2>/dev/null || die "target exited: $(tail -3 "$OUT/target.log")"
        sleep 0.5
    done
    die "target not answering"
}

SERVER_PID=""
DATA=""
start_switchboard() {  # start_switchboard [keep]: a fresh data dir, or with "keep" the one there
    DATA="$OUT/node"
    port_free "$SWITCHBOARD_HTTP" || die "port $SWITCHBOARD_HTTP is in use"
    if [[ ${1:-} != keep ]]; then
        rm -rf "$DATA"
        mkdir -p "$DATA"
    fi
    log "starting switchboard on http 127.0.0.1:$SWITCHBOARD_HTTP (no SIP listeners)"
    "$ROOT/switchboard" run --data-dir "$DATA" --http "127.0.0.1:$SWITCHBOARD_HTTP" --sip '' --log-level warn \
        >>"$OUT/switchboard.log" 2>&1 &
    SERVER_PID=$!
    STARTED_PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + SWITCHBOARD_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard exited: $(tail -5 "$OUT/switchboard.log")"
        http_ok "http://127.0.0.1:$SWITCHBOARD_HTTP/readyz" && return 0
        sleep 0.5
    done
    die "switchboard not ready within $SWITCHBOARD_START_TIMEOUT s (see $OUT/switchboard.log)"
}

stats() {  # stats FIELD: a top-level number from /api/v1/monitor-stats
    curl -fsS --max-time 10 -H "Authorization: Bearer $(cat "$DATA/admin.token")" \
        "http://127.0.0.1:$SWITCHBOARD_HTTP/api/v1/monitor-stats" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

write_monitors() {  # write_monitors FILE INTERVAL
    awk -v n="$MONITORS" -v port="$TARGET_PORT" -v every="$2" 'BEGIN {
        print "monitors:"
        for (i = 0; i < n; i++) {
            printf "  - {name: m%05d, type: http, target: \"http://127.0.0.1:%d/health?m=%d\", interval: %ss, timeout: 5s}\n", i, port, i, every
        }
    }' >"$1"
}

import_monitors() {  # import_monitors FILE
    "$ROOT/switchboard" monitor import "$1" --data-dir "$DATA" >>"$OUT/import.log" 2>&1 ||
        die "monitor import failed: $(tail -3 "$OUT/import.log")"
}

rss_mb() { awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }

heap_mb() {
    curl -fsS --max-time 10 "http://127.0.0.1:$SWITCHBOARD_HTTP/metrics" |
        awk '/^jvm_memory_used_bytes\{.*area="heap"/ { s += $NF } END { printf "%d", s / 1048576 }'
}

# measure SECONDS: checks/s and CPU of the node over a window; sets M_RATE M_CPU M_T0 M_T1 M_RSS M_SKIPPED
measure() {
    local seconds=$1 c0 c1 k0 k1 t0 t1 rss=0 r i
    local s0
    c0=$(stats checks); s0=$(stats checksSkipped); k0=$(tree_ticks "$SERVER_PID"); t0=$(date +%s%3N)
    for ((i = 0; i < seconds; i += 5)); do
        sleep 5
        r=$(rss_mb "$SERVER_PID"); ((r > rss)) && rss=$r
    done
    c1=$(stats checks); k1=$(tree_ticks "$SERVER_PID"); t1=$(date +%s%3N)
    M_RATE=$(awk -v a="$c0" -v b="$c1" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", (b - a) * 1000 / ms }')
    M_CPU=$(awk -v a="$k0" -v b="$k1" -v ms=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", (b - a) / hz * 100000 / ms }')
    M_T0=$t0 M_T1=$t1 M_RSS=$rss M_SKIPPED=$(($(stats checksSkipped) - s0))
}

lateness_percentiles() {  # from every result the node stored in [M_T0, M_T1): "count p50 p99 max down"
    sqlite3 -readonly "$DATA/switchboard.db" "PRAGMA busy_timeout = 10000;" \
        "SELECT lateness_ms, status FROM monitor_results WHERE started_at >= $M_T0 AND started_at < $M_T1 ORDER BY lateness_ms;" |
        awk -F'|' '{ v[NR] = $1; if ($2 == "down") d++ }
            END {
                if (NR == 0) { print "0 - - - 0"; exit }
                i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
                printf "%d %d %d %d %d\n", NR, v[i50], v[i99], v[NR], d + 0
            }'
}

# ------------------------------------------------------------------ 3. fold and delete
# fold_phase: N old raw results into the stopped node's store, then the node again with rawRetention 2h;
# sets F_COUNT F_P50 F_P99 F_MAX F_LEFT F_HOURS F_SECONDS
fold_phase() {
    local db="$DATA/switchboard.db" now_ms from_ms span_ms left_before
    now_ms=$(date +%s%3N)
    from_ms=$((now_ms - 26 * 3600 * 1000))
    span_ms=$((23 * 3600 * 1000))
    log "writing $FOLD_ROWS raw results 3 to 26 hours old into the store (sqlite3)"
    sqlite3 "$db" "PRAGMA busy_timeout = 60000;" \
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $FOLD_ROWS - 1)
         INSERT INTO monitor_results (monitor, started_at, status, latency_ms, latency_bucket, lateness_ms, error, details)
         SELECT printf('m%05d', i % $MONITORS), $from_ms + (i * $span_ms) / $FOLD_ROWS, 'up', 2, 12, 1, NULL, NULL FROM n;" \
        "DELETE FROM monitor_fold_progress;" >/dev/null || die "could not write the old raw results"
    left_before=$(sqlite3 "$db" "SELECT COUNT(*) FROM monitor_results WHERE started_at < $((now_ms - 2 * 3600 * 1000));")
    log "$left_before raw results older than 2 h; restarting the node with rawRetention 2h"
    export SWITCHBOARD_MONITOR_RAW_RETENTION=2h
    start_switchboard keep
    for ((i = 0; i < 120; i++)); do
        [[ $(stats monitors) == "$MONITORS" ]] && break
        sleep 1
    done
    measure "$FOLD_DURATION"
    F_SECONDS=$FOLD_DURATION
    read -r F_COUNT F_P50 F_P99 F_MAX _ < <(lateness_percentiles)
    F_LEFT=$(sqlite3 -readonly "$db" "PRAGMA busy_timeout = 10000;" \
        "SELECT COUNT(*) FROM monitor_results WHERE started_at < $((now_ms - 2 * 3600 * 1000));" | tail -1)
    F_HOURS=$(sqlite3 -readonly "$db" "PRAGMA busy_timeout = 10000;" \
        "SELECT COUNT(*) FROM monitor_hourly WHERE period_start >= $from_ms;" | tail -1)
    log "fold phase: lateness p50 ${F_P50} ms p99 ${F_P99} ms max ${F_MAX} ms; $F_LEFT of $left_before old rows left," \
        "$F_HOURS hourly aggregates"
}

# ------------------------------------------------------------------ 4. blackbox_exporter
blackbox_rate() {  # sets B_RATE B_FAILED B_CPU B_VERSION
    local exporter cfg="$OUT/blackbox.yml" pid k0 k1 t0 t1
    exporter=$(command -v prometheus-blackbox-exporter)
    printf 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n' >"$cfg"
    port_free "$BLACKBOX_PORT" || die "port $BLACKBOX_PORT is in use"
    B_VERSION=$("$exporter" --version 2>&1 | head -1 | sed 's/ *(.*//')
    log "starting $B_VERSION on 127.0.0.1:$BLACKBOX_PORT"
    "$exporter" --config.file="$cfg" --web.listen-address="127.0.0.1:$BLACKBOX_PORT" >"$OUT/blackbox.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    local url="http://127.0.0.1:$BLACKBOX_PORT/probe?module=http_2xx&target=http://127.0.0.1:$TARGET_PORT/health"
    local i
    for ((i = 0; i < 60; i++)); do
        curl -fsS --max-time 5 "$url" 2>/dev/null | grep -q '^probe_success 1' && break
        kill -0 "$pid" 2>/dev/null || die "blackbox_exporter exited: $(tail -3 "$OUT/blackbox.log")"
        sleep 0.5
    done
    ((i < 60)) || die "blackbox_exporter's probe of the target does not succeed"
    log "warming blackbox_exporter up for 10 s, then ${RAW_DURATION} s of probes at concurrency $BLACKBOX_CONCURRENCY (ab)"
    timeout -k 5 30 ab -q -c "$BLACKBOX_CONCURRENCY" -t 10 -n 100000000 "$url" >/dev/null 2>&1 || true
    k0=$(tree_ticks "$pid"); t0=$(date +%s%3N)
    timeout -k 5 $((RAW_DURATION + 30)) ab -q -c "$BLACKBOX_CONCURRENCY" -t "$RAW_DURATION" -n 100000000 "$url" \
        >"$OUT/ab.out" 2>&1 || true
    k1=$(tree_ticks "$pid"); t1=$(date +%s%3N)
    B_RATE=$(awk '/^Requests per second/ { printf "%.0f", $4 }' "$OUT/ab.out")
    # ab counts an answer whose length differs from the first as failed; the exporter's answers differ
    # in their timing figures, so only connect, receive and exception failures and non-2xx count here
    B_FAILED=$(awk '/^ *\(Connect:/ { gsub(/[(),]/, ""); f = $2 + $4 + $8 }
                    /^Non-2xx responses/ { n = $3 }
                    END { print f + n }' "$OUT/ab.out")
    B_CPU=$(awk -v a="$k0" -v b="$k1" -v ms=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", (b - a) / hz * 100000 / ms }')
    # ab counts answers; whether the probes found the target up is in the exporter's own answer
    curl -fsS --max-time 5 "$url" | grep -q '^probe_success 1' || log "warning: the last blackbox probe did not succeed"
    stop_pid "$pid"
    forget_pid "$pid"
}

# ------------------------------------------------------------------ main
mkdir -p "$OUT"
install_monitor_packages
JAVA=$(find_java)
RUN_STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
: >"$OUT/import.log"
start_target
start_switchboard

write_monitors "$OUT/monitors.yaml" "$INTERVAL"
log "importing $MONITORS http monitors at ${INTERVAL}s into the running node"
import_monitors "$OUT/monitors.yaml"
for ((i = 0; i < 120; i++)); do
    [[ $(stats monitors) == "$MONITORS" ]] && break
    sleep 1
done
[[ $(stats monitors) == "$MONITORS" ]] || die "the node did not schedule $MONITORS monitors"
log "warm-up ${WARM_UP}s, then ${DURATION}s measured"
sleep "$WARM_UP"
measure "$DURATION"
S_RATE=$M_RATE S_CPU=$M_CPU S_RSS=$M_RSS S_HEAP=$(heap_mb)
read -r S_COUNT S_P50 S_P99 S_MAX S_DOWN < <(lateness_percentiles)
S_DROPPED=$(stats resultsDropped)
S_SKIPPED=$M_SKIPPED
log "scheduled: $S_RATE checks/s, lateness p50 ${S_P50} ms p99 ${S_P99} ms max ${S_MAX} ms over $S_COUNT checks" \
    "($S_DOWN down), cpu ${S_CPU}%, rss ${S_RSS} MB, heap ${S_HEAP} MB"

# raw probe rate: the same monitors every second, far more than one node can do on this machine
write_monitors "$OUT/monitors-1s.yaml" 1
log "raw rate: the same $MONITORS monitors at 1s, 15 s to settle, ${RAW_DURATION}s measured"
import_monitors "$OUT/monitors-1s.yaml"
sleep 15
measure "$RAW_DURATION"
R_RATE=$M_RATE R_CPU=$M_CPU
read -r R_COUNT _ _ _ R_DOWN < <(lateness_percentiles)
log "raw: $R_RATE checks/s ($R_DOWN down of $R_COUNT), cpu ${R_CPU}%"
F_COUNT=- F_P50=- F_P99=- F_MAX=- F_LEFT=- F_HOURS=- F_SECONDS=0
if ((FOLD_ROWS > 0)); then
    log "back to ${INTERVAL}s for the fold phase"
    import_monitors "$OUT/monitors.yaml"
    sleep 15
    stop_pid "$SERVER_PID"
    forget_pid "$SERVER_PID"
    fold_phase
fi
stop_pid "$SERVER_PID"
forget_pid "$SERVER_PID"

B_RATE=- B_FAILED=- B_CPU=- B_VERSION="blackbox_exporter (skipped)"
if [[ $BLACKBOX == 1 ]]; then
    blackbox_rate
    log "blackbox_exporter: $B_RATE probes/s ($B_FAILED failed), cpu ${B_CPU}%"
fi
T_CPU=$(awk -v t="$(tree_ticks "$TARGET_PID")" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", t / hz }')

# ------------------------------------------------------------------ report
on_time() { [[ $S_P99 =~ ^[0-9]+$ && $S_P99 -lt 1000 ]] && echo "yes" || echo "no"; }
RATIO=-
[[ $B_RATE =~ ^[0-9]+$ && $B_RATE -gt 0 ]] && RATIO=$(awk -v a="$R_RATE" -v b="$B_RATE" 'BEGIN { printf "%.1f", a / b }')
TABLE=$(
    echo "| measure | Switchboard | blackbox_exporter |"
    echo "|---|---|---|"
    echo "| $MONITORS http monitors at ${INTERVAL} s: checks/s | $S_RATE (expected $((MONITORS / INTERVAL))) | |"
    echo "| scheduling lateness p50 / p99 / max | $S_P50 / $S_P99 / $S_MAX ms over $S_COUNT checks (p99 under 1 s: $(on_time)) | |"
    echo "| in the window: failed / skipped (previous still running); results dropped | $S_DOWN / $S_SKIPPED; $S_DROPPED | |"
    echo "| node CPU (% of one core), RSS, heap used | ${S_CPU}%, ${S_RSS} MB, ${S_HEAP} MB | |"
    echo "| raw probe rate (probes/s) | $R_RATE (the same monitors at 1 s; $R_DOWN of $R_COUNT down) | $B_RATE (ab -c $BLACKBOX_CONCURRENCY; $B_FAILED failed) |"
    echo "| CPU during the raw run | ${R_CPU}% | ${B_CPU}% |"
    echo "| raw rate ratio SB/BB | $RATIO | |"
    if ((FOLD_ROWS > 0)); then
        echo "| fold and delete $FOLD_ROWS old raw results over ${F_SECONDS} s: lateness p50 / p99 / max | $F_P50 / $F_P99 / $F_MAX ms over $F_COUNT checks; $F_LEFT old rows left, $F_HOURS hourly aggregates | |"
    fi
)
echo
echo "$TABLE"
echo
echo "CPU: % of one core (process tree, /proc/PID/stat). The target used ${T_CPU} s of CPU in all. Details in $OUT."

if [[ $WRITE_DOCS == 1 ]]; then
    DOC=$ROOT/docs/benchmarks/monitor.md
    title="Monitor: $MONITORS http monitors at ${INTERVAL} s, and raw probe rate beside blackbox_exporter"
    [[ $QUICK == 1 ]] && title="$title: harness smoke check (--quick), not a result"
    {
        echo
        echo "## $RUN_STARTED — $title"
        echo
        echo "Command: \`bench/monitor.sh${ARGS[*]:+ ${ARGS[*]}}\` (warm-up ${WARM_UP} s, scheduled phase ${DURATION} s, raw runs ${RAW_DURATION} s)."
        echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r);" \
            "$("$JAVA" -version 2>&1 | head -1); $B_VERSION; Switchboard $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '(no git)')."
        echo
        echo "$TABLE"
    } >>"$DOC"
    log "appended to $DOC"
fi

#!/usr/bin/env bash
# Side-by-side REGISTER benchmark: Kamailio 5.6 (the baseline kit's config) against Switchboard,
# both driven by SIPp 3.6.1 on loopback UDP, or with --transport tls by bench/tls/RegisterLoad.java
# (SIPp here has no working TLS: see that file) over TLS to Kamailio's tls module and Switchboard's
# tls listener, both with the same certificate. Run by hand; never part of the test suite.
#
# For each scenario (noauth, auth) and target (kamailio, switchboard) it finds the highest rate
# with zero failed registrations and zero retransmissions over fixed-length runs, and reports
# SIPp's response times (p50/p99) and the server's CPU (whole process tree, % of one core).
# See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
BASELINE=$ROOT/bench/baseline

usage() {
    cat <<EOF
usage: bench/sip-register.sh [--quick] [--only kamailio|switchboard] [--scenario S]
                             [--transport udp|tls] [--duration SECONDS] [--max-probes N]
                             [--rounds N] [--no-docs]

  --quick        10-second runs and at most 4 probes per scenario: a smoke check of the harness
  --only T       run one target only (kamailio or switchboard)
  --scenario S   run one scenario only: noauth or auth; with --transport tls also auth-newconn
  --transport T  udp (default) or tls. tls runs auth (digest REGISTERs over TLS_CONNECTIONS
                 kept-open TLS connections) and auth-newconn (a new TLS connection, so a full
                 handshake, for each registration: its clean rate is the handshakes per second),
                 both with bench/tls/RegisterLoad.java instead of SIPp
  --duration S   seconds per probe run (default 25, --quick 10)
  --max-probes N most sipp runs per target and scenario (default 8, --quick 4)
  --rounds N     repeat the whole comparison N times, the targets taking turns to go first;
                 the table shows each target's median clean rate (default 1)
  --no-docs      print the table but do not append it to docs/benchmarks/sip-register.md
                 (docs/benchmarks/tls.md with --transport tls)

Environment (defaults): KAMAILIO_PORT (5060), SWITCHBOARD_PORT (5080), SWITCHBOARD_HTTP (18080),
SIPP_PORT (6000), USERS (10000), WARM_UP_RATE (2000), KAMAILIO_CFG (bench/baseline/kamailio.cfg),
START_KAMAILIO_NOAUTH (20000), START_KAMAILIO_AUTH (9000), START_SWITCHBOARD_NOAUTH (20000),
START_SWITCHBOARD_AUTH (9000), SWITCHBOARD_START_TIMEOUT (300 s), BENCH_OUT (bench/out).
With --transport tls: START_KAMAILIO_AUTH / START_SWITCHBOARD_AUTH (3000),
START_KAMAILIO_AUTH_NEWCONN / START_SWITCHBOARD_AUTH_NEWCONN (500), TLS_CONNECTIONS (50),
TLS_MAX_P99_MS (500: a probe whose p99 is above fails, as SIPp's 500 ms retransmission timer
fails a UDP probe), TLS_WARM_UP (5: seconds of the same load the generator runs, unmeasured,
before each probe), TLS_INITIAL_WARM_UP (20: the least seconds of the warm-up at WARM_UP_RATE
after a server starts, registering the users in turn more than once if need be);
BENCH_OUT defaults to bench/out/tls.
EOF
}

QUICK=0
ONLY=""
ONLY_SCENARIO=""
DURATION=""
MAX_PROBES=""
ROUNDS=1
WRITE_DOCS=1
TRANSPORT=udp
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --only) ONLY=${2:?--only needs kamailio or switchboard}; shift ;;
        --scenario) ONLY_SCENARIO=${2:?--scenario needs noauth or auth}; shift ;;
        --duration) DURATION=${2:?}; shift ;;
        --max-probes) MAX_PROBES=${2:?}; shift ;;
        --rounds) ROUNDS=${2:?}; shift ;;
        --transport) TRANSPORT=${2:?--transport needs udp or tls}; shift ;;
        --no-docs) WRITE_DOCS=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$ONLY" in ""|kamailio|switchboard) ;; *) echo "--only: kamailio or switchboard" >&2; exit 2 ;; esac
case "$TRANSPORT" in udp|tls) ;; *) echo "--transport: udp or tls" >&2; exit 2 ;; esac
case "$ONLY_SCENARIO" in
    ""|noauth|auth) ;;
    auth-newconn) [[ $TRANSPORT == tls ]] || { echo "--scenario auth-newconn needs --transport tls" >&2; exit 2; } ;;
    *) echo "--scenario: noauth, auth or (tls) auth-newconn" >&2; exit 2 ;;
esac
[[ $TRANSPORT == tls && -z ${BENCH_OUT:-} ]] && OUT=$ROOT/bench/out/tls
if [[ $QUICK == 1 ]]; then
    DURATION=${DURATION:-10}
    MAX_PROBES=${MAX_PROBES:-4}
else
    DURATION=${DURATION:-25}
    MAX_PROBES=${MAX_PROBES:-8}
fi
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 300 ]] || { echo "--duration: 1..300" >&2; exit 2; }
[[ $MAX_PROBES =~ ^[0-9]+$ && $MAX_PROBES -ge 1 && $MAX_PROBES -le 20 ]] || { echo "--max-probes: 1..20" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 && $ROUNDS -le 9 ]] || { echo "--rounds: 1..9" >&2; exit 2; }

KAMAILIO_PORT=${KAMAILIO_PORT:-5060}
SWITCHBOARD_PORT=${SWITCHBOARD_PORT:-5080}
SWITCHBOARD_HTTP=${SWITCHBOARD_HTTP:-18080}
SIPP_PORT=${SIPP_PORT:-6000}
USERS=${USERS:-10000}
KAMAILIO_CFG=${KAMAILIO_CFG:-$BASELINE/kamailio.cfg}
SWITCHBOARD_START_TIMEOUT=${SWITCHBOARD_START_TIMEOUT:-300}
MIN_RATE=100            # below this a target counts as failing the scenario outright
MAX_RATE=200000         # the step-up never goes past this
COOLDOWN=5              # seconds between probes: let late responses and timers drain
WARM_UP_RATE=${WARM_UP_RATE:-2000}

TARGETS=(kamailio switchboard)
[[ -n $ONLY ]] && TARGETS=("$ONLY")
SCENARIOS=(noauth auth)
[[ $TRANSPORT == tls ]] && SCENARIOS=(auth auth-newconn)
[[ -n $ONLY_SCENARIO ]] && SCENARIOS=("$ONLY_SCENARIO")

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ------------------------------------------------------------------ processes we started
STARTED_PIDS=()
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

CLK_TCK=$(getconf CLK_TCK)

KAMAILIO_BIN=$(command -v kamailio || echo /usr/sbin/kamailio)

# ------------------------------------------------------------------ TLS: load generator, certificates
TLS_DIR=$OUT/certs
TLS_CONNECTIONS=${TLS_CONNECTIONS:-50}
TLS_MAX_P99_MS=${TLS_MAX_P99_MS:-500}
TLS_WARM_UP=${TLS_WARM_UP:-5}
TLS_INITIAL_WARM_UP=${TLS_INITIAL_WARM_UP:-20}
LOAD_CLASSES=$OUT/load-classes
if [[ $TRANSPORT == tls ]]; then
    JAVA_DIR=${JAVA_HOME:-$("$ROOT/switchboard" jdk 2>/dev/null || true)}
    [[ -x $JAVA_DIR/bin/javac ]] || die "no JDK for bench/tls/RegisterLoad.java (set JAVA_HOME; ./switchboard jdk finds none)"
    mkdir -p "$LOAD_CLASSES"
    "$JAVA_DIR/bin/javac" -d "$LOAD_CLASSES" "$ROOT/bench/tls/RegisterLoad.java" || die "bench/tls/RegisterLoad.java does not compile"
fi

# make_certificates: a test CA and a server certificate for localhost and 127.0.0.1 (EC P-256, the
# usual ACME choice), shared by both servers; the load generator verifies it against the CA
make_certificates() {
    [[ -f $TLS_DIR/server.crt && -f $TLS_DIR/server.key ]] && return 0
    mkdir -p "$TLS_DIR"
    log "writing a test CA and a server certificate to $TLS_DIR"
    (cd "$TLS_DIR" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=Bench TLS CA" \
            -keyout ca.key -out ca.crt 2>/dev/null &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
            -keyout server.key -out server.csr 2>/dev/null &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext &&
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile server.ext -out server.crt 2>/dev/null) || die "openssl could not make the test certificates"
}

# run_load DIR LIMIT_SECONDS ARGS...: the TLS load generator, like run_sipp (sets SIPP_RC, SIPP_CPU_S,
# and LOAD_T0/LOAD_C0: the time and the server's CPU ticks when it printed "measuring", i.e. after
# its warm-up; the generator's own CPU includes its warm-up)
run_load() {
    local dir=$1 limit=$2
    shift 2
    times >"$dir/.times0"
    (cd "$dir" && exec timeout -k 5 "$limit" "$JAVA_DIR/bin/java" -XX:+UseSerialGC -cp "$LOAD_CLASSES" RegisterLoad \
        --ca "$TLS_DIR/ca.crt" --users "$USERS" "$@" >load.out 2>&1) &
    local pid=$!
    STARTED_PIDS+=("$pid")
    LOAD_T0="" LOAD_C0=""
    while kill -0 "$pid" 2>/dev/null; do
        if grep -q '^measuring' "$dir/load.out" 2>/dev/null; then
            LOAD_T0=$(date +%s.%N)
            [[ -n $SERVER_PID ]] && LOAD_C0=$(tree_ticks "$SERVER_PID")
            break
        fi
        sleep 0.05
    done
    [[ -n $LOAD_T0 ]] || LOAD_T0=$(date +%s.%N)
    [[ -n $LOAD_C0 || -z $SERVER_PID ]] || LOAD_C0=$(tree_ticks "$SERVER_PID")
    SIPP_RC=0
    wait "$pid" || SIPP_RC=$?
    forget_pid "$pid"
    times >"$dir/.times1"
    SIPP_CPU_S=$(awk 'function sec(t) { split(t, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
                      FNR == 2 { c[FILENAME] = sec($1) + sec($2) }
                      END { printf "%.2f", c[ARGV[2]] - c[ARGV[1]] }' "$dir/.times0" "$dir/.times1")
    rm -f "$dir/.times0" "$dir/.times1"
}

load_field() {  # load_field DIR KEY: a key=value figure from the generator's summary line
    local v
    v=$(grep -m1 '^mode=' "$1/load.out" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p")
    echo "${v:--1}"
}

load_mode() { [[ $1 == auth-newconn ]] && echo newconn || echo reuse; }

listening() {  # listening PORT: the server's SIP socket is bound (UDP, or TCP for TLS)
    if [[ $TRANSPORT == tls ]]; then ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; else udp_listening "$1"; fi
}

# ------------------------------------------------------------------ 2. users
make_users() {
    mkdir -p "$OUT"
    local marker="$OUT/users.$USERS"
    [[ -f $marker && -f $OUT/users_noauth.csv && -f $OUT/users_auth.csv && -f $OUT/accounts.txt ]] && return 0
    log "writing $USERS users to $OUT"
    awk -v n="$USERS" 'BEGIN {
        print "SEQUENTIAL" > "'"$OUT"'/users_noauth.csv"
        print "SEQUENTIAL" > "'"$OUT"'/users_auth.csv"
        for (i = 0; i < n; i++) {
            u = sprintf("u%05d", i)
            print u ";secret" > "'"$OUT"'/users_noauth.csv"
            print u ";[authentication username=" u " password=secret]" > "'"$OUT"'/users_auth.csv"
            print u ";secret" > "'"$OUT"'/accounts.txt"
        }
    }'
    touch "$marker"
}

# ------------------------------------------------------------------ 3. servers
SERVER_PID=""
start_kamailio() {  # start_kamailio noauth|auth
    local scenario=$1 cfg="$OUT/kamailio.cfg"
    port_free "$KAMAILIO_PORT" || die "port $KAMAILIO_PORT is in use (a kamailio service? systemctl stop kamailio)"
    sed -e "s/127\.0\.0\.1:5060/127.0.0.1:$KAMAILIO_PORT/g" \
        -e "s#unix:/tmp/kamailio_ctl#unix:$OUT/kamailio_ctl#" \
        "$KAMAILIO_CFG" >"$cfg"
    if [[ $TRANSPORT == tls ]]; then
        # the same configuration on a TLS listener: tcp on, the tls module with the bench certificate
        sed -i -e "s#^listen=udp:127\.0\.0\.1:$KAMAILIO_PORT#listen=tls:127.0.0.1:$KAMAILIO_PORT#" \
            -e 's/^disable_tcp=yes/disable_tcp=no\nenable_tls=yes\ntcp_children=4\ntcp_max_connections=20000\ntls_max_connections=20000/' \
            -e 's/^loadmodule "kex.so"/loadmodule "tls.so"\nloadmodule "kex.so"/' "$cfg"
        printf 'modparam("tls", "config", "%s")\n' "$OUT/kamailio-tls.cfg" >>"$cfg"
        printf '[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = %s\ncertificate = %s\n' \
            "$TLS_DIR/server.key" "$TLS_DIR/server.crt" >"$OUT/kamailio-tls.cfg"
    fi
    local defs=()
    [[ $scenario == auth* ]] && defs=(-A WITH_AUTH)
    "$KAMAILIO_BIN" -f "$cfg" -c "${defs[@]}" >"$OUT/kamailio-check.log" 2>&1 ||
        die "kamailio rejects $cfg: $(tail -3 "$OUT/kamailio-check.log")"
    log "starting kamailio ($scenario) on $TRANSPORT:127.0.0.1:$KAMAILIO_PORT"
    "$KAMAILIO_BIN" -f "$cfg" -DD -E -m 1024 -M 8 "${defs[@]}" >"$OUT/kamailio-$scenario.log" 2>&1 &
    SERVER_PID=$!
    STARTED_PIDS+=("$SERVER_PID")
    local i
    for ((i = 0; i < 100; i++)); do
        listening "$KAMAILIO_PORT" && { sleep 1; return 0; }
        kill -0 "$SERVER_PID" 2>/dev/null || die "kamailio exited: $(tail -5 "$OUT/kamailio-$scenario.log")"
        sleep 0.1
    done
    die "kamailio did not listen on $KAMAILIO_PORT within 10 s"
}

start_switchboard() {  # start_switchboard noauth|auth
    local scenario=$1
    local data="$OUT/node-$scenario"
    for p in "$SWITCHBOARD_PORT" "$SWITCHBOARD_HTTP"; do
        port_free "$p" || die "port $p is in use"
    done
    [[ -x $ROOT/switchboard ]] || die "$ROOT/switchboard launcher not found"
    rm -rf "$data"
    mkdir -p "$data"
    log "importing $USERS accounts into $data"
    without_bench_env timeout -k 5 "$SWITCHBOARD_START_TIMEOUT" "$ROOT/switchboard" account import "$OUT/accounts.txt" --data-dir "$data" \
        >"$OUT/switchboard-import-$scenario.log" 2>&1 ||
        die "account import failed: $(tail -5 "$OUT/switchboard-import-$scenario.log")"
    # Both scenarios: the load comes from one address (no per-source flood limit), and SIPp 3.6.1
    # answers only the first challenge and knows only MD5 (as the Kamailio kit offers): the node is
    # told MD5 explicitly (SWITCHBOARD_TELEPHONY_DIGEST_ALGORITHMS below), whatever its default is.
    local auth=true
    [[ $scenario == noauth ]] && auth=false
    printf 'telephony:\n  auth: %s\n  floodLimit: 0\n' "$auth" >"$OUT/switchboard-$scenario.yaml"
    local config=(--config "$OUT/switchboard-$scenario.yaml")
    local tls_env=()
    if [[ $TRANSPORT == tls ]]; then
        tls_env=(SWITCHBOARD_TLS_CERTIFICATE="$TLS_DIR/server.crt" SWITCHBOARD_TLS_KEY="$TLS_DIR/server.key")
        # connection limits like Kamailio's above: all the load comes from one address, and
        # auth-newconn leaves many connections closing
        printf '  maxConnections: 20000\n  maxConnectionsPerAddress: 20000\n' >>"$OUT/switchboard-$scenario.yaml"
    fi
    log "starting switchboard ($scenario) on $TRANSPORT:127.0.0.1:$SWITCHBOARD_PORT, http 127.0.0.1:$SWITCHBOARD_HTTP"
    # shellcheck disable=SC2086  # SWITCHBOARD_RUN_ARGS: extra flags, split on purpose
    without_bench_env SWITCHBOARD_TELEPHONY_DIGEST_ALGORITHMS=MD5 "${tls_env[@]}" \
        "$ROOT/switchboard" run --data-dir "$data" --sip "$TRANSPORT:127.0.0.1:$SWITCHBOARD_PORT" \
        --http "127.0.0.1:$SWITCHBOARD_HTTP" "${config[@]}" ${SWITCHBOARD_RUN_ARGS:-} \
        >"$OUT/switchboard-$scenario.log" 2>&1 &
    SERVER_PID=$!
    STARTED_PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + SWITCHBOARD_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard exited: $(tail -5 "$OUT/switchboard-$scenario.log")"
        if http_ok "http://127.0.0.1:$SWITCHBOARD_HTTP/readyz" && listening "$SWITCHBOARD_PORT"; then
            sleep 1
            return 0
        fi
        sleep 0.5
    done
    die "switchboard not ready within $SWITCHBOARD_START_TIMEOUT s (see $OUT/switchboard-$scenario.log)"
}

# warm_up TARGET SCENARIO PORT: register every user once at a modest rate, not measured. A fresh
# registrar inserting 10,000 new bindings (and a JVM still interpreting) is slower than one
# refreshing them; without this the first probe measures the cold start, not the steady state.
warm_up() {
    local target=$1 scenario=$2 port=$3
    local dir="$OUT/$target-$scenario/warm-up"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ $TRANSPORT == tls ]]; then
        # every user once, and at least TLS_INITIAL_WARM_UP seconds (users in turn again): a JVM
        # server is still compiling its TLS, digest and registrar code after 5 s, and the search's
        # first probe then met it half-compiled (3.9 s of C2 compilations >100 ms during that probe,
        # its registrations 9-18 ms against ~1 ms for the next probes), failed, and the search
        # never went back up
        local seconds=$(((USERS + WARM_UP_RATE - 1) / WARM_UP_RATE))
        ((seconds < TLS_INITIAL_WARM_UP)) && seconds=$TLS_INITIAL_WARM_UP
        run_load "$dir" $((seconds + 70)) --target "127.0.0.1:$port" --rate "$WARM_UP_RATE" --duration "$seconds" \
            --mode reuse --connections "$TLS_CONNECTIONS"
        if [[ $SIPP_RC -eq 0 ]]; then
            log "  warm-up: $(load_field "$dir" ok) registrations over TLS at ${WARM_UP_RATE}/s"
        else
            log "  warm-up: exit $SIPP_RC, $(load_field "$dir" ok) of $(load_field "$dir" total) registered (see $dir); probing anyway"
        fi
        return 0
    fi
    cp "$BASELINE/reg_$scenario.xml" "$dir/"
    run_sipp "$dir" $((USERS / WARM_UP_RATE + 70)) "127.0.0.1:$port" -sf "reg_$scenario.xml" \
        -inf "$OUT/users_$scenario.csv" -i 127.0.0.1 -p "$SIPP_PORT" -ci 127.0.0.1 -mi 127.0.0.1 \
        -r "$WARM_UP_RATE" -m "$USERS" -l 15000 -buff_size 4194304 -nostdin \
        -trace_stat -stf stat.csv -fd 1 -trace_err -error_file errors.log \
        -recv_timeout 10000 -timeout $((USERS / WARM_UP_RATE + 60))s
    local rc=$SIPP_RC
    local ok=-1
    [[ -f $dir/stat.csv ]] && ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    if [[ $rc -eq 0 && $ok == "$USERS" ]]; then
        log "  warm-up: $USERS users registered at ${WARM_UP_RATE}/s"
    else
        log "  warm-up: sipp exit $rc, $ok of $USERS registered (see $dir); probing anyway"
    fi
}

# probe TARGET SCENARIO PORT RATE -> sets P_PASS P_OK P_FAILED P_RETRANS P_CPS P_P50 P_P99 P_CPU P_SIPP_CPU P_REASON
probe() {
    local target=$1 scenario=$2 port=$3 rate=$4
    local dir="$OUT/$target-$scenario/rate-$rate"
    local calls=$((rate * DURATION))
    local csv="$OUT/users_$scenario.csv" sf="$BASELINE/reg_$scenario.xml"
    rm -rf "$dir"
    mkdir -p "$dir"
    local t0 t1 c0 c1 rc=0
    if [[ $TRANSPORT == tls ]]; then
        # the generator warms up first (TLS_WARM_UP seconds of the same load); the server is
        # measured from its "measuring" line on
        run_load "$dir" $((TLS_WARM_UP + DURATION + 90)) --target "127.0.0.1:$port" --rate "$rate" \
            --duration "$DURATION" --warmup "$TLS_WARM_UP" --mode "$(load_mode "$scenario")" \
            --connections "$TLS_CONNECTIONS"
        probe_result "$target" "$scenario" "$rate" "$calls" "$LOAD_T0" "$LOAD_C0"
        return 0
    fi
    cp "$sf" "$dir/"
    t0=$(date +%s.%N)
    c0=$(tree_ticks "$SERVER_PID")
    run_sipp "$dir" $((DURATION + 60)) "127.0.0.1:$port" -sf "reg_$scenario.xml" \
        -inf "$csv" -i 127.0.0.1 -p "$SIPP_PORT" -ci 127.0.0.1 -mi 127.0.0.1 \
        -r "$rate" -m "$calls" -l 15000 -buff_size 4194304 -nostdin \
        -trace_stat -stf stat.csv -fd 1 -trace_err -error_file errors.log \
        -trace_screen -screen_file screen.log -trace_rtt -rtt_freq 1 \
        -recv_timeout 10000 -timeout $((DURATION + 45))s
    probe_result "$target" "$scenario" "$rate" "$calls" "$t0" "$c0"
}

# probe_result TARGET SCENARIO RATE CALLS T0 C0: reads the probe's outcome (SIPp's or the TLS load
# generator's files in $dir) into the P_* variables, records it in probes.tsv and logs it
probe_result() {
    local target=$1 scenario=$2 rate=$3 calls=$4 t0=$5 c0=$6
    local rc=$SIPP_RC c1 t1
    c1=$(tree_ticks "$SERVER_PID")
    t1=$(date +%s.%N)
    local wall
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    P_CPU=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.0f", d / hz / w * 100 }')
    P_SIPP_CPU=$(awk -v c="$SIPP_CPU_S" -v w="$wall" 'BEGIN { printf "%.0f", c / w * 100 }')
    local rtt="" service=""
    if [[ $TRANSPORT == tls ]]; then
        P_OK=$(load_field "$dir" ok)
        P_FAILED=$(load_field "$dir" failed)
        P_RETRANS=0     # none over TLS: a slow server shows in p99 (checked below) instead
        P_CPS=$(load_field "$dir" offered_rate)
        P_P50=$(load_field "$dir" p50_ms)
        P_P99=$(load_field "$dir" p99_ms)
        # the server's share of p50/p99 (from the first REGISTER sent): the rest is the wait for one
        # of the TLS_CONNECTIONS, each carrying one registration at a time
        service=" service p50/p99=$(load_field "$dir" service_p50_ms)/$(load_field "$dir" service_p99_ms)ms"
    elif [[ -f $dir/stat.csv ]]; then
        P_OK=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
        P_FAILED=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
        P_RETRANS=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
        P_CPS=$(stat_col "$dir/stat.csv" 'CallRate(C)')
    else
        P_OK=-1 P_FAILED=-1 P_RETRANS=-1 P_CPS=0
    fi
    if [[ $TRANSPORT != tls ]]; then
        rtt=$(find "$dir" -maxdepth 1 -name '*_rtt.csv' | head -1)
        if [[ -n $rtt ]]; then read -r P_P50 P_P99 < <(percentiles "$rtt"); else P_P50=- P_P99=-; fi
    fi
    P_PASS=0
    P_REASON=""
    if [[ $rc -ne 0 ]]; then
        P_REASON="$([[ $TRANSPORT == tls ]] && echo "load generator" || echo sipp) exit $rc"
    elif [[ $P_FAILED != 0 ]]; then
        P_REASON="$P_FAILED failed"
    elif [[ $P_RETRANS != 0 ]]; then
        P_REASON="$P_RETRANS retransmissions"
    elif [[ $P_OK != "$calls" ]]; then
        P_REASON="$P_OK of $calls succeeded"
    elif awk -v c="$P_CPS" -v r="$rate" 'BEGIN { exit !(c < 0.90 * r) }'; then
        P_REASON="offered only ${P_CPS}/s"     # SIPp itself could not keep the rate
    elif [[ $TRANSPORT == tls ]] && awk -v p="$P_P99" -v m="$TLS_MAX_P99_MS" 'BEGIN { exit !(p == "-" || p > m) }'; then
        P_REASON="p99 ${P_P99} ms over ${TLS_MAX_P99_MS} ms"
    else
        P_PASS=1
    fi
    [[ -n $rtt ]] && rm -f "$rtt"   # up to a million lines per probe; the percentiles are kept below
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$ROUND" "$target" "$scenario" \
        "$rate" "$P_PASS" "$P_OK" "$P_FAILED" "$P_RETRANS" "$P_CPS" "$P_P50" "$P_P99" "$P_CPU" "$P_SIPP_CPU" \
        >>"$OUT/probes.tsv"
    log "  $target $scenario ${rate}/s: $([[ $P_PASS == 1 ]] && echo PASS || echo "FAIL ($P_REASON)")" \
        "ok=$P_OK failed=$P_FAILED retrans=$P_RETRANS cps=$P_CPS p50=${P_P50}ms p99=${P_P99}ms$service" \
        "server cpu=${P_CPU}% $([[ $TRANSPORT == tls ]] && echo load || echo sipp) cpu=${P_SIPP_CPU}%"
}

# find_rate TARGET SCENARIO PORT START -> sets BEST_RATE BEST_P50 BEST_P99 BEST_CPU BEST_SIPP_CPU PROBES
# Step from START (x1.5 up while passing, /2 down while failing), then bisect between the last
# pass and the first fail until they are within 5% or MAX_PROBES runs are spent.
find_rate() {
    local target=$1 scenario=$2 port=$3 rate
    rate=$(round_rate "$4")
    local pass=0 fail=0
    BEST_RATE=0 BEST_P50=- BEST_P99=- BEST_CPU=- BEST_SIPP_CPU=- PROBES=0
    while ((PROBES < MAX_PROBES)); do
        ((PROBES > 0)) && sleep "$COOLDOWN"
        probe "$target" "$scenario" "$port" "$rate"
        PROBES=$((PROBES + 1))
        if [[ $P_PASS == 1 ]]; then
            pass=$rate
            BEST_RATE=$rate BEST_P50=$P_P50 BEST_P99=$P_P99 BEST_CPU=$P_CPU BEST_SIPP_CPU=$P_SIPP_CPU
        else
            fail=$rate
        fi
        local next
        if ((fail == 0)); then                      # never failed yet: step up
            ((rate >= MAX_RATE)) && break
            next=$(round_rate $((rate * 3 / 2)))
            ((next > MAX_RATE)) && next=$MAX_RATE
        elif ((pass == 0)); then                    # never passed yet: step down
            ((rate <= MIN_RATE)) && break
            next=$(round_rate $((rate / 2)))
        else                                        # bisect
            ((fail - pass <= pass / 20 || fail - pass <= 100)) && break
            next=$(round_rate $(((pass + fail) / 2)))
            ((next <= pass || next >= fail)) && break
        fi
        rate=$next
    done
}

# ------------------------------------------------------------------ main
mkdir -p "$OUT"
install_packages
if [[ $TRANSPORT == tls && " ${TARGETS[*]} " == *" kamailio "* && ! -f /usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so ]]; then
    log "installing kamailio-tls-modules (Debian package)"
    sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" apt-get install -y -q kamailio-tls-modules >/dev/null || die "cannot install kamailio-tls-modules"
fi
make_users
[[ $TRANSPORT == tls ]] && make_certificates
port_free "$SIPP_PORT" || die "port $SIPP_PORT for sipp is in use (another sipp? set SIPP_PORT): $(ss -Hlunp "sport = :$SIPP_PORT" | head -1)"
printf 'time\tround\ttarget\tscenario\trate\tpass\tok\tfailed\tretrans\tcps\tp50_ms\tp99_ms\tserver_cpu_pct\tsipp_cpu_pct\n' >"$OUT/probes.tsv"

# field TARGET SCENARIO N: field N of the round with the median clean rate
field() {
    local r v
    r=$(median_round "$1,$2")
    v=${r:+${RESULT[$1,$2,$r]:-}}
    [[ -z $v ]] && { echo -; return; }
    echo "$v" | cut -d'|' -f"$3"
}
declare -A RESULT
RUN_STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
log "runs of ${DURATION}s, at most $MAX_PROBES per target and scenario; details in $OUT"
ROUND=0
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  ((ROUNDS > 1)) && log "round $ROUND of $ROUNDS"
  for scenario in "${SCENARIOS[@]}"; do
    for target in $(round_order "$ROUND" "${TARGETS[@]}"); do
        if [[ $target == kamailio ]]; then
            start_kamailio "$scenario"
            port=$KAMAILIO_PORT
        else
            start_switchboard "$scenario"
            port=$SWITCHBOARD_PORT
        fi
        warm_up "$target" "$scenario" "$port"
        sleep "$COOLDOWN"
        var="START_${target^^}_${scenario^^}"
        var=${var//-/_}
        default_start=20000
        [[ $scenario == auth ]] && default_start=9000
        if [[ $TRANSPORT == tls ]]; then
            default_start=3000
            [[ $scenario == auth-newconn ]] && default_start=500
        fi
        start=${!var:-$default_start}
        # later rounds start where the previous round of this target ended: fewer probes
        prev=$(field "$target" "$scenario" 1)
        [[ $prev =~ ^[0-9]+$ && $prev -gt 0 ]] && start=$prev
        find_rate "$target" "$scenario" "$port" "$start"
        RESULT[$target,$scenario,$ROUND]="$BEST_RATE|$BEST_P50|$BEST_P99|$BEST_CPU|$BEST_SIPP_CPU|$PROBES"
        stop_server
        sleep 1
    done
  done
done

# ------------------------------------------------------------------ 5. report
label() {
    local t=""
    [[ $TRANSPORT == tls ]] && t=" over TLS"
    case "$1" in
        noauth) echo "REGISTER$t, no auth" ;;
        auth) echo "REGISTER$t, digest auth (401 then 200)${t:+, one connection}" ;;
        auth-newconn) echo "REGISTER over TLS, digest auth, a new connection (full handshake) each: handshakes/s" ;;
    esac
}
cell() {  # rate, or "-" if not run, "none" if no rate passed
    local r; r=$(field "$1" "$2" 1)
    if [[ $r == - ]]; then echo -; elif [[ $r == 0 ]]; then echo "none clean"; else echo "$r/s"; fi
}
TABLE=$(
    generator="SIPp CPU"
    [[ $TRANSPORT == tls ]] && generator="load generator CPU"
    echo "| scenario | Kamailio clean rate | Switchboard clean rate | ratio SB/K | Kamailio p50/p99 (ms) | Switchboard p50/p99 (ms) | Kamailio CPU | Switchboard CPU | $generator (K / SB) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for scenario in "${SCENARIOS[@]}"; do
        kr=$(field kamailio "$scenario" 1)
        sr=$(field switchboard "$scenario" 1)
        ratio=-
        if [[ $kr =~ ^[0-9]+$ && $sr =~ ^[0-9]+$ && $kr -gt 0 ]]; then
            ratio=$(awk -v a="$sr" -v b="$kr" 'BEGIN { printf "%.2f", a / b }')
        fi
        pct() { local v; v=$(field "$1" "$2" "$3"); [[ $v == - ]] && echo - || echo "$v%"; }
        echo "| $(label "$scenario") | $(cell kamailio "$scenario") | $(cell switchboard "$scenario") | $ratio" \
            "| $(field kamailio "$scenario" 2)/$(field kamailio "$scenario" 3)" \
            "| $(field switchboard "$scenario" 2)/$(field switchboard "$scenario" 3)" \
            "| $(pct kamailio "$scenario" 4) | $(pct switchboard "$scenario" 4)" \
            "| $(pct kamailio "$scenario" 5) / $(pct switchboard "$scenario" 5) |"
    done
)
ROUND_LINES=""
if ((ROUNDS > 1)); then
    ROUND_LINES=$(
        echo "Clean rate per round (rounds alternate which target goes first); the table shows the median"
        echo "round of each target and the ratio of the medians:"
        echo
        for scenario in "${SCENARIOS[@]}"; do
            for target in "${TARGETS[@]}"; do
                echo "- $(label "$scenario"), $target: $(round_rates "$target,$scenario")"
            done
        done
    )
fi
echo
echo "$TABLE"
[[ -n $ROUND_LINES ]] && printf '\n%s\n' "$ROUND_LINES"
echo
if [[ $TRANSPORT == tls ]]; then
    echo "CPU: % of one core over the run (server process tree from /proc; the load generator's JVM from its user+sys)."
    echo "p50/p99: a whole registration (REGISTER, 401, REGISTER, 200; with auth-newconn also the TCP connect and"
    echo "the TLS handshake), from its scheduled start. auth-newconn's clean rate is full TLS handshakes per second."
else
    echo "CPU: % of one core over the run (server process tree from /proc; SIPp from its own user+sys)."
fi
echo "Every probe: $OUT/probes.tsv"

if [[ $WRITE_DOCS == 1 ]]; then
    DOC=$ROOT/docs/benchmarks/sip-register.md
    [[ $TRANSPORT == tls ]] && DOC=$ROOT/docs/benchmarks/tls.md
    [[ -f $DOC ]] || { mkdir -p "$(dirname "$DOC")" && printf '# Benchmark: SIP REGISTER\n' >"$DOC"; }
    kind="${DURATION}-second runs, at most $MAX_PROBES probes per target and scenario"
    ((ROUNDS > 1)) && kind="$kind, $ROUNDS rounds"
    title="SIP REGISTER, side by side"
    [[ $TRANSPORT == tls ]] && title="SIP REGISTER over TLS, side by side"
    [[ $QUICK == 1 ]] && title="$title: harness smoke check (--quick), not a result"
    {
        echo
        echo "## $RUN_STARTED — $title"
        echo
        echo "Command: \`bench/sip-register.sh${ARGS[*]:+ ${ARGS[*]}}\` ($kind)."
        echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r);" \
            "$(if [[ $TRANSPORT == tls ]]; then echo "bench/tls/RegisterLoad.java ($TLS_CONNECTIONS connections, Java $("$JAVA_DIR/bin/java" -version 2>&1 | head -1 | grep -o '"[^"]*"' | tr -d '"'))"; else sipp -v 2>/dev/null | grep -o 'SIPp v[0-9.]*' | head -1; fi), $("$KAMAILIO_BIN" -v 2>/dev/null | head -1 | sed -e 's/^version: //' -e 's/ *$//' || true);" \
            "Switchboard $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '(no git)')."
        echo
        echo "$TABLE"
        [[ -n $ROUND_LINES ]] && printf '\n%s\n' "$ROUND_LINES"
    } >>"$DOC"
    log "appended to $DOC"
fi

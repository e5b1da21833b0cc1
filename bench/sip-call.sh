#!/usr/bin/env bash
# Side-by-side call benchmark through the SIP proxy: Kamailio 5.6 (the baseline kit's config)
# against Switchboard, both driven by SIPp 3.6.1 on loopback UDP. Run by hand; never part of the
# test suite.
#
# A call is INVITE/100/180/200/ACK/BYE/200 through the proxy with Record-Route and no hold time:
# SIPp's UAC (bench/baseline/uac_rr.xml) calls `service`, which a SIPp UAS (uas_rr.xml) has
# registered at the proxy (reg_uas.xml). For each target (kamailio, switchboard) it finds the
# highest call rate with zero failed calls and zero retransmissions over fixed-length runs, and
# reports the setup time INVITE->200 (p50/p99), the server's CPU (whole process tree) and SIPp's
# CPU (UAC and UAS), as % of one core. See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
BASELINE=$ROOT/bench/baseline

usage() {
    cat <<EOF
usage: bench/sip-call.sh [--quick] [--only kamailio|switchboard]
                         [--duration SECONDS] [--max-probes N] [--rounds N] [--no-docs]

  --quick        10-second runs and at most 4 probes per target: a smoke check of the harness
  --only T       run one target only (kamailio or switchboard)
  --duration S   seconds per probe run (default 25, --quick 10)
  --max-probes N most UAC runs per target (default 8, --quick 4)
  --rounds N     repeat the whole comparison N times, the targets taking turns to go first;
                 the table shows each target's median clean rate (default 1)
  --no-docs      print the table but do not append it to docs/benchmarks/sip-call.md

Environment (defaults): KAMAILIO_PORT (5060), SWITCHBOARD_PORT (5080), SWITCHBOARD_HTTP (18080),
UAC_PORT (6001), UAS_PORT (5070), KAMAILIO_CFG (bench/baseline/kamailio.cfg), KAMAILIO_SHM_MB
(2048), START_KAMAILIO (4000), START_SWITCHBOARD (4000), WARM_UP_RATE (2000), WARM_UP_SECONDS (30),
SWITCHBOARD_START_TIMEOUT (300 s), SWITCHBOARD_RUN_ARGS, BENCH_OUT (bench/out).
EOF
}

QUICK=0
ONLY=""
DURATION=""
MAX_PROBES=""
ROUNDS=1
WRITE_DOCS=1
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --only) ONLY=${2:?--only needs kamailio or switchboard}; shift ;;
        --duration) DURATION=${2:?}; shift ;;
        --max-probes) MAX_PROBES=${2:?}; shift ;;
        --rounds) ROUNDS=${2:?}; shift ;;
        --no-docs) WRITE_DOCS=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$ONLY" in ""|kamailio|switchboard) ;; *) echo "--only: kamailio or switchboard" >&2; exit 2 ;; esac
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
UAC_PORT=${UAC_PORT:-6001}
UAS_PORT=${UAS_PORT:-5070}
KAMAILIO_CFG=${KAMAILIO_CFG:-$BASELINE/kamailio.cfg}
KAMAILIO_SHM_MB=${KAMAILIO_SHM_MB:-2048}    # the kit's figure for call runs (transactions live in shm)
SWITCHBOARD_START_TIMEOUT=${SWITCHBOARD_START_TIMEOUT:-300}
WARM_UP_RATE=${WARM_UP_RATE:-2000}
WARM_UP_SECONDS=${WARM_UP_SECONDS:-30}
MIN_RATE=100            # below this a target counts as failing outright
MAX_RATE=200000         # the step-up never goes past this
COOLDOWN=5              # seconds between probes: let late responses and timers drain
UAS_GRACE=7             # most seconds the UAS keeps running after the UAC: 4 s timewait + stat dumps
CALLEE=service          # the user the UAS registers and the UAC calls

TARGETS=(kamailio switchboard)
[[ -n $ONLY ]] && TARGETS=("$ONLY")

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ------------------------------------------------------------------ processes we started
STARTED_PIDS=()
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

CLK_TCK=$(getconf CLK_TCK)

KAMAILIO_BIN=$(command -v kamailio || echo /usr/sbin/kamailio)

# ------------------------------------------------------------------ 2. servers
SERVER_PID=""
start_kamailio() {
    local cfg="$OUT/kamailio-call.cfg"
    port_free "$KAMAILIO_PORT" || die "port $KAMAILIO_PORT is in use (a kamailio service? systemctl stop kamailio)"
    sed -e "s/127\.0\.0\.1:5060/127.0.0.1:$KAMAILIO_PORT/g" \
        -e "s#unix:/tmp/kamailio_ctl#unix:$OUT/kamailio_ctl#" \
        "$KAMAILIO_CFG" >"$cfg"
    "$KAMAILIO_BIN" -f "$cfg" -c >"$OUT/kamailio-check.log" 2>&1 ||
        die "kamailio rejects $cfg: $(tail -3 "$OUT/kamailio-check.log")"
    log "starting kamailio on udp:127.0.0.1:$KAMAILIO_PORT (-m $KAMAILIO_SHM_MB -M 8)"
    "$KAMAILIO_BIN" -f "$cfg" -DD -E -m "$KAMAILIO_SHM_MB" -M 8 >"$OUT/kamailio-call.log" 2>&1 &
    SERVER_PID=$!
    STARTED_PIDS+=("$SERVER_PID")
    local i
    for ((i = 0; i < 100; i++)); do
        udp_listening "$KAMAILIO_PORT" && { sleep 1; return 0; }
        kill -0 "$SERVER_PID" 2>/dev/null || die "kamailio exited: $(tail -5 "$OUT/kamailio-call.log")"
        sleep 0.1
    done
    die "kamailio did not listen on $KAMAILIO_PORT within 10 s"
}

start_switchboard() {
    local data="$OUT/node-call" p
    for p in "$SWITCHBOARD_PORT" "$SWITCHBOARD_HTTP"; do
        port_free "$p" || die "port $p is in use"
    done
    [[ -x $ROOT/switchboard ]] || die "$ROOT/switchboard launcher not found"
    rm -rf "$data"
    mkdir -p "$data"
    # No accounts: with auth off the proxy takes calls from anyone and the registrar accepts the
    # UAS's REGISTER for `service`; all load comes from one address, so no per-source flood limit.
    printf 'telephony:\n  auth: false\n  floodLimit: 0\n' >"$OUT/switchboard-call.yaml"
    log "starting switchboard on udp:127.0.0.1:$SWITCHBOARD_PORT, http 127.0.0.1:$SWITCHBOARD_HTTP"
    # shellcheck disable=SC2086  # SWITCHBOARD_RUN_ARGS: extra flags, split on purpose
    without_bench_env "$ROOT/switchboard" run --data-dir "$data" --sip "udp:127.0.0.1:$SWITCHBOARD_PORT" \
        --http "127.0.0.1:$SWITCHBOARD_HTTP" --config "$OUT/switchboard-call.yaml" ${SWITCHBOARD_RUN_ARGS:-} \
        >"$OUT/switchboard-call.log" 2>&1 &
    SERVER_PID=$!
    STARTED_PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + SWITCHBOARD_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard exited: $(tail -5 "$OUT/switchboard-call.log")"
        if http_ok "http://127.0.0.1:$SWITCHBOARD_HTTP/readyz" && udp_listening "$SWITCHBOARD_PORT"; then
            sleep 1
            return 0
        fi
        sleep 0.5
    done
    die "switchboard not ready within $SWITCHBOARD_START_TIMEOUT s (see $OUT/switchboard-call.log)"
}

# run_calls DIR PORT RATE CALLS: register the callee, start the UAS, run the UAC at RATE for CALLS
# calls, stop the UAS by PID. Layout: DIR/register, DIR/uas, DIR/uac (each with its sipp.out).
# Sets C_ERR (empty unless the harness itself failed), C_RC (UAC exit), C_OK C_FAILED C_RETRANS
# C_CPS (UAC stats), C_UAS_OK C_UAS_FAILED C_UAS_RETRANS (UAS stats), C_P50 C_P99 (setup time
# INVITE->200, ms), C_CPU C_UAC_CPU C_UAS_CPU (% of one core over the UAC run).
run_calls() {
    local dir=$1 port=$2 rate=$3 calls=$4
    rm -rf "$dir"
    mkdir -p "$dir/register" "$dir/uas" "$dir/uac"
    cp "$BASELINE/reg_uas.xml" "$dir/register/"
    cp "$BASELINE/uas_rr.xml" "$dir/uas/"
    cp "$BASELINE/uac_rr.xml" "$dir/uac/"
    C_ERR="" C_RC=-1 C_OK=-1 C_FAILED=-1 C_RETRANS=-1 C_CPS=0 C_UAS_OK=-1 C_UAS_FAILED=-1 C_UAS_RETRANS=-1
    C_P50=- C_P99=- C_CPU=- C_UAC_CPU=- C_UAS_CPU=-
    port_free "$UAS_PORT" || { C_ERR="UAS port $UAS_PORT in use"; return 0; }
    port_free "$UAC_PORT" || { C_ERR="UAC port $UAC_PORT in use"; return 0; }

    # 1. the callee's binding: Contact sip:service@127.0.0.1:UAS_PORT, Expires 3600 (renewed every run)
    run_sipp "$dir/register" 30 "127.0.0.1:$port" -sf reg_uas.xml -s "$CALLEE" -i 127.0.0.1 -p "$UAS_PORT" \
        -m 1 -nostdin -trace_err -error_file errors.log -recv_timeout 5000 -timeout 20s
    [[ $SIPP_RC -eq 0 ]] || { C_ERR="REGISTER of $CALLEE failed (sipp exit $SIPP_RC, see $dir/register)"; return 0; }

    # 2. the UAS, in the background until the UAC is done
    (cd "$dir/uas" && exec timeout -k 5 $((DURATION + 120)) sipp -sf uas_rr.xml -i 127.0.0.1 -p "$UAS_PORT" \
        -buff_size 4194304 -nostdin -default_behaviors all,-abortunexp -recv_timeout 10000 \
        -trace_stat -stf stat.csv -fd 1 -trace_err -error_file errors.log >sipp.out 2>&1) &
    local uas=$! i
    STARTED_PIDS+=("$uas")
    for ((i = 0; i < 50; i++)); do
        udp_listening "$UAS_PORT" && break
        kill -0 "$uas" 2>/dev/null || break
        sleep 0.1
    done
    if ! udp_listening "$UAS_PORT"; then
        stop_pid "$uas"; forget_pid "$uas"
        C_ERR="UAS did not start (see $dir/uas/sipp.out)"
        return 0
    fi

    # 3. the UAC at the rate, measured
    local t0 t1 c0 c1 u0 u1
    t0=$(date +%s.%N)
    c0=$(tree_ticks "$SERVER_PID")
    u0=$(tree_ticks "$uas")
    run_sipp "$dir/uac" $((DURATION + 60)) "127.0.0.1:$port" -sf uac_rr.xml -s "$CALLEE" \
        -i 127.0.0.1 -p "$UAC_PORT" -ci 127.0.0.1 -mi 127.0.0.1 \
        -r "$rate" -m "$calls" -d 0 -l 15000 -buff_size 4194304 -nostdin \
        -default_behaviors all,-abortunexp \
        -trace_stat -stf stat.csv -fd 1 -trace_err -error_file errors.log \
        -trace_screen -screen_file screen.log -trace_rtt -rtt_freq 1 \
        -recv_timeout 10000 -timeout $((DURATION + 45))s
    C_RC=$SIPP_RC
    c1=$(tree_ticks "$SERVER_PID")
    u1=$(tree_ticks "$uas")
    t1=$(date +%s.%N)

    # 4. the UAS: its calls end 4 s after their BYE (timewait) and it dumps stats every second;
    # wait until it has counted every call the UAC finished (at most UAS_GRACE s), then stop it
    local want=0 got deadline=$((SECONDS + UAS_GRACE))
    [[ -f $dir/uac/stat.csv ]] && want=$(($(stat_col "$dir/uac/stat.csv" 'SuccessfulCall(C)') + $(stat_col "$dir/uac/stat.csv" 'FailedCall(C)')))
    while ((SECONDS < deadline)) && kill -0 "$uas" 2>/dev/null; do
        sleep 1
        [[ -f $dir/uas/stat.csv ]] || continue
        got=$(($(stat_col "$dir/uas/stat.csv" 'SuccessfulCall(C)') + $(stat_col "$dir/uas/stat.csv" 'FailedCall(C)')))
        ((got >= want)) && break
    done
    stop_pid "$uas"
    forget_pid "$uas"

    local wall
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    C_CPU=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.0f", d / hz / w * 100 }')
    C_UAS_CPU=$(awk -v d=$((u1 - u0)) -v hz="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.0f", d / hz / w * 100 }')
    C_UAC_CPU=$(awk -v c="$SIPP_CPU_S" -v w="$wall" 'BEGIN { printf "%.0f", c / w * 100 }')
    if [[ -f $dir/uac/stat.csv ]]; then
        C_OK=$(stat_col "$dir/uac/stat.csv" 'SuccessfulCall(C)')
        C_FAILED=$(stat_col "$dir/uac/stat.csv" 'FailedCall(C)')
        C_RETRANS=$(stat_col "$dir/uac/stat.csv" 'Retransmissions(C)')
        C_CPS=$(stat_col "$dir/uac/stat.csv" 'CallRate(C)')
    fi
    if [[ -f $dir/uas/stat.csv ]]; then
        C_UAS_OK=$(stat_col "$dir/uas/stat.csv" 'SuccessfulCall(C)')
        C_UAS_FAILED=$(stat_col "$dir/uas/stat.csv" 'FailedCall(C)')
        C_UAS_RETRANS=$(stat_col "$dir/uas/stat.csv" 'Retransmissions(C)')
    fi
    local rtt
    rtt=$(find "$dir/uac" -maxdepth 1 -name '*_rtt.csv' | head -1)
    if [[ -n $rtt ]]; then
        read -r C_P50 C_P99 < <(percentiles "$rtt")
        rm -f "$rtt"   # up to a million lines per probe; the percentiles are kept in calls.tsv
    fi
}

# warm_up TARGET PORT: calls at a modest rate, not measured, so the probes see a warm process
# (a JVM still interpreting, first transactions and dialogs) rather than the cold start.
warm_up() {
    local target=$1 port=$2
    ((WARM_UP_SECONDS > 0)) || return 0
    local calls=$((WARM_UP_RATE * WARM_UP_SECONDS))
    run_calls "$OUT/$target-call/warm-up" "$port" "$WARM_UP_RATE" "$calls"
    [[ -z $C_ERR ]] || die "$target warm-up: $C_ERR"
    # Lost: calls the UAC did not finish, and calls the UAS failed (a UAC may count a call whose
    # ACK and BYE never reached the UAS: SIPp takes a retransmitted INVITE 200 for the BYE's 200).
    local uac_lost=$((calls - (C_OK < 0 ? 0 : C_OK))) uas_lost=$((C_UAS_FAILED < 0 ? calls : C_UAS_FAILED))
    WARM_UP_LOST="$uac_lost+$uas_lost"
    if [[ $C_RC -eq 0 && $C_OK == "$calls" && $C_UAS_FAILED == 0 ]]; then
        log "  warm-up: $calls calls at ${WARM_UP_RATE}/s, none lost (retrans=$C_RETRANS setup p99=${C_P99}ms)"
    else
        log "  warm-up: sipp exit $C_RC, $C_OK of $calls calls, lost $uac_lost at the UAC and $uas_lost at the UAS" \
            "(see $OUT/$target-call/warm-up); probing anyway"
    fi
}

# probe TARGET PORT RATE -> sets P_PASS P_P50 P_P99 P_CPU P_UAC_CPU P_UAS_CPU P_REASON
probe() {
    local target=$1 port=$2 rate=$3
    local calls=$((rate * DURATION))
    run_calls "$OUT/$target-call/rate-$rate" "$port" "$rate" "$calls"
    [[ -z $C_ERR ]] || die "$target ${rate}/s: $C_ERR"
    P_P50=$C_P50 P_P99=$C_P99 P_CPU=$C_CPU P_UAC_CPU=$C_UAC_CPU P_UAS_CPU=$C_UAS_CPU
    P_PASS=0
    P_REASON=""
    if [[ $C_RC -ne 0 ]]; then
        P_REASON="sipp exit $C_RC"
    elif [[ $C_FAILED != 0 ]]; then
        P_REASON="$C_FAILED failed"
    elif [[ $C_RETRANS != 0 ]]; then
        P_REASON="$C_RETRANS retransmissions"
    elif [[ $C_OK != "$calls" ]]; then
        P_REASON="$C_OK of $calls succeeded"
    elif awk -v c="$C_CPS" -v r="$rate" 'BEGIN { exit !(c < 0.90 * r) }'; then
        P_REASON="offered only ${C_CPS}/s"     # SIPp itself could not keep the rate
    else
        P_PASS=1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$ROUND" "$target" \
        "$rate" "$P_PASS" "$C_OK" "$C_FAILED" "$C_RETRANS" "$C_CPS" "$C_UAS_OK" "$C_UAS_FAILED" "$C_UAS_RETRANS" \
        "$P_P50" "$P_P99" "$P_CPU" "$P_UAC_CPU" "$P_UAS_CPU" >>"$OUT/calls.tsv"
    log "  $target ${rate} calls/s: $([[ $P_PASS == 1 ]] && echo PASS || echo "FAIL ($P_REASON)")" \
        "ok=$C_OK failed=$C_FAILED retrans=$C_RETRANS cps=$C_CPS" \
        "uas ok=$C_UAS_OK failed=$C_UAS_FAILED retrans=$C_UAS_RETRANS" \
        "setup p50=${P_P50}ms p99=${P_P99}ms server cpu=${P_CPU}% uac cpu=${P_UAC_CPU}% uas cpu=${P_UAS_CPU}%"
}

# find_rate TARGET PORT START -> sets BEST_RATE BEST_P50 BEST_P99 BEST_CPU BEST_UAC_CPU BEST_UAS_CPU PROBES
# Step from START (x1.5 up while passing, /2 down while failing), then bisect between the last
# pass and the first fail until they are within 5% or MAX_PROBES runs are spent.
find_rate() {
    local target=$1 port=$2 rate
    rate=$(round_rate "$3")
    local pass=0 fail=0
    BEST_RATE=0 BEST_P50=- BEST_P99=- BEST_CPU=- BEST_UAC_CPU=- BEST_UAS_CPU=- PROBES=0
    while ((PROBES < MAX_PROBES)); do
        ((PROBES > 0)) && sleep "$COOLDOWN"
        probe "$target" "$port" "$rate"
        PROBES=$((PROBES + 1))
        if [[ $P_PASS == 1 ]]; then
            pass=$rate
            BEST_RATE=$rate BEST_P50=$P_P50 BEST_P99=$P_P99 BEST_CPU=$P_CPU BEST_UAC_CPU=$P_UAC_CPU BEST_UAS_CPU=$P_UAS_CPU
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
for f in reg_uas.xml uas_rr.xml uac_rr.xml; do
    [[ -f $BASELINE/$f ]] || die "$BASELINE/$f missing (copy it from the SIP baseline kit)"
done
printf 'time\tround\ttarget\trate\tpass\tok\tfailed\tretrans\tcps\tuas_ok\tuas_failed\tuas_retrans\tsetup_p50_ms\tsetup_p99_ms\tserver_cpu_pct\tuac_cpu_pct\tuas_cpu_pct\n' >"$OUT/calls.tsv"

# field TARGET N: field N of the round with the median clean rate
field() {
    local r v
    r=$(median_round "$1")
    v=${r:+${RESULT[$1,$r]:-}}
    [[ -z $v ]] && { echo -; return; }
    echo "$v" | cut -d'|' -f"$2"
}

declare -A RESULT WARM_UPS
RUN_STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
log "runs of ${DURATION}s, at most $MAX_PROBES per target; details in $OUT"
ROUND=0
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    ((ROUNDS > 1)) && log "round $ROUND of $ROUNDS"
    for target in $(round_order "$ROUND" "${TARGETS[@]}"); do
        if [[ $target == kamailio ]]; then
            start_kamailio
            port=$KAMAILIO_PORT
        else
            start_switchboard
            port=$SWITCHBOARD_PORT
        fi
        WARM_UP_LOST=-
        warm_up "$target" "$port"
        WARM_UPS[$target]="${WARM_UPS[$target]:+${WARM_UPS[$target]}, }$WARM_UP_LOST"
        sleep "$COOLDOWN"
        var="START_${target^^}"
        start=${!var:-4000}
        # later rounds start where the previous round of this target ended: fewer probes
        prev=$(field "$target" 1)
        [[ $prev =~ ^[0-9]+$ && $prev -gt 0 ]] && start=$prev
        find_rate "$target" "$port" "$start"
        RESULT[$target,$ROUND]="$BEST_RATE|$BEST_P50|$BEST_P99|$BEST_CPU|$BEST_UAC_CPU|$BEST_UAS_CPU|$PROBES"
        stop_server
        sleep 1
    done
done

# ------------------------------------------------------------------ 4. report
cell() {  # rate, or "-" if not run, "none clean" if no rate passed
    local r; r=$(field "$1" 1)
    if [[ $r == - ]]; then echo -; elif [[ $r == 0 ]]; then echo "none clean"; else echo "$r calls/s"; fi
}
pct() { local v; v=$(field "$1" "$2"); [[ $v == - ]] && echo - || echo "$v%"; }
sipp_cpu() { local a b; a=$(field "$1" 5); b=$(field "$1" 6); [[ $a == - ]] && echo - || echo "$a%+$b%"; }
TABLE=$(
    echo "| scenario | Kamailio clean rate | Switchboard clean rate | ratio SB/K | Kamailio setup p50/p99 (ms) | Switchboard setup p50/p99 (ms) | Kamailio CPU | Switchboard CPU | SIPp CPU UAC+UAS (K / SB) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    kr=$(field kamailio 1)
    sr=$(field switchboard 1)
    ratio=-
    if [[ $kr =~ ^[0-9]+$ && $sr =~ ^[0-9]+$ && $kr -gt 0 ]]; then
        ratio=$(awk -v a="$sr" -v b="$kr" 'BEGIN { printf "%.2f", a / b }')
    fi
    echo "| call INVITE/100/180/200/ACK/BYE/200, Record-Route, no hold | $(cell kamailio) | $(cell switchboard) | $ratio" \
        "| $(field kamailio 2)/$(field kamailio 3) | $(field switchboard 2)/$(field switchboard 3)" \
        "| $(pct kamailio 4) | $(pct switchboard 4) | $(sipp_cpu kamailio) / $(sipp_cpu switchboard) |"
)
NOTES=$(
    if ((ROUNDS > 1)); then
        echo "Clean rate per round (rounds alternate which target goes first); the table shows the median"
        echo "round of each target and the ratio of the medians:"
        echo
        for target in "${TARGETS[@]}"; do
            echo "- $target: $(round_rates "$target") calls/s"
        done
        echo
    fi
    echo "Calls lost in the warm-up (${WARM_UP_SECONDS} s at ${WARM_UP_RATE}/s on a freshly started server; UAC+UAS, per round):"
    for target in "${TARGETS[@]}"; do
        echo "$target ${WARM_UPS[$target]:--}."
    done
)
echo
echo "$TABLE"
printf '\n%s\n' "$NOTES"
echo
echo "Setup time: INVITE sent to 200 received at the UAC. CPU: % of one core over the run (server"
echo "process tree and the UAS from /proc; the UAC from its own user+sys)."
echo "Every probe: $OUT/calls.tsv"

if [[ $WRITE_DOCS == 1 ]]; then
    DOC=$ROOT/docs/benchmarks/sip-call.md
    [[ -f $DOC ]] || { mkdir -p "$(dirname "$DOC")" && printf '# Benchmark: SIP calls through the proxy\n' >"$DOC"; }
    kind="${DURATION}-second runs, at most $MAX_PROBES probes per target"
    ((ROUNDS > 1)) && kind="$kind, $ROUNDS rounds"
    title="SIP calls through the proxy, side by side"
    [[ $QUICK == 1 ]] && title="$title: harness smoke check (--quick), not a result"
    {
        echo
        echo "## $RUN_STARTED — $title"
        echo
        echo "Command: \`bench/sip-call.sh${ARGS[*]:+ ${ARGS[*]}}\` ($kind)."
        echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r);" \
            "$(sipp -v 2>/dev/null | grep -o 'SIPp v[0-9.]*' | head -1), $("$KAMAILIO_BIN" -v 2>/dev/null | head -1 | sed -e 's/^version: //' -e 's/ *$//' || true);" \
            "Switchboard $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '(no git)')."
        echo
        echo "$TABLE"
        printf '\n%s\n' "$NOTES"
    } >>"$DOC"
    log "appended to $DOC"
fi

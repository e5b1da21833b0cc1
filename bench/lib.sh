#!/usr/bin/env bash
# Shared by the bench/ scripts (sourced, not run): logging, process control by PID, CPU from /proc,
# packages, readiness, SIPp runs and their statistics. Callers define OUT, PIDS-style state and the
# variables these functions read (see each script).

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() { log "error: $*"; exit 1; }

stop_pid() {   # stop_pid PID: SIGTERM to it and its descendants, wait up to 15 s, then SIGKILL
    local pid=$1 i p alive
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    # the whole tree by PID: a launcher script that does not exec would leave its JVM behind
    local pids
    pids=$(tree_pids "$pid")
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 150; i++)); do
        alive=0
        for p in $pids; do kill -0 "$p" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]] && alive=1; done
        ((alive == 0)) && break
        sleep 0.1
    done
    if ((alive == 1)); then
        log "pid $pid (or a child) still alive 15 s after SIGTERM; SIGKILL"
        for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
    STARTED_PIDS=()
}

tree_pids() {  # PID and all its descendants
    local p=$1 c
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null); do tree_pids "$c"; done
}

tree_ticks() { # utime+stime (clock ticks) summed over a process tree, from /proc/PID/stat
    local total=0 p s
    local -a f
    for p in $(tree_pids "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }                 # drop "pid (comm) "; field 3 (state) is now index 0
        read -r -a f <<<"$s"
        total=$((total + f[11] + f[12]))   # fields 14 utime, 15 stime
    done
    echo "$total"
}

# without_bench_env CMD...: runs CMD without the SWITCHBOARD_* variables of this environment. The
# scripts' own settings (SWITCHBOARD_PORT, SWITCHBOARD_HTTP, SWITCHBOARD_RUN_ARGS, ...) share the
# node's prefix, and a node refuses SWITCHBOARD_* variables it does not know; what a node should
# see is passed explicitly after this (env NAME=VALUE ...).
without_bench_env() {
    local unset=() v
    for v in $(compgen -e); do
        [[ $v == SWITCHBOARD_* ]] && unset+=(-u "$v")
    done
    env "${unset[@]}" "$@"
}

# median_round KEY: the round (1..ROUNDS) whose clean rate is the median of the rounds recorded as
# RESULT[KEY,ROUND]="RATE|..." (the lower middle for an even count); nothing when none ran.
median_round() {
    local key=$1 r v lines=()
    for ((r = 1; r <= ROUNDS; r++)); do
        v=${RESULT[$key,$r]:-}
        [[ -n $v ]] && lines+=("${v%%|*} $r")
    done
    ((${#lines[@]} > 0)) || return 0
    printf '%s\n' "${lines[@]}" | sort -n -k1,1 | sed -n "$(((${#lines[@]} + 1) / 2))p" | cut -d' ' -f2
}

# round_rates KEY: every round's clean rate, in round order ("8800, 9100, 9300")
round_rates() {
    local key=$1 r v out=""
    for ((r = 1; r <= ROUNDS; r++)); do
        v=${RESULT[$key,$r]:-}
        [[ -n $v ]] && out+="${out:+, }${v%%|*}"
    done
    echo "${out:--}"
}

# round_order ROUND TARGET...: the targets in the order this round runs them: as given in odd
# rounds, reversed in even ones, so neither target always runs first on a machine that drifts
round_order() {
    local round=$1 i
    shift
    if ((round % 2 == 1)); then
        echo "$@"
    else
        local rev=()
        for ((i = $#; i >= 1; i--)); do rev+=("${!i}"); done
        echo "${rev[@]}"
    fi
}

udp_listening() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }

port_free() { ! ss -Hlun "sport = :$1" 2>/dev/null | grep -q . && ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ------------------------------------------------------------------ 1. packages
install_packages() {
    local missing=()
    command -v sipp >/dev/null || missing+=(sip-tester)
    if [[ " ${TARGETS[*]} " == *" kamailio "* ]] && ! command -v kamailio >/dev/null && [[ ! -x /usr/sbin/kamailio ]]; then
        missing+=(kamailio)
    fi
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]} (Debian packages)"
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
        "${sudo[@]}" apt-get update -q >/dev/null
        "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null
    }
    # the kamailio package enables a systemd service on 5060; the benchmark runs its own
    if [[ " ${missing[*]} " == *" kamailio "* ]] && command -v systemctl >/dev/null; then
        "${sudo[@]}" systemctl disable --now kamailio >/dev/null 2>&1 || true
    fi
}

http_ok() {  # http_ok URL
    if command -v curl >/dev/null; then
        curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
    else
        local hostport=${1#http://}; hostport=${hostport%%/*}
        local path=/${1#http://*/}
        (exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" &&
            printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3 &&
            head -1 <&3 | grep -q ' 200 ') 2>/dev/null
    fi
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    stop_pid "$SERVER_PID"
    forget_pid "$SERVER_PID"
    SERVER_PID=""
}

# ------------------------------------------------------------------ 4. probes
stat_col() {  # stat_col FILE COLUMN: the column's value in the last row of a SIPp stat CSV
    awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
                           NF > 1 { v = $c } END { print (c && v != "" ? v : "-1") }' "$1"
}

percentiles() {  # percentiles RTT_CSV: "p50 p99" in ms over every response time recorded
    awk -F';' 'NR > 1 && NF >= 2 { print $2 }' "$1" | sort -n | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- -"; exit }
            i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
            printf "%g %g\n", v[i50], v[i99]
        }'
}

# run_sipp DIR LIMIT_SECONDS SIPP_ARGS...: sipp in DIR under `timeout`, as a background job this
# script waits for (so Ctrl-C or SIGTERM reaches the trap at once and the cleanup kills it by PID).
# Sets SIPP_RC and SIPP_CPU_S (sipp's user+sys seconds, from this shell's children rusage).
run_sipp() {
    local dir=$1 limit=$2
    shift 2
    times >"$dir/.times0"
    (cd "$dir" && exec timeout -k 5 "$limit" sipp "$@" >sipp.out 2>&1) &
    local pid=$!
    STARTED_PIDS+=("$pid")
    SIPP_RC=0
    wait "$pid" || SIPP_RC=$?
    forget_pid "$pid"
    times >"$dir/.times1"
    SIPP_CPU_S=$(awk 'function sec(t) { split(t, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
                      FNR == 2 { c[FILENAME] = sec($1) + sec($2) }
                      END { printf "%.2f", c[ARGV[2]] - c[ARGV[1]] }' "$dir/.times0" "$dir/.times1")
    rm -f "$dir/.times0" "$dir/.times1"
}

forget_pid() {
    local keep=() p
    for p in "${STARTED_PIDS[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
    STARTED_PIDS=("${keep[@]}")
}

round_rate() { # to 2 significant-ish steps: multiples of 100 (>= MIN_RATE)
    local r=$1
    r=$(((r + 50) / 100 * 100))
    ((r < MIN_RATE)) && r=$MIN_RATE
    echo "$r"
}

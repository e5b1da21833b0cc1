#!/usr/bin/env bash
# Failover benchmark: a three-node cluster (one PostgreSQL database, one RabbitMQ exchange, real
# HAProxy) under chat, SIP-over-TCP and monitor load, one node killed with kill -9; prints the time
# to the first success after the kill (HTTP, stream resume, SIP re-registration, monitor
# resumption), chat latency p99 before and after, and acknowledged/lost/duplicated messages; then
# what the cluster costs: the same saturating load against one node and against three sharing this
# machine (chat deliveries/s, REGISTER/s over TCP through HAProxy) and the ratio. Run by hand;
# never part of the test suite. See bench/README.md.
#
# The load and the cluster are the failover tests' harness (server/src/test/.../cluster): the
# script runs its FailoverBench class through Maven's test runner, with the nodes started from the
# shaded jar.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    cat <<EOF
usage: bench/failover.sh [--quick] [--only failover|cost] [--before S] [--after S] [--cost-seconds S] [--cost-warmup S] [--cost-phones N] [--cost-chats N]
                         [--cost-sizes 1,3|1|3] [--cost-rounds N] [--commit-delay D] [--bus-linger D] [--cost-shared-cpus N]
                         [--monitors N] [--phones N]

  --quick           smoke check: 5 s before and 10 s after the kill, 5 s cost steps, 20 monitors
  --only PART       failover (the kill) or cost (1 node against 3); both by default
  --before S        load before the kill (default 20)
  --after S         load after the kill (default 30)
  --cost-seconds S  length of each measured cost step (default 20)
  --cost-warmup S   load before each cost step is measured (default: half the step, at least 5 s);
                    three JVMs on two cores are still compiling for a minute or more
  --cost-phones N   phones re-registering without pause in the cost step (default 120)
  --cost-chats N    chats with a sender each in the cost step (default 32)
  --cost-sizes L    cluster sizes the cost part measures: 1,3 (default), or 1 or 3 alone (to profile one side)
  --cost-rounds N   measure the cost sizes N times (default 1); with 1,3 and more than one round, each
                    round's ratios and their median are printed (the machine's speed drifts over minutes),
                    with one size the median rates
  --commit-delay D  the nodes' store.commitDelay in the cost part (0 for none; default: the node's, 2ms on PostgreSQL)
  --bus-linger D    the nodes' bus.linger in the cost part (0 for none; default: the node's)
  --cost-shared-cpus N  in the cost part, each node of a cluster of more than one runs with
                    -XX:ActiveProcessorCount=N (its share of the machine: thread pools, GC and JIT
                    threads sized for N cores, as for nodes that share a machine);
                    one node alone keeps the machine's count
  --monitors N      http monitors at 5 s (default 200)
  --phones N        SIP phones over TCP (default 12)

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and RabbitMQ on 127.0.0.1:5672
(guest/guest); installs Debian's haproxy when missing. Ports 127.0.0.1:$((23100))-$((23139))
(FAILOVER_PORT_BASE). Environment: FAILOVER_NODE_JVM (node JVM options, default -Xmx512m), BENCH_OUT,
FAILOVER_COST_JFR (a directory: every node records each measured cost step there with JFR,
settings "profile", started by jcmd when the step starts, 3 s shorter than it; files
rROUND-SIZE-nodes-STEP-PID.jfr).
Figures go to the terminal and \$BENCH_OUT/failover.txt; no docs page is touched (copy runs
worth keeping, from an idle machine, to docs/benchmarks/cluster.md by hand).
EOF
}

PARTS=failover,cost
BEFORE=20
AFTER=30
COST=20
WARMUP=
COST_PHONES=120
COST_CHATS=32
COST_SIZES=1,3
COST_ROUNDS=1
COMMIT_DELAY=
BUS_LINGER=
SHARED_CPUS=
MONITORS=200
PHONES=12
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) BEFORE=5; AFTER=10; COST=5; MONITORS=20 ;;
        --only) PARTS=${2:?}; shift ;;
        --before) BEFORE=${2:?}; shift ;;
        --after) AFTER=${2:?}; shift ;;
        --cost-seconds) COST=${2:?}; shift ;;
        --cost-warmup) WARMUP=${2:?}; shift ;;
        --cost-phones) COST_PHONES=${2:?}; shift ;;
        --cost-chats) COST_CHATS=${2:?}; shift ;;
        --cost-sizes) COST_SIZES=${2:?}; shift
            [[ $COST_SIZES =~ ^(1|3|1,3)$ ]] || { echo "--cost-sizes: 1,3, 1 or 3" >&2; exit 2; } ;;
        --cost-rounds) COST_ROUNDS=${2:?}; shift ;;
        --commit-delay) COMMIT_DELAY=${2:?}; shift ;;
        --bus-linger) BUS_LINGER=${2:?}; shift ;;
        --cost-shared-cpus) SHARED_CPUS=${2:?}; shift
            [[ $SHARED_CPUS =~ ^[1-9][0-9]?$ ]] || { echo "--cost-shared-cpus: 1..99" >&2; exit 2; } ;;
        --monitors) MONITORS=${2:?}; shift ;;
        --phones) PHONES=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $PARTS =~ ^(failover|cost|failover,cost)$ ]] || { echo "--only: failover or cost" >&2; exit 2; }
[[ -n $WARMUP ]] || WARMUP=$(( COST / 2 > 5 ? COST / 2 : 5 ))
for n in "$BEFORE" "$AFTER" "$COST" "$WARMUP" "$MONITORS" "$PHONES" "$COST_PHONES" "$COST_CHATS" "$COST_ROUNDS"; do
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 3600 ]] || { echo "durations and counts: 1..3600" >&2; exit 2; }
done
[[ $PHONES -ge 2 ]] || { echo "--phones: at least 2" >&2; exit 2; }

STARTED_PIDS=()
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"

if ! command -v haproxy >/dev/null && [[ ! -x /usr/sbin/haproxy ]]; then
    log "installing haproxy (Debian package)"
    sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" apt-get install -y -q haproxy >/dev/null 2>&1 || {
        "${sudo[@]}" apt-get update -q >/dev/null
        "${sudo[@]}" apt-get install -y -q haproxy >/dev/null
    }
    # the package enables a service of its own; the benchmark runs its own haproxy
    command -v systemctl >/dev/null && "${sudo[@]}" systemctl disable --now haproxy >/dev/null 2>&1 || true
fi

JAVA_HOME="$("$ROOT/switchboard" jdk)"
export JAVA_HOME
log "building the node jar when needed"
"$ROOT/switchboard" --version >/dev/null
JAR="$ROOT/server/target/switchboard.jar"
[[ -f $JAR ]] || die "no $JAR after the build"

# The nodes run from a copy of the jar: the Maven run below shades the jar again after the bench.
NODE_JAR="$OUT/failover-node.jar"
cp "$JAR" "$NODE_JAR"

log "running FailoverBench (parts: $PARTS; Maven output in $OUT/failover-mvn.log)"
# shellcheck disable=SC2016
without_bench_env env SWITCHBOARD_BENCH=failover SWITCHBOARD_NODE_JAR="$NODE_JAR" \
    FAILOVER_PARTS="$PARTS" FAILOVER_BEFORE_SECONDS="$BEFORE" FAILOVER_AFTER_SECONDS="$AFTER" \
    FAILOVER_COST_SECONDS="$COST" FAILOVER_COST_WARMUP_SECONDS="$WARMUP" FAILOVER_COST_PHONES="$COST_PHONES" FAILOVER_COST_CHATS="$COST_CHATS" FAILOVER_COST_SIZES="$COST_SIZES" FAILOVER_COST_ROUNDS="$COST_ROUNDS" FAILOVER_COST_COMMIT_DELAY="$COMMIT_DELAY" FAILOVER_COST_BUS_LINGER="$BUS_LINGER" FAILOVER_COST_SHARED_CPUS="$SHARED_CPUS" FAILOVER_MONITORS="$MONITORS" FAILOVER_PHONES="$PHONES" \
    FAILOVER_PORT_BASE="${FAILOVER_PORT_BASE:-23100}" FAILOVER_NODE_JVM="${FAILOVER_NODE_JVM:--Xmx512m}" \
    FAILOVER_OUT="$OUT/failover.txt" CI=true \
    mvn -B -q -o -Dstyle.color=never -f "$ROOT/pom.xml" -pl server -am verify -Dtest=FailoverBench \
    -Dsurefire.failIfNoSpecifiedTests=false >"$OUT/failover-mvn.log" 2>&1 &
MVN_PID=$!
STARTED_PIDS+=("$MVN_PID")
rc=0
wait "$MVN_PID" || rc=$?
STARTED_PIDS=()
[[ -s $OUT/failover.txt ]] || die "no figures (exit $rc); see $OUT/failover-mvn.log and server/target/surefire-reports/*FailoverBench*"
cat "$OUT/failover.txt"
[[ $rc -eq 0 ]] || die "the bench failed (exit $rc) after the figures above; see $OUT/failover-mvn.log"

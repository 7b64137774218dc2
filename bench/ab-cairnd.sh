#!/usr/bin/env bash
# Two cairnd binaries side by side (say the previous commit's and this one's), on the same
# machine in the same run, alternating rounds A B A B: HTTP keep-alive requests/s on the
# health endpoint (wrk) and 4 KiB GETs at 64 connections through the whole S3 path
# (cairn-bench's A/B mode). Prints each round, the medians and the ratios B/A.
#
# Usage: bench/ab-cairnd.sh A_CAIRND B_CAIRND [rounds] [seconds]
#   e.g. build the previous commit in a git worktree (`cargo build --release -p cairn`), copy
#   its target/release/cairnd aside, build this one, and pass both.
# Needs: wrk (Debian package; installed if missing and run as root), python3, curl.
# BENCH_DIR: where the two data directories go (default /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

a_bin=${1:?usage: bench/ab-cairnd.sh A_CAIRND B_CAIRND [rounds] [seconds]}
b_bin=${2:?usage: bench/ab-cairnd.sh A_CAIRND B_CAIRND [rounds] [seconds]}
rounds=${3:-5}
seconds=${4:-10}

if ! command -v wrk >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk
fi
cargo build --release -q -p cairn-bench
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/cairn-ab.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=CAIRNBENCHKEY0000001
export AWS_SECRET_ACCESS_KEY=cairn-bench-secret-0000000000000000000000
export AWS_REGION=us-east-1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME BINARY: sets $port and $pid.
start() {
    port=$(free_port)
    CAIRN_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID CAIRN_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
        "$2" serve --listen "127.0.0.1:$port" --data-dir "$work/$1" --log-level warn \
        2>>"$work/$1.log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/_cairn/health" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "cairnd $1 did not start:" >&2
    cat "$work/$1.log" >&2
    exit 1
}
start a "$a_bin"
a_port=$port
start b "$b_bin"
b_port=$port

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b/a}'; }

wrk_rate() {
    wrk -t2 -c64 -d"${seconds}s" "http://127.0.0.1:$1/_cairn/health" | awk '/Requests\/sec/ {print $2}'
}
ka_a=() ka_b=() ka_r=()
for round in $(seq "$rounds"); do
    a=$(wrk_rate "$a_port")
    b=$(wrk_rate "$b_port")
    ka_a+=("$a") ka_b+=("$b") ka_r+=("$(ratio "$a" "$b")")
    echo "keep-alive round $round: A $a req/s, B $b req/s, B/A $(ratio "$a" "$b")"
done
echo "keep-alive (wrk -t2 -c64, health): median A $(median "${ka_a[@]}") req/s, B $(median "${ka_b[@]}") req/s; median of per-round B/A $(median "${ka_r[@]}")"

./target/release/cairn-bench get --endpoint "http://127.0.0.1:$a_port" \
    --ab-endpoint "http://127.0.0.1:$b_port" \
    --size 4KiB -c 64 --duration "${seconds}s" --rounds "$rounds" --quiet

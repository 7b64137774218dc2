#!/usr/bin/env bash
# The S3 figures of BENCHMARKS.md, measured with cairn-bench against a release cairnd started
# here, each next to its reference measured in the same run on the same machine, alternating
# rounds so background noise hits both; medians are printed as the Markdown tables.
#
# Usage: bench/s3-figures.sh FIGURE [rounds]
#   limits  PUT and GET of 4 KiB, 64 KiB, 1 MiB and 64 MiB in each signing mode, against the
#           hashing limit (cairn-bench hash-limit) and the disk limit (fio) per round
#   small   4 KiB PUT, GET, HEAD, DELETE and LIST of 100 at 1, 16, 64 and 256 clients (p99),
#           and the server's CPU time per 10,000 requests
#   conns   10,000 keep-alive clients doing 4 KiB GETs, alternating with 64
#   soak    a long mixed run (SOAK_SECS, default 600), then every object left read back
#   noise   two identical cairnd driven A B A B: what this machine's noise does to a ratio
# Needs: python3; fio for `limits` (Debian package, installed if missing and run as root).
# BENCH_DIR: where cairnd's data and fio's files go (default /var/tmp): the disk measured.
set -euo pipefail
cd "$(dirname "$0")/.."

figure=${1:?usage: bench/s3-figures.sh limits|small|conns|soak|noise [rounds]}
rounds=${2:-3}

if [ "$figure" = limits ] && ! command -v fio >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fio
fi
cargo build --release -q -p cairn -p cairn-bench
bench=./target/release/cairn-bench
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/cairn-figures.XXXXXX")
results=$work/results.jsonl
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

# start_cairnd NAME: a release cairnd on a free port with its own data directory; sets
# $port and $pid.
start_cairnd() {
    port=$(free_port)
    CAIRN_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID CAIRN_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
        ./target/release/cairnd serve --listen "127.0.0.1:$port" --data-dir "$work/$1" \
        --log-level warn 2>>"$work/$1.log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/_cairn/health" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "cairnd did not start:" >&2
    cat "$work/$1.log" >&2
    exit 1
}

# record LABEL COMMAND...: runs a JSON-printing command and appends its output, labelled,
# to the results.
record() {
    local label=$1
    shift
    "$@" >"$work/out.json"
    python3 - "$work/out.json" "$label" >>"$results" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps({"label": sys.argv[2], "data": d}))
PY
}

# fio_run LABEL ARGS...: one fio job group on the measured disk, its JSON recorded.
fio_run() {
    local label=$1
    shift
    mkdir -p "$work/fio"
    record "$label" fio --output-format=json --directory="$work/fio" --group_reporting \
        --time_based --runtime=5 --name=disk "$@"
}

machine() {
    echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

case "$figure" in
limits)
    machine
    start_cairnd limits
    for round in $(seq "$rounds"); do
        for size in 4KiB 64KiB 1MiB 64MiB; do
            case $size in
                4KiB) c=64 objects=2000 secs=5s fio_w=(--rw=write --bs=4k --size=16m --numjobs=64 --fdatasync=1) fio_r=(--rw=randread --bs=4k --size=16m --numjobs=64 --direct=1) ;;
                64KiB) c=64 objects=1000 secs=5s fio_w=(--rw=write --bs=64k --size=16m --numjobs=64 --fdatasync=1) fio_r=(--rw=randread --bs=64k --size=16m --numjobs=64 --direct=1) ;;
                1MiB) c=16 objects=200 secs=5s fio_w=(--rw=write --bs=1m --size=64m --numjobs=16 --direct=1 --fdatasync=1) fio_r=(--rw=read --bs=1m --size=64m --numjobs=16 --direct=1) ;;
                64MiB) c=4 objects=8 secs=8s fio_w=(--rw=write --bs=1m --size=256m --numjobs=4 --direct=1 --fdatasync=64) fio_r=(--rw=read --bs=1m --size=256m --numjobs=4 --direct=1) ;;
            esac
            echo "round $round, $size" >&2
            record "hash $size" "$bench" hash-limit --size "$size" --duration 3s --rounds 1 --json
            fio_run "fio-write $size" "${fio_w[@]}"
            fio_run "fio-read $size" "${fio_r[@]}"
            rm -rf "$work/fio"
            for mode in signed unsigned streaming trailer v2; do
                record "put $size $mode" "$bench" put --endpoint "http://127.0.0.1:$port" \
                    --size "$size" -c "$c" --duration "$secs" --warmup 2s --sign "$mode" \
                    --server-pid "$pid" --json --quiet
                record "get $size $mode" "$bench" get --endpoint "http://127.0.0.1:$port" \
                    --size "$size" -c "$c" --objects "$objects" --duration "$secs" \
                    --warmup 2s --sign "$mode" --server-pid "$pid" --json --quiet
            done
        done
    done
    python3 - "$results" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
def runs(label):
    return [r["data"] for r in rows if r["label"] == label]
def med(xs):
    xs = [x for x in xs if x is not None]
    return st.median(xs) if xs else float("nan")
def fio_mib(label, kind):
    return med([d["jobs"][0][kind]["bw_bytes"] / 2**20 for d in runs(label)])
sizes = ["4KiB", "64KiB", "1MiB", "64MiB"]
modes = ["signed", "unsigned", "streaming", "trailer", "v2"]
print("\nReferences, medians of the rounds (hash: both cores; per CPU-second: per core):\n")
print("| size | SHA-256+MD5 MiB/s | SHA-256+MD5 MiB per CPU-s | MD5 MiB per CPU-s | fio write MiB/s | fio read MiB/s |")
print("|---|---:|---:|---:|---:|---:|")
ref = {}
for s in sizes:
    h = runs(f"hash {s}")
    lim = lambda d, name, key: [l[key] for l in d["limits"] if l["hashes"] == name][0]
    wall = med([lim(d, "sha256-md5", "median_mib_per_sec") for d in h])
    cpu = med([lim(d, "sha256-md5", "median_mib_per_cpu_sec") for d in h])
    md5 = med([lim(d, "md5", "median_mib_per_cpu_sec") for d in h])
    fw, fr = fio_mib(f"fio-write {s}", "write"), fio_mib(f"fio-read {s}", "read")
    ref[s] = (wall, cpu, fw, fr)
    print(f"| {s} | {wall:,.0f} | {cpu:,.0f} | {md5:,.0f} | {fw:,.0f} | {fr:,.0f} |")
for op, disk in (("put", 2), ("get", 3)):
    print(f"\n{op.upper()}, medians of the rounds:\n")
    print(f"| size | signing | {op.upper()} MiB/s | ops/s | p99 ms | server cores | server MiB per CPU-s | / hash limit | / hash per CPU-s | / fio {'write' if op == 'put' else 'read'} |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in sizes:
        for m in modes:
            d = runs(f"{op} {s} {m}")
            mib = med([x["total_mib_per_sec"] for x in d])
            ops = med([x["total_ops_per_sec"] for x in d])
            p99 = med([x["ops"][0]["latency_us"]["p99"] / 1000 for x in d if x["ops"]])
            cores = med([x["cpu"]["server_cores_busy"] for x in d])
            per_cpu = med([x["cpu"]["server_mib_per_cpu_sec"] for x in d])
            errors = sum(x["total_errors"] for x in d)
            bad = sum(x["mismatched_bytes"] for x in d)
            wall, cpu, fw, fr = ref[s]
            note = f" ({errors} errors)" if errors else ""
            note += f" ({bad} bytes mismatched)" if bad else ""
            print(f"| {s} | {m} | {mib:,.1f}{note} | {ops:,.0f} | {p99:.2f} | {cores:.2f} | {per_cpu:,.0f} | {mib / wall:.2f} | {per_cpu / cpu:.2f} | {mib / ref[s][disk]:.2f} |")
PY
    ;;
small)
    machine
    start_cairnd small
    for round in $(seq "$rounds"); do
        for c in 1 16 64 256; do
            echo "round $round, $c clients" >&2
            for op in put get stat delete list; do
                extra=()
                case $op in
                    get | stat) extra=(--objects 2000) ;;
                    delete) extra=(--objects 20000) ;;
                    list) extra=(--objects 5000 --max-keys 100) ;;
                esac
                record "$op $c" "$bench" "$op" --endpoint "http://127.0.0.1:$port" --size 4KiB \
                    -c "$c" --duration 5s --warmup 1s "${extra[@]}" --server-pid "$pid" --json --quiet
            done
        done
    done
    python3 - "$results" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = lambda label: [r["data"] for r in rows if r["label"] == label]
med = lambda xs: st.median(xs) if xs else float("nan")
ops = ["put", "get", "stat", "delete", "list"]
names = {"put": "PUT 4 KiB", "get": "GET 4 KiB", "stat": "HEAD", "delete": "DELETE", "list": "LIST of 100"}
print("\nOperations/s (p99 latency), medians of the rounds:\n")
print("| operation | 1 client | 16 clients | 64 clients | 256 clients |")
print("|---|---:|---:|---:|---:|")
for op in ops:
    cells = []
    for c in (1, 16, 64, 256):
        d = runs(f"{op} {c}")
        rate = med([x["total_ops_per_sec"] for x in d])
        p99 = med([x["ops"][0]["latency_us"]["p99"] / 1000 for x in d if x["ops"]])
        errors = sum(x["total_errors"] for x in d)
        cells.append(f"{rate:,.0f} ({p99:.2f} ms)" + (f" {errors} errors" if errors else ""))
    print(f"| {names[op]} | " + " | ".join(cells) + " |")
print("\nCPU seconds per 10,000 requests at 64 clients (medians):\n")
print("| operation | cairnd user | cairnd system | cairnd total | cairn-bench total |")
print("|---|---:|---:|---:|---:|")
for op in ops:
    d = runs(f"{op} 64")
    u = med([x["cpu"]["server_user_secs_per_10k_requests"] for x in d])
    s = med([x["cpu"]["server_system_secs_per_10k_requests"] for x in d])
    c = med([x["cpu"]["client_secs_per_10k_requests"] for x in d])
    print(f"| {names[op]} | {u:.3f} | {s:.3f} | {u + s:.3f} | {c:.3f} |")
PY
    ;;
conns)
    machine
    for round in $(seq "$rounds"); do
        for c in 64 10000; do
            echo "round $round, $c connections" >&2
            # A fresh cairnd each time, so its resident memory is this run's.
            start_cairnd "conns-$round-$c"
            record "get $c" "$bench" get --endpoint "http://127.0.0.1:$port" --size 4KiB -c "$c" \
                --objects 2000 --duration 10s --warmup 3s --server-pid "$pid" --json --quiet
            kill "$pid"
            wait "$pid" 2>/dev/null || true
        done
    done
    python3 - "$results" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = lambda label: [r["data"] for r in rows if r["label"] == label]
med = lambda xs: st.median(xs) if xs else float("nan")
print("\n4 KiB GETs over keep-alive connections, medians of the rounds:\n")
print("| connections | GET/s | p50 ms | p99 ms | max ms | errors | cairnd RSS MiB | cairnd CPU s per 10k | cairn-bench CPU s per 10k |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in (64, 10000):
    d = runs(f"get {c}")
    lat = lambda k: med([x["ops"][0]["latency_us"][k] / 1000 for x in d])
    print(f"| {c:,} | {med([x['total_ops_per_sec'] for x in d]):,.0f} | {lat('p50'):.2f} | {lat('p99'):.2f} | {lat('max'):.2f} | {sum(x['total_errors'] for x in d)} | {med([x['server_max_rss_mib'] for x in d]):.1f} | {med([x['cpu']['server_secs_per_10k_requests'] for x in d]):.3f} | {med([x['cpu']['client_secs_per_10k_requests'] for x in d]):.3f} |")
PY
    ;;
soak)
    machine
    start_cairnd soak
    secs=${SOAK_SECS:-600}
    record "soak" "$bench" mixed --endpoint "http://127.0.0.1:$port" --size 1KiB-256KiB \
        -c 64 --objects 5000 --duration "${secs}s" --warmup 10s \
        --mix get=40,stat=25,put=15,delete=10,list=10 --verify-all --server-pid "$pid" --json --quiet
    python3 - "$results" <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])][0]["data"]
print(f"\nmixed, {d['size']} objects, {d['concurrency']} connections, {d['duration_secs']:.0f} s after {d['warmup_secs']:.0f} s warm-up:\n")
print("| operation | operations | ops/s | p50 ms | p99 ms | errors |")
print("|---|---:|---:|---:|---:|---:|")
for o in d["ops"]:
    l = o["latency_us"]
    print(f"| {o['op']} | {o['ops']:,} | {o['ops_per_sec']:,.1f} | {l['p50']/1000:.2f} | {l['p99']/1000:.2f} | {o['errors']} |")
print(f"| total | {d['total_ops']:,} | {d['total_ops_per_sec']:,.1f} | | | {d['total_errors']} |")
print(f"\nbytes read back during the run and compared: {d['verified_bytes']:,}, mismatched: {d['mismatched_bytes']}")
v = d["verification"]
print(f"afterwards, every object left read back: {v['objects']:,} objects, {v['verified_bytes']:,} bytes, {v['mismatched_bytes']} mismatched, {sum(e['count'] for e in v['errors'])} errors")
print(f"errors by kind: {d['errors'] + v['errors']}")
print(f"cairnd resident memory up to {d['server_max_rss_mib']:.0f} MiB")
PY
    ;;
noise)
    machine
    start_cairnd a
    port_a=$port pid_a=$pid
    start_cairnd b
    record "aa get" "$bench" get --endpoint "http://127.0.0.1:$port_a" --ab-endpoint "http://127.0.0.1:$port" \
        --size 4KiB -c 64 --objects 2000 --duration 5s --warmup 1s --rounds "$rounds" \
        --server-pid "$pid_a" --ab-server-pid "$pid" --json --quiet
    record "aa put" "$bench" put --endpoint "http://127.0.0.1:$port_a" --ab-endpoint "http://127.0.0.1:$port" \
        --size 1MiB -c 16 --duration 5s --warmup 1s --rounds "$rounds" \
        --server-pid "$pid_a" --ab-server-pid "$pid" --json --quiet
    python3 - "$results" <<'PY'
import json, sys
for row in (json.loads(l) for l in open(sys.argv[1])):
    d = row["data"]
    a = [r["total_ops_per_sec"] for r in d["a"]]
    b = [r["total_ops_per_sec"] for r in d["b"]]
    per_round = [y / x for x, y in zip(a, b)]
    print(f"\n{row['label']}: A {', '.join(f'{x:,.0f}' for x in a)} ops/s; B {', '.join(f'{x:,.0f}' for x in b)} ops/s")
    print(f"  B/A per round: {', '.join(f'{r:.3f}' for r in per_round)}; ratio of medians {d['ratio_ops_per_sec']:.3f}")
    print(f"  spread of A's rounds: {min(a):,.0f}..{max(a):,.0f} ({(max(a) - min(a)) / max(a) * 100:.0f}%)")
PY
    ;;
*)
    echo "unknown figure $figure (limits, small, conns, soak, noise)" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Requests/s for a small response over keep-alive: cairnd's health endpoint against nginx
# serving the same bytes, measured with wrk on this machine in the same run, alternating
# A B A B so both see the same background noise. Also cairnd's resident memory idle and
# with 5,000 open keep-alive connections.
#
# Usage: bench/http-vs-nginx.sh [rounds] [seconds] [connections]
# Needs: wrk and nginx (Debian packages; installed if missing and run as root), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
seconds=${2:-10}
connections=${3:-64}
threads=${WRK_THREADS:-2}

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx-light
fi

cargo build --release -q -p cairn --bin cairnd
work=$(mktemp -d)
cleanup() {
    [ -n "${cairnd_pid:-}" ] && kill "$cairnd_pid" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cairn_port=$(free_port)
nginx_port=$(free_port)

./target/release/cairnd serve --listen "127.0.0.1:$cairn_port" --data-dir "$work/data" --log-level warn &
cairnd_pid=$!

body='{"status":"ok"}'
cat > "$work/nginx.conf" <<CONF
worker_processes $(nproc);
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server_tokens off;
    client_body_temp_path $work/nginx-body;
    proxy_temp_path $work/nginx-proxy;
    fastcgi_temp_path $work/nginx-fastcgi;
    uwsgi_temp_path $work/nginx-uwsgi;
    scgi_temp_path $work/nginx-scgi;
    server {
        listen 127.0.0.1:$nginx_port reuseport;
        location = /_cairn/health {
            default_type application/json;
            add_header Cache-Control no-store;
            return 200 '$body\n';
        }
    }
}
CONF
nginx -c "$work/nginx.conf"

for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$cairn_port/_cairn/health" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "cairnd:  $(curl -s -D - "http://127.0.0.1:$cairn_port/_cairn/health" | tr -d '\r' | grep -ci '^content-length: 16') response(s) of 16 bytes"
echo "nginx:   $(curl -s -D - "http://127.0.0.1:$nginx_port/_cairn/health" | tr -d '\r' | grep -ci '^content-length: 16') response(s) of 16 bytes"

run_wrk() {
    wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$1/_cairn/health" |
        awk '/Requests\/sec/ {print $2}'
}

cairn_results=()
nginx_results=()
for round in $(seq "$rounds"); do
    a=$(run_wrk "$cairn_port")
    b=$(run_wrk "$nginx_port")
    cairn_results+=("$a")
    nginx_results+=("$b")
    echo "round $round: cairnd $a req/s, nginx $b req/s"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
cm=$(median "${cairn_results[@]}")
nm=$(median "${nginx_results[@]}")
echo "median: cairnd $cm req/s, nginx $nm req/s, ratio cairnd/nginx $(awk -v a="$cm" -v b="$nm" 'BEGIN {printf "%.3f", a/b}')"

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$cairnd_pid/status"; }
idle_rss=$(rss)
python3 - "$cairn_port" "$cairnd_pid" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
conns = []
for _ in range(5000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n")
    conns.append(s)
for s in conns:
    data = b""
    while not data.endswith(b'{"status":"ok"}\n'):
        data += s.recv(4096)
time.sleep(1)
rss = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0]
print(f"RSS with 5000 open keep-alive connections: {rss} KiB")
PY
echo "RSS idle: $idle_rss KiB"

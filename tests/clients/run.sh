#!/usr/bin/env bash
# Real-client tests: boto3, aws-cli, rclone and s3cmd, unchanged, against a real cairnd.
#
# Starts cairnd on a free loopback port with a test CA's certificate (the port serves TLS and,
# on loopback, plain HTTP beside it), runs each client suite, and compares what comes back
# with what was sent. Stops the daemon it started and removes its files however it ends.
#
#   tests/clients/run.sh [SUITE...]      suites: boto3 awscli rclone s3cmd (default: all)
#
# Environment: CAIRND_BIN (default target/debug/cairnd, built if missing), CAIRN_CLIENTS_VENV
# (the Python environment with boto3, aws-cli and s3cmd from requirements.txt; default
# target/clients-venv, used when it exists), CAIRN_CLIENTS_KEEP=1 keeps the work directory,
# CAIRN_CLIENTS_LOG sets the daemon's log filter (default info), CAIRN_CLIENTS_SUITE_TIMEOUT
# bounds each suite (default 300 s).
# rclone and openssl come from the system (.ci/run installs them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
all_suites=(boto3 awscli rclone s3cmd)
if [ "$#" -gt 0 ]; then suites=("$@"); else suites=("${all_suites[@]}"); fi
for s in "${suites[@]}"; do
    [ -f "$here/suite_$s.sh" ] || { echo "unknown suite: $s (have: ${all_suites[*]})" >&2; exit 2; }
done

venv=${CAIRN_CLIENTS_VENV:-$root/target/clients-venv}
if [ -x "$venv/bin/python3" ]; then
    export PATH="$venv/bin:$PATH"
fi

missing=()
for tool in openssl python3 sha256sum curl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
for s in "${suites[@]}"; do
    case $s in
        boto3) python3 -c 'import boto3' 2>/dev/null || missing+=("boto3 (python module)") ;;
        awscli) command -v aws >/dev/null 2>&1 || missing+=(aws) ;;
        rclone) command -v rclone >/dev/null 2>&1 || missing+=(rclone) ;;
        s3cmd) command -v s3cmd >/dev/null 2>&1 || missing+=(s3cmd) ;;
    esac
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "FAIL [setup]: missing ${missing[*]}; .ci/run installs them (see tests/clients/requirements.txt)" >&2
    exit 1
fi

bin=${CAIRND_BIN:-$root/target/debug/cairnd}
if [ ! -x "$bin" ]; then
    echo "building cairnd ($bin not found)"
    (cd "$root" && cargo build -p cairn --bin cairnd)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-clients.XXXXXX")
daemon_pid=""
cleanup() {
    local rc=$?
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$daemon_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -f "$work/cairnd.log" ]; then
        echo "---- last lines of the cairnd log ----" >&2
        tail -n 40 "$work/cairnd.log" >&2
    fi
    if [ "${CAIRN_CLIENTS_KEEP:-0}" = 1 ]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== test CA and server certificate"
pki="$work/pki"
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Cairn client-test CA" \
    -keyout "$pki/ca.key" -out "$pki/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>"$pki/openssl.log"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$pki/server.key" -out "$pki/server.csr" 2>>"$pki/openssl.log"
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > "$pki/server.ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 2 -extfile "$pki/server.ext" -out "$pki/server.pem" 2>>"$pki/openssl.log"

echo "== starting cairnd ($bin)"
export CAIRN_TEST_ACCESS_KEY=CAIRNCLIENTTEST0001
export CAIRN_TEST_SECRET_KEY=client-test-secret-0000000000000000000001
env -u CAIRN_CONFIG -u CAIRN_LISTEN -u CAIRN_DATA_DIR -u CAIRN_REGION -u NOTIFY_SOCKET \
    CAIRN_LOG="${CAIRN_CLIENTS_LOG:-info}" \
    CAIRN_ACCESS_KEY_ID="$CAIRN_TEST_ACCESS_KEY" \
    CAIRN_SECRET_ACCESS_KEY="$CAIRN_TEST_SECRET_KEY" \
    "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" \
    > "$work/cairnd.log" 2>&1 &
daemon_pid=$!

addr=""
for _ in $(seq 1 600); do
    addr=$(sed -n 's#.*cairnd serving on https://\([0-9.]*:[0-9]*\).*#\1#p' "$work/cairnd.log" | sed -n 1p)
    [ -n "$addr" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || { echo "FAIL [setup]: cairnd exited during start-up" >&2; exit 1; }
    sleep 0.1
done
[ -n "$addr" ] || { echo "FAIL [setup]: cairnd did not start serving within 60 s" >&2; exit 1; }
curl -sf --cacert "$pki/ca.pem" "https://$addr/_cairn/health" >/dev/null \
    || { echo "FAIL [setup]: https health check failed" >&2; exit 1; }
curl -sf "http://$addr/_cairn/health" >/dev/null \
    || { echo "FAIL [setup]: plain http health check failed" >&2; exit 1; }
echo "cairnd (pid $daemon_pid) serves https://$addr and http://$addr"

export CAIRN_TEST_HTTPS="https://$addr" CAIRN_TEST_HTTP="http://$addr" CAIRN_TEST_ADDR="$addr"
export CAIRN_TEST_CA="$pki/ca.pem" CAIRN_TEST_WORK="$work" CAIRN_TEST_REGION=us-east-1
CAIRN_TEST_RUN_ID="$(date +%s)$$"
export CAIRN_TEST_RUN_ID
# No client may pick up a profile, config or credentials of the machine it runs on.
export HOME="$work/home"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_CA_BUNDLE \
    AWS_REQUEST_CHECKSUM_CALCULATION AWS_RESPONSE_CHECKSUM_VALIDATION RCLONE_CONFIG
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# Loopback traffic never goes through a proxy the machine may have configured.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

passed=() failed=()
suite_timeout=${CAIRN_CLIENTS_SUITE_TIMEOUT:-300}
for s in "${suites[@]}"; do
    echo
    echo "== $s"
    start=$(date +%s)
    # A client that hangs on a server bug fails its suite instead of stalling CI.
    rc=0
    CLIENT=$s timeout --kill-after=10 "$suite_timeout" bash "$here/suite_$s.sh" || rc=$?
    if [ "$rc" -eq 0 ]; then
        passed+=("$s")
        echo "== $s passed ($(( $(date +%s) - start )) s)"
    else
        [ "$rc" -eq 124 ] && echo "FAIL [$s]: the suite did not finish within $suite_timeout s" >&2
        failed+=("$s")
        echo "== $s FAILED ($(( $(date +%s) - start )) s)"
    fi
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        echo "FAIL [$s]: cairnd is no longer running" >&2
        failed+=("cairnd")
        break
    fi
done

echo
if grep -E '(panicked|internal error)' "$work/cairnd.log" >&2; then
    echo "FAIL [cairnd]: the daemon logged a panic or an internal error (above)" >&2
    failed+=("cairnd log")
fi
echo "client suites: ${#passed[@]} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
[ "${#failed[@]}" -eq 0 ]

# boto3 with its defaults over HTTPS (aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER with a
# CRC32 trailer, in HTTP chunked framing), with AWS_REQUEST_CHECKSUM_CALCULATION=when_required,
# and over plain HTTP. The same test file runs in each mode and asserts what went on the wire.
CLIENT=${CLIENT:-boto3}
source "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
python3 -c 'import boto3, botocore; print("boto3", boto3.__version__, "botocore", botocore.__version__)'

# Runs test_boto3.py in one mode against one endpoint; any extra arguments are environment
# assignments for that run.
run_mode() {
    local mode=$1 endpoint=$2
    shift 2
    local log="$SCRATCH/$mode.log"
    if env "$@" CAIRN_BOTO_ENDPOINT="$endpoint" CAIRN_BOTO_MODE="$mode" \
        python3 -m unittest -v "$here/test_boto3.py" > "$log" 2>&1; then
        grep -E '^(Ran |OK)' "$log"
    else
        cat "$log" >&2
        fail "unittest reported failures in mode $mode (above)"
    fi
}

step "https, default checksums"
run_mode https-default "$CAIRN_TEST_HTTPS"

step "https, AWS_REQUEST_CHECKSUM_CALCULATION=when_required"
run_mode https-when-required "$CAIRN_TEST_HTTPS" AWS_REQUEST_CHECKSUM_CALCULATION=when_required

step "http, default checksums"
run_mode http-default "$CAIRN_TEST_HTTP"

# s3cmd over HTTPS (SigV4 with a signed SHA-256 of every body, ListObjects v1 with markers,
# 15 MiB multipart chunks): mb, put (single and multipart), get, ls, sync both ways with
# --delete-removed, info, cp, del and rb, every download compared with what was uploaded.
CLIENT=${CLIENT:-s3cmd}
source "$(dirname "$0")/lib.sh"

cfg="$SCRATCH/s3cmd.cfg"
cat > "$cfg" <<EOF
[default]
access_key = $CAIRN_TEST_ACCESS_KEY
secret_key = $CAIRN_TEST_SECRET_KEY
host_base = $CAIRN_TEST_ADDR
host_bucket = $CAIRN_TEST_ADDR
bucket_location = $CAIRN_TEST_REGION
use_https = True
ca_certs_file = $CAIRN_TEST_CA
check_ssl_certificate = True
check_ssl_hostname = True
signature_v2 = False
multipart_chunk_size_mb = 15
progress_meter = False
EOF
s3c() { s3cmd -c "$cfg" --no-progress "$@"; }
s3cmd --version

bucket=$(bucket_name data)
src="$SCRATCH/src"
dl="$SCRATCH/dl"

step "mb and ls"
s3c mb "s3://$bucket"
s3c ls > "$SCRATCH/ls.txt"
grep -q "s3://$bucket\$" "$SCRATCH/ls.txt" || fail "ls does not list s3://$bucket"

step "put and get of a 40 MiB file (multipart, 15 MiB parts)"
random_file "$src/big.bin" $((40 * 1024 * 1024))
s3c put -v "$src/big.bin" "s3://$bucket/big.bin" > "$SCRATCH/put-big.log" 2>&1
# Verbose s3cmd logs each part it sends.
parts=$(grep -c "Sending file" "$SCRATCH/put-big.log" || true)
[ "$parts" = 3 ] || { cat "$SCRATCH/put-big.log" >&2; fail "the 40 MiB upload went in $parts parts, not 3"; }
s3c get "s3://$bucket/big.bin" "$dl/big.bin"
same_file "$src/big.bin" "$dl/big.bin"

step "put and get of small and empty files"
random_file "$src/small.txt" 2345
: > "$src/empty.bin"
s3c put "$src/small.txt" "$src/empty.bin" "s3://$bucket/small/" --mime-type=text/plain
s3c get "s3://$bucket/small/small.txt" "$dl/small.txt"
s3c get "s3://$bucket/small/empty.bin" "$dl/empty.bin"
same_file "$src/small.txt" "$dl/small.txt"
same_file "$src/empty.bin" "$dl/empty.bin"

step "info"
s3c info "s3://$bucket/small/small.txt" > "$SCRATCH/info.txt"
grep -q 'File size: *2345' "$SCRATCH/info.txt" || { cat "$SCRATCH/info.txt" >&2; fail "info shows the wrong size"; }
grep -q "MD5 sum: *$(md5sum < "$src/small.txt" | cut -d' ' -f1)" "$SCRATCH/info.txt" \
    || { cat "$SCRATCH/info.txt" >&2; fail "info shows the wrong MD5"; }

step "sync up and down (1100 files: listings past one 1000-key page)"
make_tree "$src/tree" 1100 $((17 * 1024 * 1024))
s3c sync "$src/tree/" "s3://$bucket/tree/" > "$SCRATCH/sync-up.log"
s3c sync "s3://$bucket/tree/" "$dl/tree/" > "$SCRATCH/sync-down.log"
same_tree "$src/tree" "$dl/tree"

step "sync again: nothing to do"
s3c sync "$src/tree/" "s3://$bucket/tree/" > "$SCRATCH/sync-again.log"
if grep -q "upload:" "$SCRATCH/sync-again.log"; then
    head "$SCRATCH/sync-again.log" >&2
    fail "an unchanged tree was uploaded again"
fi

step "sync with changes and --delete-removed"
rm "$src/tree/docs/file-0001.txt" "$src/tree/img/file-0003.bin"
random_file "$src/tree/docs/new file.txt" 4321
random_file "$src/tree/file-0000.bin" 999
s3c sync --delete-removed "$src/tree/" "s3://$bucket/tree/" > "$SCRATCH/sync-changes.log"
s3c sync --delete-removed "s3://$bucket/tree/" "$dl/tree/" > "$SCRATCH/sync-changes-down.log"
same_tree "$src/tree" "$dl/tree"

step "ls --recursive"
want=$(find "$src/tree" -type f | wc -l)
got=$(s3c ls --recursive "s3://$bucket/tree/" | wc -l)
[ "$want" = "$got" ] || fail "ls --recursive lists $got objects, the tree has $want"
s3c ls "s3://$bucket/tree/" > "$SCRATCH/ls-tree.txt"
grep -q "DIR *s3://$bucket/tree/docs/" "$SCRATCH/ls-tree.txt" || fail "ls does not show the docs/ prefix"

step "cp (server-side copy) and mv"
s3c cp "s3://$bucket/small/small.txt" "s3://$bucket/copy/small.txt"
s3c mv "s3://$bucket/copy/small.txt" "s3://$bucket/moved/small.txt"
s3c get "s3://$bucket/moved/small.txt" "$dl/moved.txt"
same_file "$src/small.txt" "$dl/moved.txt"

step "del, del --recursive and rb"
s3c del "s3://$bucket/big.bin"
if s3c get "s3://$bucket/big.bin" "$dl/gone.bin" 2> "$SCRATCH/gone.err"; then
    fail "get of a deleted object succeeded"
fi
s3c del --recursive --force "s3://$bucket/" > "$SCRATCH/del-recursive.log"
[ -z "$(s3c ls --recursive "s3://$bucket/")" ] || fail "del --recursive left objects"
s3c rb "s3://$bucket"
s3c ls > "$SCRATCH/ls-end.txt"
if grep -q "s3://$bucket\$" "$SCRATCH/ls-end.txt"; then
    fail "the bucket is still listed after rb"
fi

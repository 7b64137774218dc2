# aws-cli v1 over HTTPS with its default checksum behaviour: the high-level `s3` commands
# (mb, cp incl. a 100 MiB multipart upload, sync both ways with --delete, ls, mv, rm, rb,
# presign) and `s3api` calls, every download compared with what was uploaded.
CLIENT=${CLIENT:-awscli}
source "$(dirname "$0")/lib.sh"

export AWS_ACCESS_KEY_ID=$CAIRN_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$CAIRN_TEST_SECRET_KEY
export AWS_DEFAULT_REGION=$CAIRN_TEST_REGION AWS_CA_BUNDLE=$CAIRN_TEST_CA
export AWS_MAX_ATTEMPTS=1 AWS_PAGER=""
aws --version
s3() { aws --endpoint-url "$CAIRN_TEST_HTTPS" s3 "$@"; }
s3api() { aws --endpoint-url "$CAIRN_TEST_HTTPS" --output json s3api "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

bucket=$(bucket_name data)
src="$SCRATCH/src"
dl="$SCRATCH/dl"

step "s3 mb and s3 ls"
s3 mb "s3://$bucket"
s3 ls > "$SCRATCH/ls.txt"
grep -q " $bucket\$" "$SCRATCH/ls.txt" || fail "s3 ls does not list $bucket"
if s3 mb "s3://$bucket" 2> "$SCRATCH/mb-again.err"; then
    fail "a second s3 mb of the same bucket succeeded"
fi
grep -q BucketAlreadyOwnedByYou "$SCRATCH/mb-again.err" || fail "second mb: $(cat "$SCRATCH/mb-again.err")"

step "s3 cp of a 100 MiB file (multipart) and back"
random_file "$src/big.bin" $((100 * 1024 * 1024))
s3 cp "$src/big.bin" "s3://$bucket/big/big.bin" --only-show-errors
etag=$(s3api head-object --bucket "$bucket" --key big/big.bin | json 'd["ETag"]')
case $etag in *-13\") ;; *) fail "100 MiB in 8 MiB parts should have a 13-part ETag, not $etag" ;; esac
s3 cp "s3://$bucket/big/big.bin" "$dl/big.bin" --only-show-errors
same_file "$src/big.bin" "$dl/big.bin"

step "s3 cp of small and empty files, with metadata"
random_file "$src/one.txt" 1234
: > "$src/empty.bin"
s3 cp "$src/one.txt" "s3://$bucket/one.txt" --content-type text/plain --metadata colour=blue --only-show-errors
s3 cp "$src/empty.bin" "s3://$bucket/empty.bin" --only-show-errors
s3 cp "s3://$bucket/one.txt" "$dl/one.txt" --only-show-errors
s3 cp "s3://$bucket/empty.bin" "$dl/empty.bin" --only-show-errors
same_file "$src/one.txt" "$dl/one.txt"
same_file "$src/empty.bin" "$dl/empty.bin"
head_json=$(s3api head-object --bucket "$bucket" --key one.txt)
[ "$(json 'd["Metadata"]["colour"]' <<< "$head_json")" = blue ] || fail "metadata lost: $head_json"
[ "$(json 'd["ContentType"]' <<< "$head_json")" = text/plain ] || fail "content type lost: $head_json"
[ "$(json 'd["ContentLength"]' <<< "$head_json")" = 1234 ] || fail "wrong length: $head_json"

step "s3 sync up, down, and with --delete"
make_tree "$src/tree" 150 $((9 * 1024 * 1024))
s3 sync "$src/tree" "s3://$bucket/tree" --only-show-errors
# Listing pages of 40 keys, so the sync's ListObjectsV2 pages through continuation tokens.
s3 sync "s3://$bucket/tree" "$dl/tree" --only-show-errors --page-size 40
same_tree "$src/tree" "$dl/tree"
# A second sync has nothing to do.
[ -z "$(s3 sync "$src/tree" "s3://$bucket/tree" --dryrun)" ] || fail "an unchanged tree would be synced again"
rm "$src/tree/docs/file-0001.txt" "$src/tree/img/file-0003.bin"
random_file "$src/tree/docs/new file.txt" 4321
random_file "$src/tree/file-0000.bin" 777
s3 sync "$src/tree" "s3://$bucket/tree" --delete --only-show-errors
s3 sync "s3://$bucket/tree" "$dl/tree" --delete --only-show-errors
same_tree "$src/tree" "$dl/tree"

step "s3 ls --recursive"
want=$(find "$src/tree" -type f | wc -l)
got=$(s3 ls "s3://$bucket/tree/" --recursive | wc -l)
[ "$want" = "$got" ] || fail "s3 ls --recursive lists $got objects, the tree has $want"
s3 ls "s3://$bucket/tree/" > "$SCRATCH/ls-tree.txt"
grep -q 'PRE docs/' "$SCRATCH/ls-tree.txt" || fail "s3 ls does not show the docs/ prefix"

step "s3 cp and mv between keys (server-side copy)"
s3 cp "s3://$bucket/one.txt" "s3://$bucket/copies/one.txt" --only-show-errors
s3 mv "s3://$bucket/copies/one.txt" "s3://$bucket/moved/one.txt" --only-show-errors
s3 cp "s3://$bucket/moved/one.txt" "$dl/moved.txt" --only-show-errors
same_file "$src/one.txt" "$dl/moved.txt"
if s3api head-object --bucket "$bucket" --key copies/one.txt 2>/dev/null; then
    fail "s3 mv left its source behind"
fi

step "s3 presign"
url=$(s3 presign "s3://$bucket/one.txt" --expires-in 300)
curl -sf --cacert "$CAIRN_TEST_CA" -o "$dl/presigned.txt" "$url" || fail "GET of a presigned URL failed"
same_file "$src/one.txt" "$dl/presigned.txt"

step "s3api put-object, get-object, copy-object, list-objects-v2"
random_file "$src/api.bin" 300000
s3api put-object --bucket "$bucket" --key api/obj.bin --body "$src/api.bin" \
    --metadata origin=s3api --cache-control max-age=5 > /dev/null
s3api get-object --bucket "$bucket" --key api/obj.bin "$dl/api.bin" > "$SCRATCH/get.json"
same_file "$src/api.bin" "$dl/api.bin"
[ "$(json 'd["CacheControl"]' < "$SCRATCH/get.json")" = max-age=5 ] || fail "cache control lost"
s3api get-object --bucket "$bucket" --key api/obj.bin --range bytes=100-199 "$dl/range.bin" > /dev/null
cmp <(tail -c +101 "$src/api.bin" | head -c 100) "$dl/range.bin" || fail "ranged get-object returned other bytes"
s3api copy-object --bucket "$bucket" --key api/copy.bin --copy-source "$bucket/api/obj.bin" \
    --metadata-directive REPLACE --metadata origin=copy > /dev/null
[ "$(s3api head-object --bucket "$bucket" --key api/copy.bin | json 'd["Metadata"]["origin"]')" = copy ] \
    || fail "copy-object REPLACE did not set the metadata"
keys=$(s3api list-objects-v2 --bucket "$bucket" --prefix api/ --max-items 10 | json '" ".join(o["Key"] for o in d["Contents"])')
[ "$keys" = "api/copy.bin api/obj.bin" ] || fail "list-objects-v2 listed: $keys"
count=$(s3api list-objects-v2 --bucket "$bucket" --prefix tree/ --page-size 7 | json 'len(d["Contents"])')
[ "$count" = "$want" ] || fail "paged list-objects-v2 listed $count objects, want $want"
count=$(s3api list-objects --bucket "$bucket" --prefix tree/ --page-size 9 | json 'len(d["Contents"])')
[ "$count" = "$want" ] || fail "paged list-objects (v1) listed $count objects, want $want"

step "s3api multipart upload by hand"
head -c $((5 * 1024 * 1024)) "$src/big.bin" > "$SCRATCH/part1"
tail -c 1000 "$src/big.bin" > "$SCRATCH/part2"
upload=$(s3api create-multipart-upload --bucket "$bucket" --key api/mp.bin | json 'd["UploadId"]')
e1=$(s3api upload-part --bucket "$bucket" --key api/mp.bin --upload-id "$upload" --part-number 1 --body "$SCRATCH/part1" | json 'd["ETag"]')
e2=$(s3api upload-part --bucket "$bucket" --key api/mp.bin --upload-id "$upload" --part-number 2 --body "$SCRATCH/part2" | json 'd["ETag"]')
[ "$(s3api list-parts --bucket "$bucket" --key api/mp.bin --upload-id "$upload" | json 'len(d["Parts"])')" = 2 ] \
    || fail "list-parts does not list both parts"
s3api list-multipart-uploads --bucket "$bucket" > "$SCRATCH/uploads.json"
grep -q "$upload" "$SCRATCH/uploads.json" || fail "list-multipart-uploads misses $upload"
python3 -c 'import json, sys
print(json.dumps({"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(sys.argv[1:])]}))' \
    "$e1" "$e2" > "$SCRATCH/parts.json"
s3api complete-multipart-upload --bucket "$bucket" --key api/mp.bin --upload-id "$upload" \
    --multipart-upload "file://$SCRATCH/parts.json" > /dev/null
s3 cp "s3://$bucket/api/mp.bin" "$dl/mp.bin" --only-show-errors
same_file <(cat "$SCRATCH/part1" "$SCRATCH/part2") "$dl/mp.bin"

step "s3api delete-objects, head-bucket, get-bucket-location"
s3api delete-objects --bucket "$bucket" \
    --delete '{"Objects":[{"Key":"api/obj.bin"},{"Key":"api/copy.bin"},{"Key":"api/mp.bin"}]}' > "$SCRATCH/del.json"
[ "$(json 'len(d["Deleted"])' < "$SCRATCH/del.json")" = 3 ] || fail "delete-objects: $(cat "$SCRATCH/del.json")"
[ "$(s3api list-objects-v2 --bucket "$bucket" --prefix api/ | json 'd.get("KeyCount", 0)')" = 0 ] \
    || fail "objects survived delete-objects"
s3api head-bucket --bucket "$bucket" > /dev/null
s3api get-bucket-location --bucket "$bucket" > /dev/null
if s3api get-object --bucket "$bucket" --key api/obj.bin "$dl/gone" 2> "$SCRATCH/nokey.err"; then
    fail "get-object of a deleted key succeeded"
fi
grep -q NoSuchKey "$SCRATCH/nokey.err" || fail "deleted key: $(cat "$SCRATCH/nokey.err")"

step "s3 rm, rm --recursive, rb and rb --force"
s3 rm "s3://$bucket/one.txt" --only-show-errors
s3 rm "s3://$bucket/tree" --recursive --only-show-errors
[ -z "$(s3 ls "s3://$bucket/tree/" --recursive)" ] || fail "s3 rm --recursive left objects"
if s3 rb "s3://$bucket" 2> "$SCRATCH/rb.err"; then
    fail "s3 rb of a non-empty bucket succeeded"
fi
grep -q BucketNotEmpty "$SCRATCH/rb.err" || fail "rb of a non-empty bucket: $(cat "$SCRATCH/rb.err")"
s3 rb "s3://$bucket" --force > /dev/null
if s3 ls "s3://$bucket" 2> "$SCRATCH/ls-gone.err"; then
    fail "the bucket still lists after rb --force"
fi
grep -q NoSuchBucket "$SCRATCH/ls-gone.err" || fail "ls of a removed bucket: $(cat "$SCRATCH/ls-gone.err")"

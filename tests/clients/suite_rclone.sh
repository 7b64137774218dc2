# rclone with provider Other (ListObjects v1) over HTTPS: copy and sync of a tree of 500
# small files and a few large ones (multipart above a lowered cutoff), check --download, a
# modification-time update (CopyObject onto itself), delete and purge, every download compared
# with what was uploaded.
CLIENT=${CLIENT:-rclone}
source "$(dirname "$0")/lib.sh"

# The remote "cairn", configured through the environment only.
export RCLONE_CONFIG=/dev/null
export RCLONE_CONFIG_CAIRN_TYPE=s3
export RCLONE_CONFIG_CAIRN_PROVIDER=Other
export RCLONE_CONFIG_CAIRN_ENV_AUTH=false
export RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID=$CAIRN_TEST_ACCESS_KEY
export RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY=$CAIRN_TEST_SECRET_KEY
export RCLONE_CONFIG_CAIRN_ENDPOINT=$CAIRN_TEST_HTTPS
export RCLONE_CONFIG_CAIRN_REGION=$CAIRN_TEST_REGION
# Multipart above 10 MiB in 5 MiB chunks (the defaults, 200 MiB, would need huge files).
export RCLONE_CONFIG_CAIRN_UPLOAD_CUTOFF=10M
export RCLONE_CONFIG_CAIRN_CHUNK_SIZE=5M
# Listing pages of 40 keys (rclone asks for 1000): every directory of the tree takes several
# ListObjects v1 pages, so marker pagination is exercised.
export RCLONE_CONFIG_CAIRN_LIST_CHUNK=40
export RCLONE_CA_CERT=$CAIRN_TEST_CA
export RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=1 RCLONE_STATS=0
rclone version | sed -n 1p
rc() { rclone "$@"; }

bucket=$(bucket_name data)
src="$SCRATCH/src"
dl="$SCRATCH/dl"
remote="cairn:$bucket/tree"

step "make a tree of 500 small files and 3 large ones"
make_tree "$src" 500 $((23 * 1024 * 1024)) $((11 * 1024 * 1024 + 17)) $((6 * 1024 * 1024))
files=$(find "$src" -type f | wc -l)

step "copy (creates the bucket)"
rc copy "$src" "$remote" --transfers 8 --checkers 16
rc lsf -R --files-only "$remote" > "$SCRATCH/listed"
[ "$(wc -l < "$SCRATCH/listed")" = "$files" ] || fail "lsf lists $(wc -l < "$SCRATCH/listed") files, copied $files"

step "check --download (per-directory listings, then one recursive listing)"
rc check "$src" "$remote" --download
rc check "$src" "$remote" --download --fast-list

step "copy back and compare bytes"
rc copy "$remote" "$dl" --transfers 8
same_tree "$src" "$dl"

step "a second copy transfers nothing"
rc copy "$src" "$remote" --transfers 8 -v 2> "$SCRATCH/copy2.log"
if grep -q 'Copied (new)\|Copied (replaced' "$SCRATCH/copy2.log"; then
    grep 'Copied' "$SCRATCH/copy2.log" | sed -n 1,10p >&2
    fail "unchanged files were copied again"
fi

step "sync after changes (new, changed, removed, touched files)"
rm "$src/docs/file-0001.txt" "$src/img/file-0003.bin" "$src/large/blob-2.bin"
random_file "$src/docs/added file.txt" 5000
random_file "$src/file-0000.bin" 1500
random_file "$src/large/blob-1.bin" $((12 * 1024 * 1024))
# Same bytes, new modification time: rclone updates the stored mtime with a CopyObject onto
# itself (REPLACE) instead of uploading again.
touch -d '2001-02-03 04:05:06' "$src/docs/file-0010.txt"
rc sync "$src" "$remote" --transfers 8 --checkers 16 -v 2> "$SCRATCH/sync.log"
rc check "$src" "$remote" --download
rc sync "$remote" "$dl" --transfers 8
same_tree "$src" "$dl"
remote_mtime=$(rc lsl "$remote/docs/file-0010.txt" | awk '{print $2}')
[ "$remote_mtime" = 2001-02-03 ] || fail "the modification time was not updated (lsl says $remote_mtime)"

step "server-side copy between buckets"
rc mkdir "cairn:$bucket-copy"
rc copy "$remote/large" "cairn:$bucket-copy/large"
rc check "$src/large" "cairn:$bucket-copy/large" --download

step "a key with a carriage return (ListObjects v1 without URL encoding)"
# The listing is XML: a CR must reach rclone as a CR, not as the LF that XML parsers make of
# a literal one, or rclone cannot read back the key it listed.
cr_key=$'line\rbreak.txt'
printf 'carriage return\n' | rc rcat "cairn:$bucket/cr/$cr_key"
rc lsf "cairn:$bucket/cr" > "$SCRATCH/cr-listed"
# rclone prints a CR in a name as U+240D (a LF, which the key would have become, as U+240A).
[ "$(cat "$SCRATCH/cr-listed")" = $'line\342\220\215break.txt' ] \
    || fail "listed as $(od -c "$SCRATCH/cr-listed" | sed -n 1,2p)"
rc copy "cairn:$bucket/cr" "$dl/cr"
[ "$(cat "$dl/cr/"*)" = "carriage return" ] || fail "the key with a carriage return did not download"

step "delete and purge"
rc delete "$remote" --include '*.bin'
left=$(rc lsf -R --files-only "$remote" | grep -c '\.bin$' || true)
[ "$left" = 0 ] || fail "delete --include '*.bin' left $left .bin files"
rc lsf -R --files-only "$remote" > "$SCRATCH/after-delete"
grep -q '\.txt$' "$SCRATCH/after-delete" || fail "delete --include '*.bin' removed other files too"
rc purge "cairn:$bucket"
rc purge "cairn:$bucket-copy"
rc lsd cairn: > "$SCRATCH/buckets"
if grep -q "$bucket" "$SCRATCH/buckets"; then
    fail "purged buckets are still listed"
fi

# Shared helpers of the real-client suites (sourced by each suite script).
#
# A suite runs with `set -euo pipefail`; `step` names what it is doing, and the ERR trap
# reports the client, the step and the failing command, so a red CI run says what broke.

set -euo pipefail

CLIENT=${CLIENT:?the suite sets CLIENT before sourcing lib.sh}
STEP="start"

step() {
    STEP=$1
    printf '[%s] %s\n' "$CLIENT" "$STEP"
}

on_error() {
    local rc=$? line=$1 cmd=$2
    printf '\nFAIL [%s] step "%s": "%s" exited %s (line %s)\n' \
        "$CLIENT" "$STEP" "$cmd" "$rc" "$line" >&2
    exit "$rc"
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

fail() {
    printf '\nFAIL [%s] step "%s": %s\n' "$CLIENT" "$STEP" "$*" >&2
    exit 1
}

# A fresh scratch directory for this suite (removed with the run's work directory).
SCRATCH="$CAIRN_TEST_WORK/$CLIENT"
mkdir -p "$SCRATCH"

# A bucket name unique to this run and suite.
bucket_name() {
    printf 'cairn-%s-%s-%s' "$CLIENT" "$1" "$CAIRN_TEST_RUN_ID"
}

# Writes a file of `size` random bytes.
random_file() {
    local path=$1 size=$2
    mkdir -p "$(dirname "$path")"
    head -c "$size" /dev/urandom > "$path"
}

# Makes a tree of `count` small files (0 to 64 KiB, a few zero-byte, nested directories and
# names with spaces, `+`, `=` and non-ASCII characters) plus the large files named after it
# as `size` arguments.
make_tree() {
    local dir=$1 count=$2
    shift 2
    python3 - "$dir" "$count" "$@" <<'PY'
import os, random, sys

root, count, large = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
rng = random.Random(0xCA1)
dirs = ["", "docs", "docs/drafts", "img", "img/2024", "a b", "ünï", "x+y=z", "deep/er/still"]
for i in range(count):
    d = dirs[i % len(dirs)]
    size = 0 if i % 97 == 0 else rng.randrange(1, 64 * 1024)
    name = f"file-{i:04d}" + (" copy" if i % 50 == 7 else "") + (".txt" if i % 3 else ".bin")
    path = os.path.join(root, d, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
os.makedirs(os.path.join(root, "large"), exist_ok=True)
for i, size in enumerate(large):
    with open(os.path.join(root, "large", f"blob-{i}.bin"), "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
PY
}

# Prints `sha256  relative/path` of every file under a directory, sorted.
tree_sums() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# Fails unless the two trees hold the same files with the same bytes.
same_tree() {
    local want=$1 got=$2
    if ! diff <(tree_sums "$want") <(tree_sums "$got") > "$SCRATCH/tree.diff"; then
        head -n 20 "$SCRATCH/tree.diff" >&2
        fail "the files under $got differ from those uploaded from $want (diff above)"
    fi
    printf '[%s]   %s files match byte for byte\n' "$CLIENT" "$(tree_sums "$want" | wc -l)"
}

# Fails unless the two files have the same bytes.
same_file() {
    local want=$1 got=$2
    [ -f "$got" ] || fail "$got was not downloaded"
    local a b
    a=$(sha256sum < "$want")
    b=$(sha256sum < "$got")
    [ "$a" = "$b" ] || fail "$got does not have the bytes of $want"
}

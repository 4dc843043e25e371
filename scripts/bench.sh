#!/usr/bin/env bash
# bench.sh — trove side by side with the tools people use today (cp, b3sum,
# sha256sum, git, git-lfs, git-annex, casync, restic, rclone), on data generated
# in a temporary directory. Prints machine facts and ONE Markdown table on stdout;
# progress and the tools' own output go to stderr. docs/BENCHMARKS.md explains
# every row and its caveats.
#
#   make bench                                   # the whole thing (15-20 minutes on 2 CPUs)
#   BENCH_SIZE=64M BENCH_FILES=2000 BENCH_BIG=0 scripts/bench.sh   # quick check
#
# Environment:
#   BENCH_DIR=/tmp      parent of the temporary working directory (removed on exit)
#   BENCH_RUNS=3        timed runs per measurement, after one warm-up run; medians
#   BENCH_SIZE=1G       size of the big random file (rows 1, 2, 5)
#   BENCH_FILES=20000   number of small files, 1-8 KiB, in 100 directories (rows 3, 5)
#   BENCH_BIG=1         row 4: peak RSS of adding a BENCH_BIG_SIZE (4G) file
#   BENCH_SCALE=0       1: also BENCH_SCALE_FILES (1000000) small files and a
#                       BENCH_SCALE_SIZE (20G) file, single runs (make bench-scale)
#   TROVE=PATH          trove binary to measure (default: build ./cmd/trove into bin/)
#   TROVE_TEST_S3_ENDPOINT, TROVE_TEST_S3_ACCESS_KEY, TROVE_TEST_S3_SECRET_KEY
#                       loopback S3 server (scripts/with-versitygw.sh) for row 5
#   BENCH_REMOTE_FLAGS  extra flags for `trove remote add` (default: detected)
#
# A missing peer tool, or one that fails, shows as n/a in its row; a failing trove
# command stops the benchmark with its error.
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
SIZE=${BENCH_SIZE:-1G}
FILES=${BENCH_FILES:-20000}
BIG=${BENCH_BIG:-1}
BIG_SIZE=${BENCH_BIG_SIZE:-4G}
SCALE=${BENCH_SCALE:-0}
SCALE_FILES=${BENCH_SCALE_FILES:-1000000}
SCALE_SIZE=${BENCH_SCALE_SIZE:-20G}
DIRS=100
STARTED=$(date +%s)

log() { printf 'bench: [%4ds] %s\n' $(($(date +%s) - STARTED)) "$*" >&2; }
ROWS=() # the table's rows, in order
die() {
	printf 'bench: error: %s\n' "$*" >&2
	# What was measured before the failure is not lost: print those rows.
	if [[ ${#ROWS[@]} -gt 0 ]]; then
		echo "| work | trove | peer | peer value | ratio (trove/peer) | target | ok? |"
		echo "|---|---:|---|---:|---:|---|---|"
		printf '%s\n' "${ROWS[@]}"
		echo
		echo "The benchmark stopped early: $*"
	fi
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS=$RUNS: want a positive number"
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die "BENCH_FILES=$FILES: want a positive number"
for t in git hyperfine awk du; do
	have "$t" || die "$t is required (make bench installs it: scripts/deps.sh bench)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian package time)"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- working directory, helper, trove ---------------------------------------------

W=$(mktemp -d "${BENCH_DIR:-/tmp}/trove-bench.XXXXXX")
cleanup() {
	# git-annex makes its objects and their directories read-only.
	chmod -R u+w "$W" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$W/data" "$W/hf" "$W/home" "$W/tmp"
D=$W/data

log "working in $W"
BT=$W/bin/bench
(cd "$ROOT" && go build -o "$BT" ./scripts/bench) || die "cannot build scripts/bench"
(cd "$ROOT" && go build -o "$W/bin/startup" ./scripts/bench/startup) || die "cannot build scripts/bench/startup"
if [[ -z ${TROVE:-} ]]; then
	TROVE=$ROOT/bin/trove
	(cd "$ROOT" && go build -o "$TROVE" ./cmd/trove) || die "cannot build trove"
fi
[[ -x $TROVE ]] || die "TROVE=$TROVE is not executable"
GOVERSION=$(go version 2>/dev/null || echo unknown)

# A private, predictable environment for git and the peers: no user or system git
# config, no global restic cache, fixed identities.
export HOME=$W/home TMPDIR=$W/tmp GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
git config --global init.defaultBranch main
git config --global advice.detachedHead false
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$W/restic-cache

# --- the table ----------------------------------------------------------------------

# note TEXT: a line printed under the table (also from subshells).
note() { echo "$*" >>"$W/notes"; }

# fmt_val UNIT VALUE: seconds with 2 decimals (3 below 0.1 s), humanized bytes, or a count.
fmt_val() {
	local unit=$1 v=$2
	if [[ -z $v ]]; then
		echo "n/a"
		return
	fi
	case $unit in
	s) awk -v v="$v" 'BEGIN { printf(v < 0.1 ? "%.3f s\n" : "%.2f s\n", v) }' ;;
	B) "$BT" human "$v" ;;
	n) awk -v v="$v" 'BEGIN { printf "%d\n", v }' ;;
	*) echo "$v" ;;
	esac
}

# row WORK UNIT TROVE_VALUE PEER PEER_VALUE TARGET
# TARGET is "le X" or "lt X" (ratio trove/peer at most / below X), "abslt X" /
# "absge X" (trove's own value below X / at least X, in UNIT) or "info". An empty value prints n/a.
row() {
	local work=$1 unit=$2 tv=$3 peer=$4 pv=$5 target=$6
	local tdisp pdisp ratio="n/a" r="" tcol ok="n/a" op x
	tdisp=$(fmt_val "$unit" "$tv")
	pdisp=$(fmt_val "$unit" "$pv")
	if [[ -n $tv && -n $pv ]] && awk -v b="$pv" 'BEGIN { exit !(b > 0) }'; then
		r=$(awk -v a="$tv" -v b="$pv" 'BEGIN { printf "%.6f", a / b }')
	fi
	read -r op x <<<"$target"
	if [[ -n $r ]]; then
		# Two decimals, three where that would round a miss onto the target.
		ratio=$(awk -v r="$r" -v x="${x:-0}" 'BEGIN {
			s = sprintf("%.2f", r)
			if (r < 0.1 || (s + 0 == x + 0 && r != x)) s = sprintf("%.3f", r)
			print s "x" }')
	fi
	case $op in
	info)
		tcol=info
		ok="-"
		;;
	le | lt)
		if [[ $op == le ]]; then tcol="<= ${x}x"; else tcol="< ${x}x"; fi
		if [[ -n $r ]]; then
			if awk -v r="$r" -v x="$x" -v op="$op" 'BEGIN { exit !(op == "le" ? r <= x : r < x) }'; then ok=ok; else ok=MISS; fi
		fi
		;;
	abslt)
		tcol="< $(fmt_val "$unit" "$x")"
		if [[ -n $tv ]]; then
			if awk -v v="$tv" -v x="$x" 'BEGIN { exit !(v < x) }'; then ok=ok; else ok=MISS; fi
		fi
		;;
	absge)
		tcol=">= $(fmt_val "$unit" "$x")"
		if [[ -n $tv ]]; then
			if awk -v v="$tv" -v x="$x" 'BEGIN { exit !(v >= x) }'; then ok=ok; else ok=MISS; fi
		fi
		;;
	*) die "row $work: bad target $target" ;;
	esac
	ROWS+=("| $work | $tdisp | $peer | $pdisp | $ratio | $tcol | $ok |")
	log "row: $work: trove $tdisp, $peer $pdisp, $ratio ($tcol) $ok"
}

# --- measuring ----------------------------------------------------------------------

# hf NAME PREPARE COMMAND [DIR] prints the median wall time in seconds of
# BENCH_RUNS runs of COMMAND, after one warm-up run, with PREPARE (may be empty)
# run before every run, warm-up included. It fails when hyperfine or either
# command fails. COMMAND runs under sh -c, whose start-up time hyperfine measures
# and subtracts; with DIR, it runs in DIR without a shell (no redirections, and
# no PREPARE), which is exact for commands of a few milliseconds.
hf() {
	local name=$1 prep=$2 cmd=$3 dir=${4:-} json="$W/hf/$1.json"
	local args=(--style basic --warmup 1 --runs "$RUNS" --export-json "$json" -n "$name")
	log "measuring $name: ${dir:+(in $dir) }$cmd"
	if [[ -n $dir ]]; then
		(cd "$dir" && hyperfine "${args[@]}" -N --output null "$cmd") >&2 || return 1
	else
		[[ -z $prep ]] || args+=(--prepare "$prep")
		hyperfine "${args[@]}" --output inherit "$cmd" >&2 || return 1
	fi
	"$BT" median "$json"
}

# hf_trove is hf for a trove command: on failure it runs PREPARE and COMMAND once
# more where their errors show, and stops the benchmark.
hf_trove() {
	if ! hf "$@"; then
		log "$1 failed; running it once more to show the error"
		bash -c "${2:-true}" >&2 || die "$1: preparing failed: $2"
		bash -c "${4:+cd '$4' && }$3" >&2 || die "$1: trove failed: $3"
		die "$1: failed under hyperfine"
	fi
}

# hf_peer is hf for a peer: empty output (n/a) when TOOL is missing or fails.
hf_peer() {
	local tool=$1
	shift
	if ! have "$tool"; then
		log "$tool is not installed; its row says n/a"
		note "$1: n/a, $tool is not installed."
		return 0
	fi
	if ! hf "$@"; then
		log "$1 failed; its row says n/a"
		note "$1: n/a, the command failed (its error is in the benchmark's stderr): $3"
	fi
}

# rss COMMAND (sh -c) prints the peak RSS in bytes of one run.
rss() {
	/usr/bin/time -f %M -o "$W/rss.out" sh -c "$1" >&2 || return 1
	awk '{ v = $1 } END { printf "%d\n", v * 1024 }' "$W/rss.out"
}

# time1 COMMAND (sh -c) prints the wall time in seconds of one run.
time1() {
	local t0 t1
	t0=$(date +%s%N)
	sh -c "$1" >&2 || return 1
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
}

# Fresh repositories for the PREPARE commands. Every prepare ends with sync so
# that no write-back from the previous run overlaps the measured one.
fresh_git="git init -q"
fresh_trove="git init -q && '$TROVE' init -q"
# fresh DIR: remove DIR (git-annex leaves read-only directories) and recreate it.
fresh() { echo "chmod -R u+w '$1' 2>/dev/null; rm -rf '$1' && mkdir -p '$1' && cd '$1'"; }

store_bytes() { "$BT" filebytes "$1"; }
du_bytes() { du -sb "$1" | cut -f1; }

# --- facts --------------------------------------------------------------------------

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
fs=$(df -T "$W" | awk 'NR == 2 { print $2 }')
peer_version() {
	if have "$1"; then
		"$@" 2>/dev/null | head -n1 | tr -d '\r' || true
	else
		echo "not installed"
	fi
}
cat <<EOF
# trove benchmarks

- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, ${mem:-? GiB} RAM, kernel $(uname -r), $fs at ${BENCH_DIR:-/tmp}
- $GOVERSION
- load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (other work on the machine skews the times)
- trove: $("$TROVE" version 2>/dev/null || echo unknown) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ", dirty tree"))
- peers: $(peer_version b3sum --version); $(peer_version git --version); $(peer_version git-lfs version); git-annex $(peer_version git-annex version | sed 's/^git-annex version: //'); casync $(peer_version casync --version); $(peer_version restic version | cut -d' ' -f1-2); $(peer_version rclone version); $(peer_version hyperfine --version)
- settings: BENCH_SIZE=$SIZE BENCH_FILES=$FILES BENCH_RUNS=$RUNS (median of $RUNS after 1 warm-up, warm page cache) BENCH_BIG=$BIG BENCH_SCALE=$SCALE

EOF

# --- data ---------------------------------------------------------------------------

log "generating $SIZE random file and its second versions"
"$BT" gen "$D/big.bin" "$SIZE" 1
BIG_BYTES=$(stat -c %s "$D/big.bin")
INS_CHANGED=$("$BT" insert "$D/big.bin" "$D/big-insert.bin" $((BIG_BYTES / 2)) 1M 2)
OVW_CHANGED=$("$BT" overwrite "$D/big.bin" "$D/big-overwrite.bin" 8 4K 3)
FT_CHANGED=$("$BT" finetune "$D/big.bin" "$D/big-finetune.bin" 5 64K 4)
log "generating $FILES small files in $DIRS directories"
"$BT" smallfiles "$D/small" "$FILES" "$DIRS" 1K 8K 5
SMALL_BYTES=$(store_bytes "$D/small")
sync
HS=$(fmt_val B "$BIG_BYTES")

# --- 1. add a big file --------------------------------------------------------------

R=$W/r1
t_add=$(hf_trove trove-add-big "$(fresh "$R") && $fresh_trove && ln '$D/big.bin' big.bin && sync" \
	"cd '$R' && '$TROVE' add -q big.bin >/dev/null")
rss_add=$(bash -c "$(fresh "$R") && $fresh_trove && ln '$D/big.bin' big.bin && sync" &&
	rss "cd '$R' && '$TROVE' add -q big.bin >/dev/null") || die "trove add failed"

t_cp=$(hf_peer cp cp "rm -f '$W/cp.out' && sync" "cp '$D/big.bin' '$W/cp.out'")
rm -f "$W/cp.out"
t_b3=$(hf_peer b3sum b3sum "" "b3sum --num-threads 1 '$D/big.bin' >/dev/null")
t_sha=$(hf_peer sha256sum sha256sum "" "sha256sum '$D/big.bin' >/dev/null")
t_lfs=""
if git lfs version >/dev/null 2>&1; then
	t_lfs=$(hf_peer git git-lfs-add \
		"$(fresh "$W/lfs") && $fresh_git && git lfs install --local >/dev/null && git lfs track '*.bin' >/dev/null && git add .gitattributes && ln '$D/big.bin' big.bin && sync" \
		"cd '$W/lfs' && git add big.bin")
else
	log "git-lfs is not installed; its row says n/a"
	note "git-lfs-add: n/a, git-lfs is not installed."
fi
t_annex=""
if git annex version >/dev/null 2>&1; then
	# git annex add moves the file into .git/annex/objects and makes it read-only;
	# with a hard link the move is a rename, as with a file of its own.
	t_annex=$(hf_peer git git-annex-add \
		"chmod u+w '$D/big.bin'; $(fresh "$W/annex") && $fresh_git && git annex init -q bench >/dev/null 2>&1 && ln '$D/big.bin' big.bin && sync" \
		"cd '$W/annex' && git annex add -q big.bin")
	chmod -R u+w "$W/annex" && rm -rf "$W/annex"
	chmod 644 "$D/big.bin"
else
	log "git-annex is not installed; its row says n/a"
	note "git-annex-add: n/a, git-annex is not installed."
fi
rm -rf "$W/lfs"

row "1. add $HS random file: time" s "$t_add" "cp" "$t_cp" "le 4"
row "1. add $HS random file: time" s "$t_add" "b3sum --num-threads 1" "$t_b3" "info"
row "1. add $HS random file: time" s "$t_add" "sha256sum" "$t_sha" "info"
row "1. add $HS random file: time" s "$t_add" "git add (git-lfs)" "$t_lfs" "le 0.25"
row "1. add $HS random file: time" s "$t_add" "git annex add" "$t_annex" "le 0.3"
row "1. add $HS random file: peak RSS" B "$rss_add" "-" "" "info"

# --- 2. second versions: bytes stored -----------------------------------------------

# second_version NAME FILE: in a fresh repository, add big.bin, replace it with
# FILE and add again. Sets NEWB (new_bytes), GROW (store file bytes), GROWDU (du -sb).
second_version() {
	local r=$W/v2-$1 s1 d1 json
	rm -rf "$r"
	mkdir -p "$r"
	(cd "$r" && git init -q && "$TROVE" init -q && ln "$D/big.bin" big.bin && "$TROVE" add -q big.bin >/dev/null) ||
		die "trove add (first version) failed"
	s1=$(store_bytes "$r/.trove/store")
	d1=$(du_bytes "$r/.trove/store")
	rm "$r/big.bin"
	ln "$2" "$r/big.bin"
	json=$(cd "$r" && "$TROVE" add --json -q big.bin) || die "trove add (second version) failed"
	NEWB=$("$BT" jsonsum new_bytes <<<"$json") || die "no new_bytes in trove add --json: $json"
	GROW=$(($(store_bytes "$r/.trove/store") - s1))
	GROWDU=$(($(du_bytes "$r/.trove/store") - d1))
	rm -rf "$r"
}

# casync_v1 makes the first version's store once; casync_growth NAME FILE copies
# it (hard links: casync only adds chunk files) and prints what FILE adds.
CASYNC_CHUNKS=16384:65536:262144
casync_ok=""
if have casync; then
	log "casync make, first version"
	if casync make --chunk-size=$CASYNC_CHUNKS --store="$W/casync-v1" "$W/v1.caibx" "$D/big.bin" >/dev/null; then
		casync_ok=1
	else
		log "casync make failed; its rows say n/a"
		note "casync: n/a, casync make failed (see stderr)."
	fi
else
	log "casync is not installed; its rows say n/a"
	note "casync: n/a, casync is not installed."
fi
casync_growth() {
	[[ -n $casync_ok ]] || return 0
	local s=$W/casync-$1 c1
	cp -al "$W/casync-v1" "$s"
	c1=$(store_bytes "$s")
	if casync make --chunk-size=$CASYNC_CHUNKS --store="$s" "$W/$1.caibx" "$2" >/dev/null; then
		echo $(($(store_bytes "$s") - c1))
	else
		log "casync make $1 failed; its row says n/a"
	fi
	rm -rf "$s" "$W/$1.caibx"
}

log "second version: 1 MiB inserted in the middle"
second_version insert "$D/big-insert.bin"
c_ins=$(casync_growth insert "$D/big-insert.bin")
row "2a. 2nd version, $(fmt_val B "$INS_CHANGED") inserted mid-file: new_bytes" B "$NEWB" "changed bytes" "$INS_CHANGED" "le 2"
row "2a. 2nd version, $(fmt_val B "$INS_CHANGED") inserted: store growth (du -sb)" B "$GROWDU" "changed bytes" "$INS_CHANGED" "info"
row "2a. 2nd version, $(fmt_val B "$INS_CHANGED") inserted: store growth (file bytes)" B "$GROW" "casync store growth" "$c_ins" "le 1.0"

log "second version: eight 4 KiB overwrites"
second_version overwrite "$D/big-overwrite.bin"
c_ovw=$(casync_growth overwrite "$D/big-overwrite.bin")
row "2b. 2nd version, 8 x 4 KiB overwritten: new_bytes" B "$NEWB" "changed bytes" "$OVW_CHANGED" "info"
row "2b. 2nd version, 8 x 4 KiB overwritten: store growth (du -sb)" B "$GROWDU" "changed bytes" "$OVW_CHANGED" "info"
row "2b. 2nd version, 8 x 4 KiB overwritten: store growth (file bytes)" B "$GROW" "casync store growth" "$c_ovw" "le 1.0"

log "second version: 5% of the 64 KiB blocks rewritten"
second_version finetune "$D/big-finetune.bin"
c_ft=$(casync_growth finetune "$D/big-finetune.bin")
row "2c. fine-tune-like, 5% of 64 KiB blocks rewritten: new_bytes" B "$NEWB" "changed span" "$FT_CHANGED" "le 3"
row "2c. fine-tune-like: store growth (du -sb)" B "$GROWDU" "changed span" "$FT_CHANGED" "info"
row "2c. fine-tune-like: store growth (file bytes)" B "$GROW" "casync store growth" "$c_ft" "le 1.0"
rm -rf "$W/casync-v1" "$W/v1.caibx"

# --- 3. many small files ------------------------------------------------------------

HF=$(printf "%'d" "$FILES" 2>/dev/null || echo "$FILES")
R=$W/r3
t_sadd=$(hf_trove trove-add-small "$(fresh "$R") && $fresh_trove && cp -al '$D/small' small && sync" \
	"cd '$R' && '$TROVE' add -q small >/dev/null")
rss_sadd=$(bash -c "$(fresh "$R") && $fresh_trove && cp -al '$D/small' small && sync" &&
	rss "cd '$R' && '$TROVE' add -q small >/dev/null") || die "trove add failed"
rm -rf "$R"
t_gadd=$(hf_peer git git-add-small "$(fresh "$W/g3") && $fresh_git && cp -al '$D/small' small && sync" \
	"cd '$W/g3' && git add -A")
rm -rf "$W/g3"
t_restic=$(hf_peer restic restic-backup-small "rm -rf '$W/restic' && restic init -q --repo '$W/restic' >/dev/null && sync" \
	"restic backup -q --repo '$W/restic' '$D/small'")
rm -rf "$W/restic" "$W/restic-cache"

# Status of unchanged trees: real copies (not hard links, whose ctime other
# runs would change), added or committed once, then one untimed status each.
log "trove status and git status of an unchanged tree"
R=$W/s3
mkdir -p "$R"
(cd "$R" && git init -q && "$TROVE" init -q && cp -a "$D/small" small && "$TROVE" add -q small >/dev/null && "$TROVE" status -q >/dev/null) ||
	die "trove add/status failed"
t_status=$(hf_trove trove-status-small "" "'$TROVE' status -q" "$R")
t_gstatus=""
mkdir -p "$W/gs3"
if (cd "$W/gs3" && git init -q && cp -a "$D/small" small && git add -A && git commit -q -m small && sleep 1 && git status >/dev/null); then
	t_gstatus=$(hf_peer git git-status-small "" "git status" "$W/gs3")
else
	log "git commit failed; its row says n/a"
fi
rm -rf "$R" "$W/gs3"

# Diff between two commits of the small-file dataset where 10 files changed: trove
# diff (manifests read from git, trees compared) against git diff --stat of the
# same change in a plain repository.
log "trove diff and git diff --stat of a 10-file change"
R=$W/d3
mkdir -p "$R" "$W/gd3"
change10() { # change10 DIR: rewrite 10 files spread over the tree
	local i f
	for i in 0 7 13 29 41 53 67 71 83 97; do
		f=$(find "$1/small" -type f | sort | sed -n "$((i * FILES / 100 + 1))p")
		head -c 3000 /dev/urandom >"$f"
	done
}
if (cd "$R" && git init -q && "$TROVE" init -q && cp -a "$D/small" small && "$TROVE" add -q small >/dev/null &&
	git add -A && git commit -q -m v1 && change10 "$R" && "$TROVE" add -q small >/dev/null && git commit -qam v2 &&
	"$TROVE" diff -q HEAD~1 HEAD >/dev/null); then
	t_diff=$(hf_trove trove-diff-small "" "'$TROVE' diff -q HEAD~1 HEAD" "$R")
else
	die "trove diff setup failed"
fi
t_gdiff=""
if (cd "$W/gd3" && git init -q && cp -a "$D/small" small && git add -A && git commit -q -m v1 &&
	change10 "$W/gd3" && git commit -qam v2); then
	t_gdiff=$(hf_peer git git-diff-stat-small "" "git diff --stat HEAD~1 HEAD" "$W/gd3")
fi
rm -rf "$R" "$W/gd3"
# The floor under every short trove command: a program that only starts, linked
# with the libraries trove must use (go-git, minio-go, urfave/cli, tablewriter,
# zeebo/blake3), and trove itself doing nothing (`trove version`).
t_floor=$(hf_trove startup-required-libs "" "$W/bin/startup" "$W")
t_version=$(hf_trove trove-version "" "'$TROVE' version" "$W")

row "3. add $HF small files ($(fmt_val B "$SMALL_BYTES")): time" s "$t_sadd" "git add -A" "$t_gadd" "info"
row "3. add $HF small files: time" s "$t_sadd" "restic backup (first)" "$t_restic" "le 0.5"
row "3. add $HF small files: peak RSS" B "$rss_sadd" "-" "" "info"
row "3. status, $HF unchanged files: time" s "$t_status" "git status" "$t_gstatus" "le 1.5"
row "3. diff of two commits, 10 of $HF files changed: time" s "$t_diff" "git diff --stat" "$t_gdiff" "le 2"
row "3. start-up only, the required libraries linked: time" s "$t_floor" "git diff --stat" "$t_gdiff" "info"
row "3. start-up only, trove version: time" s "$t_version" "git diff --stat" "$t_gdiff" "info"

# --- 4. peak RSS of a big add -------------------------------------------------------

if [[ $BIG == 1 ]]; then
	log "generating $BIG_SIZE random file"
	"$BT" gen "$D/huge.bin" "$BIG_SIZE" 6
	HUGE_BYTES=$(stat -c %s "$D/huge.bin")
	R=$W/r4
	mkdir -p "$R"
	(cd "$R" && git init -q && "$TROVE" init -q && ln "$D/huge.bin" huge.bin && sync) || die "cannot prepare $R"
	t0=$(date +%s%N)
	rss_huge=$(rss "cd '$R' && '$TROVE' add -q huge.bin >/dev/null") || die "trove add $BIG_SIZE failed"
	t_huge=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }')
	rm -rf "$R" "$D/huge.bin"
	row "4. add $(fmt_val B "$HUGE_BYTES") random file: peak RSS" B "$rss_huge" "-" "" "abslt $((256 << 20))"
	row "4. add $(fmt_val B "$HUGE_BYTES") random file: time (1 run)" s "$t_huge" "-" "" "info"
fi

# --- 5. push and pull through a loopback S3 server ----------------------------------

# s3_setup points rclone (remote "bench:") and trove's credentials at the loopback
# server and checks that rclone can create a bucket there.
s3_setup() {
	EP=$TROVE_TEST_S3_ENDPOINT
	# The server is plain HTTP on loopback; a CA bundle from the environment only
	# makes rclone's S3 client refuse its transport.
	unset AWS_CA_BUNDLE
	export AWS_ACCESS_KEY_ID=$TROVE_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$TROVE_TEST_S3_SECRET_KEY
	export AWS_REGION=us-east-1
	export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other
	export RCLONE_CONFIG_BENCH_ENDPOINT=http://$EP RCLONE_CONFIG_BENCH_REGION=us-east-1
	export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$TROVE_TEST_S3_ACCESS_KEY RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$TROVE_TEST_S3_SECRET_KEY
	export RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
	export RCLONE_CONFIG=$W/rclone.conf
	: >"$RCLONE_CONFIG"
	BK=tb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	rclone mkdir "bench:$BK-probe" >&2
}

t_push="" t_rpush="" t_rpush1="" up="" growth="" t_spush="" t_rspush="" objs="" robjs="" t_pull="" t_rpull=""
S3_WHY=""
if ! "$TROVE" push --help >/dev/null 2>&1; then
	S3_WHY="this trove has no push command"
elif [[ -z ${TROVE_TEST_S3_ENDPOINT:-} ]]; then
	S3_WHY="no S3 server; run under scripts/with-versitygw.sh (make bench does)"
elif ! have rclone; then
	S3_WHY="rclone is not installed (it creates the buckets)"
elif ! s3_setup; then
	S3_WHY="rclone cannot create a bucket on the S3 server at $TROVE_TEST_S3_ENDPOINT"
fi
if [[ -n $S3_WHY ]]; then
	log "rows 5 say n/a: $S3_WHY"
	note "Rows 5 are n/a: $S3_WHY."
else
	# Flags for `trove remote add`: the endpoint (http://, or host:port and a switch
	# to plain HTTP, whichever this trove takes) and path style.
	if [[ -n ${BENCH_REMOTE_FLAGS+x} ]]; then
		read -r -a RFLAGS <<<"$BENCH_REMOTE_FLAGS"
	else
		rhelp=$("$TROVE" remote add --help 2>&1 || true)
		if grep -q -- '--endpoint.*http' <<<"$rhelp"; then
			RFLAGS=(--endpoint "http://$EP" --path-style)
		else
			RFLAGS=(--endpoint "$EP" --path-style)
			for f in --insecure --no-tls --http --disable-tls --no-ssl; do
				if grep -q -- "$f\b" <<<"$rhelp"; then
					RFLAGS+=("$f")
					break
				fi
			done
		fi
	fi
	RF="${RFLAGS[*]}"
	log "trove remote add flags: $RF"

	# Each timed run pushes into a new bucket: the prepare step bumps a counter,
	# creates bucket $BK-<tag><n> and, for trove, remote <tag><n> pointing at it.
	cat >"$W/newbucket.sh" <<EOF
#!/usr/bin/env bash
# newbucket.sh TAG [REPO]: next bucket for TAG; with REPO, a trove remote for it.
set -euo pipefail
c="$W/counter-\$1"
n=\$(( \$(cat "\$c" 2>/dev/null || echo 0) + 1 ))
echo "\$n" >"\$c"
rclone mkdir "bench:$BK-\$1\$n"
if [ \$# -gt 1 ]; then
	cd "\$2"
	'$TROVE' remote add -q $RF "\$1\$n" "s3://$BK-\$1\$n/trove" >/dev/null
fi
sync
EOF
	chmod +x "$W/newbucket.sh"
	cur() { echo "\$(cat '$W/counter-$1')"; }

	# 5a. push the big file.
	P=$W/p5
	mkdir -p "$P"
	(cd "$P" && git init -q && "$TROVE" init -q && ln "$D/big.bin" big.bin && "$TROVE" add -q big.bin >/dev/null &&
		git add -A && git commit -q -m v1) || die "cannot prepare $P"
	t_push=$(hf_trove trove-push-big "'$W/newbucket.sh' tp '$P'" "cd '$P' && '$TROVE' push -q --remote tp$(cur tp) >/dev/null")
	last_tp="tp$(cat "$W/counter-tp")"
	t_rpush=$(hf_peer rclone rclone-copy-big "'$W/newbucket.sh' rp" "rclone copy '$D/big.bin' bench:$BK-rp$(cur rp)/")
	# rclone's default 5 MiB multipart parts cost versitygw much more per byte than
	# one PUT, so also time a single PUT, the fastest way to this server.
	t_rpush1=$(hf_peer rclone rclone-copy-big-1put "'$W/newbucket.sh' r1p" "rclone copy --s3-upload-cutoff 5G '$D/big.bin' bench:$BK-r1p$(cur r1p)/")

	# 5d. pull it into a fresh clone (the remote of the last timed push).
	C=$W/c5
	pull_prep="rm -rf '$C' && git clone -q '$P' '$C' && cd '$C' && ('$TROVE' init -q >/dev/null 2>&1 || true) && ('$TROVE' remote add $RF $last_tp 's3://$BK-$last_tp/trove' >/dev/null 2>&1 || true) && sync"
	pull_cmd="cd '$C' && '$TROVE' pull -q --remote $last_tp big.bin >/dev/null"
	bash -c "$pull_prep" >&2 || die "cannot clone $P"
	bash -c "$pull_cmd" >&2 || die "trove pull failed: $pull_cmd"
	if ! cmp -s "$C/big.bin" "$D/big.bin"; then
		log "trove pull did not check big.bin out; timing pull + checkout"
		pull_cmd="$pull_cmd && '$TROVE' checkout -q big.bin >/dev/null"
		bash -c "$pull_cmd" >&2 || die "trove checkout failed"
		cmp -s "$C/big.bin" "$D/big.bin" || die "big.bin after trove pull and checkout differs from the original"
	fi
	t_pull=$(hf_trove trove-pull-big "$pull_prep" "$pull_cmd")
	rm -rf "$C"
	t_rpull=$(hf_peer rclone rclone-copy-down "rm -rf '$W/down' && sync" "rclone copy bench:$BK-rp$(cat "$W/counter-rp" 2>/dev/null || echo 1)/big.bin '$W/down/'")
	rm -rf "$W/down"

	# 5b. push the second version (1 MiB inserted) on top of the first.
	log "push of the second version"
	"$W/newbucket.sh" tv "$P" >&2
	(cd "$P" && "$TROVE" push -q --remote tv1 >/dev/null) || die "trove push failed"
	rm "$P/big.bin"
	ln "$D/big-insert.bin" "$P/big.bin"
	(cd "$P" && "$TROVE" add -q big.bin >/dev/null) || die "trove add failed"
	rb0=$(rclone size --json "bench:$BK-tv1" | "$BT" jsonsum bytes) || rb0=""
	pjson=$(cd "$P" && "$TROVE" push --json -q --remote tv1) || die "trove push failed"
	rb1=$(rclone size --json "bench:$BK-tv1" | "$BT" jsonsum bytes) || rb1=""
	[[ -z $rb0 || -z $rb1 ]] || growth=$((rb1 - rb0))
	up=$("$BT" jsonsum bytes <<<"$pjson" 2>/dev/null) || {
		log "no \"bytes\" in trove push --json ($pjson); using the bucket's growth"
		note "Row 5b: trove push --json has no \"bytes\"; bytes uploaded is the bucket's growth."
		up=$growth
	}
	rm -rf "$P"

	# 5c. push the small files.
	P=$W/p5s
	mkdir -p "$P"
	(cd "$P" && git init -q && "$TROVE" init -q && cp -al "$D/small" small && "$TROVE" add -q small >/dev/null) ||
		die "cannot prepare $P"
	t_spush=$(hf_trove trove-push-small "'$W/newbucket.sh' ts '$P'" "cd '$P' && '$TROVE' push -q --remote ts$(cur ts) >/dev/null")
	objs=$(rclone size --json "bench:$BK-ts$(cat "$W/counter-ts")" | "$BT" jsonsum count) || {
		objs=""
		note "Row 5c: rclone size could not count the objects trove pushed."
	}
	t_rspush=$(hf_peer rclone rclone-copy-small "'$W/newbucket.sh' rs" "rclone copy '$D/small' bench:$BK-rs$(cur rs)/small")
	robjs=$(rclone size --json "bench:$BK-rs$(cat "$W/counter-rs" 2>/dev/null || echo 1)" 2>/dev/null | "$BT" jsonsum count 2>/dev/null || true)
	rm -rf "$P"
fi
row "5a. push $HS (loopback S3): time" s "$t_push" "rclone copy" "$t_rpush" "le 1.2"
row "5a. push $HS (loopback S3): time" s "$t_push" "rclone copy, one PUT (--s3-upload-cutoff 5G)" "$t_rpush1" "le 1.2"
row "5b. push 2nd version ($(fmt_val B "$INS_CHANGED") inserted): bytes uploaded" B "$up" "changed bytes" "$INS_CHANGED" "le 2"
row "5b. push 2nd version: bucket growth" B "$growth" "changed bytes" "$INS_CHANGED" "info"
row "5c. push $HF small files: time" s "$t_spush" "rclone copy dir" "$t_rspush" "le 0.2"
row "5c. push $HF small files: objects on the remote" n "$objs" "rclone copy dir" "$robjs" "abslt 100"
row "5d. pull $HS into a fresh clone: time" s "$t_pull" "rclone copy (down)" "$t_rpull" "info"

# --- scale (make bench-scale) -------------------------------------------------------

if [[ $SCALE == 1 ]]; then
	# Single runs: each step takes minutes. Peers where they do the same job.
	HSF=$(printf "%'d" "$SCALE_FILES" 2>/dev/null || echo "$SCALE_FILES")
	# scale_change DIR SEED: rewrite 10 files spread over the tree (paths computed,
	# not searched: a find over a million files would dominate).
	scale_change() {
		local i n
		for i in 0 7 13 29 41 53 67 71 83 97; do
			n=$((i * SCALE_FILES / 100 + $2))
			head -c 3000 /dev/urandom >"$1/scale/$(printf 'd%03d/f%07d.bin' $((n % 1000)) "$n")"
		done
	}
	# timed_rss NAME COMMAND: one run; sets T_NAME (seconds) and M_NAME (peak RSS bytes).
	timed_rss() {
		local t0 t1 m
		t0=$(date +%s%N)
		m=$(rss "$2") || die "scale: $1 failed: $2"
		t1=$(date +%s%N)
		printf -v "T_$1" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')"
		printf -v "M_$1" '%s' "$m"
	}
	log "scale: generating $SCALE_FILES small files in 1000 directories"
	"$BT" smallfiles "$D/scale" "$SCALE_FILES" 1000 1K 8K 7
	sync
	R=$W/rs
	mkdir -p "$R"
	(cd "$R" && git init -q && "$TROVE" init -q && mv "$D/scale" scale && sync) || die "cannot prepare $R"
	timed_rss add "cd '$R' && '$TROVE' add -q scale >/dev/null"
	rate=$(awk -v n="$SCALE_FILES" -v t="$T_add" 'BEGIN { printf "%d", n / t }')
	(cd "$R" && "$TROVE" status -q >/dev/null) || die "trove status failed"
	t_ss=$(time1 "cd '$R' && '$TROVE' status -q >/dev/null") || die "trove status failed"
	before=$(store_bytes "$R/.trove/store")
	(cd "$R" && git add -A && git commit -q -m v1 && scale_change "$R" 1 && sync) || die "scale: commit failed"
	timed_rss add2 "cd '$R' && '$TROVE' add -q scale >/dev/null"
	growth=$(($(store_bytes "$R/.trove/store") - before))
	(cd "$R" && git commit -qam v2 && "$TROVE" diff -q HEAD~1 HEAD >/dev/null) || die "scale: trove diff failed"
	t_sd=$(hf_trove trove-diff-scale "" "'$TROVE' diff -q HEAD~1 HEAD" "$R")
	mkdir -p "$W/rs-remote"
	(cd "$R" && "$TROVE" remote add -q scale "$W/rs-remote" >/dev/null) || die "scale: remote add failed"
	timed_rss push "cd '$R' && '$TROVE' push -q --remote scale >/dev/null"
	timed_rss verify "cd '$R' && '$TROVE' verify -q >/dev/null"
	timed_rss gc "cd '$R' && '$TROVE' gc -q >/dev/null"
	rm -rf "$W/rs-remote"
	G=$W/gs
	mkdir -p "$G"
	(cd "$G" && git init -q && mv "$R/scale" scale && sync) || die "cannot prepare $G"
	rm -rf "$R"
	t_ga=$(time1 "cd '$G' && git add -A") || t_ga=""
	t_gs="" t_gd=""
	if [[ -n $t_ga ]] && (cd "$G" && git commit -q -m scale && git status >/dev/null); then
		t_gs=$(time1 "cd '$G' && git status >/dev/null") || t_gs=""
		if (cd "$G" && scale_change "$G" 2 && git commit -qam v2); then
			t_gd=$(hf_peer git git-diff-stat-scale "" "git diff --stat HEAD~1 HEAD" "$G")
		fi
	fi
	rm -rf "$G"
	row "S. add $HSF small files: time (1 run)" s "$T_add" "git add -A" "$t_ga" "info"
	row "S. add $HSF small files: files per second" n "$rate" "-" "" "absge 10000"
	row "S. add $HSF small files: peak RSS" B "$M_add" "-" "" "abslt $((512 << 20))"
	row "S. status, $HSF unchanged files: time (1 run)" s "$t_ss" "git status" "$t_gs" "le 2"
	row "S. add again, 10 files changed: time (1 run)" s "$T_add2" "-" "" "info"
	row "S. add again, 10 files changed: bytes stored" B "$growth" "changed bytes" "30000" "info"
	row "S. diff of two commits, 10 of $HSF files changed: time" s "$t_sd" "git diff --stat" "$t_gd" "le 2"
	row "S. push $HSF files to a directory remote: time (1 run)" s "$T_push" "-" "" "info"
	row "S. push $HSF files: peak RSS" B "$M_push" "-" "" "abslt $((512 << 20))"
	row "S. verify $HSF files: time (1 run)" s "$T_verify" "-" "" "info"
	row "S. verify $HSF files: peak RSS" B "$M_verify" "-" "" "abslt $((512 << 20))"
	row "S. gc, $HSF files, nothing to delete: time (1 run)" s "$T_gc" "-" "" "info"
	row "S. gc: peak RSS" B "$M_gc" "-" "" "abslt $((512 << 20))"

	# The file and the store that holds its copy: refuse early rather than fill the disk.
	need=$(($(numfmt --from=iec "$SCALE_SIZE") * 22 / 10 / 1024))
	if (($(df -Pk "$W" | awk 'NR == 2 { print $4 }') < need)); then
		die "scale: $SCALE_SIZE file: about $((need >> 20)) GiB free needed in $W (BENCH_DIR)"
	fi
	log "scale: generating $SCALE_SIZE random file"
	"$BT" gen "$D/scale.bin" "$SCALE_SIZE" 8
	R=$W/rsb
	mkdir -p "$R"
	(cd "$R" && git init -q && "$TROVE" init -q && ln "$D/scale.bin" scale.bin && sync) || die "cannot prepare $R"
	timed_rss big "cd '$R' && '$TROVE' add -q scale.bin >/dev/null"
	t_sbb=$(hf_peer b3sum b3sum-scale "" "b3sum --num-threads 1 '$D/scale.bin' >/dev/null")
	rm -rf "$R" "$D/scale.bin"
	row "S. add $SCALE_SIZE random file: time (1 run)" s "$T_big" "b3sum --num-threads 1" "$t_sbb" "info"
	row "S. add $SCALE_SIZE random file: peak RSS" B "$M_big" "-" "" "abslt $((256 << 20))"
fi

# --- the table ----------------------------------------------------------------------

echo "| work | trove | peer | peer value | ratio (trove/peer) | target | ok? |"
echo "|---|---:|---|---:|---:|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
if [[ -s $W/notes ]]; then
	sed 's/$/\n/' "$W/notes"
fi
misses=$(printf '%s\n' "${ROWS[@]}" | grep -c '| MISS |' || true)
echo "Wall time of the whole benchmark: $(($(date +%s) - STARTED)) s; $misses target(s) missed."
log "done in $(($(date +%s) - STARTED)) s"

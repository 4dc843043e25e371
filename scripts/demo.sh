#!/usr/bin/env bash
# demo.sh — a scripted walk through trove's main job, in a throwaway git repository.
#
#   make demo            builds bin/trove, then runs this script
#   scripts/demo.sh      uses bin/trove (or $TROVE, or trove on PATH)
#
# It creates a temporary repository (DEMO_DIR to choose it), generates a ~20 MB CSV
# and a directory of 200 small files, and narrates each step: track, commit,
# change, re-add (only the change is stored), restore, and check a digest with
# b3sum. Needs git, a POSIX userland (awk, grep, sed, coreutils) and trove;
# b3sum is optional. The repository is left in place for you to explore.
#
# Each section is a `step` followed by the commands it shows; add new ones
# (push/pull, trove run, promote, report) as further steps.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${TROVE:-}" ]; then
	trove=$TROVE
elif [ -x "$root/bin/trove" ]; then
	trove=$root/bin/trove
elif command -v trove >/dev/null 2>&1; then
	trove=$(command -v trove)
else
	echo "demo: error: bin/trove not found; run \`make demo\` (it builds it first)" >&2
	exit 2
fi
command -v git >/dev/null 2>&1 || { echo "demo: error: git is not installed" >&2; exit 2; }

# Colour only on a terminal.
if [ -t 1 ]; then bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'; else bold='' dim='' off=''; fi

n=0
# step TITLE: start a numbered section.
step() {
	n=$((n + 1))
	printf '\n%s== %d. %s%s\n' "$bold" "$n" "$*" "$off"
}
# say TEXT: a line of narration.
say() { printf '%s# %s%s\n' "$dim" "$*" "$off"; }
# show CMD ARGS...: print the command as typed, then run it.
show() {
	printf '%s$ %s%s\n' "$bold" "$*" "$off"
	"$@"
}
# trove is what the reader types; the function runs the binary found above.
trove() { "$trove" "$@"; }
# commit MESSAGE [ARGS...]: git commit under a demo identity, whatever the user's
# configuration.
commit() {
	local msg=$1
	shift
	printf '%s$ git commit %s-m "%s"%s\n' "$bold" "${*:+$* }" "$msg" "$off"
	git -c user.name="trove demo" -c user.email="demo@trove.invalid" commit -q "$@" -m "$msg"
}

repo=${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/trove-demo.XXXXXX")}
mkdir -p "$repo"
cd "$repo"
echo "demo: repository in $repo"
echo "demo: using $trove ($("$trove" version))"
start=$(date +%s)

step "set up: a git repository with trove in it"
printf '%s$ git init%s\n' "$bold" "$off"
git -c init.defaultBranch=main init -q
show trove init

step "generate sample data (deterministic)"
say "data/train.csv: 400,000 rows, about 20 MB; data/images: 200 small files in 4 classes"
mkdir -p data
# A Park-Miller generator keeps the bytes identical on every machine and awk.
gen_rows() { # FIRST LAST SEED
	awk -v first="$1" -v last="$2" -v seed="$3" 'BEGIN {
		x = seed
		if (first == 1) print "id,user,day,feature_a,feature_b,feature_c,label"
		for (i = first; i <= last; i++) {
			x = (x * 16807) % 2147483647; a = x % 100000
			x = (x * 16807) % 2147483647; b = x % 100000
			x = (x * 16807) % 2147483647; c = x % 1000
			printf "%d,user%05d,2026-01-%02d,%d.%05d,%d.%03d,%d,%s\n", i, a % 50000, 1 + i % 28, a % 7, b, b % 13, c, c % 97, (a + b) % 2 ? "cat" : "dog"
		}
	}'
}
gen_rows 1 400000 42 >data/train.csv
for i in $(seq 1 200); do
	d=data/images/class_$((i % 4))
	mkdir -p "$d"
	seq "$i" 7 $((i * 7 + 2000)) >"$d/img_$(printf '%03d' "$i").txt"
done
show ls -l data
show du -sh data/train.csv data/images

step "track a dataset"
say "chunks go to .trove/store; data/train.csv.trove (the manifest) is what git gets"
show trove add data/train.csv --meta owner=data-team@example.com --meta license=CC-BY-4.0
show cat data/train.csv.trove
show cat data/.gitignore

step "track a directory of files as one artifact"
show trove add data/images

step "commit the manifests with git"
show git add .trove data
commit "Track the training data"
show git log --oneline --stat -1

step "what is tracked, and is it intact?"
show trove status
show trove ls

step "change the data: append 2,000 rows"
gen_rows 400001 402000 7 >>data/train.csv
show trove status

step "record the new version: only the changed chunks are stored"
show trove add data/train.csv
say "the NEW column is what this version cost: the appended rows and a few chunk ends"
show git diff --stat
commit "Add 2,000 rows to train.csv" -a

step "lose the data, get it back from the local store"
show rm -rf data/train.csv data/images
show trove status
show trove checkout
show trove status

step "check a digest without trove"
digest=$(grep -o '"digest": "blake3:[0-9a-f]*"' data/train.csv.trove | sed 's/.*blake3://; s/"$//')
echo "manifest digest:  $digest"
if command -v b3sum >/dev/null 2>&1; then
	sum=$(b3sum --no-names data/train.csv)
	echo "b3sum train.csv:  $sum"
	if [ "$sum" != "$digest" ]; then
		echo "demo: error: b3sum and the manifest disagree" >&2
		exit 1
	fi
	say "they match: anyone can verify a manifest with b3sum alone"
else
	say "b3sum is not installed (apt-get install b3sum); skipping this check"
fi

printf '\n%sdone in %ds.%s The repository is %s\n' "$bold" $(($(date +%s) - start)) "$off" "$repo"
# Name trove the way the reader can type it.
t=$trove
[ "$(type -P trove || true)" = "$trove" ] && t=trove
echo "Try next:"
printf '  %-52s # %s\n' \
	"cd $repo" "" \
	"$t status --json" "the state of every artifact, for scripts" \
	"$t ls data" "what is tracked under data/" \
	"git log --stat" "manifests are ordinary commits" \
	"echo x >> data/images/class_1/img_001.txt; $t status" "per-file changes in a directory" \
	"rm -rf $repo" "when you are done" | sed 's/ *# $//'

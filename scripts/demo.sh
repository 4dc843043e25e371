#!/usr/bin/env bash
# demo.sh — a scripted walk through trove's main job, on one machine, no S3 needed.
#
#   make demo            builds bin/trove, then runs this script
#   scripts/demo.sh      uses bin/trove (or $TROVE, or trove on PATH)
#
# In a temporary directory (DEMO_DIR to choose it; it must be empty or absent) it
# makes three things: repo/, a git repository where "you" version the data;
# remote/, a directory remote that stands in for S3; and teammate/, a git clone
# of repo/ where a colleague pulls the data. It generates a ~20 MB CSV and a
# directory of 200 small files and narrates each step: track, commit, push,
# clone and pull, check a digest with b3sum, record a second version, look at the
# history, push only what changed, catch up, verify end to end, restore offline.
#
# Then the governance story, from data to an approved model in production: add
# an evaluation set, train a toy model under `trove run` (lineage and metrics
# recorded), register it as an SSH-signed git tag, write a policy (a metric
# floor, complete lineage, a signed model-risk approval for production), promote
# it to staging, see production refused for want of an approval (exit 4), sign
# one with an SSH key made by ssh-keygen, promote, and write the auditor's report
# and an in-toto provenance statement. The keys go in keys/, beside repo/.
# Without ssh-keygen the signing steps are skipped (and production stays
# refused).
#
# With TROVE_TEST_S3_ENDPOINT (HOST:PORT or http(s)://HOST:PORT) and credentials
# (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or TROVE_TEST_S3_ACCESS_KEY/
# TROVE_TEST_S3_SECRET_KEY) it also pushes to that S3 server, e.g.
# `scripts/with-versitygw.sh scripts/demo.sh`; without them that step is skipped.
#
# Needs git, a POSIX userland (awk, grep, sed, coreutils) and trove; b3sum and
# ssh-keygen are optional. Everything is left in place for you to explore.
#
# Each section is a `step` followed by the commands it shows; add new ones as
# further steps.
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
# The prompt names the directory the command runs in: repo, teammate, or the
# demo directory itself.
where=demo
# shown ARGS...: the arguments as one would type them, quoted where needed.
shown() {
	local a out=
	for a in "$@"; do
		case $a in
		'' | *[!A-Za-z0-9_./:=@%+,^~-]*) a="'${a//\'/\'\\\'\'}'" ;;
		esac
		out+="${out:+ }$a"
	done
	printf '%s' "$out"
}
# show CMD ARGS...: print the command as typed, then run it.
show() {
	printf '%s%s$ %s%s\n' "$bold" "$where" "$(shown "$@")" "$off"
	"$@"
}
# enter DIR: cd into the demo directory or one of its subdirectories, saying so
# with a path relative to where we are.
enter() {
	local to
	case "$where:$1" in
	demo:*) to=${1#"$tmp"/} ;;
	*:"$tmp") to=.. ;;
	*) to=../${1#"$tmp"/} ;;
	esac
	printf '%s%s$ cd %s%s\n' "$bold" "$where" "$to" "$off"
	cd "$1"
	where=demo
	[ "$1" = "$tmp" ] || where=${1#"$tmp"/}
}
# trove is what the reader types; the function runs the binary found above.
trove() { "$trove" "$@"; }
# Git under a demo identity, whatever the user's configuration says.
gitq() { git -c user.name="trove demo" -c user.email="demo@trove.invalid" -c commit.gpgsign=false "$@"; }
# commit MESSAGE [ARGS...]: git commit, shown as typed.
commit() {
	local msg=$1
	shift
	printf '%s%s$ git commit %s-m "%s"%s\n' "$bold" "$where" "${*:+$* }" "$msg" "$off"
	gitq commit -q "$@" -m "$msg"
}
# manifest_digest FILE.trove: the hex of the manifest's digest field.
manifest_digest() { grep -o '"digest": "blake3:[0-9a-f]*"' "$1" | sed 's/.*blake3://; s/"$//'; }

tmp=${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/trove-demo.XXXXXX")}
mkdir -p "$tmp"
tmp=$(cd "$tmp" && pwd)
if [ -n "$(ls -A "$tmp")" ]; then
	echo "demo: error: $tmp is not empty; set DEMO_DIR to an empty or new directory" >&2
	exit 2
fi
repo=$tmp/repo
remote=$tmp/remote
mate=$tmp/teammate
mkdir -p "$repo"
cd "$repo"
where=repo
echo "demo: working in $tmp"
echo "demo: using $trove ($("$trove" version))"
start=$(date +%s)

step "set up: a git repository with trove in it"
printf '%s%s$ git init%s\n' "$bold" "$where" "$off"
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

step "share the data: add a remote and push"
say "a directory stands in for S3 here; s3://BUCKET/PREFIX works the same way (see the README)"
show trove remote add origin "$remote"
show trove remote list
show trove push
say "the remote holds packs and their index files, like the local store:"
show find ../remote -type f
say ".trove/config names the remote (never credentials); commit it so clones find it"
show cat .trove/config
show git add .trove/config
commit "Share data through origin"

step "a teammate clones the git repository and pulls the data"
enter "$tmp"
show git clone repo teammate
enter "$mate"
say "git brought the manifests, not the data:"
show ls data
show trove status
show trove pull
show trove status

step "check the teammate's copy without trove"
digest=$(manifest_digest data/train.csv.trove)
echo "manifest digest:  $digest"
if command -v b3sum >/dev/null 2>&1; then
	sum=$(b3sum --no-names data/train.csv)
	echo "b3sum train.csv:  $sum"
	if [ "$sum" != "$digest" ]; then
		echo "demo: error: b3sum and the manifest disagree" >&2
		exit 1
	fi
	say "they match: anyone can check a manifest with b3sum alone"
else
	say "b3sum is not installed (apt-get install b3sum); comparing with the original instead"
	cmp data/train.csv "$repo/data/train.csv"
	say "byte-identical to the original"
fi

step "back in your repository: change the data (append 2,000 rows)"
enter "$repo"
gen_rows 400001 402000 7 >>data/train.csv
show trove status

step "record the new version: only the changed chunks are stored"
show trove add data/train.csv
say "the NEW column is what this version cost: the appended rows and a few chunk ends"
show git diff --stat
first=$(git rev-parse --short HEAD) # the commit with the first version, for "Try next"
commit "Add 2,000 rows to train.csv" -a

step "history: what changed, and when"
show trove diff HEAD~1
show trove log data/train.csv

step "push the new version: only the new pack goes up"
show trove push

step "the teammate catches up: git pull, then trove pull"
enter "$mate"
show git pull --ff-only
show trove pull
show trove status
if [ "$(manifest_digest data/train.csv.trove)" != "$(manifest_digest "$repo/data/train.csv.trove")" ]; then
	echo "demo: error: the teammate's manifest is not the new version" >&2
	exit 1
fi
cmp data/train.csv "$repo/data/train.csv"
say "the teammate's data/train.csv is byte-identical to yours"

step "verify end to end: every chunk, locally and on the remote, re-hashed"
show trove verify --deep --remote origin
say "exit 0: the local store and origin hold every chunk the checked-out manifests need,"
say "and each re-hashes to its id (--all-revs checks every committed version too)"

step "lose the data, get it back from the local store (no remote needed)"
enter "$repo"
show rm -rf data/train.csv data/images
show trove status
show trove checkout
show trove status

step "optional: push to a real S3 server as well"
s3_endpoint=${TROVE_TEST_S3_ENDPOINT:-}
if [ -n "$s3_endpoint" ] && [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${TROVE_TEST_S3_ACCESS_KEY:-}" ]; then
	export AWS_ACCESS_KEY_ID=$TROVE_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=${TROVE_TEST_S3_SECRET_KEY:-}
fi
if [ -z "$s3_endpoint" ]; then
	say "skipped: set TROVE_TEST_S3_ENDPOINT=HOST:PORT and AWS credentials to try it,"
	say "or run: scripts/with-versitygw.sh scripts/demo.sh (starts a private S3 server)"
elif [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
	say "skipped: TROVE_TEST_S3_ENDPOINT is set but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not"
else
	case $s3_endpoint in http://* | https://*) ;; *) s3_endpoint=http://$s3_endpoint ;; esac
	say "credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; .trove/config never holds them"
	show trove remote add s3 "s3://trove-demo/$(basename "$tmp")" --endpoint "$s3_endpoint" --path-style --create-bucket
	show trove push --remote s3
	show trove verify --deep --remote s3
	say "the S3 server may be gone once this script ends, so forget the remote again"
	show trove remote remove s3
fi

# The governance story: from data to an approved model in production.
step "an evaluation set, and a training script"
say "data/eval.csv: 20,000 rows drawn like the training data, from another seed"
gen_rows 1 20000 99 >data/eval.csv
show trove add data/eval.csv --meta owner=data-team@example.com --meta license=CC-BY-4.0
cat >train.sh <<'EOF'
#!/bin/sh
# A toy model: the majority label for each value of feature_c, learnt from the
# training set and scored on the evaluation set (the labels are coin flips, so
# expect about 0.5).
set -eu
mkdir -p models
awk -F, 'NR > 1 { n[$6 "," $7]++ }
	END { for (k in n) { split(k, f, ","); if (n[k] > best[f[1]]) { best[f[1]] = n[k]; label[f[1]] = f[2] } }
	      for (c in label) print c "," label[c] }' data/train.csv | sort -n >models/model.bin
awk -F, 'NR == FNR { label[$1] = $2; next }
	FNR > 1 { total++; if (label[$6] == $7) right++ }
	END { printf "{\"accuracy\": %.4f, \"eval_rows\": %d}\n", right / total, total }' models/model.bin data/eval.csv >metrics.json
echo "trained on $(($(wc -l <data/train.csv) - 1)) rows: $(cat metrics.json)"
EOF
chmod +x train.sh
show cat train.sh
printf '%s\n' metrics.json report.html provenance.json audit.tar >>.gitignore
say ".gitignore keeps the step's metrics file and the reports out of git"
say "trove run refuses a dirty tree (the code it records must be a commit): commit first"
show git add .gitignore train.sh data/eval.csv.trove data/.gitignore
commit "An eval set and a training script"

step "train under trove run: lineage and metrics are recorded in the model's manifest"
show trove run --name model --kind model --input train=data/train.csv --input eval=data/eval.csv \
	--output models/model.bin --metrics metrics.json -- ./train.sh
show git add models
commit "Train the model"
show trove metrics

step "where did the model come from?"
say "each input by digest, with the commit that recorded it, down to raw data"
show trove lineage models/model.bin

step "register the model: an annotated git tag model@v0.0.1 with a JSON record"
say "a trainer registers it; the approver must be someone else (the approvals rule's"
say "distinct_from_author), so this repository's git identity becomes the trainer's"
show git config user.name "Demo Trainer"
show git config user.email trainer@example.com
keys=$tmp/keys
signing=no
if command -v ssh-keygen >/dev/null 2>&1; then
	signing=yes
	mkdir -p "$keys"
	say "registry tags are SSH-signed when a key is configured (TROVE_SIGNING_KEY, or git's"
	say "user.signingKey with gpg.format=ssh): the trainer's key, made for the demo outside the repository"
	show ssh-keygen -q -t ed25519 -N '' -C trainer@example.com -f ../keys/trainer
	printf '%s%s$ export TROVE_SIGNING_KEY=../keys/trainer%s\n' "$bold" "$where" "$off"
	export TROVE_SIGNING_KEY=$keys/trainer
else
	say "ssh-keygen is not installed (apt-get install openssh-client): no signing keys, so the"
	say "tags stay unsigned and nobody can sign an approval; the signing steps are skipped"
	export TROVE_SIGN_TAGS=0
fi
show trove register model -m "first cut"
show git tag -n1 model@v0.0.1
show trove models

step "a policy: what must be true before a model reaches each stage"
cat >.trove/policy.yaml <<'EOF'
version: 1
stages: [dev, staging, production]
rules:
  - id: lineage                # made by a recorded step from committed code,
    type: lineage              # with training and evaluation data
    stages: [staging, production]
    require: {inputs: true, code_commit: true, clean_tree: true, roles: [train, eval]}
  - id: accuracy-floor         # a toy model, a toy floor
    type: metric
    metric: accuracy
    op: ">="
    value: 0.45
  - id: sign-off               # production needs one signed model-risk approval,
    type: approvals            # not by whoever registered the version
    stages: [production]
    min: 1
    roles: [model-risk]
    max_age: 14d
    distinct_from_author: true
monitors:                      # judged on production metrics by trove monitor
  - id: accuracy-drift         # production accuracy may fall at most 0.05 below
    type: drift                # what the evaluation measured at training time
    metric: accuracy
    max_drop: 0.05
EOF
show cat .trove/policy.yaml
cat >.trove/roles.yaml <<'EOF'
version: 1
roles:
  model-risk: [alice@example.com]
EOF
if [ "$signing" = yes ]; then
	say "alice (model risk) approves with her SSH key, made for the demo too"
	show ssh-keygen -q -t ed25519 -N '' -C alice@example.com -f ../keys/alice
	say ".trove/allowed_signers (OpenSSH's format) says whose key is whose, and for what: alice"
	say "and the trainer sign tags (namespace git) and audit entries (namespace trove); only the"
	say "model-risk role in .trove/roles.yaml makes alice's approvals count"
	{
		echo "alice@example.com namespaces=\"git,trove\" $(cat "$keys/alice.pub")"
		echo "trainer@example.com namespaces=\"git,trove\" $(cat "$keys/trainer.pub")"
	} >.trove/allowed_signers
	show cat .trove/allowed_signers
	say ".trove/roles.yaml says who holds which role"
	show cat .trove/roles.yaml
	show git add .trove/policy.yaml .trove/roles.yaml .trove/allowed_signers
else
	say "skipped: making alice's key and .trove/allowed_signers (ssh-keygen is not installed)"
	show cat .trove/roles.yaml
	show git add .trove/policy.yaml .trove/roles.yaml
fi
say "who may sign, who holds which role, and the policy are reviewed and committed like code"
commit "Policy, signers and roles"
show trove check model@v0.0.1 --stage staging

step "promote to staging: the policy allows it"
show trove promote model@v0.0.1 --to staging

step "promote to production: refused, no approval yet"
rc=0
show trove promote model@v0.0.1 --to production || rc=$?
if [ "$rc" != 4 ]; then
	echo "demo: error: the promotion to production exited $rc, not 4 (policy denied)" >&2
	exit 1
fi
say "refused with exit 4, as the policy says: nothing was written, the failing rule is named"

if [ "$signing" = yes ]; then
	step "alice approves model@v0.0.1 for production, signing with her SSH key"
	show trove approve model@v0.0.1 --stage production --principal alice@example.com \
		--key ../keys/alice -m "reviewed the eval results"
	approval=$(ls .trove/approvals/model/v0.0.1/production/*.json)
	show trove approvals model@v0.0.1
	say "anyone can check the signature with OpenSSH alone, without trove:"
	printf '%s%s$ ssh-keygen -Y verify -f .trove/allowed_signers -I alice@example.com -n trove -s %s.sig < %s%s\n' \
		"$bold" "$where" "$approval" "$approval" "$off"
	ssh-keygen -Y verify -f .trove/allowed_signers -I alice@example.com -n trove -s "$approval.sig" <"$approval"
	show git add .trove/approvals
	commit "Approve model@v0.0.1 for production"

	step "promote to production again: allowed now"
	show trove promote model@v0.0.1 --to production
	say "the tag is signed with the trainer's key: git checks it against .trove/allowed_signers"
	show git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=.trove/allowed_signers verify-tag 'model#production#2'
else
	step "skipped: approving and promoting to production (ssh-keygen is not installed)"
	say "with ssh-keygen, alice would sign an approval (trove approve), commit it, and the"
	say "promotion to production would then be allowed"
fi
show trove stages model

step "the audit trail: a report for auditors, provenance for tools"
show trove report model@v0.0.1 --format html -o report.html
say "open it in a browser: $repo/report.html (one self-contained page)"
show trove export model@v0.0.1 --format intoto -o provenance.json
say "provenance.json: an in-toto Statement with an SLSA Provenance predicate (unsigned);"
say "--format openlineage and --format cyclonedx write the same facts for other tools"

step "the audit chain: every registration, promotion and approval, signed and hash-chained"
say "refs/trove/audit travels with git push/fetch; trove audit verify re-checks it offline:"
say "signatures against allowed_signers as of each record, no gap, no reordering, no rewrite,"
say "model digests against manifests, the bytes against their digests, lineage inputs in history"
show trove audit verify
show trove report model@v0.0.1 --bundle audit.tar
say "audit.tar: report, records, allowed signers and transcript; an auditor runs"
say "\`trove audit verify --bundle audit.tar\` anywhere, with the binary alone"

mstage=production
[ "$signing" = yes ] || mstage=staging
step "in $mstage: production metrics come back, the monitors judge them"
trained=$(sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p' metrics.json)
awk -v a="$trained" 'BEGIN { printf "{\"accuracy\": %.4f, \"samples\": 5000}\n", a - 0.01 }' >../healthy.json
awk -v a="$trained" 'BEGIN { printf "{\"accuracy\": %.4f, \"samples\": 5000}\n", a - 0.12 }' >../degraded.json
say "a day of production: accuracy close to the $trained measured at training time"
show trove observe "model@$mstage" --metrics ../healthy.json --source demo
show trove monitor --stage "$mstage"
say "a day later the data has shifted: accuracy fell by 0.12"
sleep 1 # (a day, in the demo's time: windows are named by their end, to the second)
show trove observe "model@$mstage" --metrics ../degraded.json --source demo
rc=0
show trove monitor --stage "$mstage" --emit ../retrain-event.json || rc=$?
if [ "$rc" != 4 ]; then
	echo "demo: error: trove monitor exited $rc, not 4 (retrain recommended)" >&2
	exit 1
fi
say "exit 4, retrain recommended: ../retrain-event.json is a CloudEvents event a pipeline"
say "triggers on; \`trove run --trigger ../retrain-event.json ...\` links the next model to it"
show trove export --format prometheus -o ../trove.prom
say "../trove.prom: the registry's state for dashboards (stage holders, ages, drift, monitor status)"

held="a model approved and in production"
[ "$signing" = yes ] || held="a model in staging (production needs a signed approval)"
printf '\n%sdone in %ds.%s Everything is in %s:\n' "$bold" $(($(date +%s) - start)) "$off" "$tmp"
printf '  %-10s %s\n' \
	"repo/" "your git repository: two versions of the data, $held, its report" \
	"remote/" "the directory remote both clones push to and pull from" \
	"teammate/" "a git clone of repo/ that pulled the data from remote/"
if [ "$signing" = yes ]; then
	printf '  %-10s %s\n' "keys/" "the demo's SSH keys: the trainer's (tags) and alice's (approvals)"
fi
# Name trove the way the reader can type it.
t=$trove
[ "$(type -P trove || true)" = "$trove" ] && t=trove
echo "Try next:"
printf '  %-60s # %s\n' \
	"cd $repo" "" \
	"$t checkout --rev $first && $t status" "the data as it was before the 2,000 rows" \
	"$t checkout" "and back to what the manifests say" \
	"$t diff $first --json" "the same history, for scripts" \
	"$t lineage data/train.csv --downstream" "which models were made from this data?" \
	"$t check model@v0.0.1 --stage production --format junit" "the policy's verdict, for CI" \
	"$t report model@staging" "the report of the version in staging, as Markdown" \
	"$t audit verify --bundle audit.tar" "what an auditor runs: the bundle checked alone, offline" \
	"$t observations model" "the production metrics recorded against each version" \
	"$t export model@v0.0.1 --format cyclonedx" "an ML-BOM of the model and its data" \
	"$t hooks install" "git commit/push/pull then keep the data in step" \
	"$t gc --dry-run" "what garbage collection would delete (nothing yet)" \
	"git clone $repo $tmp/partial && cd $tmp/partial" "" \
	"$t pull data/images/class_1/img_001.txt" "a partial pull: one file's chunks only" \
	"rm -rf $tmp" "when you are done" | sed 's/ *# $//'

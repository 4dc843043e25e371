#!/usr/bin/env bash
# deps.sh test|bench: install the Debian packages the tests or benchmarks use,
# only when they are missing.
set -euo pipefail
case "${1:-test}" in
  test)  want=(b3sum git chromium fonts-dejavu-core) ;;
  bench) want=(b3sum git git-lfs git-annex restic rclone casync hyperfine time) ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null

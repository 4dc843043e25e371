#!/usr/bin/env bash
# with-versitygw.sh CMD ARGS... — run CMD with a fresh, private S3 server.
#
# Starts versitygw (Apache-2.0, an S3 gateway onto a POSIX directory) on a free
# loopback port with a throwaway data directory and random credentials, exports
#
#   TROVE_TEST_S3_ENDPOINT    127.0.0.1:PORT (plain HTTP)
#   TROVE_TEST_S3_ACCESS_KEY  access key of the server's root user
#   TROVE_TEST_S3_SECRET_KEY  its secret key
#   TROVE_TEST_VERSITYGW      the versitygw binary, for tests that run their own
#
# runs CMD, then stops the server, removes the data and exits with CMD's status.
# versitygw is installed into ./bin (beside this scripts/ directory) on first use.
#
# Example: scripts/with-versitygw.sh go test ./remote/... -count=1
set -uo pipefail

VERSITYGW_VERSION=v1.8.0

die() {
	echo "with-versitygw: error: $*" >&2
	exit 1
}

[ $# -gt 0 ] || die "usage: $0 CMD [ARGS...]"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || die "cannot find the repository root"
bin="$root/bin/versitygw"

if [ ! -x "$bin" ]; then
	echo "with-versitygw: installing versitygw $VERSITYGW_VERSION into $root/bin" >&2
	GOBIN="$root/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" ||
		die "go install versitygw@$VERSITYGW_VERSION failed"
	[ -x "$bin" ] || die "go install did not produce $bin"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/trove-versitygw.XXXXXX") || die "mktemp failed"
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$work/data" "$work/meta" || die "cannot create $work"

# The posix backend keeps object metadata (ETags, content types) in extended
# attributes. Where the file system has none (some tmpfs and overlay setups), keep
# it in a sidecar directory instead.
backend_flags=()
if command -v python3 >/dev/null 2>&1; then
	if ! python3 - "$work/data" <<'PY' 2>/dev/null; then
import os, sys
os.setxattr(sys.argv[1], "user.trove-probe", b"1")
os.removexattr(sys.argv[1], "user.trove-probe")
PY
		echo "with-versitygw: no user xattrs on $work; using a metadata sidecar" >&2
		backend_flags=(--sidecar "$work/meta")
	fi
fi

# free_port prints a TCP port on 127.0.0.1 that nothing listens on. Another process
# could take it before versitygw binds it; the caller retries in that case.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}

random_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

access="trove$(random_hex 6)"
secret=$(random_hex 20)
log="$work/versitygw.log"

started=""
for attempt in 1 2 3; do
	port=$(free_port) || die "no free port on 127.0.0.1"
	# Global flags come before the backend subcommand; the backend takes its
	# directory as an argument.
	"$bin" --access "$access" --secret "$secret" --port "127.0.0.1:$port" --quiet \
		posix "${backend_flags[@]}" "$work/data" >"$log" 2>&1 &
	pid=$!
	# Ready when the port accepts connections; give up after 30 s.
	for _ in $(seq 1 300); do
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			started=yes
			break
		fi
		sleep 0.1
	done
	# A server that died or answers on a port taken by someone else is no good.
	if [ -n "$started" ] && kill -0 "$pid" 2>/dev/null; then
		break
	fi
	started=""
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
	if [ "$attempt" -lt 3 ] && grep -qi "address already in use" "$log"; then
		echo "with-versitygw: port $port was taken, retrying" >&2
		continue
	fi
	break
done

if [ -z "$started" ]; then
	echo "with-versitygw: error: versitygw did not start on 127.0.0.1:${port:-?}; its log:" >&2
	sed 's/^/    /' "$log" >&2
	exit 1
fi

export TROVE_TEST_S3_ENDPOINT="127.0.0.1:$port"
export TROVE_TEST_S3_ACCESS_KEY="$access"
export TROVE_TEST_S3_SECRET_KEY="$secret"
# Tests that must kill and restart a server (fault tests) start their own from this binary.
export TROVE_TEST_VERSITYGW="$bin"
echo "with-versitygw: versitygw $VERSITYGW_VERSION on $TROVE_TEST_S3_ENDPOINT (pid $pid)" >&2

"$@"
status=$?
if ! kill -0 "$pid" 2>/dev/null; then
	echo "with-versitygw: warning: versitygw exited while the command ran; its log:" >&2
	sed 's/^/    /' "$log" >&2
	pid=""
fi
exit "$status"

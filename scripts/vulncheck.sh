#!/usr/bin/env bash
# vulncheck.sh: govulncheck over the whole module.
#
# govulncheck normally reads https://vuln.go.dev. Where that host is out of
# reach (this project's build machines reach only the Go module proxy), the same
# database is built locally from its source, the golang.org/x/vulndb module
# (OSV files), which the proxy serves. VULNDB_VERSION pins that snapshot; bump it
# to see newer reports.
set -euo pipefail
cd "$(dirname "$0")/.."
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}

db=https://vuln.go.dev
if ! curl -fsS -m 10 -o /dev/null "$db/index/db.json" 2>/dev/null; then
	out="${TMPDIR:-/tmp}/trove-vulndb-$VULNDB_VERSION"
	if [ ! -f "$out/index/db.json" ]; then
		echo "vulncheck: $db unreachable; building the database from golang.org/x/vulndb@$VULNDB_VERSION" >&2
		src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		[ -d "$src/data/osv" ] || { echo "vulncheck: error: no data/osv in $src" >&2; exit 1; }
		rm -rf "$out.tmp"
		(cd "$src" && go run ./cmd/indexdb -vulns data/osv -out "$out.tmp")
		mv "$out.tmp" "$out"
	fi
	db="file://$out"
fi
echo "vulncheck: $(go version), database $db" >&2
exec go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "$db" ./...

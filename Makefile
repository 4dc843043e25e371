# trove's Makefile is an index: every target wraps one command or script.
# `make demo` builds trove and walks through the main job; `make test` runs every
# test, including the S3 conformance suite against a real versitygw server that
# scripts/with-versitygw.sh installs (into ./bin) and starts on 127.0.0.1.

GO      ?= go
BIN     := $(CURDIR)/bin
TROVE   := $(BIN)/trove
export PATH := $(BIN):$(PATH)
# Build with the toolchain go.mod names (a patch release with the standard
# library's security fixes), downloaded from the module proxy when the local Go
# is older. Set GOTOOLCHAIN=local to use whatever Go is installed.
export GOTOOLCHAIN ?= auto

.PHONY: all build demo test test-short deps bench bench-scale fuzz chaos test-fast vet vulncheck lint clean

all: build

build: ## build bin/trove
	$(GO) build -o $(TROVE) ./cmd/trove

demo: build ## scripted walk-through in a temporary git repository
	scripts/demo.sh

deps: ## tools the tests use (b3sum, for checking digests the way a user would)
	scripts/deps.sh test

test: deps ## every test, under the race detector, with a real S3 server (versitygw) on loopback
	scripts/with-versitygw.sh $(GO) test -race -count=1 -timeout 30m ./...

test-short: ## unit tests only, no S3 server
	$(GO) test -short ./...

vet: ## static checks
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

bench: build ## trove side by side with b3sum, git, git-lfs, git-annex, restic, rclone
	scripts/deps.sh bench
	scripts/with-versitygw.sh scripts/bench.sh

bench-scale: build ## 1M files and a 20 GiB file (long; not in CI)
	scripts/deps.sh bench
	BENCH_SCALE=1 scripts/with-versitygw.sh scripts/bench.sh

fuzz: ## run every fuzz target for a while (FUZZTIME=1m by default)
	scripts/fuzz.sh

chaos: deps ## kill trove at random points, many rounds (TROVE_CHAOS_ITER=50; not in CI)
	TROVE_CHAOS_ITER=$${TROVE_CHAOS_ITER:-50} scripts/with-versitygw.sh $(GO) test -count=1 -run 'TestKilledCommands|TestPushSurvivesKilledServer|TestTransfersSurviveNetworkFaults' -v ./cmd/trove

test-fast: deps ## every test without the race detector (about 4x faster)
	scripts/with-versitygw.sh $(GO) test -count=1 ./...

vulncheck: ## govulncheck over the module (builds the vuln database from the module proxy when vuln.go.dev is unreachable)
	scripts/vulncheck.sh

clean:
	rm -rf $(BIN)

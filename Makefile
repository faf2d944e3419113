# Drives every module of the workspace. `./...` does not work at a go.work
# root, so targets name each module's tree.

GO        ?= go
EXPORTERS := openldap_exporter postfix_exporter dovecot_exporter wireguard_exporter gitea_runner_exporter
COMMANDS  := $(EXPORTERS) scrapegen
MODULES   := $(COMMANDS) itest
PKGS      := $(addprefix ./,$(addsuffix /...,$(MODULES)))

VERSION    ?= $(shell cat VERSION)
REVISION   ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
BRANCH     ?= $(shell git symbolic-ref --short -q HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= $(shell id -un)@$(shell hostname)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

TEST_TIMEOUT ?= 25m
FUZZTIME     ?= 10s
BENCHTIME    ?= 1s

.PHONY: all build test test-unit bench fuzz lint style vet unused demo demo-stop e2e clean deps vendor-hashes

all: lint build test

build:
	@mkdir -p bin
	@for c in $(COMMANDS); do \
		echo ">> building bin/$$c"; \
		$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/$$c ./$$c || exit 1; \
	done

# Installs the Debian packages the integration tests need (only missing ones).
deps:
	@bash scripts/install-test-deps.sh

# Unit and integration tests of every module, with the race detector. The
# integration tests start real daemons on loopback; with CI=true a missing
# daemon fails the test instead of skipping it. The detection test measures
# alert latency against a deadline, so it runs after the rest, on a machine
# that is not also busy with every other package's tests.
CHAIN_PKG := ./itest/chain
test: deps
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(filter-out ./itest/...,$(PKGS)) \
		$$(cd itest && $(GO) list ./... | grep -v '/itest/chain$$')
	$(GO) test -race -count=1 -v -timeout 15m $(CHAIN_PKG)

# Unit tests only: no daemons, no root.
test-unit:
	$(GO) test -race -count=1 -short $(addprefix ./,$(addsuffix /...,$(COMMANDS)))

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

# Runs each fuzz target for FUZZTIME; `go test -fuzz` takes one target and one
# package at a time.
fuzz:
	@for m in $(MODULES); do \
		for pkg in $$(cd $$m && $(GO) list ./...); do \
			dir=$$(cd $$m && $(GO) list -f '{{.Dir}}' $$pkg); \
			for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | cut -c6-); do \
				echo ">> fuzz $$pkg $$f"; \
				$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
			done; \
		done; \
	done

lint: style vet unused

style:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# go mod tidy must leave no diff in any module.
unused:
	@for m in $(MODULES); do (cd $$m && GOWORK=off GOFLAGS=-mod=mod $(GO) mod tidy) || exit 1; done
	@git diff --exit-code -- '*/go.mod' '*/go.sum' || { echo "go mod tidy changed the files above"; exit 1; }

# The whole chain on loopback (itest/stack) with a live table; as root.
# Ctrl-C stops everything it started. Its files and logs are in .demo/.
demo: deps build
	$(GO) build -o bin/demo ./itest/cmd/demo
	./bin/demo -dir .demo

# Stops a demo by the PIDs recorded in .demo/pids, even if its process died.
demo-stop:
	$(GO) run ./itest/cmd/demo -dir .demo -stop

# The detection test alone: every fault must alert in time, and nothing else.
# DOWNWATCH_E2E_HEALTHY sets how long the chain first runs healthy (default 2m).
e2e: deps
	$(GO) test -race -count=1 -v -timeout 15m -run '^TestDetection$$' $(CHAIN_PKG)

# Recomputes nix/vendor-hashes.json, the vendorHash of every module for the
# Nix overlay (itest/nix fails while it is stale).
vendor-hashes:
	bash nix/update-vendor-hashes.sh

clean:
	rm -rf bin .demo

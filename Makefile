# reftrack — see README.md. Every target works on a fresh Debian 12 machine
# with Go installed; deploy/stack.sh installs Redis and ClickHouse as needed.
SHELL := /bin/bash
MODULES := schemas internal ingest validate dedupe attribute commission sink deploy
PKGS := $(addsuffix /...,$(addprefix ./,$(MODULES)))
STAGES := ingest validate dedupe attribute commission sink
EVENTS ?= 10000
N ?= 1000000
FUZZTIME ?= 10s
TEST_FUZZTIME ?= 4s
GOTEST ?= go test

.PHONY: all build test fuzz vet lint staticcheck fmt-check lint-openapi tidy run up down status bench bench-go chaos clean images ops-check

all: build

build:
	@mkdir -p bin
	@for s in $(STAGES); do (cd $$s && go build -o ../bin/$$s ./cmd/$$s) || exit 1; done
	@cd attribute && go build -o ../bin/datadriven ./cmd/datadriven
	@cd commission && go build -o ../bin/statements ./cmd/statements && go build -o ../bin/whatif ./cmd/whatif && go build -o ../bin/adjust ./cmd/adjust && go build -o ../bin/verify ./cmd/verify && go build -o ../bin/explain ./cmd/explain && go build -o ../bin/close-period ./cmd/close-period && go build -o ../bin/decide ./cmd/decide
	@cd deploy && go build -o ../bin/devbroker ./cmd/devbroker && go build -o ../bin/demo ./cmd/demo && go build -o ../bin/reftrack ./cmd/reftrack && go build -o ../bin/dlq ./cmd/dlq && go build -o ../bin/devstack ./cmd/devstack

vet:
	go vet $(PKGS)

# lint: go vet, staticcheck (pinned; fetched through the Go module proxy on
# first use, then cached), gofmt, and the OpenAPI document through a real
# linter (Redocly CLI, pinned, installed into .dev/npm on first use; needs npm).
# Every module, every package, tests included. `make test` runs it first.
STATICCHECK ?= go run honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint: vet staticcheck fmt-check lint-openapi

staticcheck:
	$(STATICCHECK) $(PKGS)

fmt-check:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint-openapi:
	deploy/lint-openapi.sh

# test: every module's unit and integration tests (Redis and ClickHouse are
# the real servers, started here when not running; Kafka is kfake in-process)
# plus the end-to-end test of all six workers as separate processes, then
# every fuzz target for TEST_FUZZTIME.
test: lint
	deploy/stack.sh up
	$(GOTEST) -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

# fuzz: each fuzz target for FUZZTIME (go test -fuzz takes one target at a time);
# deploy/fuzz-one.sh tells findings from Go 1.26's -fuzztime boundary race.
fuzz:
	@set -e; for pkg in $(PKGS); do \
	  for dir in $$(go list -f '{{.Dir}}' $$pkg); do \
	    for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	      echo "fuzz $$f in $$dir"; deploy/fuzz-one.sh $$dir $$f $(FUZZTIME) || exit 1; \
	    done; done; done

tidy:
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done
	go work sync

# run: start everything, push EVENTS generated events through, print what
# landed, stop everything. deploy/dev.sh wraps bin/devstack, the one launcher
# (deploy/cmd/devstack); the Go tools start workers through the same package.
run: build
	deploy/dev.sh run $(EVENTS)

# up/down/status: keep the dev stack (broker, Redis, ClickHouse, six
# supervised workers) running, stop it, see what runs.
up: build
	deploy/dev.sh up

down:
	@[[ -x bin/devstack ]] || $(MAKE) --no-print-directory build
	deploy/dev.sh down

status:
	@[[ -x bin/devstack ]] || $(MAKE) --no-print-directory build
	deploy/dev.sh status

# bench: the whole pipeline against its limits (see deploy/cmd/bench);
# `make bench N=100000` for a quick run. bench-go: the Go benchmarks.
# RATE 0: the latency phase offers half the capacity the run measured.
RATE ?= 0
DURATION ?= 60s
bench: build
	@cd deploy && go build -o ../bin/bench ./cmd/bench
	bin/bench --events $(N) --rate $(RATE) --duration $(DURATION) --root .

# chaos: the fault suite (issue #14, RELIABILITY.md): each scenario on a
# fresh stack of its own, one line each; fails if a scenario fails or the
# negative control passes. About 20 minutes; not part of `make test`.
chaos:
	@mkdir -p bin
	@cd deploy && go build -o ../bin/chaos ./cmd/chaos
	bin/chaos --root .

bench-go:
	$(GOTEST) -run '^$$' -bench . -benchmem $(PKGS)

# images: one static FROM scratch image per stage with buildah (no Docker
# engine needed; see deploy/README.md for what builds where). Not part of test.
IMAGES ?=
images:
	deploy/images.sh $(IMAGES)

# ops-check: only the operations tests (manifests, alert rules, dashboard
# metric names against a live stack); `make test` runs them too.
ops-check:
	deploy/stack.sh up
	cd deploy && $(GOTEST) -count=1 ./k8s/ ./prometheus/ ./grafana/

clean:
	deploy/dev.sh down || true
	deploy/stack.sh clean || true
	rm -rf bin

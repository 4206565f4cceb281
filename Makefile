# Affluent — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
# Tools the tests need that are built from the Go module proxy (Terraform)
# live here, outside the tree, so they survive `git clean`.
export AFFLUENT_TOOLS_DIR ?= $(HOME)/.cache/affluent/tools
DATA_DIR ?= ./.affluent
# Short fuzzing budget per target inside `make test`.
FUZZTIME ?= 10s

.PHONY: all build run test test-deps unit fuzz check-generated generate lint tools bench clean

all: build

build:
	$(GO) build -o $(BIN)/affluent ./cmd/affluent

## run: build and start `affluent dev` (everything in one process, embedded stores)
run: build
	$(BIN)/affluent dev --data-dir $(DATA_DIR)

## tools: build the pinned code generators and linters of tools/go.mod into bin/
tools:
	cd tools && $(GO) build -o $(BIN)/ tool

## generate: regenerate committed code (protos → Go, gRPC, REST gateway, OpenAPI;
## Grafana dashboards; Kubernetes manifests rendered from the Helm chart)
generate: tools test-deps
	$(BIN)/buf lint
	$(BIN)/buf generate
	$(GO) run ./scripts/dashboards -out deploy/grafana
	./scripts/render-manifests.sh

## check-generated: fail when committed generated code differs from a fresh generation
check-generated: tools test-deps
	$(BIN)/buf lint
	./scripts/check-generated.sh

## lint: gofmt, go vet, staticcheck, buf lint
lint: tools
	@bad=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^proto/gen/')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	$(BIN)/buf lint

## test-deps: install what the tests need (idempotent)
test-deps:
	./scripts/test-deps.sh

## test: everything, on a fresh machine
test: test-deps check-generated lint
	./scripts/test.sh

## bench: the benchmarks of bench/, printing a results table (QUICK=1 for a short run;
## ONLY=text runs the scenarios whose name contains text, e.g. ONLY=scale-out).
## The scale-out scenario runs PostgreSQL and versitygw, as the tests do, and gives each
## broker process a CPU quota in a cgroup (BROKER_CPUS=cores; default a sixteenth of the machine).
bench: build test-deps
	$(GO) run ./bench $(if $(QUICK),-quick) $(if $(PROFILE),-profile) $(if $(ONLY),-only '$(ONLY)') \
		$(if $(BROKER_CPUS),-broker-cpus $(BROKER_CPUS))

clean:
	rm -rf $(BIN)

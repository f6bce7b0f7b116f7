# keel: the container-native init. Run as root on Debian.
#   make run    install what is missing, build the demo image, boot it on this terminal
#   make test   install what is missing, then run every test (unit, PID 1, VM)
SHELL := /bin/bash
DEBIAN_PACKAGES := runc busybox-static qemu-system-x86 cpio util-linux iproute2 dpkg apt gcc libc6-dev xorriso isolinux syslinux-common docker.io docker-registry zstd lz4 binutils \
  ovmf systemd-boot-efi syslinux mtools fdisk qemu-utils patchelf zsh curl \
  qemu-system-arm qemu-efi-aarch64 gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu
NODE_STAMP := node_modules/.package-lock.json
NATIVE := init/native/build/Release/keel_sys.node
DIST := dist/keel-init.js dist/keel-init.cjs dist/keel-yaml.cjs dist/keel.js dist/keel_sys.node
# keel's addon and node-pty's for arm64 images, cross-compiled (pkg/cross-native.mjs).
NATIVE_ARM64 := dist/arm64/keel_sys.node dist/arm64/pty.node
SOURCES := $(shell find model events runtime services api init pkg -name '*.ts' -not -name '*.test.ts' 2>/dev/null) pkg/bundle.mjs package.json

.PHONY: deps debs engine demo-image kernel build test typecheck run bench clean init-image

deps: debs engine $(NODE_STAMP) build kernel

# Installs only the Debian packages that are missing (apt-get update first, as a fresh machine needs).
# The anchors the benchmarks measure keel against: runit, s6, tini, docker.io (dockerd, with Debian's
# containerd, ctr and containerd-shim-runc-v2), dumb-init and supervisor (supervisord) for the container-init
# benchmark, and zstd for the image sizes.
BENCH_PACKAGES := runit s6 tini dumb-init supervisor docker.io zstd

debs:
	@missing=""; for p in $(DEBIAN_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# A Docker engine for image references: started here when none answers
# (machines without systemd, CI); with systemd, installing docker.io starts it.
engine: debs
	@docker info >/dev/null 2>&1 || { \
	  echo "starting dockerd (log: /var/log/keel-dockerd.log)"; \
	  setsid dockerd >/var/log/keel-dockerd.log 2>&1 </dev/null & \
	  for i in $$(seq 120); do docker info >/dev/null 2>&1 && exit 0; sleep 0.5; done; \
	  echo "dockerd did not start; see /var/log/keel-dockerd.log" >&2; exit 1; }

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

$(NATIVE): init/native/keel_sys.c init/native/binding.gyp $(NODE_STAMP)
	npm run --silent build:native >/dev/null

build: $(DIST) $(NATIVE_ARM64)

$(NATIVE_ARM64) &: init/native/keel_sys.c init/native/binding.gyp pkg/cross-native.mjs $(NODE_STAMP)
	npm run --silent build:native-arm64

$(DIST) &: $(SOURCES) $(NATIVE) $(NODE_STAMP)
	node pkg/bundle.mjs

# The pinned Debian kernel (pkg/image/kernel.ts), downloaded once into ~/.cache/keel.
kernel: build
	node dist/keel.js kernel fetch

typecheck: $(NODE_STAMP)
	npx tsc --noEmit -p .

test: deps typecheck
	npx vitest run

# keel as a container image's init: /opt/keel (keel, node and its libraries) loaded into the Docker
# engine as keel/init:VERSION (INIT_TAG=... for another tag), for COPY --from= in any Dockerfile.
init-image: engine build
	node dist/keel.js init-image $(if $(INIT_TAG),--tag $(INIT_TAG))

# The demo's container image: a busybox-static root filesystem, loaded into
# the Docker engine as keel-demo/busybox:1 (the same bytes give the same id).
out/busybox-rootfs/bin/busybox: examples/make-rootfs.sh
	examples/make-rootfs.sh out/busybox-rootfs keel-demo/busybox:1

demo-image: engine out/busybox-rootfs/bin/busybox
	@docker image inspect keel-demo/busybox:1 >/dev/null 2>&1 || examples/make-rootfs.sh out/busybox-rootfs keel-demo/busybox:1

out/demo-kernel out/demo-initrd.img &: examples/demo.yml $(DIST) out/busybox-rootfs/bin/busybox | demo-image
	node dist/keel.js build -o out examples/demo.yml

# The demo's web page is published on the host as 127.0.0.1:8080 (curl http://127.0.0.1:8080/),
# with instance data from examples/demo-data.json (README.md).
run: deps out/demo-kernel
	node dist/keel.js run -p 8080:80 --data-file examples/demo-data.json out/demo

# Benchmarks against the anchors, side by side in one run, as ratios: make bench (all of them, then
# the table, bench/results/latest.json and the charts), or one: make bench B=restart
# (start-cost, restart, memory, reaping, image-size, boot, report). A dockerd is started if none answers.
B ?= all
bench-deps: deps
	@$(MAKE) --no-print-directory debs EXTRA_PACKAGES="$(BENCH_PACKAGES)"

bench: bench-deps
	node bench/run.mjs $(B)

clean:
	rm -rf dist out init/native/build

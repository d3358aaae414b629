# DMA-pin tracking for get_user_pages: the patch queue and its harness.
# Every job is a script in scripts/; this file is the index.

KERNEL ?= series
export KERNEL
# The architecture built and booted: x86_64 (the host's), i386 or arm64;
# ppc64le, s390x and sparc64 are built only (make check-arch).
ARCH ?= x86_64
export ARCH
SFX := $(if $(filter x86_64,$(ARCH)),,-$(ARCH))

# CONFIG=NAME builds with configs/NAME.config (make test CONFIG=debug).
CONFIG ?=
export CONFIG

.PHONY: help deps tree export build initramfs run shell test clients test-negative \
	check check-callsites check-arch check-docs check-bisect bench stress clean

help:
	@sed -n 's/^## //p' Makefile

## deps            install the Debian packages the harness needs
deps:
	@scripts/install-deps

## tree            build/linux: stock 5.10 + patches/base + patches (tags stock, baseline, series)
tree: deps
	@scripts/mktree

## export          write build/linux back to patches/base and patches
export:
	@scripts/export

## build           build KERNEL (stock|baseline|series, default series) for QEMU (CONFIG=debug: the debug kernel)
##                 (ARCH=x86_64|i386|arm64, default x86_64, for build, initramfs, run, shell, test)
build: tree
	@scripts/build-kernel $(KERNEL) $(CONFIG)

## initramfs       pack the guest: busybox, guest/ and KERNEL's vm selftests
initramfs: build
	@scripts/mkinitramfs $(KERNEL)

## run             boot KERNEL and show gup_benchmark and the pin counters at work
run: initramfs
	@VERBOSE=1 scripts/boot $(KERNEL) run

## shell           boot KERNEL into an interactive busybox shell
shell: initramfs
	@scripts/boot $(KERNEL) shell

## test            boot KERNEL, run the test plan, print TAP and "N passed, N failed"
test: initramfs
	@scripts/boot $(KERNEL) test
	@scripts/report build/logs/$(KERNEL)$(SFX)-test.log

## clients         boot KERNEL and run the real clients in full: fio, rdma-core (soft-RoCE), vfio (edu)
clients: initramfs
	@scripts/boot $(KERNEL) clients
	@scripts/report build/logs/$(KERNEL)$(SFX)-clients.log

## test-negative   the control: on baseline exactly the pin tests fail
test-negative: tree
	@scripts/test-negative

## check           checkpatch, htmldocs (core-api), call-site builds and sparse on the queue
check: tree
	@scripts/check

## check-docs      make htmldocs SPHINXDIRS=core-api; fail on warnings from the pin API's files
check-docs: tree
	@scripts/check-docs $(KERNEL)

## check-bisect    build every series patch in turn (RANGE=a..b; CALLSITES=1 adds the call sites)
check-bisect: tree
	@scripts/check-bisect $(RANGE)

## check-callsites build the objects of every GUP call site (configs/callsites.config);
##                 ARCH=ppc64le|s390x|sparc64|...: baseline and series, no new warning
check-callsites: tree
	@scripts/check-callsites $(if $(SFX),baseline series,$(KERNEL))

## check-arch      make test ARCH=arm64 and i386, check-callsites ARCH=ppc64le, s390x, sparc64
check-arch: tree
	@scripts/check-arch

## bench           boot stock and series under QEMU -icount, tabulate gup_benchmark in build/bench
bench: tree
	@scripts/bench $(BENCH_KERNELS)

## stress          debug kernel: pin stressor, trinity, stress-ng (DURATION=s THREADS=n MUTATORS=a,b)
stress: tree
	@scripts/stress $(KERNEL)

## clean           remove build/ except the downloaded base and ccache
clean:
	rm -rf build/obj-* build/initramfs-* build/logs

# DMA-pin tracking for get_user_pages: the patch queue and its harness.
# Every job is a script in scripts/; this file is the index.

KERNEL ?= series
export KERNEL
# CONFIG=NAME builds with configs/NAME.config (make test CONFIG=debug).
CONFIG ?=
export CONFIG

.PHONY: help deps tree export build initramfs run shell test test-negative \
	check check-callsites check-docs check-bisect bench stress clean

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
	@scripts/report build/logs/$(KERNEL)-test.log

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

## check-callsites build the objects of every GUP call site (configs/callsites.config)
check-callsites: tree
	@scripts/check-callsites $(KERNEL)

## bench           boot stock and series under QEMU -icount, tabulate gup_benchmark in build/bench
bench: tree
	@scripts/bench $(BENCH_KERNELS)

## stress          debug kernel: pin stressor, trinity, stress-ng (DURATION=s THREADS=n MUTATORS=a,b)
stress: tree
	@scripts/stress $(KERNEL)

## clean           remove build/ except the downloaded base and ccache
clean:
	rm -rf build/obj-* build/initramfs-* build/logs

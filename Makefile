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
	check check-callsites check-arch check-docs check-bisect bench bench-report stress clean

help:
	@sed -n 's/^##[ ]\{0,1\}//p' Makefile

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

## run             boot KERNEL and show pins at work: get/pin/unpin times and pin counters of
##                 4 KiB, THP and hugetlb ranges, an io_uring registration, dump_page()
run: initramfs
	@scripts/run $(KERNEL)

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

## bench           stock vs series under QEMU -icount in one run (baseline for the Direct IO
##                 row only): bench-measure, then bench-report, into build/bench
##                 BENCH_ROWS=gup,dio,fio,reg,pvm,curve picks rows (default all);
##                 CURVE_MAX=MIB ends the size curve (1..1024, default 1024);
##                 BENCH_KERNELS="a b" picks kernels (REV=commit with bisect: one commit)
bench: tree
	@BENCH_ROWS=$(BENCH_ROWS) CURVE_MAX=$(CURVE_MAX) REV=$(REV) scripts/bench $(BENCH_KERNELS)

## bench-report    tabulate and plot build/bench/bench.csv again (bench.txt, bench.png, curve.png)
bench-report:
	@scripts/bench-report $(BENCH_KERNELS)

## stress          debug kernel: pin stressor, trinity, stress-ng (DURATION=s THREADS=n MUTATORS=a,b)
stress: tree
	@scripts/stress $(KERNEL)

## clean           remove build/ except the downloaded base and ccache
clean:
	rm -rf build/obj-* build/initramfs-* build/logs

##
## Knobs: make VAR=value JOB, or VAR=value scripts/JOB ...
##   KERNEL=stock|baseline|series  the kernel built, booted, tested (default series)
##   ARCH=x86_64|i386|arm64        the architecture built and booted (default x86_64);
##                                 ppc64le|s390x|sparc64 for check-callsites
##   CONFIG=NAME                   build with configs/NAME.config (debug, bench; default qemu)
##   REV=commit                    a commit of the series, built as KERNEL bisect
##                                 (scripts/build-kernel bisect, check-callsites bisect, bench bisect)
##   RANGE=a..b                    check-bisect: the commits (default baseline..series)
##   CALLSITES=1                   check-bisect: build the call sites at every commit too
##   PINS=0|1                      initramfs: the pin tests on or off (default: as the tree has
##                                 the pin API and the series' checks; 1 forces both on)
##   TARGETS="T..."                build: the kernel's make targets (default the image and headers)
##   SMP=N MEM=MiB                 boot: vCPUs and memory (default 2 and 1536; CONFIG=debug 4 and 3072)
##   CMDLINE="..."                 boot: more kernel command line
##   BOOT_TIMEOUT=S                boot: seconds before the guest is stopped (default 1200)
##   INITRD=FILE                   boot: another initramfs
##   VERBOSE=1                     boot: the console on the terminal too
##   DURATION=S THREADS=N MUTATORS=a,b  stress: seconds, pinning threads, mm mutators (default all)
##   BENCH_KERNELS="K..."          bench: the kernels measured (default stock and series, and
##                                 baseline for the Direct IO row)
##   LINUX_SOURCE_DEB=FILE         tree: a local copy of Debian's linux-source-5.10 package

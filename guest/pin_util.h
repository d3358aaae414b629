/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the guest's pin test programs (pin_vmstat.c, pin_protect.c, ...)
 * share: the pin counters of /proc/vmstat, touched anonymous memory, the
 * THP test of smaps and an io_uring instance. They report through the
 * kernel's tools/testing/selftests/kselftest.h: a TAP line per claim
 * (ksft_test_result()), "# " lines for the rest, and an exit status of 1
 * when a claim failed (the plan's run_test turns it into not ok).
 */
#ifndef PIN_UTIL_H
#define PIN_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <linux/types.h>

#include "kselftest.h"

#define KIB 1024UL
#define MIB (1024 * KIB)

static long page_size;

/*
 * pin_stress.c's claims, until it reports through kselftest.h itself: a
 * kselftest result, counted in failures too.
 */
static int failures;

static inline void check(int ok, const char *claim)
{
	ksft_test_result(ok, "%s\n", claim);
	if (!ok)
		failures++;
}

/* Read one /proc/vmstat item after folding the per-cpu deltas; -1 if absent. */
static long vmstat(const char *name)
{
	char key[64];
	long val, found = -1;
	FILE *f;
	int fd;

	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			perror("stat_refresh");
		close(fd);
	}
	f = fopen("/proc/vmstat", "r");
	if (!f) {
		perror("/proc/vmstat");
		exit(1);
	}
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			found = val;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Pins held right now, as the counters tell it. */
static long pins_held(void)
{
	long acquired = vmstat("nr_foll_pin_acquired");
	long released = vmstat("nr_foll_pin_released");

	if (acquired < 0 || released < 0)
		ksft_exit_fail_msg("no nr_foll_pin_* counters in /proc/vmstat\n");
	return acquired - released;
}

/* The counters as one reading. */
struct pins {
	long acquired;
	long released;
};

/*
 * Read the pin counters; 0 where the kernel has none, said once as a failed
 * result, so that the checks which need them fail and the others still run.
 */
static inline int pins_read(struct pins *p)
{
	static int said;

	p->acquired = vmstat("nr_foll_pin_acquired");
	p->released = vmstat("nr_foll_pin_released");
	if (p->acquired >= 0 && p->released >= 0)
		return 1;
	if (!said++)
		ksft_test_result_fail("the kernel has nr_foll_pin_* counters in /proc/vmstat\n");
	return 0;
}

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* gup_benchmark's ioctls, as in mm/gup_benchmark.c of the series. */
#define GUP_BENCHMARK_FILE	"/sys/kernel/debug/gup_benchmark"

struct gup_benchmark {
	__u64 get_delta_usec;
	__u64 put_delta_usec;
	__u64 addr;
	__u64 size;
	__u32 nr_pages_per_call;
	__u32 flags;
	__u64 expansion[10];
};

/* The benchmark's own flag: check the pins and counts (EIO if wrong). */
#define GUP_BENCHMARK_CHECK	(1U << 30)

#define PIN_FAST_BENCHMARK	_IOWR('g', 3, struct gup_benchmark)
#define PIN_BENCHMARK		_IOWR('g', 4, struct gup_benchmark)
#define PIN_LONGTERM_BENCHMARK	_IOWR('g', 5, struct gup_benchmark)
#define PIN_FAST_HOLD		_IOWR('g', 6, struct gup_benchmark)
#define PIN_LONGTERM_HOLD	_IOWR('g', 7, struct gup_benchmark)
#define PIN_HOLD_FILL		_IOWR('g', 8, struct gup_benchmark)
#define PIN_HOLD_RELEASE	_IOWR('g', 9, struct gup_benchmark)
#define PIN_FAST_LONGTERM_HOLD	_IOWR('g', 10, struct gup_benchmark)

/* Anonymous memory of @size bytes aligned to @align, every page touched. */
static char *touched_area(size_t size, size_t align, int thp)
{
	char *raw, *p;
	size_t i;

	raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	p = (char *)(((unsigned long)raw + align - 1) & ~(align - 1));
	if (madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		perror("madvise");
		exit(1);
	}
	for (i = 0; i < size; i += page_size)
		p[i] = 1;
	return p;
}

/* Is the page at @addr backed by a THP? AnonHugePages of its smaps entry. */
static int is_thp(void *addr)
{
	unsigned long start, end, kb;
	char line[256];
	int in_vma = 0, thp = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in_vma = start <= (unsigned long)addr &&
				 (unsigned long)addr < end;
		else if (in_vma && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			thp = kb >= 2048;
	}
	fclose(f);
	return thp;
}

/* A small io_uring instance, to register buffers with; @params is filled in. */
static int ring_open(struct io_uring_params *params)
{
	int ring;

	memset(params, 0, sizeof(*params));
	ring = syscall(__NR_io_uring_setup, 4, params);
	if (ring < 0) {
		perror("io_uring_setup");
		exit(1);
	}
	return ring;
}

#endif /* PIN_UTIL_H */

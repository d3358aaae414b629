// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's Direct IO row: O_DIRECT reads from a ramdisk with ordinary
 * buffers, so that every read takes its buffer's pages through the block
 * device's Direct IO: pinned on a kernel where Direct IO pins, referenced
 * on one where it does not.
 *
 * The reads are synchronous pread() calls, one at a time: the bio is
 * complete when brd's submit_bio() returns, so a read never sleeps and the
 * figure is the request's own path. (Through io_uring, every read on brd
 * is handed to an io-wq worker, as brd's queue does not take REQ_NOWAIT:
 * the figure then has the worker's scheduling in it, which moved it by up
 * to 10% between boots.)
 *
 * Usage: dio_bench DEVICE SIZE_KIB NR_READS
 * Prints "dio SIZE_KIB NSEC" with the best time per read of five runs of
 * NR_READS reads over the first 64 MiB of DEVICE. Under QEMU's -icount the
 * time counts instructions, and repeats run to run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define KIB	1024UL
#define MIB	(1024 * KIB)
#define SPAN	(64 * MIB)
#define RUNS	5

/* @size bytes of page-aligned anonymous memory, written once. */
static char *buffer(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 0x5a, size);
	return p;
}

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t len, per_span;
	long best = 0, t, nr, i;
	char *buf;
	int dev, run;

	if (argc != 4) {
		fprintf(stderr, "usage: %s DEVICE SIZE_KIB NR_READS\n", argv[0]);
		return 2;
	}
	len = strtoul(argv[2], NULL, 0) * KIB;
	nr = strtol(argv[3], NULL, 0);
	if (!len || len > SPAN || nr < 1) {
		fprintf(stderr, "bad size or count\n");
		return 2;
	}
	dev = open(argv[1], O_RDWR | O_DIRECT);
	if (dev < 0) {
		perror(argv[1]);
		return 1;
	}
	/* Written once, so that the reads find the ramdisk's pages there. */
	buf = buffer(SPAN / 16);
	for (i = 0; i < 16; i++)
		if (pwrite(dev, buf, SPAN / 16, i * (SPAN / 16)) !=
		    (ssize_t)(SPAN / 16)) {
			perror("pwrite");
			return 1;
		}
	munmap(buf, SPAN / 16);
	buf = buffer(len);
	per_span = SPAN / len;

	for (run = 0; run < RUNS; run++) {
		t = now_ns();
		for (i = 0; i < nr; i++)
			if (pread(dev, buf, len, (i % per_span) * len) !=
			    (ssize_t)len) {
				perror("pread");
				return 1;
			}
		t = (now_ns() - t) / nr;
		fprintf(stderr, "run %d: %ld ns per read\n", run, t);
		if (!run || t < best)
			best = t;
	}
	printf("dio %zu %ld\n", len / KIB, best);
	return 0;
}

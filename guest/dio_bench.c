// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's Direct IO row: O_DIRECT reads from a ramdisk through
 * io_uring, with ordinary (not registered) buffers, so that every request
 * takes its buffer's pages through the block device's Direct IO: pinned on
 * a kernel where Direct IO pins, referenced on one where it does not.
 *
 * Usage: dio_bench DEVICE SIZE_KIB NR_READS
 * Prints "dio SIZE_KIB NSEC" with the best time per read of five runs of
 * NR_READS reads, 32 in flight, over the first 64 MiB of DEVICE. Under
 * QEMU's -icount the time counts instructions, and repeats run to run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>

#define KIB	1024UL
#define MIB	(1024 * KIB)
#define DEPTH	32
#define SPAN	(64 * MIB)
#define RUNS	5

struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static void ring_map(struct ring *r)
{
	struct io_uring_params p;
	int prot = PROT_READ | PROT_WRITE, map = MAP_SHARED | MAP_POPULATE;
	size_t sq_len, cq_len;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = syscall(__NR_io_uring_setup, DEPTH, &p);
	if (r->fd < 0) {
		perror("io_uring_setup");
		exit(1);
	}
	sq_len = p.sq_off.array + p.sq_entries * sizeof(__u32);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_len, prot, map, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, prot, map, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), prot,
		       map, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED) {
		perror("mmap io_uring");
		exit(1);
	}
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

/* Queue a read of @len bytes at @off into @buf, as sqe @slot. */
static void queue_read(struct ring *r, int dev, char *buf, size_t len,
		       off_t off, unsigned int slot)
{
	unsigned int tail = *r->sq_tail;
	struct io_uring_sqe *sqe = &r->sqes[slot];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = dev;
	sqe->addr = (unsigned long)buf;
	sqe->len = len;
	sqe->off = off;
	r->sq_array[tail & *r->sq_mask] = slot;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* Submit what is queued, wait for @nr completions and check them. */
static void submit_and_reap(struct ring *r, unsigned int nr, size_t len)
{
	unsigned int head;

	if (syscall(__NR_io_uring_enter, r->fd, nr, nr, IORING_ENTER_GETEVENTS,
		    NULL, 0) != (long)nr) {
		perror("io_uring_enter");
		exit(1);
	}
	head = *r->cq_head;
	while (nr--) {
		while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
			;
		if (r->cqes[head & *r->cq_mask].res != (int)len) {
			printf("FAIL: read returned %d\n",
			       r->cqes[head & *r->cq_mask].res);
			exit(1);
		}
		head++;
	}
	__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
}

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
	struct ring r;
	char *bufs;
	int dev, run;

	if (argc != 4) {
		fprintf(stderr, "usage: %s DEVICE SIZE_KIB NR_READS\n", argv[0]);
		return 2;
	}
	len = strtoul(argv[2], NULL, 0) * KIB;
	nr = strtol(argv[3], NULL, 0);
	if (!len || len > SPAN / DEPTH || nr < DEPTH) {
		fprintf(stderr, "bad size or count\n");
		return 2;
	}
	dev = open(argv[1], O_RDWR | O_DIRECT);
	if (dev < 0) {
		perror(argv[1]);
		return 1;
	}
	/* Written once, so that the reads find the ramdisk's pages there. */
	bufs = buffer(SPAN / 16);
	for (i = 0; i < 16; i++)
		if (pwrite(dev, bufs, SPAN / 16, i * (SPAN / 16)) !=
		    (ssize_t)(SPAN / 16)) {
			perror("pwrite");
			return 1;
		}
	munmap(bufs, SPAN / 16);
	bufs = buffer(DEPTH * len);
	ring_map(&r);
	per_span = SPAN / len;

	for (run = 0; run < RUNS; run++) {
		t = now_ns();
		for (i = 0; i < nr; i += DEPTH) {
			unsigned int s;

			for (s = 0; s < DEPTH; s++)
				queue_read(&r, dev, bufs + s * len, len,
					   ((i + s) % per_span) * len, s);
			submit_and_reap(&r, DEPTH, len);
		}
		t = (now_ns() - t) / nr;
		fprintf(stderr, "run %d: %ld ns per read\n", run, t);
		if (!run || t < best)
			best = t;
	}
	printf("dio %zu %ld\n", len / KIB, best);
	return 0;
}

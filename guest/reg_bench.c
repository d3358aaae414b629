// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's workload rows: where users feel the cost of a pin.
 *
 * Usage: reg_bench io_uring 4k|thp|hugetlb MIB
 *        reg_bench process_vm_readv MIB
 *
 * io_uring          register MIB MiB of touched memory (4 KiB pages, THP or
 *                   hugetlb) as one io_uring fixed buffer
 *                   (IORING_REGISTER_BUFFERS: one long-term
 *                   pin_user_pages() call, then per-page bookkeeping) and
 *                   unregister it; prints "reg KIND MIB REG_US UNREG_US",
 *                   the best of 3 runs.
 * process_vm_readv  read MIB MiB of a child's touched memory into our own
 *                   in one call (the source pages are pinned, copied and
 *                   unpinned); prints "pvm MIB US", the best of 3.
 *
 * Under QEMU's -icount the times count instructions and repeat run to run.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
/* Its pin counter and hold helpers are for the pin tests. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pin_util.h"
#pragma GCC diagnostic pop

#define RUNS	3

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *hugetlb_area(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	size_t i;

	if (p == MAP_FAILED) {
		perror("mmap MAP_HUGETLB");
		exit(1);
	}
	for (i = 0; i < size; i += page_size)
		p[i] = 1;
	return p;
}

static void bench_io_uring(const char *kind, long mib)
{
	size_t size = mib * MIB;
	struct io_uring_params params;
	long best_reg = -1, best_unreg = -1, t0, t1, t2;
	struct iovec iov;
	int ring, run;

	if (!strcmp(kind, "hugetlb"))
		iov.iov_base = hugetlb_area(size);
	else
		iov.iov_base = touched_area(size, 2 * MIB, !strcmp(kind, "thp"));
	if (!strcmp(kind, "thp") && !is_thp(iov.iov_base)) {
		fprintf(stderr, "the THP area is not backed by THP\n");
		exit(1);
	}
	iov.iov_len = size;
	ring = ring_open(&params);
	for (run = 0; run < RUNS; run++) {
		t0 = now_us();
		if (syscall(__NR_io_uring_register, ring,
			    IORING_REGISTER_BUFFERS, &iov, 1)) {
			perror("IORING_REGISTER_BUFFERS");
			exit(1);
		}
		t1 = now_us();
		if (syscall(__NR_io_uring_register, ring,
			    IORING_UNREGISTER_BUFFERS, NULL, 0)) {
			perror("IORING_UNREGISTER_BUFFERS");
			exit(1);
		}
		t2 = now_us();
		if (best_reg < 0 || t1 - t0 < best_reg)
			best_reg = t1 - t0;
		if (best_unreg < 0 || t2 - t1 < best_unreg)
			best_unreg = t2 - t1;
	}
	printf("reg %s %ld %ld %ld\n", kind, mib, best_reg, best_unreg);
}

static void bench_process_vm_readv(long mib)
{
	size_t size = mib * MIB;
	char *src = touched_area(size, page_size, 0);
	char *dst = touched_area(size, page_size, 0);
	struct iovec local = { dst, size }, remote = { src, size };
	long best = -1, t0, t1;
	int run, ready[2];
	pid_t child;
	char c;

	if (pipe(ready))
		exit(1);
	child = fork();
	if (child == 0) {
		/* The source: the child's copy of src, its own pages. */
		memset(src, 2, size);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	if (child < 0 || read(ready[0], &c, 1) != 1)
		exit(1);
	for (run = 0; run < RUNS; run++) {
		t0 = now_us();
		if (process_vm_readv(child, &local, 1, &remote, 1, 0) != (ssize_t)size) {
			perror("process_vm_readv");
			kill(child, SIGKILL);
			exit(1);
		}
		t1 = now_us();
		if (best < 0 || t1 - t0 < best)
			best = t1 - t0;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (dst[0] != 2 || dst[size - 1] != 2) {
		fprintf(stderr, "process_vm_readv read the wrong data\n");
		exit(1);
	}
	printf("pvm %ld %ld\n", mib, best);
}

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	if (argc == 4 && !strcmp(argv[1], "io_uring"))
		bench_io_uring(argv[2], atol(argv[3]));
	else if (argc == 3 && !strcmp(argv[1], "process_vm_readv"))
		bench_process_vm_readv(atol(argv[2]));
	else {
		fprintf(stderr, "usage: %s io_uring 4k|thp|hugetlb MIB | process_vm_readv MIB\n",
			argv[0]);
		return 2;
	}
	return 0;
}

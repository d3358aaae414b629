// SPDX-License-Identifier: GPL-2.0
/*
 * Usage: pin_vmstat io_uring|io_uring_thp|io_uring_hugetlb_fault|process_vm_readv
 *
 * Pin user memory through real in-kernel users of pin_user_pages*() and
 * check that /proc/vmstat's nr_foll_pin_acquired - nr_foll_pin_released
 * moves by exactly the pages pinned while a pin is held, and comes back
 * to where it started once it is released:
 *
 *   io_uring          16 4 KiB pages registered as a fixed buffer
 *                     (FOLL_PIN | FOLL_LONGTERM, held until unregistered)
 *   io_uring_thp      one 2 MiB THP registered the same way: 512 pins
 *   io_uring_hugetlb_fault
 *                     a 2 MiB MAP_NORESERVE hugetlb buffer registered with
 *                     no free hugetlb page (the caller empties the pool):
 *                     the pin fails in the fault and counts nothing
 *   process_vm_readv  1 MiB read from our own address space (short-term
 *                     pins, all released when the call returns)
 *
 * Exits 0 when every check holds, 1 otherwise, printing what it saw.
 */
#define _GNU_SOURCE
#include <sys/uio.h>
#include "pin_util.h"

static void test_io_uring(int thp)
{
	size_t size = thp ? 2 * MIB : 16 * page_size;
	long npages = size / page_size, before, held, after;
	struct io_uring_params params;
	struct iovec iov;
	int ring;

	iov.iov_base = touched_area(size, thp ? 2 * MIB : page_size, thp);
	iov.iov_len = size;
	if (thp)
		ksft_test_result(is_thp(iov.iov_base),
				 "the 2 MiB buffer is a THP\n");

	ring = ring_open(&params);
	before = pins_held();
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1)) {
		perror("IORING_REGISTER_BUFFERS");
		exit(1);
	}
	held = pins_held();
	ksft_print_msg("pins held: %ld before, %ld while registered (%ld pages)\n",
		       before, held, npages);
	ksft_test_result(held - before == npages,
			 "registering pins every page of the buffer exactly once\n");

	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		    NULL, 0)) {
		perror("IORING_UNREGISTER_BUFFERS");
		exit(1);
	}
	after = pins_held();
	ksft_print_msg("pins held after unregistering: %ld\n", after);
	ksft_test_result(after == before, "unregistering releases every pin\n");
	close(ring);
}

static void test_io_uring_hugetlb_fault(void)
{
	long acquired, released, held;
	struct io_uring_params params;
	struct iovec iov;
	int ring, ret;

	iov.iov_len = 2 * MIB;
	iov.iov_base = mmap(NULL, iov.iov_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			    MAP_NORESERVE, -1, 0);
	if (iov.iov_base == MAP_FAILED) {
		perror("mmap MAP_HUGETLB");
		exit(1);
	}
	ring = ring_open(&params);
	held = pins_held();
	acquired = vmstat("nr_foll_pin_acquired");
	released = vmstat("nr_foll_pin_released");
	ret = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		      &iov, 1);
	ksft_print_msg("IORING_REGISTER_BUFFERS: %d (%s)\n", ret,
		       ret ? strerror(errno) : "no error");
	ksft_test_result(ret < 0, "pinning an unbacked hugetlb buffer fails\n");
	acquired = vmstat("nr_foll_pin_acquired") - acquired;
	released = vmstat("nr_foll_pin_released") - released;
	ksft_print_msg("nr_foll_pin_acquired %+ld, nr_foll_pin_released %+ld\n",
		       acquired, released);
	ksft_test_result(acquired == 0 && released == 0,
			 "the failed pin counts nothing\n");
	ksft_test_result(pins_held() == held, "no pin is left behind\n");
	close(ring);
}

static void test_process_vm_readv(void)
{
	size_t size = MIB;
	long acquired, before;
	struct iovec local, remote;
	char *src, *dst;

	src = touched_area(size, page_size, 0);
	dst = touched_area(size, page_size, 0);
	memset(src, 0x5a, size);
	local.iov_base = dst;
	local.iov_len = size;
	remote.iov_base = src;
	remote.iov_len = size;

	before = pins_held();
	acquired = vmstat("nr_foll_pin_acquired");
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)size) {
		perror("process_vm_readv");
		exit(1);
	}
	acquired = vmstat("nr_foll_pin_acquired") - acquired;
	ksft_print_msg("process_vm_readv of %zu pages acquired %ld pins\n",
		       size / page_size, acquired);
	ksft_test_result(acquired >= (long)(size / page_size),
			 "every source page was pinned\n");
	ksft_test_result(pins_held() == before, "no pin outlives the call\n");
	ksft_test_result(!memcmp(src, dst, size), "the data arrived\n");
}

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: %s io_uring|io_uring_thp|"
			"io_uring_hugetlb_fault|process_vm_readv\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "io_uring"))
		test_io_uring(0);
	else if (!strcmp(argv[1], "io_uring_thp"))
		test_io_uring(1);
	else if (!strcmp(argv[1], "io_uring_hugetlb_fault"))
		test_io_uring_hugetlb_fault();
	else if (!strcmp(argv[1], "process_vm_readv"))
		test_process_vm_readv();
	else {
		fprintf(stderr, "unknown test %s\n", argv[1]);
		return 2;
	}
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Usage: rdma_mr DEVICE reg|kill
 *
 * Register memory with an RDMA device through rdma-core's ibv_reg_mr(), as
 * every verbs application does, and watch the pins it takes: the kernel's
 * ib_umem_get() pins the region long-term, and deregistering it (or the
 * process dying) unpins it through the umem's range unpin.
 *
 * reg   register 64 MiB of THP-backed anonymous memory (MADV_HUGEPAGE,
 *       2 MiB aligned) and check that nr_foll_pin_acquired grew by exactly
 *       one pin per 4 KiB page (16384) and nothing was released; then
 *       deregister and check that exactly 16384 were released.
 * kill  a child registers the same region and stops; the parent checks
 *       that the 16384 pins are held, kills the child with SIGKILL and
 *       checks that every one of them was released by its exit.
 *
 * Link: -libverbs
 * (a dynamic binary: libibverbs loads its providers as plugins).
 * Exits 0 when every check holds, 1 otherwise, printing what it saw.
 */

#include <signal.h>
#include <sys/wait.h>
#include <infiniband/verbs.h>
/* Its io_uring helpers are for the other pin tests. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pin_util.h"
#pragma GCC diagnostic pop

#define REGION	(64 * MIB)

static struct ibv_pd *open_pd(const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = NULL;
	struct ibv_pd *pd;
	int i;

	for (i = 0; list && list[i]; i++)
		if (!strcmp(ibv_get_device_name(list[i]), name))
			ctx = ibv_open_device(list[i]);
	if (!ctx) {
		fprintf(stderr, "no RDMA device %s\n", name);
		exit(1);
	}
	ibv_free_device_list(list);
	pd = ibv_alloc_pd(ctx);
	if (!pd) {
		perror("ibv_alloc_pd");
		exit(1);
	}
	return pd;
}

/* 64 MiB of THP-backed memory, registered for local and remote access. */
static struct ibv_mr *register_region(struct ibv_pd *pd)
{
	char *buf = touched_area(REGION, 2 * MIB, 1);
	struct ibv_mr *mr;

	ksft_test_result(is_thp(buf), "the region is backed by THP\n");
	mr = ibv_reg_mr(pd, buf, REGION, IBV_ACCESS_LOCAL_WRITE |
			IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (!mr) {
		perror("ibv_reg_mr");
		exit(1);
	}
	return mr;
}

static void reg(struct ibv_pd *pd)
{
	long npages = REGION / page_size;
	struct pins before, held, after;
	struct ibv_mr *mr;

	pins_read(&before);
	mr = register_region(pd);
	if (pins_read(&held)) {
		ksft_print_msg("ibv_reg_mr: nr_foll_pin_acquired +%ld, released +%ld for %ld pages\n",
			       held.acquired - before.acquired,
			       held.released - before.released, npages);
		ksft_test_result(held.acquired - before.acquired == npages &&
				 held.released == before.released, "ibv_reg_mr() pins each 4 KiB page of the region once\n");
	}
	if (ibv_dereg_mr(mr)) {
		perror("ibv_dereg_mr");
		exit(1);
	}
	if (pins_read(&after)) {
		ksft_print_msg("ibv_dereg_mr: nr_foll_pin_released +%ld\n",
			       after.released - held.released);
		ksft_test_result(after.released - held.released == npages &&
				 after.acquired == held.acquired, "ibv_dereg_mr() releases every pin of the region\n");
	}
}

static void killed(const char *name)
{
	long npages = REGION / page_size;
	struct pins before, held, after;
	int ready[2], status;
	pid_t child;
	char c;

	if (pipe(ready))
		exit(1);
	pins_read(&before);
	child = fork();
	if (child == 0) {
		register_region(open_pd(name));
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (child < 0 || read(ready[0], &c, 1) != 1) {
		ksft_test_result(0, "the child registers its region\n");
		return;
	}
	if (pins_read(&held)) {
		ksft_print_msg("child holds %ld pins\n",
			       (held.acquired - held.released) -
			       (before.acquired - before.released));
		ksft_test_result((held.acquired - held.released) -
				 (before.acquired - before.released) == npages, "the child's registration holds one pin per 4 KiB page\n");
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	ksft_test_result(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			 "the child died of SIGKILL\n");
	if (pins_read(&after)) {
		ksft_print_msg("after SIGKILL: nr_foll_pin_released +%ld\n",
			       after.released - held.released);
		ksft_test_result(after.acquired == held.acquired &&
				 after.released - held.released == npages, "the killed child's exit released every pin\n");
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s DEVICE reg|kill\n", argv[0]);
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	if (!strcmp(argv[2], "reg"))
		reg(open_pd(argv[1]));
	else if (!strcmp(argv[2], "kill"))
		killed(argv[1]);
	else
		return 2;
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

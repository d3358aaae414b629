// SPDX-License-Identifier: GPL-2.0
/*
 * pin_fault: pin with allocations failing, and check that every failure
 * reaches the caller as an error and that nothing leaks.
 *
 * Usage: pin_fault MAXSTEPS
 *
 * Needs CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAILSLAB and their debugfs knobs
 * (the debug kernel). Each operation below is swept: it runs with the
 * 1st, then the 2nd, ... allocation of its system call failing
 * (/proc/thread-self/fail-nth, page allocator and slab alike, sleeping
 * and user-page allocations included), until it runs through without
 * reaching the armed one, or MAXSTEPS times. Failures are armed only
 * while the thread is in the kernel for that call: a user-space page
 * fault that failed would go to the OOM killer, not to the caller.
 *
 * The operations, on 64 KiB of 4 KiB pages and on 2 MiB of THP:
 *   hold_fast       PIN_FAST_HOLD of memory never touched (slow gup
 *                   faults it in), then the device's write must be seen;
 *   hold_longterm   PIN_LONGTERM_HOLD in check mode (the kernel checks
 *                   that no page stayed in ZONE_MOVABLE or CMA: pages
 *                   there are migrated first, and that may fail);
 *   fork            clone() with pins held (fork copies pinned pages for
 *                   the child): the parent must still see the device;
 *   io_uring        IORING_REGISTER_BUFFERS;
 *   process_vm      process_vm_readv, compared;
 *   o_direct        O_DIRECT read of /dev/ram0, compared.
 * A call either fails with an errno, holding nothing, or does all it
 * says; after each, the pins held must be back where they were.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include "pin_util.h"

#define AREA		(2 * MIB)
#define SMALL		(64 * KIB)
#define FOLL_WRITE	0x01
#define FI		"/sys/kernel/debug/"

enum op { HOLD_FAST, HOLD_LONGTERM, FORK, IO_URING, PVM, DIO, NOPS };
static const char *op_name[] = {
	"hold_fast", "hold_longterm", "fork", "io_uring", "process_vm", "o_direct",
};
static long done[NOPS], refused[NOPS], steps[NOPS], clean[NOPS];
static __thread int nth = -1;	/* this thread's fail-nth */
static int armed, fired;	/* the allocation to fail; whether it did */
static int gup;
static size_t size;		/* of the area of the operation running */

static void knob(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		ksft_exit_fail_msg("cannot write %s to %s: %s\n", val, path,
				   strerror(errno));
	}
	close(fd);
}

/* Open this thread's fail-nth; done outside the windows. */
static void inject_init(void)
{
	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth < 0) {
		perror("/proc/thread-self/fail-nth");
		exit(1);
	}
}

/*
 * inject(1): fail this thread's armed-th allocation from now on;
 * inject(0): disarm, and note in fired whether it did fail.
 */
static void inject(int on)
{
	char buf[16] = "0";
	int len = 1;

	if (on)
		len = snprintf(buf, sizeof(buf), "%d", armed);
	else
		fired = pread(nth, buf, sizeof(buf) - 1, 0) > 0 && atoi(buf) == 0;
	if (pwrite(nth, on ? buf : "0", on ? len : 1, 0) < 0) {
		perror("fail-nth");
		exit(1);
	}
}

/*
 * A new area of size bytes, aligned for a THP, THP-backed if @thp and
 * touched (faulted in outside the windows), or not touched. Only the area
 * stays mapped, so that the mm does not grow a vma a round: fork's work,
 * and so its sweep, grows with them.
 */
static int thp_missing;

static char *area(int thp, int touch)
{
	char *raw, *p;

	raw = mmap(NULL, size + AREA, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	p = (char *)(((unsigned long)raw + AREA - 1) & ~(AREA - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + size, raw + AREA - p);
	madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (touch) {
		memset(p, 0x11, size);
		thp_missing += thp && !is_thp(p);
	}
	return p;
}

static void release(char *p)
{
	munmap(p, size);
}

static int all(const char *p, unsigned char byte, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if ((unsigned char)p[i] != byte)
			return 0;
	return 1;
}

static int gup_cmd(unsigned long cmd, void *p, unsigned int flags)
{
	struct gup_benchmark g = {
		.addr = (unsigned long)p, .size = size,
		.nr_pages_per_call = 512, .flags = flags,
	};

	return ioctl(gup, cmd, &g);
}

static int fill(unsigned char byte)
{
	struct gup_benchmark g = { .expansion = { byte } };

	return ioctl(gup, PIN_HOLD_FILL, &g);
}

static void unhold(void)
{
	struct gup_benchmark g = { 0 };

	if (ioctl(gup, PIN_HOLD_RELEASE, &g))
		ksft_test_result(0, "PIN_HOLD_RELEASE of held pins\n");
}

/* After a successful hold: the process writes, the device writes, the process sees it. */
static void device_write_seen(char *p, const char *what)
{
	char claim[96];

	memset(p, 0x22, size);
	if (fill(0x77)) {
		ksft_test_result(0, "PIN_HOLD_FILL\n");
		return;
	}
	if (!all(p, 0x77, size)) {
		snprintf(claim, sizeof(claim), "%s: device write seen", what);
		ksft_test_result(0, "%s\n", claim);
	}
}

static void op_hold(int thp, int longterm)
{
	enum op op = longterm ? HOLD_LONGTERM : HOLD_FAST;
	char *p = area(thp, longterm);
	int ret;

	inject(1);
	ret = gup_cmd(longterm ? PIN_LONGTERM_HOLD : PIN_FAST_HOLD, p,
		      FOLL_WRITE | GUP_BENCHMARK_CHECK);
	inject(0);
	if (ret) {
		if (errno == EIO)
			ksft_test_result(0,
					 "pinned pages pass the kernel's checks (EIO)\n");
		refused[op]++;
	} else {
		device_write_seen(p, op_name[op]);
		unhold();
		done[op]++;
	}
	release(p);
}

/*
 * fork() with pins held and failures injected. The clone runs as vfork
 * does (the parent waits for the child to exit), from a thread whose
 * stack (and TLS) is a shared mapping, which fork does not make
 * copy-on-write: the parent does not fault on it with failures still
 * armed, and the child, which inherits them, exits without a fault.
 * Whether fork copied the pinned pages for the child or failed, the
 * parent must keep them: it writes them, and must see the device's write.
 */
struct fork_args {
	char *p;
	long ret;
};

static __attribute__((noinline, noreturn)) void fork_child(void)
{
	syscall(SYS_exit_group, 0);
	__builtin_unreachable();
}

static __attribute__((noinline)) void *fork_thread(void *arg)
{
	struct fork_args *a = arg;
	long ret;

	inject_init();
	inject(1);
#ifdef __x86_64__
	{
		register long r10 asm("r10") = 0;
		register long r8 asm("r8") = 0;

		ret = SYS_clone;
		asm volatile("syscall"
			     : "+a"(ret)
			     : "D"((long)(CLONE_VFORK | SIGCHLD)), "S"(0L),
			       "d"(0L), "r"(r10), "r"(r8)
			     : "rcx", "r11", "memory");
	}
#else
	/*
	 * Elsewhere a plain fork through libc's syscall(): a vfork child
	 * would return from it on our stack.
	 */
	ret = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
#endif
	if (ret == 0)
		fork_child();
	inject(0);
	close(nth);
	a->ret = ret;
	return NULL;
}

static void op_fork(int thp)
{
	struct fork_args a = { .p = area(thp, 1) };
	pthread_attr_t attr;
	pthread_t thread;
	int status;
	void *stack;

	if (gup_cmd(PIN_FAST_HOLD, a.p, FOLL_WRITE | GUP_BENCHMARK_CHECK)) {
		ksft_test_result(0,
				 "PIN_FAST_HOLD before fork (no injection)\n");
		return;
	}
	stack = mmap(NULL, 256 * KIB, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(stack, 0, 256 * KIB);
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack, 256 * KIB);
	pthread_create(&thread, &attr, fork_thread, &a);
	pthread_join(thread, NULL);
	munmap(stack, 256 * KIB);
	if (a.ret < 0) {
		refused[FORK]++;
	} else {
		if (waitpid(a.ret, &status, 0) != a.ret || !WIFEXITED(status))
			ksft_test_result(0, "fork child exited\n");
		device_write_seen(a.p, "fork");
		done[FORK]++;
	}
	unhold();
	release(a.p);
}

static void op_io_uring(int thp)
{
	struct io_uring_params params;
	char *p = area(thp, 1);
	struct iovec iov = { p, size };
	int ring = ring_open(&params);
	long ret;

	inject(1);
	ret = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		      &iov, 1);
	inject(0);
	if (ret)
		refused[IO_URING]++;
	else if (pins_held() < (long)(size / page_size))
		ksft_test_result(0,
				 "io_uring buffer registered holds its pins\n");
	else
		done[IO_URING]++;
	/* Synchronously: close() leaves the unpinning to a worker. */
	if (!ret && syscall(__NR_io_uring_register, ring,
			    IORING_UNREGISTER_BUFFERS, NULL, 0))
		ksft_test_result(0, "IORING_UNREGISTER_BUFFERS\n");
	close(ring);
	release(p);
}

static void op_pvm(int thp)
{
	char *p = area(thp, 1), *q = area(0, 1);
	struct iovec local = { q, size }, remote = { p, size };
	long ret;

	memset(p, 0x44, size);
	inject(1);
	ret = syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0);
	inject(0);
	if (ret < 0)
		refused[PVM]++;
	else if (ret > 0 && !all(q, 0x44, ret))
		ksft_test_result(0,
				 "process_vm_readv read what it says it read\n");
	else
		done[PVM]++;
	release(p);
	release(q);
}

static void op_dio(int thp)
{
	char *p = area(thp, 1);
	int fd = open("/dev/ram0", O_RDWR | O_DIRECT);
	ssize_t ret;

	if (fd < 0) {
		ksft_test_result(0, "open /dev/ram0 O_DIRECT\n");
		return;
	}
	memset(p, 0x55, size);
	if (pwrite(fd, p, size, 0) != (ssize_t)size)
		ksft_test_result(0, "O_DIRECT write without injection\n");
	memset(p, 0, size);
	inject(1);
	ret = pread(fd, p, size, 0);
	inject(0);
	if (ret < 0)
		refused[DIO]++;
	else if (!all(p, 0x55, ret))
		ksft_test_result(0, "O_DIRECT read what it says it read\n");
	else
		done[DIO]++;
	close(fd);
	release(p);
}

/* Run @op with its 1st, 2nd, ... allocation failing, up to @max times. */
static void sweep(enum op op, int thp, int max)
{
	long held = pins_held(), start = now_ms();

	size = thp ? AREA : SMALL;
	for (armed = 1; armed <= max; armed++) {
		switch (op) {
		case HOLD_FAST: op_hold(thp, 0); break;
		case HOLD_LONGTERM: op_hold(thp, 1); break;
		case FORK: op_fork(thp); break;
		case IO_URING: op_io_uring(thp); break;
		case PVM: op_pvm(thp); break;
		case DIO: op_dio(thp); break;
		default: break;
		}
		if (pins_held() != held) {
			ksft_test_result_fail("%s (%s) with allocation %d failing: %ld pins held after, %ld before\n",
					      op_name[op], thp ? "thp" : "4k", armed,
					      pins_held(), held);
			return;
		}
		if (!fired) {
			clean[op]++;
			break;
		}
		steps[op]++;
	}
	ksft_print_msg("%s (%s): %d allocations failed in turn, %ld ms\n",
		       op_name[op], thp ? "thp" : "4k", armed - 1, now_ms() - start);
}

int main(int argc, char **argv)
{
	long injected = 0;
	int i, max;

	if (argc != 2 || (max = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: pin_fault MAXSTEPS\n");
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	(void)touched_area;	/* pin_util.h's: area() keeps no leftovers */
	gup = open(GUP_BENCHMARK_FILE, O_RDWR);
	if (gup < 0 ||
	    access(FI "fail_page_alloc", F_OK) || access(FI "failslab", F_OK)) {
		ksft_exit_fail_msg("needs gup_benchmark and the fail_page_alloc and failslab knobs\n");
	}
	inject_init();
	/* Every allocation may be failed: sleeping ones and user pages too. */
	knob(FI "fail_page_alloc/ignore-gfp-wait", "N");
	knob(FI "fail_page_alloc/ignore-gfp-highmem", "N");
	knob(FI "fail_page_alloc/min-order", "0");
	knob(FI "fail_page_alloc/verbose", "0");
	knob(FI "failslab/ignore-gfp-wait", "N");
	knob(FI "failslab/verbose", "0");

	for (i = 0; i < NOPS; i++) {
		sweep(i, 0, max);
		sweep(i, 1, max);
	}
	for (i = 0; i < NOPS; i++) {
		printf("figure: fault_%-13s %ld allocations failed in turn: %ld calls failed with an error, %ld did all they said\n",
		       op_name[i], steps[i], refused[i], done[i] - clean[i]);
		injected += steps[i];
	}
	printf("figure: faults_injected %ld\n", injected);
	if (thp_missing)
		ksft_print_msg("note: %d THP areas were not THP-backed\n", thp_missing);
	for (i = 0; i < NOPS; i++)
		ksft_test_result(steps[i] > 0,
				 "an allocation of every operation was failed\n");
	ksft_test_result(clean[0] + clean[1] + clean[2] + clean[3] + clean[4] + clean[5] ==
			 2 * NOPS, "every sweep ended with its operation passing whole\n");
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

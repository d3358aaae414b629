// SPDX-License-Identifier: GPL-2.0
/*
 * Usage: pin_protect TEST [SECONDS]
 *
 * A pinned page is one a device may write at any time, so the kernel must
 * keep it mapped where the pinning process sees it: fork, soft-dirty
 * tracking, reclaim and migration must all leave it alone. Each TEST pins
 * memory, provokes one of them, then has the "device" write the page
 * (PIN_HOLD_FILL of /sys/kernel/debug/gup_benchmark, or an io_uring read
 * into a fixed buffer) and checks who sees the write:
 *
 *   fork_base         a 2 MiB buffer of 4 KiB pages, long-term pinned, then
 *                     fork(): the child writes all of its copy, then the
 *                     parent writes every page and the device fills them;
 *                     the parent sees the fill, the child what the buffer
 *                     held at fork, then only its own writes
 *   fork_thp          the same on a THP (fork splits the pmd and copies)
 *   fork_thp_shortterm the same, pinned short-term: a long-term pin moves
 *                     a THP out of ZONE_MOVABLE, which splits it where
 *                     the kernel cannot migrate THPs (i386)
 *   fork_hugetlb      the same on a 2 MiB hugetlb page (fork copies it)
 *   fork_io_uring     16 4 KiB pages registered as an io_uring fixed
 *                     buffer, then fork(): the parent writes every page and
 *                     reads a tmpfs file into the buffer (READ_FIXED); the
 *                     parent sees the file, the child its pre-fork data
 *   fork_io_uring_thp the same on a THP buffer
 *   fork_fast_race    for SECONDS (default 10), three threads pin random
 *                     pages with pin_user_pages_fast(), write them, have
 *                     them filled and check they see the fill, while the
 *                     main thread forks in a loop
 *   soft_dirty        clear_refs (4) clears soft-dirty on unpinned pages
 *                     and leaves pinned ones writable in place
 *   mprotect_base     16 4 KiB pages pinned, then mprotect() toggles
 *                     PROT_EXEC twice, leaving them writable: the process
 *                     writes them, the device fills them, and the process
 *                     sees the fill
 *   mprotect_thp      the same on a THP, whose pmd a zap of its last page
 *                     then splits
 *   reclaim           MADV_PAGEOUT swaps out unpinned pages and leaves
 *                     pinned ones resident at their PFN (needs swap)
 *   movable_longterm  a FOLL_LONGTERM pin moves pages out of ZONE_MOVABLE
 *                     (boot with movablecore=), keeping their data, and
 *                     pins the pages mapped after the move
 *   movable_longterm_fast
 *                     the same through pin_user_pages_fast(), which finds
 *                     the pages mapped and must leave them to slow gup
 *   movable_shortterm a short-term pin leaves them where they are
 *   exact_count_churn for SECONDS (default 10), two threads pin and unpin
 *                     an 8 MiB THP range with pin_user_pages_fast() while
 *                     one zaps and refaults parts of it and one writes
 *                     debugfs split_huge_pages; every call must succeed
 *
 * Every test checks that acquired and released pins balance at the end.
 * Exits 0 when every check holds, 1 otherwise, printing what it saw.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/types.h>
#include "pin_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define FOLL_WRITE		0x01

/* Buffer contents: before fork, written by the parent, written by the device. */
#define PAT_FORK	0xa5
#define PAT_USER	0x01
#define PAT_DEVICE	0x5b
#define PAT_CHILD	0x3c

#define PM_PFN		((1ULL << 55) - 1)
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_SWAP		(1ULL << 62)
#define PM_PRESENT	(1ULL << 63)

static int gup_open(void)
{
	int fd = open(GUP_BENCHMARK_FILE, O_RDWR);

	if (fd < 0) {
		ksft_exit_fail_msg("open %s: %s\n", GUP_BENCHMARK_FILE, strerror(errno));
	}
	return fd;
}

/* gup_benchmark @cmd over [@addr, @addr + @size): 0, or the errno. */
static int gup_cmd(int fd, unsigned long cmd, void *addr, size_t size,
		   unsigned int batch, unsigned int flags, int pat)
{
	struct gup_benchmark gup = {
		.addr = (unsigned long)addr,
		.size = size,
		.nr_pages_per_call = batch,
		.flags = flags,
		.expansion = { pat },
	};

	return ioctl(fd, cmd, &gup) ? errno : 0;
}

static void must(int err, const char *what)
{
	if (err) {
		ksft_exit_fail_msg("%s: %s\n", what, strerror(err));
	}
}

/* Pin every page of [@addr, @addr + @size) on @fd with @cmd and keep the pins. */
static void hold(int fd, unsigned long cmd, void *addr, size_t size)
{
	must(gup_cmd(fd, cmd, addr, size, size / page_size,
		     FOLL_WRITE | GUP_BENCHMARK_CHECK, 0),
	     cmd == PIN_FAST_HOLD ? "PIN_FAST_HOLD" :
	     cmd == PIN_LONGTERM_HOLD ? "PIN_LONGTERM_HOLD" :
	     "PIN_FAST_LONGTERM_HOLD");
}

static void fill(int fd, int pat)
{
	must(gup_cmd(fd, PIN_HOLD_FILL, NULL, 0, 0, 0, pat), "PIN_HOLD_FILL");
}

static void release(int fd)
{
	must(gup_cmd(fd, PIN_HOLD_RELEASE, NULL, 0, 0, 0, 0), "PIN_HOLD_RELEASE");
}

/* Offset of the first byte of @buf that is not @pat, or -1. */
static long first_not(const char *buf, size_t size, int pat)
{
	size_t i;

	for (i = 0; i < size; i++)
		if ((unsigned char)buf[i] != pat)
			return i;
	return -1;
}

/* Check that all of @buf reads @pat; show the first byte that does not. */
static void expect(const char *buf, size_t size, int pat, const char *claim)
{
	long bad = first_not(buf, size, pat);

	if (bad >= 0)
		ksft_print_msg("byte %ld (page %ld) reads 0x%02x, expected 0x%02x\n",
			       bad, bad / page_size, (unsigned char)buf[bad], pat);
	ksft_test_result(bad < 0, "%s\n", claim);
}

static void write_every_page(char *buf, size_t size, int pat)
{
	size_t i;

	for (i = 0; i < size; i += page_size)
		buf[i] = pat;
}

/* Fill page i of the @n pages at @buf with the byte i. */
static void number_pages(char *buf, long n)
{
	long i;

	for (i = 0; i < n; i++)
		memset(buf + i * page_size, i, page_size);
}

static void check_numbered(const char *buf, long n, const char *claim)
{
	long i;

	for (i = 0; i < n; i++)
		if (first_not(buf + i * page_size, page_size, i & 0xff) >= 0)
			break;
	if (i < n)
		ksft_print_msg("page %ld lost its data\n", i);
	ksft_test_result(i == n, "%s\n", claim);
}

static void check_balanced(void)
{
	long held = pins_held();

	ksft_print_msg("pins held at the end: %ld\n", held);
	ksft_test_result(held == 0, "acquired and released pins balance\n");
}

/* The pagemap entries of the @n pages from @addr. */
static void pagemap(void *addr, long n, uint64_t *ent)
{
	off_t off = (unsigned long)addr / page_size * sizeof(*ent);
	ssize_t len = n * sizeof(*ent);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, ent, len, off) != len) {
		perror("/proc/self/pagemap");
		exit(1);
	}
	close(fd);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		ksft_exit_fail_msg("write %s to %s: %s\n", val, path, strerror(errno));
	}
	close(fd);
}

/*
 * fork() with the buffer pinned. The child checks that it reads @pat, the
 * buffer's content at fork, then writes all over its copy while the parent
 * waits; once the parent writes to the pipe it returns the write end of,
 * the child checks that it sees its own writes only, and exits with its
 * verdict.
 */
static pid_t fork_checking_child(char *buf, size_t size, int pat, int *go)
{
	int p[2], wrote[2], fails;
	pid_t pid;
	char c;

	if (pipe(p) || pipe(wrote)) {
		perror("pipe");
		exit(1);
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid) {
		close(p[0]);
		close(wrote[1]);
		*go = p[1];
		/* The child writes its copy first; then the parent goes on. */
		if (read(wrote[0], &c, 1) != 1)
			perror("read pipe");
		close(wrote[0]);
		return pid;
	}
	close(p[1]);
	close(wrote[0]);
	/* The child's verdict is on its own checks. */
	fails = ksft_get_fail_cnt();
	expect(buf, size, pat, "the child reads the buffer as it was at fork");
	/* Writes on both sides: the child's must stay in the child. */
	memset(buf, PAT_CHILD, size);
	if (write(wrote[1], "x", 1) != 1)
		perror("write pipe");
	if (read(p[0], &c, 1) < 0)
		perror("read pipe");
	expect(buf, size, PAT_CHILD,
	       "the child sees its own writes, not the parent's or the device's");
	exit(ksft_get_fail_cnt() > fails ? 1 : 0);
}

static void reap_child(pid_t pid, int go)
{
	int status;

	if (write(go, "x", 1) != 1)
		perror("write pipe");
	close(go);
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		exit(1);
	}
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status),
			 "the child saw the pre-fork content, then only its own writes\n");
}

enum kind { BASE, THP, HUGETLB };

static char *fork_buffer(enum kind kind, size_t size)
{
	char *buf;

	if (kind != HUGETLB)
		return touched_area(size, kind == THP ? size : page_size,
				    kind == THP);
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (buf == MAP_FAILED) {
		ksft_exit_fail_msg("mmap MAP_HUGETLB: %s\n", strerror(errno));
	}
	return buf;
}

static void test_fork(enum kind kind, int longterm)
{
	size_t size = 2 * MIB;
	long npages = size / page_size, held = pins_held();
	char *buf = fork_buffer(kind, size);
	pid_t pid;
	int fd, go;

	memset(buf, PAT_FORK, size);
	fd = gup_open();
	hold(fd, longterm ? PIN_LONGTERM_HOLD : PIN_FAST_HOLD, buf, size);
	held = pins_held() - held;
	ksft_print_msg("pins held: +%ld for %ld pages\n", held, npages);
	ksft_test_result(held == npages,
			 "the hold pins every 4 KiB page once\n");
	if (kind == THP)
		ksft_test_result(is_thp(buf),
				 "the pinned buffer is a THP at fork\n");

	pid = fork_checking_child(buf, size, PAT_FORK, &go);
	/* The write that used to move the parent off the pinned page. */
	write_every_page(buf, size, PAT_USER);
	fill(fd, PAT_DEVICE);
	expect(buf, size, PAT_DEVICE,
	       "the parent sees the device's write in every page");
	release(fd);
	check_balanced();
	reap_child(pid, go);
	close(fd);
}

/* Read @size bytes of @file into fixed buffer 0 at @buf; the result. */
static int read_fixed(int ring, struct io_uring_params *p, int file,
		      void *buf, size_t size)
{
	size_t sq_len = p->sq_off.array + p->sq_entries * sizeof(__u32);
	size_t cq_len = p->cq_off.cqes +
			p->cq_entries * sizeof(struct io_uring_cqe);
	size_t sqe_len = p->sq_entries * sizeof(struct io_uring_sqe);
	int prot = PROT_READ | PROT_WRITE, map = MAP_SHARED | MAP_POPULATE;
	char *sq = mmap(NULL, sq_len, prot, map, ring, IORING_OFF_SQ_RING);
	char *cq = mmap(NULL, cq_len, prot, map, ring, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqe = mmap(NULL, sqe_len, prot, map, ring,
					IORING_OFF_SQES);
	unsigned int *sq_tail = (unsigned int *)(sq + p->sq_off.tail);
	unsigned int *cq_head = (unsigned int *)(cq + p->cq_off.head);
	unsigned int tail, head, mask;
	struct io_uring_cqe *cqe;
	int res;

	if (sq == MAP_FAILED || cq == MAP_FAILED || sqe == MAP_FAILED) {
		perror("mmap io_uring");
		exit(1);
	}
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ_FIXED;
	sqe->fd = file;
	sqe->addr = (unsigned long)buf;
	sqe->len = size;
	sqe->buf_index = 0;
	tail = *sq_tail;
	mask = *(unsigned int *)(sq + p->sq_off.ring_mask);
	((unsigned int *)(sq + p->sq_off.array))[tail & mask] = 0;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0) != 1) {
		perror("io_uring_enter");
		exit(1);
	}
	head = *cq_head;
	if (head == __atomic_load_n((unsigned int *)(cq + p->cq_off.tail),
				    __ATOMIC_ACQUIRE)) {
		ksft_exit_fail_msg("no io_uring completion\n");
	}
	mask = *(unsigned int *)(cq + p->cq_off.ring_mask);
	cqe = (struct io_uring_cqe *)(cq + p->cq_off.cqes) + (head & mask);
	res = cqe->res;
	__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	munmap(sq, sq_len);
	munmap(cq, cq_len);
	munmap(sqe, sqe_len);
	return res;
}

/* A tmpfs file of @size bytes of @pat, already unlinked. */
static int data_file(size_t size, int pat)
{
	const char *path = "/tmp/pin_protect.data";
	char *data = malloc(size);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (!data || fd < 0) {
		perror(path);
		exit(1);
	}
	memset(data, pat, size);
	if (write(fd, data, size) != (ssize_t)size) {
		perror(path);
		exit(1);
	}
	unlink(path);
	free(data);
	return fd;
}

static void test_fork_io_uring(int thp)
{
	size_t size = thp ? 2 * MIB : 16 * page_size;
	struct io_uring_params params;
	int ring, file, go, res;
	struct iovec iov;
	pid_t pid;

	iov.iov_base = touched_area(size, thp ? size : page_size, thp);
	iov.iov_len = size;
	memset(iov.iov_base, PAT_FORK, size);
	file = data_file(size, PAT_DEVICE);
	ring = ring_open(&params);
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1)) {
		ksft_exit_fail_msg("IORING_REGISTER_BUFFERS: %s\n", strerror(errno));
	}
	if (thp)
		ksft_test_result(is_thp(iov.iov_base),
				 "the registered buffer is a THP at fork\n");

	pid = fork_checking_child(iov.iov_base, size, PAT_FORK, &go);
	write_every_page(iov.iov_base, size, PAT_USER);
	res = read_fixed(ring, &params, file, iov.iov_base, size);
	ksft_print_msg("READ_FIXED of %zu bytes: %d\n", size, res);
	ksft_test_result(res == (int)size, "the fixed-buffer read completes\n");
	expect(iov.iov_base, size, PAT_DEVICE,
	       "the parent sees the file's data in its buffer");
	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		    NULL, 0)) {
		perror("IORING_UNREGISTER_BUFFERS");
		exit(1);
	}
	check_balanced();
	reap_child(pid, go);
	close(ring);
	close(file);
}

/*
 * The window fork_fast_race aims at is a few instructions wide: gup-fast
 * pins a page between fork()'s look at it and fork()'s write-protect of
 * its pte. gup-fast pins a range in address order and falls back to slow
 * gup, which waits for fork(), at the first pte fork() has write-protected,
 * so a pinner sweeping its buffer upwards rarely gets ahead of fork() to
 * race it. Each pinner therefore pins its pages one at a time, one per
 * file, from the top of its buffer down: that sweep meets fork()'s upward
 * walk at one page, and pins it while fork() is on it. And a pinner that
 * faults waits for fork() to finish: fork() copies the vmas in address
 * order and write-protects each in turn, so the buffers sit below every
 * other vma a pinner writes to (its stack, the main thread's stack).
 */
#define RACE_BUFFERS	((void *)0x10000000UL)
#define RACE_PINNERS	2
#define RACE_PAGES	128
#define RACE_PAUSE_US	4000

struct race {
	char *buf;
	time_t end;
	long rounds;
	int failed;
	int *stop;
	long *forks;
	int go;
	int fd[RACE_PAGES];
	long page[RACE_PAGES];
};

/*
 * Write each held page, have the device fill it and check that the process
 * sees the fill: a page that fork() shared despite its pin is copied by the
 * write, and the fill does not reach the copy.
 */
static int race_check(struct race *r, int pat)
{
	char *page;
	int i, err;

	for (i = 0; i < RACE_PAGES; i++) {
		page = r->buf + r->page[i] * page_size;
		page[0] = PAT_USER;
		err = gup_cmd(r->fd[i], PIN_HOLD_FILL, NULL, 0, 0, 0, pat);
		if (err) {
			ksft_print_msg("PIN_HOLD_FILL: %s\n", strerror(err));
			return 1;
		}
		if ((unsigned char)page[page_size - 1] != pat) {
			ksft_print_msg("round %ld: page %ld reads 0x%02x, expected 0x%02x\n",
				       r->rounds, r->page[i],
				       (unsigned char)page[page_size - 1], pat);
			return 1;
		}
	}
	return 0;
}

/* Pin, write, fill and check pages until the end or a mismatch. */
static void *race_pinner(void *arg)
{
	struct race *r = arg;
	int i, held, err, pat;
	long forks;

	for (i = 0; i < RACE_PAGES; i++)
		r->fd[i] = gup_open();
	for (; time(NULL) < r->end && !r->failed &&
	       !__atomic_load_n(r->stop, __ATOMIC_ACQUIRE); r->rounds++) {
		/* 0x10..0xef: never PAT_USER, and new each round. */
		pat = 0x10 + r->rounds % 0xe0;
		/*
		 * fork() left the pages it shared write-protected, and
		 * gup-fast leaves those to slow gup: write them all, so that
		 * the pins find writable ptes for fork() to race with.
		 */
		write_every_page(r->buf, RACE_PAGES * page_size, PAT_USER);
		/* Pin as the main thread calls fork(), to meet its walk. */
		while (!__atomic_exchange_n(&r->go, 0, __ATOMIC_ACQ_REL) &&
		       !__atomic_load_n(r->stop, __ATOMIC_ACQUIRE))
			sched_yield();
		forks = __atomic_load_n(r->forks, __ATOMIC_ACQUIRE);
		for (held = 0; held < RACE_PAGES; held++) {
			r->page[held] = RACE_PAGES - 1 - held;
			err = gup_cmd(r->fd[held], PIN_FAST_HOLD,
				      r->buf + r->page[held] * page_size,
				      page_size, 1, FOLL_WRITE, 0);
			if (err) {
				ksft_print_msg("PIN_FAST_HOLD: %s\n", strerror(err));
				r->failed = 1;
				break;
			}
		}
		r->failed = r->failed || race_check(r, pat);
		/*
		 * A fork() that ran during the pins may not have flushed the
		 * stale writable TLB entries the first check wrote through:
		 * check again, still pinned, once that fork() has returned.
		 */
		while (!r->failed &&
		       __atomic_load_n(r->forks, __ATOMIC_ACQUIRE) < forks + 1 &&
		       !__atomic_load_n(r->stop, __ATOMIC_ACQUIRE))
			sched_yield();
		r->failed = r->failed || race_check(r, pat ^ 0xff);
		for (i = 0; i < held; i++) {
			err = gup_cmd(r->fd[i], PIN_HOLD_RELEASE, NULL, 0, 0, 0, 0);
			if (err) {
				ksft_print_msg("PIN_HOLD_RELEASE: %s\n", strerror(err));
				r->failed = 1;
			}
		}
	}
	__atomic_store_n(r->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < RACE_PAGES; i++)
		close(r->fd[i]);
	return NULL;
}

static char *race_buffer(int i)
{
	size_t size = RACE_PAGES * page_size;
	char *buf = RACE_BUFFERS + i * size;

	if (mmap(buf, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != buf ||
	    madvise(buf, size, MADV_NOHUGEPAGE)) {
		perror("race buffer");
		exit(1);
	}
	memset(buf, PAT_FORK, size);
	return buf;
}

static void test_fork_fast_race(int seconds)
{
	struct race r[RACE_PINNERS];
	pthread_t thread[RACE_PINNERS];
	unsigned int seed = getpid();
	long forks = 0, rounds = 0;
	int i, stop = 0, failed = 0;
	pid_t pid;

	fflush(stdout);
	for (i = 0; i < RACE_PINNERS; i++) {
		r[i] = (struct race){ .end = time(NULL) + seconds,
				      .stop = &stop, .forks = &forks };
		r[i].buf = race_buffer(i);
		if (pthread_create(&thread[i], NULL, race_pinner, &r[i])) {
			perror("pthread_create");
			exit(1);
		}
	}
	/*
	 * The children are reaped by the kernel. Between two forks, a pause
	 * of random length: a pinner's faults wait for a fork() in progress,
	 * and behind one that is waiting, so forks back to back would keep
	 * the pinners from ever getting their pages writable again.
	 */
	signal(SIGCHLD, SIG_IGN);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < RACE_PINNERS; i++)
			__atomic_store_n(&r[i].go, 1, __ATOMIC_RELEASE);
		pid = fork();
		if (!pid)
			_exit(0);
		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		__atomic_add_fetch(&forks, 1, __ATOMIC_RELEASE);
		usleep(rand_r(&seed) % RACE_PAUSE_US);
	}
	signal(SIGCHLD, SIG_DFL);
	for (i = 0; i < RACE_PINNERS; i++) {
		pthread_join(thread[i], NULL);
		rounds += r[i].rounds;
		failed |= r[i].failed;
	}
	ksft_print_msg("%ld rounds of %d single-page pins, %ld forks in %d s\n",
		       rounds, RACE_PAGES, forks, seconds);
	ksft_test_result(rounds > 0 && forks > 0,
			 "pins and forks ran concurrently\n");
	ksft_test_result(!failed,
			 "every round saw the device's write in every page it pinned\n");
	check_balanced();
}

static void test_soft_dirty(void)
{
	long n = 16, i, cleared = 0, dirty = 0;
	char *buf = touched_area(n * page_size, page_size, 0);
	uint64_t ent[16];
	int fd[2], ok = 1;

	memset(buf, PAT_FORK, n * page_size);
	/* Pages 0-3 and 8-11 pinned; 4-7 and 12-15 not. */
	for (i = 0; i < 2; i++) {
		fd[i] = gup_open();
		hold(fd[i], PIN_LONGTERM_HOLD, buf + 8 * i * page_size,
		     4 * page_size);
	}
	pagemap(buf, n, ent);
	for (i = 0; i < n; i++)
		dirty += !!(ent[i] & PM_SOFT_DIRTY);
	write_file("/proc/self/clear_refs", "4");
	pagemap(buf, n, ent);
	for (i = 0; i < n; i++)
		cleared += (i & 4) && !(ent[i] & PM_SOFT_DIRTY);
	ksft_print_msg("soft-dirty before clear_refs: %ld of %ld pages; cleared after: %ld of 8 unpinned\n",
		       dirty, n, cleared);
	ksft_test_result(dirty == n && cleared == 8,
			 "clear_refs clears soft-dirty on unpinned pages (soft-dirty works)\n");

	for (i = 0; i < n; i++)
		if (!(i & 4))
			buf[i * page_size] = PAT_USER;
	fill(fd[0], PAT_DEVICE);
	fill(fd[1], PAT_DEVICE);
	for (i = 0; i < n; i++) {
		if (!(i & 4) && first_not(buf + i * page_size, page_size,
					  PAT_DEVICE) >= 0) {
			ksft_print_msg("pinned page %ld does not read 0x%02x\n", i,
				       PAT_DEVICE);
			ok = 0;
		}
	}
	ksft_test_result(ok,
			 "written after clear_refs, pinned pages still see the device's write\n");
	release(fd[0]);
	release(fd[1]);
	check_balanced();
	close(fd[0]);
	close(fd[1]);
}

/*
 * mprotect() that leaves the buffer writable (PROT_EXEC on, then off,
 * twice) rebuilds its entries from a private mapping's protection, which
 * has no write bit: a pinned page's entry must keep it, or the process's
 * next write copies the page away from the device. On a THP, a zap of its
 * last page then splits the pmd: the ptes it leaves must be writable too.
 * The process writes the pages, the device fills them, and the process
 * must see the fill.
 */
static void test_mprotect(int thp)
{
	size_t size = thp ? 2 * MIB : 16 * page_size;
	char *buf = touched_area(size, thp ? 2 * MIB : page_size, thp);
	/* The pages that stay mapped: all but a THP's last. */
	size_t kept = thp ? size - page_size : size;
	int fd = gup_open(), i;

	memset(buf, PAT_FORK, size);
	hold(fd, PIN_FAST_HOLD, buf, size);
	if (thp)
		ksft_test_result(is_thp(buf), "the pinned buffer is a THP\n");
	for (i = 0; i < 2; i++) {
		if (mprotect(buf, size, PROT_READ | PROT_WRITE | PROT_EXEC) ||
		    mprotect(buf, size, PROT_READ | PROT_WRITE))
			ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	}
	if (thp && madvise(buf + kept, page_size, MADV_DONTNEED))
		ksft_exit_fail_msg("madvise: %s\n", strerror(errno));
	write_every_page(buf, kept, PAT_USER);
	fill(fd, PAT_DEVICE);
	expect(buf, kept, PAT_DEVICE, thp ?
	       "after mprotect() and a split of the pmd, the process sees the device's write" :
	       "after mprotect(), the process sees the device's write");
	release(fd);
	check_balanced();
	close(fd);
}

static int swap_active(void)
{
	char line[256];
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "r");

	while (f && fgets(line, sizeof(line), f))
		lines++;
	if (f)
		fclose(f);
	return lines > 1;
}

static void test_reclaim(void)
{
	long n = 64, i, swapped = 0, kept = 0, tries;
	size_t size = n * page_size;
	uint64_t pfn[64], ent[64];
	cpu_set_t cpu;
	char *buf;
	int fd;

	if (!swap_active()) {
		ksft_exit_fail_msg("no swap device in /proc/swaps\n");
	}
	/* One CPU: madvise's lru_add_drain() then reaches every new page. */
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	if (sched_setaffinity(0, sizeof(cpu), &cpu))
		perror("sched_setaffinity");
	buf = touched_area(size, page_size, 0);
	number_pages(buf, n);
	fd = gup_open();
	hold(fd, PIN_LONGTERM_HOLD, buf, size / 2);
	pagemap(buf, n, pfn);

	for (tries = 1; tries <= 4 && swapped < n / 2; tries++) {
		if (madvise(buf, size, MADV_PAGEOUT)) {
			ksft_exit_fail_msg("MADV_PAGEOUT: %s\n", strerror(errno));
		}
		pagemap(buf, n, ent);
		for (i = 0, swapped = 0; i < n / 2; i++)
			swapped += !!(ent[n / 2 + i] & PM_SWAP);
	}
	for (i = 0; i < n / 2; i++)
		kept += (ent[i] & PM_PRESENT) && (pfn[i] & PM_PRESENT) &&
			(ent[i] & PM_PFN) == (pfn[i] & PM_PFN);
	ksft_print_msg("after %ld MADV_PAGEOUT: %ld of %ld unpinned pages swapped\n",
		       tries - 1, swapped, n / 2);
	ksft_print_msg("%ld of %ld pinned pages resident at their PFN\n", kept, n / 2);
	ksft_test_result(swapped == n / 2,
			 "MADV_PAGEOUT swaps out every unpinned page\n");
	ksft_test_result(kept == n / 2,
			 "MADV_PAGEOUT leaves every pinned page resident at its PFN\n");
	check_numbered(buf, n, "every page keeps its data");
	fill(fd, PAT_DEVICE);
	expect(buf, size / 2, PAT_DEVICE,
	       "the device's write lands in the pinned pages mapped");
	release(fd);
	check_balanced();
	close(fd);
}

/*
 * ZONE_MOVABLE's pfn range [*start, *end) and its node from /proc/zoneinfo
 * (movablecore= puts it all on the last node).
 */
static void movable_zone(unsigned long *start, unsigned long *end, int *nid)
{
	unsigned long val, spanned = 0;
	char line[256], zone[32];
	int in_movable = 0, node = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	*start = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %31s", &node, zone) == 2)
			in_movable = !strcmp(zone, "Movable");
		else if (in_movable && sscanf(line, " spanned %lu", &val) == 1 &&
			 val) {
			spanned = val;
			*nid = node;
		}
		else if (in_movable && sscanf(line, " start_pfn: %lu", &val) == 1)
			*start = val;
	}
	if (f)
		fclose(f);
	*end = *start + spanned;
	if (!spanned) {
		ksft_exit_fail_msg("no ZONE_MOVABLE in /proc/zoneinfo: boot with movablecore=\n");
	}
	ksft_print_msg("ZONE_MOVABLE: pfn %#lx-%#lx\n", *start, *end);
}

static long in_range(const uint64_t *ent, long n, unsigned long start,
		     unsigned long end)
{
	long i, count = 0;

	for (i = 0; i < n; i++)
		count += (ent[i] & PM_PRESENT) && (ent[i] & PM_PFN) >= start &&
			 (ent[i] & PM_PFN) < end;
	return count;
}

static void test_movable(unsigned long cmd)
{
	int longterm = cmd != PIN_FAST_HOLD;
	long n = 256, i, moved = 0;
	size_t size = n * page_size;
	uint64_t before[256], after[256];
	unsigned long start, end, mask;
	char *buf;
	int fd, nid = 0;

	movable_zone(&start, &end, &nid);
	/*
	 * On the zone's node, where a NUMA guest may not run this test (a
	 * kernel without NUMA has no mbind(), and one node).
	 */
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mask = 1UL << nid;
	if (buf == MAP_FAILED ||
	    (syscall(SYS_mbind, buf, size, 1 /* MPOL_PREFERRED */, &mask,
		     sizeof(mask) * 8, 0) && errno != ENOSYS)) {
		perror("mmap and mbind");
		exit(1);
	}
	madvise(buf, size, MADV_NOHUGEPAGE);
	memset(buf, 1, size);
	number_pages(buf, n);
	pagemap(buf, n, before);
	ksft_print_msg("before the pin: %ld of %ld pages in ZONE_MOVABLE\n",
		       in_range(before, n, start, end), n);
	ksft_test_result(in_range(before, n, start, end) > 0,
			 "some pages start out in ZONE_MOVABLE\n");

	fd = gup_open();
	hold(fd, cmd, buf, size);
	pagemap(buf, n, after);
	for (i = 0; i < n; i++)
		moved += (after[i] & PM_PFN) != (before[i] & PM_PFN);
	ksft_print_msg("pinned: %ld pages in ZONE_MOVABLE, %ld moved\n",
		       in_range(after, n, start, end), moved);
	if (longterm)
		ksft_test_result(in_range(after, n, start, end) == 0,
				 "a long-term pin moves every page out of ZONE_MOVABLE\n");
	else
		ksft_test_result(moved == 0,
				 "a short-term pin moves no page\n");
	check_numbered(buf, n, "every pinned page keeps its data");
	fill(fd, PAT_DEVICE);
	expect(buf, size, PAT_DEVICE,
	       "the device's write lands in the pinned pages mapped");
	release(fd);
	check_balanced();
	close(fd);
}

struct churn {
	char *buf;
	size_t size;
	unsigned int batch;	/* pinners: pages per pin_user_pages_fast() */
	long calls;
	int err;
	int *stop;
};

static int stopped(struct churn *c)
{
	return __atomic_load_n(c->stop, __ATOMIC_ACQUIRE);
}

static void *churn_pin(void *arg)
{
	struct churn *c = arg;
	int fd = gup_open();

	for (; !stopped(c) && !c->err; c->calls++)
		c->err = gup_cmd(fd, PIN_FAST_BENCHMARK, c->buf, c->size,
				 c->batch, FOLL_WRITE, 0);
	close(fd);
	return NULL;
}

/* Zap a random part of the range, a whole THP or less, and fault it back. */
static void *churn_zap(void *arg)
{
	struct churn *c = arg;
	unsigned int seed = 1;
	size_t off, len;

	for (; !stopped(c) && !c->err; c->calls++) {
		off = rand_r(&seed) % (c->size / (2 * MIB)) * 2 * MIB;
		len = 2 * MIB;
		if (rand_r(&seed) & 1) {
			off += rand_r(&seed) % 256 * page_size;
			len = (1 + rand_r(&seed) % 256) * page_size;
		}
		if (madvise(c->buf + off, len, MADV_DONTNEED))
			c->err = errno;
		write_every_page(c->buf + off, len, PAT_USER);
	}
	return NULL;
}

static void *churn_split(void *arg)
{
	const char *path = "/sys/kernel/debug/split_huge_pages";
	struct churn *c = arg;
	int fd;

	for (; !stopped(c) && !c->err; c->calls++) {
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, "1", 1) != 1)
			c->err = errno;
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static void test_exact_count_churn(int seconds)
{
	static const char *const names[] = {
		"pin (512 per call)", "pin (37 per call)", "zap", "split",
	};
	void *(*const fns[])(void *) = {
		churn_pin, churn_pin, churn_zap, churn_split,
	};
	size_t size = 8 * MIB;
	char *buf = touched_area(size, 2 * MIB, 1);
	struct churn c[4];
	pthread_t thread[4];
	int i, stop = 0, ok = 1;

	ksft_test_result(is_thp(buf), "the 8 MiB range starts out as THPs\n");
	fflush(stdout);
	for (i = 0; i < 4; i++) {
		c[i] = (struct churn){ .buf = buf, .size = size, .stop = &stop,
				       .batch = i ? 37 : 512 };
		if (pthread_create(&thread[i], NULL, fns[i], &c[i])) {
			perror("pthread_create");
			exit(1);
		}
	}
	sleep(seconds);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 4; i++) {
		pthread_join(thread[i], NULL);
		ksft_print_msg("%s: %ld calls, %s\n", names[i], c[i].calls,
			       c[i].err ? strerror(c[i].err) : "no error");
		ok &= !c[i].err && c[i].calls > 0;
	}
	ksft_test_result(ok,
			 "every pin, zap and split call succeeded while the others ran\n");
	check_balanced();
}

int main(int argc, char **argv)
{
	int seconds = argc > 2 ? atoi(argv[2]) : 10;
	const char *t = argc > 1 ? argv[1] : "";

	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(t, "fork_base"))
		test_fork(BASE, 1);
	else if (!strcmp(t, "fork_thp"))
		test_fork(THP, 1);
	else if (!strcmp(t, "fork_thp_shortterm"))
		test_fork(THP, 0);
	else if (!strcmp(t, "fork_hugetlb"))
		test_fork(HUGETLB, 1);
	else if (!strcmp(t, "fork_io_uring"))
		test_fork_io_uring(0);
	else if (!strcmp(t, "fork_io_uring_thp"))
		test_fork_io_uring(1);
	else if (!strcmp(t, "fork_fast_race"))
		test_fork_fast_race(seconds);
	else if (!strcmp(t, "soft_dirty"))
		test_soft_dirty();
	else if (!strcmp(t, "mprotect_base"))
		test_mprotect(0);
	else if (!strcmp(t, "mprotect_thp"))
		test_mprotect(1);
	else if (!strcmp(t, "reclaim"))
		test_reclaim();
	else if (!strcmp(t, "movable_longterm"))
		test_movable(PIN_LONGTERM_HOLD);
	else if (!strcmp(t, "movable_longterm_fast"))
		test_movable(PIN_FAST_LONGTERM_HOLD);
	else if (!strcmp(t, "movable_shortterm"))
		test_movable(PIN_FAST_HOLD);
	else if (!strcmp(t, "exact_count_churn"))
		test_exact_count_churn(seconds);
	else {
		fprintf(stderr, "usage: %s fork_base|fork_thp|"
			"fork_thp_shortterm|fork_hugetlb|"
			"fork_io_uring|fork_io_uring_thp|fork_fast_race|"
			"soft_dirty|mprotect_base|mprotect_thp|reclaim|"
			"movable_longterm|movable_longterm_fast|"
			"movable_shortterm|"
			"exact_count_churn [SECONDS]\n", argv[0]);
		return 2;
	}
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

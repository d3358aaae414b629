// SPDX-License-Identifier: GPL-2.0
/*
 * Usage: pin_dio TEST [ARGS]
 *
 * Direct IO (O_DIRECT) hands the user's pages to the device, which reads
 * or writes them while the syscall waits: they must be pinned (FOLL_PIN),
 * one pin per 4 KiB page of the buffer per request, released when the IO
 * completes. A pin, unlike a plain reference, makes fork() leave the
 * pinned page with the parent, so a read in flight across fork() lands in
 * the memory of the process that asked for it.
 *
 *   rw PATH SIZE          O_DIRECT write, then O_DIRECT read, of SIZE bytes
 *                         at offset 0 of PATH (a block device, or a file,
 *                         created if need be) from and into touched
 *                         anonymous memory: each request adds SIZE / 4 KiB
 *                         to nr_foll_pin_acquired, released catches up,
 *                         and the read returns what was written
 *   fork_inflight PATH    PATH is a device whose reads are slow (dm-delay),
 *                         or a file on one: a thread reads 2 KiB of it into
 *                         the first half of a page, the main thread forks
 *                         while the read is in flight, the child writes
 *                         all of its copy and the parent the second half
 *                         of the page; the parent must see the data read,
 *                         five rounds out of five
 *   read_error PATH SIZE  PATH is a device whose reads fail (dm error, under
 *                         dm-delay so that they fail late): an O_DIRECT read
 *                         of SIZE bytes fails with EIO, and takes and
 *                         releases one pin per 4 KiB page
 *   zero_page             9 GiB of never-touched anonymous memory, read
 *                         pinned at once through gup_benchmark's hold
 *                         ioctls: 2359296 pins of the shared zero page,
 *                         more than its refcount could count at
 *                         GUP_PIN_COUNTING_BIAS each; all must be taken,
 *                         counted and released; then gup_benchmark's
 *                         check mode passes over 8 MiB of it, and over
 *                         the huge zero page while another holder pins it
 *
 * Exits 0 when every check holds, 1 otherwise, printing what it saw.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/types.h>
/* Its THP and io_uring helpers are for the other pin tests. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pin_util.h"
#pragma GCC diagnostic pop

#define GIB		(1024 * MIB)

/* Bytes written by the parent and by the child after fork. */
#define PAT_USER	0x01
#define PAT_CHILD	0x3c

/* fork_inflight: the read, and the parent's write after it in the same page. */
#define READ_SIZE	2048
#define PARENT_BYTE	3000
#define ROUNDS		5

/* How long released may take to catch up after the syscall returned. */
#define RELEASE_WAIT_MS	5000

#define PM_PFN		((1ULL << 55) - 1)
#define PM_PRESENT	(1ULL << 63)

/* The largest range one hold takes (GUP_BENCHMARK_MAX_SIZE). */
#define HOLD_MAX	GIB
#define ZERO_GIB	9
#define ZERO_CHECK	(8 * MIB)
#define HPAGE		(2 * MIB)

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}


/*
 * Check one request's pins: acquired rose by exactly @pages since @before,
 * and released caught up. A waiter may be woken before the completion
 * releases the pages (iomap releases them after the wake-up, and a read
 * whose pages need dirtying releases them from a workqueue), so released
 * gets a moment.
 */
static void check_request_pins(const struct pins *before, long pages,
			       const char *what)
{
	long held_before = before->acquired - before->released;
	long start = now_ms();
	char claim[160];
	struct pins after;

	if (!pins_read(&after))
		return;
	while (after.acquired - after.released != held_before &&
	       now_ms() - start < RELEASE_WAIT_MS) {
		sleep_ms(10);
		pins_read(&after);
	}
	ksft_print_msg("%s: nr_foll_pin_acquired +%ld, nr_foll_pin_released +%ld (%ld pages)\n",
		       what, after.acquired - before->acquired,
		       after.released - before->released, pages);
	snprintf(claim, sizeof(claim),
		 "%s takes exactly one pin per 4 KiB page", what);
	ksft_test_result(after.acquired - before->acquired == pages, "%s\n", claim);
	snprintf(claim, sizeof(claim),
		 "%s releases its pins once complete", what);
	ksft_test_result(after.acquired - after.released == held_before, "%s\n", claim);
}

static int open_direct(const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT, 0644);

	if (fd < 0) {
		ksft_exit_fail_msg("open %s O_DIRECT: %s\n", path, strerror(errno));
	}
	return fd;
}

/* Byte @i of a pattern that differs from page to page and from any fill. */
static unsigned char pattern(size_t i)
{
	return (i * 7 + i / 4096 * 13 + 0x40) & 0xff;
}

static void fill_pattern(char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		buf[i] = pattern(i);
}

/* Offset of the first byte of @buf[0..@size) that is not pattern(), or -1. */
static long pattern_mismatch(const char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if ((unsigned char)buf[i] != pattern(i))
			return i;
	return -1;
}

static void test_rw(const char *path, size_t size)
{
	long pages = size / page_size, bad;
	char *wbuf = touched_area(size, page_size, 0);
	char *rbuf = touched_area(size, page_size, 0);
	int fd = open_direct(path, O_RDWR | O_CREAT);
	struct pins before;
	int counters;
	ssize_t n;

	fill_pattern(wbuf, size);
	memset(rbuf, 0, size);

	counters = pins_read(&before);
	n = pwrite(fd, wbuf, size, 0);
	if (n < 0)
		ksft_print_msg("pwrite: %s\n", strerror(errno));
	ksft_test_result(n == (ssize_t)size,
			 "the O_DIRECT write writes it all\n");
	if (counters)
		check_request_pins(&before, pages, "the O_DIRECT write");

	counters = pins_read(&before);
	n = pread(fd, rbuf, size, 0);
	if (n < 0)
		ksft_print_msg("pread: %s\n", strerror(errno));
	ksft_test_result(n == (ssize_t)size,
			 "the O_DIRECT read reads it all\n");
	if (counters)
		check_request_pins(&before, pages, "the O_DIRECT read");

	bad = pattern_mismatch(rbuf, size);
	if (bad >= 0)
		ksft_print_msg("byte %ld read 0x%02x, written 0x%02x\n", bad,
			       (unsigned char)rbuf[bad], pattern(bad));
	ksft_test_result(bad < 0, "the read returns what was written\n");
	close(fd);
}

struct reader {
	int fd;
	char *buf;
	ssize_t ret;
	int err;
	int done;
	long ms;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	long start = now_ms();

	r->ret = pread(r->fd, r->buf, READ_SIZE, 0);
	r->err = errno;
	r->ms = now_ms() - start;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int reader_done(struct reader *r)
{
	return __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
}

/*
 * One round of fork_inflight; true if the parent saw the data read. Where
 * the read holds a plain reference instead of a pin, fork() shares the page
 * copy-on-write, the parent's write gives the parent a copy, and the read
 * lands in the page that the parent no longer maps.
 */
static int fork_round(int fd, int round, int counters)
{
	int fill = 0x80 + round, status, in_flight, ok = 1;
	char *buf = touched_area(page_size, page_size, 0);
	struct reader r = { .fd = fd, .buf = buf };
	long held = 0, bad, start;
	pthread_t thread;
	pid_t pid;

	memset(buf, fill, page_size);
	if (counters)
		held = pins_held();
	if (pthread_create(&thread, NULL, reader, &r)) {
		perror("pthread_create");
		exit(1);
	}
	/*
	 * The read is in flight once its pages are taken and its bio queued
	 * in dm-delay. A pin shows in the counters; a plain reference does
	 * not, so give the reader time to get there in any case.
	 */
	sleep_ms(100);
	start = now_ms();
	while (counters && pins_held() == held && !reader_done(&r) &&
	       now_ms() - start < 1000)
		sleep_ms(5);
	if (counters)
		ksft_print_msg("round %d: %ld pins held at fork\n", round,
			       pins_held() - held);

	in_flight = !reader_done(&r);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (!pid) {
		/* Writes on both sides: the child's must stay in the child. */
		memset(buf, PAT_CHILD, page_size);
		_exit(0);
	}
	/* The write that moves the parent off a page shared copy-on-write. */
	buf[PARENT_BYTE] = PAT_USER;
	in_flight = in_flight && !reader_done(&r);
	pthread_join(thread, NULL);
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		exit(1);
	}

	ksft_print_msg("round %d: the read returned %zd after %ld ms, %s\n", round,
		       r.ret, r.ms, in_flight ?
		       "in flight at fork and at the parent's write" :
		       "done before the parent's write");
	if (r.ret != READ_SIZE) {
		ksft_print_msg("round %d: FAIL: read %zd of %d bytes: %s\n", round,
			       r.ret, READ_SIZE, strerror(r.err));
		ok = 0;
	}
	if (!in_flight) {
		ksft_print_msg("round %d: FAIL: the read was not in flight (delay too short?)\n",
			       round);
		ok = 0;
	}
	bad = pattern_mismatch(buf, READ_SIZE);
	if (bad >= 0) {
		ksft_print_msg("round %d: FAIL: buf[%ld] reads 0x%02x, the device holds 0x%02x%s\n",
			       round, bad, (unsigned char)buf[bad], pattern(bad),
			       (unsigned char)buf[bad] == fill ?
			       " (the buffer's fill: the read landed elsewhere)" : "");
		ok = 0;
	}
	if ((unsigned char)buf[PARENT_BYTE] != PAT_USER ||
	    (unsigned char)buf[READ_SIZE] != fill) {
		ksft_print_msg("round %d: FAIL: the parent's own bytes changed: buf[%d] 0x%02x, buf[%d] 0x%02x\n",
			       round, PARENT_BYTE, (unsigned char)buf[PARENT_BYTE],
			       READ_SIZE, (unsigned char)buf[READ_SIZE]);
		ok = 0;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("round %d: FAIL: the child did not exit 0\n", round);
		ok = 0;
	}
	if (ok)
		ksft_print_msg("round %d: the parent sees the data read\n", round);
	munmap(buf, page_size);
	return ok;
}

static void test_fork_inflight(const char *path)
{
	char *buf = touched_area(page_size, page_size, 0);
	int fd = open_direct(path, O_RDWR | O_CREAT);
	int round, seen = 0, counters;
	struct pins p;
	long start;

	/* What the reads must find, written past the page cache. */
	fill_pattern(buf, page_size);
	if (pwrite(fd, buf, page_size, 0) != page_size || fsync(fd)) {
		ksft_exit_fail_msg("write the pattern to %s: %s\n", path,
				   strerror(errno));
	}
	memset(buf, 0, page_size);
	start = now_ms();
	if (pread(fd, buf, page_size, 0) != page_size ||
	    pattern_mismatch(buf, page_size) >= 0) {
		ksft_exit_fail_msg("%s does not read back its pattern\n", path);
	}
	ksft_print_msg("an O_DIRECT read of %s takes %ld ms\n", path, now_ms() - start);
	munmap(buf, page_size);

	counters = pins_read(&p);
	for (round = 1; round <= ROUNDS; round++)
		seen += fork_round(fd, round, counters);
	ksft_print_msg("%d of %d rounds: the parent sees the data read\n", seen, ROUNDS);
	ksft_test_result(seen == ROUNDS,
			 "a read in flight across fork() lands in the parent's buffer\n");
	close(fd);
}

static void test_read_error(const char *path, size_t size)
{
	char *buf = touched_area(size, page_size, 0);
	int fd = open_direct(path, O_RDONLY);
	struct pins before;
	int counters;
	ssize_t n;
	long start;

	counters = pins_read(&before);
	start = now_ms();
	n = pread(fd, buf, size, 0);
	ksft_print_msg("pread of %zu bytes: %zd (%s) after %ld ms\n", size, n,
		       n < 0 ? strerror(errno) : "no error", now_ms() - start);
	ksft_test_result(n < 0 && errno == EIO,
			 "the O_DIRECT read fails with EIO\n");
	if (counters)
		check_request_pins(&before, size / page_size,
				   "the failed O_DIRECT read");
	close(fd);
}

static int gup_hold(int fd, void *addr, size_t size, __u64 *usec)
{
	struct gup_benchmark gup = {
		.addr = (unsigned long)addr,
		.size = size,
		.nr_pages_per_call = size / page_size,
		.flags = 0,	/* a read pin: no FOLL_WRITE, no COW break */
	};

	if (ioctl(fd, PIN_FAST_HOLD, &gup))
		return errno;
	*usec = gup.get_delta_usec;
	return 0;
}

/*
 * gup_benchmark's check mode (GUP_BENCHMARK_CHECK) over @size bytes at
 * @addr, a read pin: the kernel pins, checks the counts, unpins, checks
 * again. Return: 0, or the errno (EIO: a check failed, see dmesg).
 */
static int check_pins(int fd, void *addr, size_t size)
{
	struct gup_benchmark gup = {
		.addr = (unsigned long)addr,
		.size = size,
		.nr_pages_per_call = size / page_size,
		.flags = GUP_BENCHMARK_CHECK,
	};

	return ioctl(fd, PIN_BENCHMARK, &gup) ? errno : 0;
}

static int gup_release(int fd)
{
	struct gup_benchmark gup = { 0 };

	return ioctl(fd, PIN_HOLD_RELEASE, &gup) ? errno : 0;
}

/* The pagemap entry of the page at @addr. */
static uint64_t pagemap(void *addr)
{
	off_t off = (unsigned long)addr / page_size * sizeof(uint64_t);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t ent = 0;

	if (fd < 0 || pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		perror("/proc/self/pagemap");
	if (fd >= 0)
		close(fd);
	return ent;
}

/*
 * The huge zero page is every process's, and any of them may pin it: a
 * pin held through @hold_fd, another gup_benchmark file, must not fail
 * gup_benchmark's check through @check_fd of a range that maps it.
 */
static void test_huge_zero_page(int hold_fd, int check_fd)
{
	char *raw, *p;
	uint64_t ent0, ent1;
	__u64 usec;
	int err;

	raw = mmap(NULL, 2 * HPAGE, PROT_READ,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	madvise(p, HPAGE, MADV_HUGEPAGE);
	err = gup_hold(hold_fd, p, HPAGE, &usec);
	if (err)
		ksft_exit_fail_msg("hold of the huge zero page: %s\n", strerror(err));
	/* Read-faulted, 2 MiB-aligned and contiguous: the huge zero page. */
	ent0 = pagemap(p);
	ent1 = pagemap(p + page_size);
	if (!(ent0 & PM_PRESENT) || (ent0 & PM_PFN) % (HPAGE / page_size) ||
	    (ent1 & PM_PFN) != (ent0 & PM_PFN) + 1) {
		ksft_test_result_skip("no huge zero page here (THP or use_zero_page off)\n");
	} else {
		err = check_pins(check_fd, p, HPAGE);
		if (err)
			ksft_print_msg("check: %s\n", strerror(err));
		ksft_test_result(!err, "gup_benchmark's check passes over the huge zero page while another holder pins it\n");
	}
	err = gup_release(hold_fd);
	if (err)
		ksft_print_msg("release: %s\n", strerror(err));
	munmap(raw, 2 * HPAGE);
}

/*
 * 2^31 / GUP_PIN_COUNTING_BIAS = 2097152 pins is all that a page's refcount
 * can count. Every pin of never-written private anonymous memory without
 * FOLL_WRITE is a pin of the one shared zero page, which any process can
 * take as often as it likes: those must not be counted in its refcount.
 */
static void test_zero_page(void)
{
	size_t size = ZERO_GIB * GIB;
	long pages = size / page_size, held = 0, ms;
	int fd[ZERO_GIB], i, err, same = 1;
	__u64 usec = 0, total_usec = 0;
	uint64_t first, ent;
	struct pins before, pinned, after;
	char *area;

	/* Read-only and never touched: every page reads as the zero page. */
	area = mmap(NULL, size, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED) {
		ksft_exit_fail_msg("mmap %d GiB: %s\n", ZERO_GIB, strerror(errno));
	}
	/* Not the huge zero page: that is another page, with its own count. */
	if (madvise(area, size, MADV_NOHUGEPAGE)) {
		perror("madvise");
		exit(1);
	}
	for (i = 0; i < ZERO_GIB; i++) {
		fd[i] = open(GUP_BENCHMARK_FILE, O_RDWR);
		if (fd[i] < 0) {
			ksft_exit_fail_msg("open %s: %s\n", GUP_BENCHMARK_FILE,
					   strerror(errno));
		}
	}

	pins_read(&before);
	ms = now_ms();
	for (i = 0; i < ZERO_GIB; i++) {
		err = gup_hold(fd[i], area + i * HOLD_MAX, HOLD_MAX, &usec);
		if (err) {
			ksft_print_msg("hold of GiB %d (pins %ld-%ld of the zero page): %s\n",
				       i, held, held + HOLD_MAX / page_size - 1,
				       strerror(err));
			break;
		}
		held += HOLD_MAX / page_size;
		total_usec += usec;
	}
	ms = now_ms() - ms;
	ksft_print_msg("%ld pins of %ld taken in %ld ms (%llu us in pin_user_pages_fast)\n",
		       held, pages, ms, (unsigned long long)total_usec);
	ksft_test_result(held == pages,
			 "every GiB of the zero page is pinned\n");

	/* The same present page, the zero page, at the end of every GiB pinned. */
	first = pagemap(area);
	for (i = 0; i < held / (HOLD_MAX / page_size); i++) {
		ent = pagemap(area + i * HOLD_MAX + HOLD_MAX - page_size);
		same &= (ent & PM_PRESENT) && (first & PM_PRESENT) &&
			(ent & PM_PFN) == (first & PM_PFN);
	}
	if (held) {
		ksft_print_msg("pfn of the pinned pages: %#llx\n",
			       (unsigned long long)(first & PM_PFN));
		ksft_test_result(same,
				 "the pinned range maps one page throughout: the zero page\n");
	}

	if (pins_read(&pinned)) {
		ksft_print_msg("while held: nr_foll_pin_acquired +%ld, pins held +%ld\n",
			       pinned.acquired - before.acquired,
			       (pinned.acquired - pinned.released) -
			       (before.acquired - before.released));
		ksft_test_result(pinned.acquired - before.acquired == held,
				 "nr_foll_pin_acquired counts every pin taken\n");
	}

	for (i = 0; i < ZERO_GIB; i++) {
		err = i < held / (HOLD_MAX / page_size) ? gup_release(fd[i]) : 0;
		if (err)
			ksft_print_msg("release of GiB %d: %s\n", i, strerror(err));
	}
	if (pins_read(&after)) {
		ksft_print_msg("after release: nr_foll_pin_released +%ld\n",
			       after.released - before.released);
		ksft_test_result(after.acquired - after.released ==
				 before.acquired - before.released, "every pin is released\n");
	}

	/*
	 * gup_benchmark's check over the zero page alone: its pins take no
	 * references, nor must the check's own hold of what it unpinned, 2048
	 * of them here, which would read as a pin of the zero page.
	 */
	err = check_pins(fd[0], area, ZERO_CHECK);
	if (err)
		ksft_print_msg("check of %lu MiB: %s\n", ZERO_CHECK / MIB, strerror(err));
	ksft_test_result(!err, "gup_benchmark's check passes over %lu MiB of the zero page\n",
			 ZERO_CHECK / MIB);

	test_huge_zero_page(fd[1], fd[0]);

	for (i = 0; i < ZERO_GIB; i++)
		close(fd[i]);
	munmap(area, size);
}

int main(int argc, char **argv)
{
	const char *t = argc > 1 ? argv[1] : "";
	size_t size = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	long start;

	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	start = now_ms();
	if (!strcmp(t, "rw") && argc == 4 && size && !(size % page_size))
		test_rw(argv[2], size);
	else if (!strcmp(t, "fork_inflight") && argc == 3)
		test_fork_inflight(argv[2]);
	else if (!strcmp(t, "read_error") && argc == 4 && size &&
		 !(size % page_size))
		test_read_error(argv[2], size);
	else if (!strcmp(t, "zero_page") && argc == 2)
		test_zero_page();
	else {
		fprintf(stderr, "usage: %s rw PATH SIZE | fork_inflight PATH | "
			"read_error PATH SIZE | zero_page\n"
			"SIZE: a multiple of the page size\n", argv[0]);
		return 2;
	}
	ksft_print_msg("%s took %ld ms\n", t, now_ms() - start);
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

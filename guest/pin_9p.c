// SPDX-License-Identifier: GPL-2.0
/*
 * Usage: pin_9p read|write PATH SIZE
 *
 * 9p over virtio hands the pages of the caller's buffer straight to the
 * host for a zero-copy request: p9_client_read_once() and
 * p9_client_write() take that path for chunks over 1 KiB when the
 * transport has zc_request, and trans_virtio pins the user pages
 * (iov_iter_pin_pages_alloc()) until the host has answered. PATH is a
 * file on a 9p mount with cache=none, so that every read and write goes
 * to the host in chunks of the fid's iounit (at most msize less the
 * header).
 *
 *   read   fill PATH with a pattern in 1 KiB writes (copied, not
 *          zero-copy: they take no pin), then read SIZE bytes of it in one
 *          pread() into touched, page-aligned anonymous memory: the data
 *          is the pattern and nr_foll_pin_acquired rose by at least one
 *          per 4 KiB page of the buffer (a chunk that straddles pages pins
 *          both), and released caught up
 *   write  write SIZE bytes of the pattern from such memory in one
 *          pwrite(), with the same pin checks, then read PATH back in
 *          1 KiB reads (copied): the host got the pattern
 *
 * Exits 0 when every check holds, 1 otherwise, printing what it saw.
 */
#include <stdint.h>
#include <time.h>
/* Its THP and io_uring helpers are for the other pin tests. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pin_util.h"
#pragma GCC diagnostic pop

/* At most this per request goes the copying way (p9_client_rpc()). */
#define SMALL	1024

/* Byte @i of the file: differs from page to page and from any fill. */
static unsigned char pattern(size_t i)
{
	return (i * 7 + i / 4096 * 13 + 0x40) & 0xff;
}

/* Write (@write) or read and check all of @fd in SMALL-byte requests. */
static int small_io(int fd, size_t size, int write)
{
	unsigned char b[SMALL];
	size_t off, i;

	for (off = 0; off < size; off += SMALL) {
		if (write) {
			for (i = 0; i < SMALL; i++)
				b[i] = pattern(off + i);
			if (pwrite(fd, b, SMALL, off) != SMALL) {
				ksft_print_msg("pwrite of %d bytes at %zu: %s\n", SMALL,
					       off, strerror(errno));
				return 0;
			}
			continue;
		}
		memset(b, 0, SMALL);
		if (pread(fd, b, SMALL, off) != SMALL) {
			ksft_print_msg("pread of %d bytes at %zu: %s\n", SMALL, off,
				       strerror(errno));
			return 0;
		}
		for (i = 0; i < SMALL; i++) {
			if (b[i] != pattern(off + i)) {
				ksft_print_msg("byte %zu reads 0x%02x, not 0x%02x\n",
					       off + i, b[i], pattern(off + i));
				return 0;
			}
		}
	}
	return 1;
}

static void test(const char *what, const char *path, size_t size)
{
	int write = !strcmp(what, "write"), counters, ok;
	long pages = size / page_size, bad = -1, ms;
	char *buf = touched_area(size, page_size, 0);
	struct pins before, after;
	ssize_t n;
	size_t i;
	int fd;

	fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		ksft_exit_fail_msg("open %s: %s\n", path, strerror(errno));
	}
	if (!write) {
		/* The file to read, written the copying way. */
		counters = pins_read(&before);
		ms = now_ms();
		ok = small_io(fd, size, 1);
		ksft_print_msg("%zu bytes written in %d-byte requests in %ld ms\n",
			       size, SMALL, now_ms() - ms);
		ksft_test_result(ok, "the file is written in small requests\n");
		if (counters && pins_read(&after)) {
			ksft_print_msg("small requests: nr_foll_pin_acquired +%ld\n",
				       after.acquired - before.acquired);
			ksft_test_result(after.acquired == before.acquired,
					 "small (copied) requests take no pin\n");
		}
	} else {
		for (i = 0; i < size; i++)
			buf[i] = pattern(i);
	}

	counters = pins_read(&before);
	ms = now_ms();
	n = write ? pwrite(fd, buf, size, 0) : pread(fd, buf, size, 0);
	ms = now_ms() - ms;
	ksft_print_msg("%s of %zu bytes: %zd%s%s in %ld ms\n",
		       write ? "pwrite" : "pread", size, n, n < 0 ? ", " : "",
		       n < 0 ? strerror(errno) : "", ms);
	ksft_test_result(n == (ssize_t)size, "%s\n", write ? "the zero-copy write completes" :
			 "the zero-copy read completes");
	if (counters && pins_read(&after)) {
		ksft_print_msg("nr_foll_pin_acquired +%ld, nr_foll_pin_released +%ld (%ld pages)\n",
			       after.acquired - before.acquired,
			       after.released - before.released, pages);
		ksft_test_result(after.acquired - before.acquired >= pages,
				 "the request pins at least every 4 KiB page of the buffer\n");
		ksft_test_result(after.acquired - after.released ==
				 before.acquired - before.released, "the pins are all released once the host answered\n");
	}

	if (write) {
		ok = small_io(fd, size, 0);
		ksft_test_result(ok,
				 "the host got what was written (read back in small requests)\n");
	} else {
		for (i = 0; i < size && bad < 0; i++)
			if ((unsigned char)buf[i] != pattern(i))
				bad = i;
		if (bad >= 0)
			ksft_print_msg("buf[%ld] reads 0x%02x, the file holds 0x%02x\n",
				       bad, (unsigned char)buf[bad], pattern(bad));
		ksft_test_result(bad < 0,
				 "the data read is what the file holds\n");
	}
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	size_t size = argc == 4 ? strtoul(argv[3], NULL, 0) : 0;

	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || (strcmp(argv[1], "read") && strcmp(argv[1], "write")) ||
	    !size || size % page_size) {
		fprintf(stderr, "usage: %s read|write PATH SIZE\n"
			"SIZE: a multiple of the page size\n", argv[0]);
		return 2;
	}
	test(argv[1], argv[2], size);
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

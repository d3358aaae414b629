// SPDX-License-Identifier: GPL-2.0
/*
 * Usage: pin_fuse read|write MNT SIZE
 *
 * fuse in direct_io mode (the server answers OPEN with FOPEN_DIRECT_IO)
 * hands the pages of the caller's buffer to the request:
 * fuse_get_user_pages() takes them, the server's reply is copied into them
 * (READ) or the data copied out of them to the server (WRITE), and
 * fuse_release_user_pages() lets them go once the server has answered.
 * They must be pinned (FOLL_PIN) for as long as the server works on the
 * request. The server's own buffer is pinned too, a page at a time, while
 * fuse_copy_fill() copies a request to it or a reply from it.
 *
 * This program is both sides, over the raw /dev/fuse protocol (no
 * libfuse): it opens /dev/fuse, mounts a fuse file system on MNT (made if
 * need be) with one regular file, "file", of SIZE bytes, and forks the
 * server, which answers INIT (up to 256 pages and 1 MiB a request),
 * LOOKUP, GETATTR, OPEN (FOPEN_DIRECT_IO), READ, WRITE, FLUSH and RELEASE,
 * ENOSYS to anything else (GETXATTR, ...), and nothing to FORGET. Then, as
 * the client, it reads (read) or writes (write) SIZE bytes of the file at
 * offset 0 in one syscall, into or from touched, page-aligned anonymous
 * memory, and checks that
 *   - while the server holds each READ or WRITE request, before it
 *     answers, the pins held (nr_foll_pin_acquired - nr_foll_pin_released,
 *     measured by the server and handed to the client in shared memory)
 *     exceed those held before the syscall by at least the 4 KiB pages of
 *     that request's chunk of the buffer: the caller's pages are pinned
 *     while the server works;
 *   - the data read is what the server sent, the data written arrives at
 *     the server intact;
 *   - the counters balance again once the syscall has returned.
 * Then it unmounts MNT; the server reads ENODEV and exits 0.
 *
 * Where the kernel has no pin counters (baseline), the pin checks fail
 * and the data checks still run. Exits 0 when every check holds, 1
 * otherwise, printing what it saw.
 */

#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/fuse.h>
/* Its THP and io_uring helpers are for the other pin tests. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pin_util.h"
#pragma GCC diagnostic pop

/*
 * mount(2) and umount2(2) by syscall: <sys/mount.h> clashes with the
 * kernel's <linux/fs.h>, which pin_util.h includes (MS_* come from there).
 */
#ifndef MNT_DETACH
#define MNT_DETACH	2
#endif

static int sys_mount(const char *src, const char *dir, const char *type,
		     unsigned long flags, const char *data)
{
	return syscall(__NR_mount, src, dir, type, flags, data);
}

static int sys_umount2(const char *dir, int flags)
{
	return syscall(__NR_umount2, dir, flags);
}

#define ROOT_INO	FUSE_ROOT_ID
#define FILE_INO	2
#define FILE_NAME	"file"
#define MAX_SIZE	(16 * MIB)
/* What the server asks for in INIT: one request can carry all of 1 MiB. */
#define MAX_PAGES	256
#define MAX_WRITE	(MAX_PAGES * 4096)
/* The server's read buffer: a WRITE request's headers and data, and more. */
#define SERVER_BUF	(MAX_WRITE + 64 * KIB)
#define MAX_REQS	64
/* How long the whole test may take before it gives up (s). */
#define TIMEOUT		60

/* What the server saw of one READ or WRITE request, for the client. */
struct req_seen {
	uint32_t opcode;
	uint32_t size;
	uint64_t offset;
	long acquired;	/* the counters while the server held it; -1: none */
	long released;
	int data_ok;	/* WRITE: the data received is the pattern */
};

struct shared {
	int nreqs;
	int unexpected;	/* requests answered ENOSYS */
	struct req_seen req[MAX_REQS];
};

static struct shared *seen;
static size_t file_size;

/* Byte @i of the file: differs from page to page and from any fill. */
static unsigned char pattern(uint64_t i)
{
	return (i * 7 + i / 4096 * 13 + 0x40) & 0xff;
}

/* ---- the server ---- */

static int fuse_reply(int fd, uint64_t unique, int error, const void *arg,
		      size_t size)
{
	struct fuse_out_header out = {
		.len = sizeof(out) + (error ? 0 : size),
		.error = error,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ &out, sizeof(out) },
		{ (void *)arg, error ? 0 : size },
	};
	ssize_t n = writev(fd, iov, 2);

	/* ENOENT: the request was interrupted or the connection aborted. */
	if (n < 0 && errno != ENOENT) {
		ksft_print_msg("server: reply to request %llu: %s\n",
			       (unsigned long long)unique, strerror(errno));
		return -1;
	}
	return 0;
}

static void fill_attr(struct fuse_attr *attr, uint64_t ino)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = ino;
	attr->blksize = 4096;
	if (ino == ROOT_INO) {
		attr->mode = S_IFDIR | 0755;
		attr->nlink = 2;
	} else {
		attr->mode = S_IFREG | 0644;
		attr->nlink = 1;
		attr->size = file_size;
		attr->blocks = file_size / 512;
	}
}

/* Note the pin counters while the request is held, before the reply. */
static struct req_seen *note_request(uint32_t opcode, uint64_t offset,
				     uint32_t size)
{
	struct req_seen *r;

	if (seen->nreqs >= MAX_REQS)
		return NULL;
	r = &seen->req[seen->nreqs];
	r->opcode = opcode;
	r->offset = offset;
	r->size = size;
	r->acquired = vmstat("nr_foll_pin_acquired");
	r->released = vmstat("nr_foll_pin_released");
	__sync_synchronize();
	seen->nreqs++;
	return r;
}

static int serve(int fd)
{
	char *buf = touched_area(SERVER_BUF, page_size, 0);
	char *data = touched_area(MAX_WRITE, page_size, 0);
	struct fuse_in_header *in = (void *)buf;
	void *arg = buf + sizeof(*in);
	ssize_t n;

	for (;;) {
		n = read(fd, buf, SERVER_BUF);
		if (n < 0) {
			/* ENODEV: unmounted. ENOENT: an interrupted request. */
			if (errno == ENODEV)
				return 0;
			if (errno == ENOENT || errno == EINTR)
				continue;
			ksft_print_msg("server: read /dev/fuse: %s\n", strerror(errno));
			return 1;
		}
		if ((size_t)n < sizeof(*in) || in->len != n) {
			ksft_print_msg("server: short request (%zd bytes)\n", n);
			return 1;
		}
		switch (in->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *init = arg;
			struct fuse_init_out out = {
				.major = FUSE_KERNEL_VERSION,
				.minor = FUSE_KERNEL_MINOR_VERSION,
				.max_readahead = init->max_readahead,
				.flags = init->flags & FUSE_MAX_PAGES,
				.max_background = 16,
				.congestion_threshold = 12,
				.max_write = MAX_WRITE,
				.max_pages = MAX_PAGES,
			};

			if (init->major != FUSE_KERNEL_VERSION) {
				ksft_print_msg("server: kernel speaks fuse %u.%u\n",
					       init->major, init->minor);
				return 1;
			}
			if (init->minor < out.minor)
				out.minor = init->minor;
			ksft_print_msg("server: INIT: kernel fuse %u.%u, max_pages %u, max_write %u\n",
				       init->major, init->minor,
				       out.flags & FUSE_MAX_PAGES ? MAX_PAGES : 32,
				       MAX_WRITE);
			fuse_reply(fd, in->unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out out = {
				.nodeid = FILE_INO,
				.generation = 1,
				.entry_valid = 60,
				.attr_valid = 60,
			};

			if (in->nodeid != ROOT_INO || strcmp(arg, FILE_NAME)) {
				fuse_reply(fd, in->unique, -ENOENT, NULL, 0);
				break;
			}
			fill_attr(&out.attr, FILE_INO);
			fuse_reply(fd, in->unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out out = { .attr_valid = 60 };

			fill_attr(&out.attr, in->nodeid);
			fuse_reply(fd, in->unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out out = {
				.fh = 1,
				.open_flags = FOPEN_DIRECT_IO,
			};

			fuse_reply(fd, in->unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_READ: {
			struct fuse_read_in *rd = arg;
			uint64_t off = rd->offset, i;
			size_t len = 0;

			note_request(FUSE_READ, rd->offset, rd->size);
			if (off < file_size)
				len = file_size - off < rd->size ?
				      file_size - off : rd->size;
			if (len > MAX_WRITE)
				len = MAX_WRITE;
			for (i = 0; i < len; i++)
				data[i] = pattern(off + i);
			fuse_reply(fd, in->unique, 0, data, len);
			break;
		}
		case FUSE_WRITE: {
			struct fuse_write_in *wr = arg;
			unsigned char *p = (unsigned char *)(wr + 1);
			struct fuse_write_out out = { .size = wr->size };
			struct req_seen *r;
			uint32_t i;
			int ok = 1;

			r = note_request(FUSE_WRITE, wr->offset, wr->size);
			if (sizeof(*in) + sizeof(*wr) + wr->size != in->len)
				ok = 0;
			for (i = 0; ok && i < wr->size; i++)
				ok = p[i] == pattern(wr->offset + i);
			if (r)
				r->data_ok = ok;
			fuse_reply(fd, in->unique, 0, &out, sizeof(out));
			break;
		}
		case FUSE_FLUSH:
		case FUSE_RELEASE:
		case FUSE_RELEASEDIR:
		case FUSE_DESTROY:
			fuse_reply(fd, in->unique, 0, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;	/* no reply */
		default:
			seen->unexpected++;
			fuse_reply(fd, in->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
}

/* ---- the client ---- */

static const char *opname(uint32_t opcode)
{
	return opcode == FUSE_READ ? "READ" : "WRITE";
}

static void test(const char *what, const char *mnt)
{
	int write = !strcmp(what, "write");
	char opts[128], path[256];
	long held_before = 0, pages, held, bad = -1, acquired0 = 0, released0 = 0;
	int devfd, fd, status = -1, i, counters, all_held = 1, data_ok = 1;
	char *buf;
	ssize_t n;
	size_t j;
	pid_t pid;

	seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (seen == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (mkdir(mnt, 0755) && errno != EEXIST) {
		ksft_exit_fail_msg("mkdir %s: %s\n", mnt, strerror(errno));
	}
	devfd = open("/dev/fuse", O_RDWR);
	if (devfd < 0) {
		ksft_exit_fail_msg("open /dev/fuse: %s\n", strerror(errno));
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", devfd);
	if (sys_mount("pin_fuse", mnt, "fuse", MS_NOSUID | MS_NODEV, opts)) {
		ksft_exit_fail_msg("mount fuse on %s: %s\n", mnt, strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (!pid) {
		alarm(TIMEOUT);
		_exit(serve(devfd));
	}
	close(devfd);
	alarm(TIMEOUT);

	buf = touched_area(file_size, page_size, 0);
	if (write) {
		for (j = 0; j < file_size; j++)
			buf[j] = pattern(j);
	}
	snprintf(path, sizeof(path), "%s/" FILE_NAME, mnt);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		ksft_test_result_fail("open %s: %s\n", path, strerror(errno));
		goto out;
	}
	counters = vmstat("nr_foll_pin_acquired") >= 0 &&
		   vmstat("nr_foll_pin_released") >= 0;
	if (counters) {
		acquired0 = vmstat("nr_foll_pin_acquired");
		released0 = vmstat("nr_foll_pin_released");
		held_before = acquired0 - released0;
	} else {
		ksft_test_result(0,
				 "the kernel has nr_foll_pin_* counters in /proc/vmstat\n");
	}

	seen->nreqs = 0;
	__sync_synchronize();
	n = write ? pwrite(fd, buf, file_size, 0) : pread(fd, buf, file_size, 0);
	ksft_print_msg("%s of %zu bytes: %zd%s%s\n", write ? "pwrite" : "pread",
		       file_size, n, n < 0 ? ", " : "", n < 0 ? strerror(errno) : "");
	ksft_test_result(n == (ssize_t)file_size, "%s\n", write ?
			 "the write to the direct_io file completes" :
			 "the read from the direct_io file completes");

	/* (a) The caller's pages stayed pinned while the server worked. */
	for (i = 0; i < seen->nreqs; i++) {
		struct req_seen *r = &seen->req[i];

		pages = (r->offset % page_size + r->size + page_size - 1) /
			page_size;
		if (r->acquired < 0 || r->released < 0) {
			ksft_print_msg("server: %s of %u bytes at %llu: no pin counters\n",
				       opname(r->opcode), r->size,
				       (unsigned long long)r->offset);
			all_held = 0;
			continue;
		}
		held = r->acquired - r->released - held_before;
		ksft_print_msg("server: %s of %u bytes at %llu (%ld pages): %ld pins held while the server holds it (nr_foll_pin_acquired +%ld)\n",
			       opname(r->opcode), r->size,
			       (unsigned long long)r->offset, pages, held,
			       r->acquired - acquired0);
		if (held < pages)
			all_held = 0;
		if (write && !r->data_ok)
			data_ok = 0;
	}
	ksft_test_result(seen->nreqs > 0, "%s\n", write ? "the server got WRITE requests" :
			 "the server got READ requests");
	if (counters)
		ksft_test_result(seen->nreqs > 0 && all_held,
				 "the caller's pages are pinned while the server holds each request\n");

	/* (b) The data. */
	if (write) {
		ksft_test_result(seen->nreqs > 0 && data_ok,
				 "the data written arrives at the server intact\n");
	} else {
		for (j = 0; j < file_size && bad < 0; j++)
			if ((unsigned char)buf[j] != pattern(j))
				bad = j;
		if (bad >= 0)
			ksft_print_msg("buf[%ld] reads 0x%02x, the server sent 0x%02x\n",
				       bad, (unsigned char)buf[bad], pattern(bad));
		ksft_test_result(bad < 0,
				 "the data read is what the server sent\n");
	}

	/* (c) All pins released once the syscall returned. */
	if (counters) {
		long acquired = vmstat("nr_foll_pin_acquired");
		long released = vmstat("nr_foll_pin_released");

		ksft_print_msg("after the syscall: nr_foll_pin_acquired +%ld, nr_foll_pin_released +%ld\n",
			       acquired - acquired0, released - released0);
		ksft_test_result(acquired - released == held_before,
				 "the pin counters balance once the request is answered\n");
	}
	close(fd);
out:
	if (sys_umount2(mnt, 0)) {
		ksft_test_result_fail("umount %s: %s\n", mnt, strerror(errno));
		kill(pid, SIGKILL);
		sys_umount2(mnt, MNT_DETACH);
	}
	if (waitpid(pid, &status, 0) != pid)
		perror("waitpid");
	if (seen->unexpected)
		ksft_print_msg("server: %d requests answered ENOSYS\n", seen->unexpected);
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status),
			 "the server exits 0 after the unmount\n");
}

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	file_size = argc == 4 ? strtoul(argv[3], NULL, 0) : 0;
	if (argc != 4 || (strcmp(argv[1], "read") && strcmp(argv[1], "write")) ||
	    !file_size || file_size > MAX_SIZE || file_size % page_size) {
		fprintf(stderr, "usage: %s read|write MNT SIZE\n"
			"SIZE: a multiple of the page size, at most %lu\n",
			argv[0], MAX_SIZE);
		return 2;
	}
	test(argv[1], argv[2]);
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

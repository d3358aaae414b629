// SPDX-License-Identifier: GPL-2.0
/*
 * pin_stress: pin and unpin through every gup path while other threads
 * change the mm underneath, each pinner checking every page it holds
 * while it holds it.
 *
 * Usage: pin_stress SECONDS PINNERS [MUTATORS]
 *
 * MUTATORS, a comma-separated subset of fork, map, split, compact, pool,
 * clear_refs, pageout, mprotect, migrate (default: all), narrows down
 * which of them a failure needs.
 *
 * Pinner i owns a 4 MiB arena of 4 KiB pages, THP, hugetlb pages or a
 * shared tmpfs file (i % 4) and, in a loop, pins it through one path:
 * gup_benchmark's hold ioctls (gup-fast and long-term), its check mode
 * (gup-fast, slow gup, long-term: the kernel checks every pinned page and
 * the exact compound counts), an io_uring fixed buffer, process_vm_readv/
 * writev and O_DIRECT on /dev/ram0. While the pins are held the "device"
 * writes the pages (PIN_HOLD_FILL, an io_uring READ_FIXED, a Direct IO
 * read) and the pinner must see every byte of that write, after writing
 * the pages itself. Pinners also pin, in check mode, churn regions that
 * the mapper thread unmaps, moves and zaps under them.
 *
 * Meanwhile: a thread forks (the child writes its copy of the private
 * arenas and exits), the mapper churns (munmap/mmap, mremap, mprotect,
 * MADV_DONTNEED), one thread splits THPs, compacts, grows and shrinks the
 * hugetlb pool, clears soft-dirty bits, pages arenas out to swap and
 * toggles PROT_EXEC on them, and one migrates arena pages between NUMA
 * nodes (move_pages, mbind) where there are two. khugepaged is set to
 * scan fast by the plan.
 *
 * Prints one "pass"/"FAIL" line per claim and "figure:" lines: operations
 * per kind, pins taken. Exits 1 on any failure.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include "pin_util.h"

#define ARENA		(4 * MIB)
#define HPAGE		(2 * MIB)
#define CHURN		(4 * MIB)
#define MAX_PINNERS	16
#define FOLL_WRITE	0x01

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define MPOL_DEFAULT	0
#define MPOL_BIND	2
#define MPOL_MF_MOVE	(1 << 1)

enum kind { ANON, THP, HUGETLB, SHMEM, NKINDS };
static const char *kind_name[] = { "4k", "thp", "hugetlb", "shmem" };

enum op {
	OP_HOLD_FAST, OP_HOLD_LONGTERM, OP_CHECK_FAST, OP_CHECK_SLOW,
	OP_CHECK_LONGTERM, OP_CHURN, OP_IO_URING, OP_PVM, OP_DIO,
	OP_FORK, OP_FORK_REFUSED, OP_MAP, OP_MREMAP, OP_MPROTECT,
	OP_DONTNEED, OP_SPLIT, OP_COMPACT, OP_HUGETLB_POOL, OP_CLEAR_REFS,
	OP_PAGEOUT, OP_MIGRATE, OP_MBIND, OP_CHURN_EFAULT,
	OP_LONGTERM_REFUSED, NOPS
};
static const char *op_name[] = {
	"pin_hold_fast", "pin_hold_longterm", "pin_check_fast",
	"pin_check_slow", "pin_check_longterm", "pin_check_churn",
	"io_uring_fixed_read", "process_vm_rw", "o_direct_rw",
	"fork", "fork_refused", "munmap_mmap", "mremap", "mprotect",
	"madv_dontneed", "split_huge_pages", "compact_memory",
	"hugetlb_pool_resize", "clear_refs", "madv_pageout", "move_pages",
	"mbind", "churn_pin_refused", "longterm_pin_refused",
};

static atomic_long ops[NOPS];
static const char *mutators = "all";

/* Is mutator @name enabled by the MUTATORS argument? */
static int enabled(const char *name)
{
	const char *m = mutators;
	size_t n = strlen(name);

	if (!strcmp(m, "all"))
		return 1;
	while ((m = strstr(m, name))) {
		if ((m == mutators || m[-1] == ',') && (m[n] == ',' || !m[n]))
			return 1;
		m += n;
	}
	return 0;
}
static atomic_int stop, failed;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct pinner {
	int id;
	enum kind kind;
	char *arena;
	int gup;		/* gup_benchmark, with this pinner's hold */
	unsigned int seed;
	pthread_t thread;
};

static struct pinner pinners[MAX_PINNERS];
static int npinners, nnodes = 1;
/*
 * A churn region per pinner: check mode wants no pins but the caller's on
 * the pages it checks once unpinned, so pinners do not share them. The
 * mapper never leaves a region's addresses free for mmap() to hand out
 * again (see retire()): a pinner still holding the old address of its
 * region would otherwise pin pages of another pinner's new one.
 */
static _Atomic(char *) churn[MAX_PINNERS];

static void fail(struct pinner *p, const char *what, const char *detail)
{
	pthread_mutex_lock(&out_lock);
	printf("FAIL: pinner %d (%s): %s: %s\n", p ? p->id : -1,
	       p ? kind_name[p->kind] : "-", what, detail);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
	atomic_fetch_add(&failed, 1);
}

static void fail_errno(struct pinner *p, const char *what)
{
	fail(p, what, strerror(errno));
}

/*
 * A long-term pin may be refused, with EBUSY when pages it must first
 * move out of ZONE_MOVABLE stay off the LRU (another migration has them)
 * or ENOMEM when moving them fails: an error the caller sees, counted.
 */
static int longterm_refused(int longterm)
{
	if (!longterm || (errno != EBUSY && errno != ENOMEM))
		return 0;
	atomic_fetch_add(&ops[OP_LONGTERM_REFUSED], 1);
	return 1;
}

/*
 * The pagemap entries of the arena's pages, when the pins were taken:
 * a page found without the device's write is then told apart as mapped
 * at another PFN (the process moved off the pinned page) or not.
 */
#define PM_PFN		((1ULL << 55) - 1)
#define PM_SWAP		(1ULL << 62)
#define PM_PRESENT	(1ULL << 63)
static __thread uint64_t held_map[ARENA / 4096];
static __thread int held_valid;		/* in op_hold() */

static void arena_map(struct pinner *p, uint64_t *ent)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	size_t len = ARENA / page_size * sizeof(*ent);

	memset(ent, 0, len);
	if (fd < 0 || pread(fd, ent, len, (unsigned long)p->arena / page_size *
			    sizeof(*ent)) != (ssize_t)len)
		perror("pagemap");
	if (fd >= 0)
		close(fd);
}

static void explain(struct pinner *p, unsigned long i)
{
	static __thread uint64_t now[ARENA / 4096];

	arena_map(p, now);
	if (!held_valid)
		held_map[i] = 0;
	pthread_mutex_lock(&out_lock);
	printf("page %lu: pfn %#llx%s when pinned, now pfn %#llx%s%s\n", i,
	       (unsigned long long)(held_map[i] & PM_PFN),
	       held_map[i] & PM_PRESENT ? "" : " (not present)",
	       (unsigned long long)(now[i] & PM_PFN),
	       now[i] & PM_PRESENT ? "" : " (not present)",
	       now[i] & PM_SWAP ? " (swapped)" : "");
	pthread_mutex_unlock(&out_lock);
}

/* Every byte of the arena must be @byte; name the first page that is not. */
static int verify(struct pinner *p, const char *what, unsigned char byte)
{
	unsigned long i, j;
	char detail[96];

	for (i = 0; i < ARENA; i += page_size) {
		for (j = 0; j < (unsigned long)page_size; j++) {
			if ((unsigned char)p->arena[i + j] == byte)
				continue;
			snprintf(detail, sizeof(detail),
				 "page %lu byte %lu is %#x, not %#x",
				 i / page_size, j, (unsigned char)p->arena[i + j],
				 byte);
			fail(p, what, detail);
			explain(p, i / page_size);
			return 0;
		}
	}
	return 1;
}

/* The process writes every page: after a fork, this is what moves it off a shared page. */
static void touch(struct pinner *p, unsigned char byte)
{
	unsigned long i;

	for (i = 0; i < ARENA; i += page_size)
		memset(p->arena + i, byte, page_size);
}

static void setup_arena(struct pinner *p)
{
	char path[64];
	int fd;

	switch (p->kind) {
	case ANON:
		p->arena = touched_area(ARENA, page_size, 0);
		break;
	case THP:
		p->arena = touched_area(ARENA, HPAGE, 1);
		break;
	case HUGETLB:
		p->arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		break;
	case SHMEM:
		snprintf(path, sizeof(path), "/tmp/pin_stress.%d", p->id);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, ARENA)) {
			perror(path);
			exit(1);
		}
		p->arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, 0);
		close(fd);
		break;
	default:
		break;
	}
	if (p->arena == MAP_FAILED) {
		perror("mmap arena");
		exit(1);
	}
	touch(p, 0x5a);
	if (p->kind == THP && !is_thp(p->arena)) {
		fprintf(stderr, "pinner %d: the THP arena is not THP-backed\n", p->id);
		exit(1);
	}
	p->gup = open(GUP_BENCHMARK_FILE, O_RDWR);
	if (p->gup < 0) {
		perror(GUP_BENCHMARK_FILE);
		exit(1);
	}
}

static int gup_ioctl(struct pinner *p, unsigned long cmd, void *addr,
		     unsigned long size, unsigned int flags, unsigned int batch)
{
	struct gup_benchmark gup = {
		.addr = (unsigned long)addr,
		.size = size,
		.nr_pages_per_call = batch,
		.flags = flags,
	};

	return ioctl(p->gup, cmd, &gup);
}

/*
 * Hold pins on the arena; three times, write it from the process, then
 * from the "device", and see the device's bytes everywhere.
 */
static void op_hold(struct pinner *p, int longterm)
{
	unsigned long cmd = longterm ? PIN_LONGTERM_HOLD : PIN_FAST_HOLD;
	struct gup_benchmark gup = { 0 };
	unsigned char byte;
	int round;

	if (gup_ioctl(p, cmd, p->arena, ARENA, FOLL_WRITE | GUP_BENCHMARK_CHECK, 512)) {
		if (!longterm_refused(longterm))
			fail_errno(p, longterm ? "PIN_LONGTERM_HOLD" : "PIN_FAST_HOLD");
		return;
	}
	arena_map(p, held_map);
	held_valid = 1;
	for (round = 0; round < 3; round++) {
		byte = rand_r(&p->seed) | 1;
		touch(p, byte ^ 0xff);
		gup.expansion[0] = byte;
		if (ioctl(p->gup, PIN_HOLD_FILL, &gup)) {
			fail_errno(p, "PIN_HOLD_FILL");
			break;
		}
		if (!verify(p, longterm ? "device write to long-term pin seen" :
				"device write to pin seen", byte))
			break;
	}
	held_valid = 0;
	if (ioctl(p->gup, PIN_HOLD_RELEASE, &gup))
		fail_errno(p, "PIN_HOLD_RELEASE");
	atomic_fetch_add(&ops[longterm ? OP_HOLD_LONGTERM : OP_HOLD_FAST], 1);
}

/* The kernel pins, checks every page and the exact counts, unpins, checks. */
static void op_check(struct pinner *p, enum op op)
{
	static const unsigned long cmd[] = {
		[OP_CHECK_FAST] = PIN_FAST_BENCHMARK,
		[OP_CHECK_SLOW] = PIN_BENCHMARK,
		[OP_CHECK_LONGTERM] = PIN_LONGTERM_BENCHMARK,
	};
	unsigned int batch = 1 + rand_r(&p->seed) % 512;
	unsigned int flags = GUP_BENCHMARK_CHECK | (rand_r(&p->seed) & 1 ? FOLL_WRITE : 0);

	if (gup_ioctl(p, cmd[op], p->arena, ARENA, flags, batch) &&
	    !longterm_refused(op == OP_CHECK_LONGTERM))
		fail_errno(p, op_name[op]);
	atomic_fetch_add(&ops[op], 1);
}

/*
 * Check mode on a churn region, which may be unmapped, moved or read-only
 * by now: the pin may be refused (EFAULT, ENOMEM), but the checks of what
 * was pinned must pass (EIO is theirs).
 */
static void op_churn(struct pinner *p)
{
	static const unsigned long cmds[] = {
		PIN_FAST_BENCHMARK, PIN_BENCHMARK, PIN_LONGTERM_BENCHMARK,
	};
	char *addr = atomic_load(&churn[p->id]);
	unsigned int flags = GUP_BENCHMARK_CHECK | (rand_r(&p->seed) & 1 ? FOLL_WRITE : 0);

	if (!gup_ioctl(p, cmds[rand_r(&p->seed) % 3], addr, CHURN, flags,
		       1 + rand_r(&p->seed) % 512)) {
		atomic_fetch_add(&ops[OP_CHURN], 1);
		return;
	}
	if (errno == EIO)
		fail(p, "churn region pins checked", "check failed (EIO): see dmesg");
	else
		atomic_fetch_add(&ops[OP_CHURN_EFAULT], 1);
}

/* Register the arena as an io_uring fixed buffer and READ_FIXED into it. */
static void op_io_uring(struct pinner *p)
{
	struct io_uring_params params;
	struct iovec iov = { p->arena, ARENA };
	unsigned char byte = rand_r(&p->seed) | 1;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	unsigned int *sq_tail, *sq_array, *cq_head, *cq_tail;
	void *sq, *cq;
	char path[64];
	int ring, src;
	long ret;

	/* io_uring takes no file-backed buffers but hugetlbfs ones. */
	if (p->kind == SHMEM)
		return op_check(p, OP_CHECK_FAST);
	/* The file the ring reads: the arena's own bytes, written first. */
	snprintf(path, sizeof(path), "/tmp/pin_stress.src.%d", p->id);
	src = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	touch(p, byte);
	if (src < 0 || pwrite(src, p->arena, ARENA, 0) != ARENA) {
		fail_errno(p, "io_uring source file");
		goto close_src;
	}
	touch(p, byte ^ 0xff);
	ring = ring_open(&params);
	/* Registration pins long-term, and may be refused as such a pin is. */
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1)) {
		if (!longterm_refused(1))
			fail_errno(p, "IORING_REGISTER_BUFFERS");
		goto close_ring;
	}
	sq = mmap(NULL, params.sq_off.array + params.sq_entries * 4,
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, params.cq_off.cqes + params.cq_entries * sizeof(*cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, params.sq_entries * sizeof(*sqes),
		    PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		fail_errno(p, "io_uring rings");
		goto close_ring;
	}
	sq_tail = sq + params.sq_off.tail;
	sq_array = sq + params.sq_off.array;
	cq_head = cq + params.cq_off.head;
	cq_tail = cq + params.cq_off.tail;
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_READ_FIXED;
	sqes[0].fd = src;
	sqes[0].addr = (unsigned long)p->arena;
	sqes[0].len = ARENA;
	sqes[0].buf_index = 0;
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS,
		      NULL, 0);
	if (ret != 1 || __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head) {
		fail_errno(p, "io_uring_enter");
	} else {
		cqe = (struct io_uring_cqe *)(cq + params.cq_off.cqes) +
		      (*cq_head & (params.cq_entries - 1));
		if (cqe->res != ARENA)
			fail(p, "READ_FIXED", strerror(cqe->res < 0 ? -cqe->res : EIO));
		else
			verify(p, "io_uring READ_FIXED into registered buffer seen", byte);
		__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);
	}
	munmap(sq, params.sq_off.array + params.sq_entries * 4);
	munmap(cq, params.cq_off.cqes + params.cq_entries * sizeof(*cqe));
	munmap(sqes, params.sq_entries * sizeof(*sqes));
close_ring:
	/*
	 * Unregister before closing: the ring's release runs in a worker
	 * after close(), and its pins must be gone before this pinner's
	 * next check counts the arena's pins.
	 */
	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		    NULL, 0) && errno != ENXIO)
		fail_errno(p, "IORING_UNREGISTER_BUFFERS");
	close(ring);
close_src:
	if (src >= 0)
		close(src);
	atomic_fetch_add(&ops[OP_IO_URING], 1);
}

/* process_vm_writev into the arena, process_vm_readv back out of it. */
static void op_pvm(struct pinner *p)
{
	static __thread char buf[256 * KIB];
	unsigned char byte = rand_r(&p->seed) | 1;
	struct iovec local = { buf, sizeof(buf) }, remote;
	unsigned long off;

	for (off = 0; off < ARENA; off += sizeof(buf)) {
		memset(buf, byte, sizeof(buf));
		remote.iov_base = p->arena + off;
		remote.iov_len = sizeof(buf);
		if (syscall(SYS_process_vm_writev, getpid(), &local, 1, &remote, 1, 0) !=
		    sizeof(buf)) {
			fail_errno(p, "process_vm_writev");
			return;
		}
		memset(buf, 0, sizeof(buf));
		if (syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0) !=
		    sizeof(buf)) {
			fail_errno(p, "process_vm_readv");
			return;
		}
		if (memchr(buf, 0, sizeof(buf)) || buf[0] != (char)byte) {
			fail(p, "process_vm_readv", "read back other bytes");
			return;
		}
	}
	verify(p, "process_vm_writev seen in the arena", byte);
	atomic_fetch_add(&ops[OP_PVM], 1);
}

/* O_DIRECT: write the arena to /dev/ram0, overwrite it, read it back. */
static void op_dio(struct pinner *p)
{
	off_t where = (off_t)(p->id % 16) * ARENA;
	unsigned char byte = rand_r(&p->seed) | 1;
	int fd = open("/dev/ram0", O_RDWR | O_DIRECT);

	if (fd < 0) {
		fail_errno(p, "open /dev/ram0 O_DIRECT");
		return;
	}
	touch(p, byte);
	if (pwrite(fd, p->arena, ARENA, where) != ARENA)
		fail_errno(p, "O_DIRECT write");
	touch(p, byte ^ 0xff);
	if (pread(fd, p->arena, ARENA, where) != ARENA)
		fail_errno(p, "O_DIRECT read");
	else
		verify(p, "O_DIRECT read into the arena seen", byte);
	close(fd);
	atomic_fetch_add(&ops[OP_DIO], 1);
}

static void *pinner_main(void *arg)
{
	struct pinner *p = arg;

	while (!atomic_load(&stop) && !atomic_load(&failed)) {
		switch (rand_r(&p->seed) % 9) {
		case 0: op_hold(p, 0); break;
		case 1: op_hold(p, 1); break;
		case 2: op_check(p, OP_CHECK_FAST); break;
		case 3: op_check(p, OP_CHECK_SLOW); break;
		case 4: op_check(p, OP_CHECK_LONGTERM); break;
		case 5: op_churn(p); break;
		case 6: op_io_uring(p); break;
		case 7: op_pvm(p); break;
		case 8: op_dio(p); break;
		}
	}
	return NULL;
}

/*
 * Fork with every pinner's pins in flight. The child writes its copy of
 * the private arenas: were a pinned page shared with it, the parent's
 * pinner would see these bytes, or miss the device's.
 */
static void *forker_main(void *arg)
{
	unsigned long off;
	int i, status;
	pid_t pid;

	while (enabled("fork") && !atomic_load(&stop)) {
		pid = fork();
		if (pid < 0) {
			/* Allowed, and counted; say why the first time. */
			if (!atomic_fetch_add(&ops[OP_FORK_REFUSED], 1)) {
				pthread_mutex_lock(&out_lock);
				printf("fork refused first with: %s\n", strerror(errno));
				pthread_mutex_unlock(&out_lock);
			}
			usleep(10000);
			continue;
		}
		if (!pid) {
			for (i = 0; i < npinners; i++) {
				if (pinners[i].kind == SHMEM || pinners[i].kind == HUGETLB)
					continue;
				for (off = 0; off < ARENA; off += 16 * page_size)
					pinners[i].arena[off] = 0xee;
			}
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			fail(NULL, "fork child", "did not exit 0");
		atomic_fetch_add(&ops[OP_FORK], 1);
	}
	return NULL;
}

/* A new churn region: anonymous, THP allowed, touched. */
static char *churn_region(void)
{
	char *r = mmap(NULL, CHURN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (r == MAP_FAILED)
		return NULL;
	madvise(r, CHURN, MADV_HUGEPAGE);
	memset(r, 0x33, CHURN);
	return r;
}

/*
 * Unmap a churn region the mapper has replaced, keeping its addresses
 * reserved: a PROT_NONE mapping takes the place of the old one, whose
 * pages go as munmap() would take them, and a pin of it fails (EFAULT).
 */
static void retire(char *r)
{
	mmap(r, CHURN, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* munmap/mmap, mremap, mprotect and MADV_DONTNEED on the churn regions. */
static void *mapper_main(void *arg)
{
	unsigned int seed = 7;
	char *r, *n;
	int k;

	while (enabled("map") && !atomic_load(&stop)) {
		k = rand_r(&seed) % npinners;
		r = atomic_load(&churn[k]);
		switch (rand_r(&seed) % 5) {
		case 0:
			n = churn_region();
			if (!n)
				break;
			atomic_store(&churn[k], n);
			retire(r);
			atomic_fetch_add(&ops[OP_MAP], 1);
			break;
		case 1:
			n = churn_region();
			if (!n)
				break;
			/*
			 * MREMAP_DONTUNMAP leaves the old range mapped, empty,
			 * until retire() replaces it: a hole there could take
			 * another thread's mmap(), which retire() would then
			 * unmap under it.
			 */
			n = mremap(r, CHURN, CHURN, MREMAP_MAYMOVE | MREMAP_FIXED |
				   MREMAP_DONTUNMAP, n);
			if (n != MAP_FAILED) {
				atomic_store(&churn[k], n);
				retire(r);
				atomic_fetch_add(&ops[OP_MREMAP], 1);
			}
			break;
		case 2:
			mprotect(r, CHURN, PROT_READ);
			usleep(1000);
			mprotect(r, CHURN, PROT_READ | PROT_WRITE);
			atomic_fetch_add(&ops[OP_MPROTECT], 1);
			break;
		case 3:
			madvise(r + HPAGE / 2, HPAGE, MADV_DONTNEED);
			atomic_fetch_add(&ops[OP_DONTNEED], 1);
			break;
		case 4:
			memset(r, 0x44, CHURN);
			break;
		}
	}
	return NULL;
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		; /* a missing knob leaves its figure at 0 */
	if (fd >= 0)
		close(fd);
}

/* What moves or frees pages system-wide, and what walks the arenas. */
static void *system_main(void *arg)
{
	unsigned int seed = 11;
	char val[32];
	int base = atoi(arg), i;
	struct pinner *p;

	while (!atomic_load(&stop)) {
		p = &pinners[rand_r(&seed) % npinners];
		switch (rand_r(&seed) % 6) {
		case 0:
			if (!enabled("split"))
				break;
			write_file("/sys/kernel/debug/split_huge_pages", "1");
			atomic_fetch_add(&ops[OP_SPLIT], 1);
			break;
		case 1:
			if (!enabled("compact"))
				break;
			write_file("/proc/sys/vm/compact_memory", "1");
			atomic_fetch_add(&ops[OP_COMPACT], 1);
			break;
		case 2:
			if (!enabled("pool"))
				break;
			snprintf(val, sizeof(val), "%d", base + rand_r(&seed) % 64);
			write_file("/proc/sys/vm/nr_hugepages", val);
			atomic_fetch_add(&ops[OP_HUGETLB_POOL], 1);
			break;
		case 3:
			if (!enabled("clear_refs"))
				break;
			write_file("/proc/self/clear_refs", rand_r(&seed) & 1 ? "4" : "1");
			atomic_fetch_add(&ops[OP_CLEAR_REFS], 1);
			break;
		case 4:
			if (enabled("pageout") && p->kind != HUGETLB && !madvise(p->arena, ARENA, MADV_PAGEOUT))
				atomic_fetch_add(&ops[OP_PAGEOUT], 1);
			break;
		case 5:
			if (!enabled("mprotect"))
				break;
			for (i = 0; i < 4; i++) {
				mprotect(p->arena, ARENA, PROT_READ | PROT_WRITE | PROT_EXEC);
				mprotect(p->arena, ARENA, PROT_READ | PROT_WRITE);
			}
			atomic_fetch_add(&ops[OP_MPROTECT], 1);
			break;
		}
		usleep(20000);
	}
	return NULL;
}

/* Move arena pages to the other node, page by page or by policy. */
static void *migrator_main(void *arg)
{
	unsigned int seed = 13;
	void *pages[ARENA / 4096];
	int nodes[ARENA / 4096], status[ARENA / 4096];
	unsigned long n = ARENA / page_size, i, mask;
	struct pinner *p;
	int node;

	while (enabled("migrate") && !atomic_load(&stop)) {
		p = &pinners[rand_r(&seed) % npinners];
		node = rand_r(&seed) % nnodes;
		if (rand_r(&seed) & 1) {
			for (i = 0; i < n; i++) {
				pages[i] = p->arena + i * page_size;
				nodes[i] = node;
			}
			if (!syscall(SYS_move_pages, 0, n, pages, nodes, status,
				     MPOL_MF_MOVE))
				atomic_fetch_add(&ops[OP_MIGRATE], 1);
		} else {
			mask = 1UL << node;
			if (!syscall(SYS_mbind, p->arena, ARENA, MPOL_BIND, &mask,
				     sizeof(mask) * 8, MPOL_MF_MOVE))
				atomic_fetch_add(&ops[OP_MBIND], 1);
			syscall(SYS_mbind, p->arena, ARENA, MPOL_DEFAULT, NULL, 0, 0);
		}
		usleep(5000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t forker, mapper, sys, migrator;
	struct pins before, after;
	char pool[16];
	long seconds, start;
	int i, fd;

	if (argc == 4)
		mutators = argv[--argc];
	if (argc != 3 || (seconds = atol(argv[1])) <= 0 ||
	    (npinners = atoi(argv[2])) <= 0 || npinners > MAX_PINNERS) {
		fprintf(stderr, "usage: pin_stress SECONDS PINNERS (1-%d) [MUTATORS]\n",
			MAX_PINNERS);
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (access("/sys/devices/system/node/node" "1", F_OK) == 0 && nnodes < 2)
		nnodes++;
	fd = open("/proc/sys/vm/nr_hugepages", O_RDONLY);
	if (fd < 0 || read(fd, pool, sizeof(pool) - 1) <= 0) {
		perror("nr_hugepages");
		return 1;
	}
	close(fd);
	pins_read(&before);

	for (i = 0; i < npinners; i++)
		churn[i] = churn_region();
	for (i = 0; i < npinners; i++) {
		pinners[i].id = i;
		pinners[i].kind = i % NKINDS;
		pinners[i].seed = 1000 + i;
		setup_arena(&pinners[i]);
	}
	printf("pin_stress: %ld s, %d pinners, %d NUMA node(s), mutators %s\n",
	       seconds, npinners, nnodes, mutators);
	start = now_ms();
	for (i = 0; i < npinners; i++)
		pthread_create(&pinners[i].thread, NULL, pinner_main, &pinners[i]);
	pthread_create(&forker, NULL, forker_main, NULL);
	pthread_create(&mapper, NULL, mapper_main, NULL);
	pthread_create(&sys, NULL, system_main, pool);
	pthread_create(&migrator, NULL, migrator_main, NULL);

	while (now_ms() - start < seconds * 1000 && !atomic_load(&failed))
		sleep(1);
	atomic_store(&stop, 1);
	for (i = 0; i < npinners; i++)
		pthread_join(pinners[i].thread, NULL);
	pthread_join(forker, NULL);
	pthread_join(mapper, NULL);
	pthread_join(sys, NULL);
	pthread_join(migrator, NULL);
	write_file("/proc/sys/vm/nr_hugepages", pool);
	for (i = 0; i < npinners; i++)
		close(pinners[i].gup);

	pins_read(&after);
	for (i = 0; i < NOPS; i++)
		printf("figure: %-22s %ld\n", op_name[i], atomic_load(&ops[i]));
	printf("figure: %-22s %ld\n", "pins_taken", after.acquired - before.acquired);
	printf("figure: %-22s %ld\n", "pins_held_at_end", pins_held());
	printf("figure: %-22s %.1f s\n", "ran", (now_ms() - start) / 1000.0);
	check(atomic_load(&failed) == 0, "every pinned page read as the device wrote it");
	check(ops[OP_HOLD_FAST] && ops[OP_HOLD_LONGTERM] && ops[OP_CHECK_SLOW] &&
	      (ops[OP_FORK] || !enabled("fork")),
	      "every kind of pin (and fork, if enabled) ran");
	check(after.acquired - after.released == before.acquired - before.released,
	      "the pins taken were all released");
	return failed || failures ? 1 : 0;
}

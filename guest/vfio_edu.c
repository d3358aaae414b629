// SPDX-License-Identifier: GPL-2.0
/*
 * Usage: vfio_edu BDF roundtrip|pins|fork
 *
 * A user-space driver, through vfio type1, of QEMU's "edu" PCI device,
 * behind QEMU's emulated intel-iommu: the end-to-end proof that a device
 * writes into the very pages we pinned.
 *
 * It opens the device's IOMMU group (the device at BDF must be bound to
 * vfio-pci), maps its BAR0, enables bus mastering and maps a 1 MiB buffer
 * of touched anonymous memory for DMA with VFIO_IOMMU_MAP_DMA at IOVA
 * 1 MiB. vfio type1 pins every page of it for as long as the mapping lives
 * (a long-term pin). edu has a 4 KiB buffer of its own at 0x40000 and a
 * DMA engine that copies between it and bus addresses, which the IOMMU
 * translates into our pinned pages.
 *
 * roundtrip  fill page 0 with a pattern, have the device copy it into its
 *            buffer and back out into page 1, and check page 1.
 * pins       as roundtrip, and check the pin counters: the map holds
 *            exactly one pin per 4 KiB page (nr_foll_pin_acquired -
 *            nr_foll_pin_released grows by 256); the unmap releases
 *            exactly those.
 * fork       map, fork a child that waits, then write in the parent to
 *            pages 2 and 3 (if fork had left the pinned pages shared
 *            copy-on-write, these writes would move the parent to new
 *            pages, away from the device), have the device copy page 2
 *            into page 3, and check that the parent sees it in page 3;
 *            then check that the child's copy of page 3 holds what it
 *            held at fork.
 *
 * Exits 0 when every check holds, 1 otherwise, printing what it saw.
 */

#include <stdint.h>
#include <sys/wait.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
/* Its THP and io_uring helpers are for the other pin tests. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pin_util.h"
#pragma GCC diagnostic pop

/* edu's registers (QEMU's docs/specs/edu.txt). */
#define EDU_ID		0x00	/* 0xRRrr00ed */
#define EDU_LIVENESS	0x04	/* reads back the inverse of what was written */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_COUNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	0x01
#define EDU_CMD_TO_RAM	0x02	/* direction: edu's buffer to the bus */
#define EDU_BUF		0x40000	/* edu's own 4 KiB buffer, in its space */

#define IOVA		(1 * MIB)	/* below edu's 28-bit DMA mask */
#define BUF_SIZE	(1 * MIB)

static volatile uint8_t *bar;
static int container = -1;

static uint32_t rd32(unsigned int reg)
{
	return *(volatile uint32_t *)(bar + reg);
}

static void wr32(unsigned int reg, uint32_t val)
{
	*(volatile uint32_t *)(bar + reg) = val;
}

static void wr64(unsigned int reg, uint64_t val)
{
	*(volatile uint64_t *)(bar + reg) = val;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/*
 * One DMA of edu's, of EDU_XFER bytes: @to_ram picks the direction; waits
 * for it to end. edu refuses (QEMU stops) a transfer that reaches the end
 * of its buffer, so a page goes in two halves.
 */
#define EDU_XFER	2048

static int edu_dma(uint64_t src, uint64_t dst, int to_ram)
{
	long deadline = now_ms() + 10000;

	wr64(EDU_DMA_SRC, src);
	wr64(EDU_DMA_DST, dst);
	wr64(EDU_DMA_COUNT, EDU_XFER);
	wr32(EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
	while (rd32(EDU_DMA_CMD) & EDU_CMD_START) {
		if (now_ms() > deadline) {
			ksft_test_result(0, "edu finishes a DMA within 10 s\n");
			return 0;
		}
		usleep(1000);
	}
	return 1;
}

/* Have the device copy buffer page @from into buffer page @to. */
static int copy_through_device(int from, int to)
{
	long off;

	for (off = 0; off < page_size; off += EDU_XFER)
		if (!edu_dma(IOVA + from * page_size + off, EDU_BUF, 0) ||
		    !edu_dma(EDU_BUF, IOVA + to * page_size + off, 1))
			return 0;
	return 1;
}

static void fill(char *page, int seed)
{
	long i;

	for (i = 0; i < page_size; i++)
		page[i] = (char)(i * 7 + seed);
}

static int holds(const char *page, int seed)
{
	long i;

	for (i = 0; i < page_size; i++)
		if (page[i] != (char)(i * 7 + seed))
			return 0;
	return 1;
}

/* Open the device's group, put it in a type1 container, map BAR0. */
static void open_device(const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_region_info region = { .argsz = sizeof(region) };
	char path[256], link[256];
	uint16_t cmd;
	int group, dev;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		die(path);
	link[n] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);

	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0)
		die("/dev/vfio/vfio");
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
		die("vfio type1v2 support");
	group = open(path, O_RDWR);
	if (group < 0)
		die(path);
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("group not viable (is every device of it bound to vfio-pci?)");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		die("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("VFIO_SET_IOMMU");
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0)
		die("VFIO_GROUP_GET_DEVICE_FD");

	region.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &region))
		die("BAR0 region info");
	bar = mmap(NULL, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
		   region.offset);
	if (bar == MAP_FAILED)
		die("mmap BAR0");
	if ((rd32(EDU_ID) & 0xffff) != 0x00ed)
		die("BAR0 is not edu's");
	wr32(EDU_LIVENESS, 0x12345678);
	if (rd32(EDU_LIVENESS) != ~0x12345678u)
		die("edu's liveness register");

	/* vfio-pci leaves bus mastering off; without it edu's DMA is lost. */
	region.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &region) ||
	    pread(dev, &cmd, 2, region.offset + PCI_COMMAND) != 2)
		die("PCI config space");
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(dev, &cmd, 2, region.offset + PCI_COMMAND) != 2)
		die("enable bus mastering");
}

static void map_dma(char *buf)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)buf,
		.iova = IOVA,
		.size = BUF_SIZE,
	};

	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
		die("VFIO_IOMMU_MAP_DMA");
}

static void unmap_dma(void)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = IOVA,
		.size = BUF_SIZE,
	};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) ||
	    unmap.size != BUF_SIZE)
		die("VFIO_IOMMU_UNMAP_DMA");
}

static void roundtrip(char *buf)
{
	fill(buf, 1);
	memset(buf + page_size, 0, page_size);
	if (copy_through_device(0, 1))
		ksft_test_result(holds(buf + page_size, 1),
				 "the device read page 0 and wrote it into page 1\n");
}

static void pins(char *buf)
{
	long npages = BUF_SIZE / page_size;
	struct pins before, mapped, after;
	int counted = pins_read(&before);

	map_dma(buf);
	counted &= pins_read(&mapped);
	if (counted) {
		ksft_print_msg("map: nr_foll_pin_acquired +%ld, nr_foll_pin_released +%ld for %ld pages\n",
			       mapped.acquired - before.acquired,
			       mapped.released - before.released, npages);
		/*
		 * type1 pins a page ahead to see whether its pfn continues
		 * the run, and unpins it when it does not: count the pins
		 * held.
		 */
		ksft_test_result((mapped.acquired - mapped.released) -
				 (before.acquired - before.released) == npages, "VFIO_IOMMU_MAP_DMA holds one pin on each page of the buffer\n");
	}
	roundtrip(buf);
	unmap_dma();
	if (counted && pins_read(&after)) {
		ksft_print_msg("unmap: nr_foll_pin_released +%ld\n",
			       after.released - mapped.released);
		ksft_test_result(after.released - mapped.released == npages &&
				 after.acquired == mapped.acquired, "VFIO_IOMMU_UNMAP_DMA releases every pin\n");
	}
}

static void fork_and_dma(char *buf)
{
	int go[2], status;
	pid_t child;
	char c;

	fill(buf + 3 * page_size, 3);
	if (pipe(go))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		/* The child's copy of page 3: what it held at fork. */
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(holds(buf + 3 * page_size, 3) ? 0 : 2);
	}
	/* Writes after fork, in the parent, to the pages the device uses. */
	fill(buf + 2 * page_size, 2);
	memset(buf + 3 * page_size, 0, page_size);
	if (copy_through_device(2, 3))
		ksft_test_result(holds(buf + 3 * page_size, 2),
				 "after fork and a write, the parent sees the device's write\n");
	if (write(go[1], "x", 1) != 1 || waitpid(child, &status, 0) != child)
		die("child");
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			 "the child's copy holds what the page held at fork\n");
}

int main(int argc, char **argv)
{
	char *buf;

	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF roundtrip|pins|fork\n", argv[0]);
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	open_device(argv[1]);
	buf = touched_area(BUF_SIZE, page_size, 0);

	if (!strcmp(argv[2], "pins")) {
		pins(buf);
	} else {
		map_dma(buf);
		if (!strcmp(argv[2], "roundtrip"))
			roundtrip(buf);
		else if (!strcmp(argv[2], "fork"))
			fork_and_dma(buf);
		else
			die("unknown mode");
		unmap_dma();
	}
	ksft_set_plan(ksft_test_num());
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}

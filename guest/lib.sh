# TAP helpers for the guest plans (sourced).
# Every test is followed by the pin balance check: once nothing holds a
# pin, nr_foll_pin_acquired must equal nr_foll_pin_released.

tap_n=0

vmstat() {
	awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print "" }' /proc/vmstat
}

# pins_balanced: true where the counters are absent or equal.
pins_balanced() {
	# Fold the per-cpu differentials first: /proc/vmstat alone can lag.
	echo 1 >/proc/sys/vm/stat_refresh
	acq=$(vmstat nr_foll_pin_acquired)
	rel=$(vmstat nr_foll_pin_released)
	[ "$acq" = "$rel" ] && return 0
	echo "pin counters unbalanced: acquired $acq released $rel"
	return 1
}

# run_test NAME CMD [ARG...]: one test; it passes when CMD exits 0 and
# the pin counters balance afterwards. CMD's output is shown as TAP
# diagnostics ("# "). $res is ok or "not ok" after it.
run_test() {
	name=$1
	shift
	tap_n=$((tap_n + 1))
	if { "$@" && pins_balanced; } >/tmp/tap.out 2>&1; then
		res="ok"
	else
		res="not ok"
	fi
	sed 's/^/# /' /tmp/tap.out
	echo "$res $tap_n $name"
}

# tap_skip NAME WHY: a test that does not apply to this kernel or
# machine, in the plan's numbering, so that every kernel prints the same
# plan (scripts/report counts skips apart). $res is skip after it.
tap_skip() {
	tap_n=$((tap_n + 1))
	res=skip
	echo "ok $tap_n $1 # SKIP $2"
}

# run_test_unless WHY NAME CMD [ARG...]: run_test NAME CMD..., but where
# WHY says why the test does not apply (is not empty), tap_skip NAME WHY.
run_test_unless() {
	if [ -n "$1" ]; then
		tap_skip "$2" "$1"
	else
		shift
		run_test "$@"
	fi
}

# gup_range KIND ARGS...: run gup_benchmark over a range of KIND (base,
# thp, hugetlb, hugetlb64k or file) and prove the range was what its name
# says.
gup_range() {
	kind=$1
	shift
	# A pin mode over -m MiB must count exactly one acquired pin per
	# 4 KiB page, however the pins were batched.
	pin= mb= prev=
	for a in "$@"; do
		case $a in -a | -b | -L) pin=1 ;; esac
		[ "$prev" = -m ] && mb=$a
		prev=$a
	done
	echo 1 >/proc/sys/vm/stat_refresh
	acquired=$(vmstat nr_foll_pin_acquired)
	before=$(vmstat thp_fault_alloc)
	case $kind in
	base) /selftests/gup_benchmark -T "$@" || return 1 ;;
	thp) /selftests/gup_benchmark -t "$@" || return 1 ;;
	file)
		# A shared mapping of a tmpfs file: shmem page cache pages.
		rm -f /tmp/gup.file && truncate -s 64M /tmp/gup.file || return 1
		/selftests/gup_benchmark -S -f /tmp/gup.file "$@" || return 1
		;;
	hugetlb)
		free=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
		[ "${free:-0}" -gt 0 ] || { echo "no free hugetlb pages"; return 1; }
		/selftests/gup_benchmark -H "$@" || return 1
		;;
	hugetlb64k)
		# arm64's 64 KiB huge pages (16 contiguous PTEs): a file of a
		# hugetlbfs mount of that size (hugetlb64k_setup).
		grep -q " $huge64k_mnt hugetlbfs .*pagesize=64K" /proc/mounts ||
			{ echo "no 64 KiB hugetlbfs at $huge64k_mnt"; return 1; }
		# The last test's file gives its pages back when removed.
		rm -f $huge64k_mnt/gup && truncate -s 64M $huge64k_mnt/gup || return 1
		free=$(cat $huge64k_sys/free_hugepages)
		/selftests/gup_benchmark -S -f $huge64k_mnt/gup "$@" || return 1
		used=$((free - $(cat $huge64k_sys/free_hugepages)))
		echo "64 KiB huge pages in use: $used"
		[ "$used" -ge $((mb * 16)) ] ||
			{ echo "range was not backed by 64 KiB huge pages"; return 1; }
		;;
	esac
	after=$(vmstat thp_fault_alloc)
	echo "thp_fault_alloc: $before -> $after"
	if [ -n "$pin" ]; then
		echo 1 >/proc/sys/vm/stat_refresh
		acquired=$(($(vmstat nr_foll_pin_acquired) - ${acquired:-0}))
		echo "nr_foll_pin_acquired: +$acquired for $mb MiB"
		[ "$acquired" -eq $((mb * 256)) ] ||
			{ echo "expected +$((mb * 256)) pins"; return 1; }
	fi
	case $kind in
	thp) [ "$after" -gt "$before" ] || { echo "range was not backed by THP"; return 1; } ;;
	base | file) [ "$after" -eq "$before" ] || { echo "range was backed by THP"; return 1; } ;;
	esac
}

# dump_shows_pincount: -D dumps pinned pages of a fully pinned THP range;
# the head's dump must show all 512 pins of its exact count.
dump_shows_pincount() {
	dmesg -c >/dev/null
	gup_range thp -b -D -m 4 -n 512 || return 1
	dmesg | grep -E 'page:|head:' | sed 's/^/dmesg: /'
	dmesg | grep -q 'compound_pincount:512' ||
		{ echo "no compound_pincount:512 in dump_page output"; return 1; }
}

# kunit_results SUITE [WHY]: one TAP line per case of the KUnit SUITE,
# which ran at boot, read from debugfs. The cases are those of the
# series' tree (/etc/kunit-SUITE.cases, from scripts/mkinitramfs), so
# that a kernel without the suite (WHY) skips the same list, and a case
# that did not run fails.
kunit_results() {
	r=/sys/kernel/debug/kunit/$1/results
	cases=$(cat /etc/kunit-$1.cases 2>/dev/null)
	if [ -n "${2:-}" ]; then
		tap_skip "pin_kunit_$1_suite_ran" "$2"
		for c in $cases; do
			tap_skip "pin_kunit_$1_$c" "$2"
		done
		return
	fi
	tap_n=$((tap_n + 1))
	if [ -f "$r" ]; then
		echo "ok $tap_n pin_kunit_$1_suite_ran"
		sed 's/^/# /' "$r" | grep -E '^# +# ' || true
	else
		echo "not ok $tap_n pin_kunit_$1_suite_ran"
	fi
	for c in $cases; do
		tap_n=$((tap_n + 1))
		if grep -Eq "^[[:space:]]+ok [0-9]+ - $c\$" "$r" 2>/dev/null; then
			echo "ok $tap_n pin_kunit_$1_$c"
		else
			echo "not ok $tap_n pin_kunit_$1_$c"
		fi
	done
}

# The 64 KiB hugetlb pages of the hugetlb64k ranges: a pool of 1024 (64
# MiB, one range's file) and a hugetlbfs mount of that page size. The
# file stays mapped by nobody between tests, so its pages go back to the
# pool when the next test truncates it.
huge64k_mnt=/mnt/huge64k
huge64k_sys=/sys/kernel/mm/hugepages/hugepages-64kB
hugetlb64k_setup() {
	[ -d $huge64k_sys ] || { echo "this kernel has no 64 KiB hugetlb size"; return 1; }
	echo 1024 >$huge64k_sys/nr_hugepages
	cat $huge64k_sys/nr_hugepages
	[ "$(cat $huge64k_sys/nr_hugepages)" -eq 1024 ] || return 1
	mkdir -p $huge64k_mnt
	mount -t hugetlbfs -o pagesize=64K none $huge64k_mnt
}

# with_empty_hugetlb_pool CMD [ARG...]: run CMD with no hugetlb page in
# the pool, then give the pool its pages back.
with_empty_hugetlb_pool() {
	pool=$(cat /proc/sys/vm/nr_hugepages)
	echo 0 >/proc/sys/vm/nr_hugepages
	"$@"
	rc=$?
	echo "$pool" >/proc/sys/vm/nr_hugepages
	return $rc
}

# setup_zram_swap: swap on a 64 MiB zram device, for the reclaim test
# (which fails by itself when there is no swap); says so when it cannot.
setup_zram_swap() {
	{ echo 64M >/sys/block/zram0/disksize && mkswap /dev/zram0 &&
		swapon /dev/zram0; } >/dev/null 2>&1 ||
		echo "# no zram swap: the reclaim test will fail"
}

# Device-mapper without udev: dmsetup makes the /dev/mapper nodes itself
# and waits for no udev cookie. Debian's dmsetup and mke2fs are called by
# their path: busybox sh would run its own mke2fs applet first.
export DM_DISABLE_UDEV=1
dm() {
	/sbin/dmsetup --noudevsync "$@"
}

# dm_create NAME TABLE: a device-mapper device at /dev/mapper/NAME.
dm_create() {
	dm create "$1" --table "$2" || return 1
	[ -b "/dev/mapper/$1" ] || dm mknodes "$1"
	[ -b "/dev/mapper/$1" ] || { echo "no /dev/mapper/$1"; return 1; }
}

# The devices of the DIO pin tests (guest/pin_dio.c). dm-delay delays
# reads only (writes go to the same device undelayed), long enough for a
# fork() in the middle of a read:
#   /dev/ram0                  the raw ramdisk
#   /dev/mapper/dio_delay      /dev/ram1, reads delayed
#   /dev/mapper/dio_ext4       /dev/ram2, reads delayed, ext4 on /mnt/ext4
#   /dev/mapper/dio_ext2       /dev/ram3, reads delayed, ext2 on /mnt/ext2
#   /dev/mapper/dio_error      every read and write fails
#   /dev/mapper/dio_error_late dio_error behind a delay: fails late
# Its variables are prefixed: run_test()'s and the plan's are globals too.
# DIO_DELAY_MS (plan.env) lengthens the delay where the guest is a
# foreign architecture, whose fork() under TCG can outlast 400 ms.
dio_setup() {
	dio_delay_ms=${DIO_DELAY_MS:-400}
	dio_sectors=$(cat /sys/block/ram1/size) || return 1
	# A fixed UUID and hash seed: the guest's entropy pool is not ready
	# so soon after boot, and mke2fs waits 4 s for a random one. ext4 in
	# 4 KiB blocks, its inode tables and journal zeroed now rather than by
	# a kernel thread during the tests; ext2 in 1 KiB blocks, so that
	# fs/direct-io.c maps several blocks in one page of the buffer.
	dio_uuid=0b5e6f0e-9d1c-4a57-8a8e-d10d10d10d10
	/sbin/mke2fs -F -q -t ext4 -b 4096 -U $dio_uuid \
		-E hash_seed=$dio_uuid,lazy_itable_init=0,lazy_journal_init=0 \
		/dev/ram2 || return 1
	/sbin/mke2fs -F -q -t ext2 -b 1024 -U $dio_uuid -E hash_seed=$dio_uuid \
		/dev/ram3 || return 1
	for dio_dm in 1:dio_delay 2:dio_ext4 3:dio_ext2; do
		dio_dev=/dev/ram${dio_dm%%:*}
		dm_create "${dio_dm#*:}" \
			"0 $dio_sectors delay $dio_dev 0 $dio_delay_ms $dio_dev 0 0" ||
			return 1
	done
	dm_create dio_error "0 $dio_sectors error" || return 1
	dm_create dio_error_late \
		"0 $dio_sectors delay /dev/mapper/dio_error 0 $dio_delay_ms" || return 1
	mkdir -p /mnt/ext4 /mnt/ext2
	mount -t ext4 /dev/mapper/dio_ext4 /mnt/ext4 &&
		mount -t ext2 /dev/mapper/dio_ext2 /mnt/ext2 || return 1
	dm ls
	mount | grep /dev/mapper
}

dio_teardown() {
	dio_rc=0
	umount /mnt/ext4 || dio_rc=1
	umount /mnt/ext2 || dio_rc=1
	for dio_dm in dio_error_late dio_error dio_delay dio_ext4 dio_ext2; do
		dm remove "$dio_dm" || dio_rc=1
	done
	return $dio_rc
}

# The share of the 9p pin tests (guest/pin_9p.c): the host directory
# scripts/boot exports over virtio-9p as tag pin9p, mounted with
# cache=none, so that every read and write goes to the host, and an msize
# far over the 1 KiB above which requests are zero-copy. Its variables are
# prefixed: run_test()'s and the plan's are globals too.
p9_mnt=/mnt/9p
p9_setup() {
	mkdir -p $p9_mnt
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 \
		pin9p $p9_mnt || return 1
	grep " $p9_mnt " /proc/mounts
}

p9_teardown() {
	umount $p9_mnt
}

# settled_mem: "MEMFREE LRU HUGETLB" in kB once the caches and the
# hugetlb pool have given back what they can (the pool is left empty).
# LRU is the anonymous, file and unevictable pages left on the LRU lists:
# a page whose pin was leaked stays there, unmapped, after its process
# has exited. HUGETLB is what the pool could not give back.
settled_mem() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo 0 >/proc/sys/vm/nr_hugepages
	echo 1 >/proc/sys/vm/compact_memory
	sleep 2
	awk '/^MemFree:/ { free = $2 }
		/^(Active|Inactive)\((anon|file)\):|^Unevictable:/ { lru += $2 }
		/^HugePages_Total:/ { huge = $2 }
		/^Hugepagesize:/ { hsize = $2 }
		END { print free, lru, huge * hsize }' /proc/meminfo
}

# memory_came_back "MEMFREE LRU HUGETLB" FREE_MARGIN LRU_MARGIN: after
# a run, settled memory is back to what settled_mem said before it: free
# memory within FREE_MARGIN kB, LRU pages within LRU_MARGIN kB, and the
# hugetlb pool empty. The free margin covers what the kernel keeps for
# itself (KASAN's quarantine holds up to 1/32 of memory in freed slab
# objects); the LRU margin, the shell's own pages.
memory_came_back() {
	set -- $1 "$2" "$3"
	after=$(settled_mem)
	set -- "$@" $after
	echo "MemFree: $1 kB before, $6 kB after ($(($1 - $6)) kB less; margin $4 kB)"
	echo "LRU pages: $2 kB before, $7 kB after ($(($7 - $2)) kB more; margin $5 kB)"
	echo "hugetlb pages left in the emptied pool: $8 kB"
	echo "figure: memory_not_returned_kb $(($1 - $6)) (free) $(($7 - $2)) (lru) $8 (hugetlb)"
	[ $(($1 - $6)) -le "$4" ] && [ $(($7 - $2)) -le "$5" ] && [ "$8" -eq 0 ]
}

# tap_plan_end: the plan, 1..N, after the last test (as kselftest's
# ksft_finished() prints it); scripts/report checks it against the results.
tap_plan_end() {
	echo "1..$tap_n"
}

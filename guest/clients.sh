# The real clients (sourced after lib.sh): fio on a ramdisk, rdma-core
# over soft-RoCE and a vfio user-space driver of QEMU's edu device, each
# run as its users run it. clients short|full runs them all: short inside
# the test plan, full for make clients. Each client's own success is one
# test; the pins it takes, exactly, are pin_ tests. Each is run_test_unless
# a reason it does not apply here, so that every kernel lists them all.

# pin_sampler FILE: record the pins held (acquired - released), every
# 50 ms, one line each, into FILE until killed.
pin_sampler() {
	while :; do
		echo 1 >/proc/sys/vm/stat_refresh
		awk '$1 == "nr_foll_pin_acquired" { a = $2 }
			$1 == "nr_foll_pin_released" { r = $2 }
			END { print a - r }' /proc/vmstat
		usleep 50000
	done >"$1"
}

# fio_run NAME EXPECT ARGS...: run fio on /dev/ram1 with ARGS, its output
# terse, while sampling the pins held. EXPECT says what its pins must be:
#   reg:N   exactly N pins, all taken at the start (a registration), held
#           through the job, and released at its end: nr_foll_pin_acquired
#           grows by N over the whole job;
#   io      one pin for each 4 KiB page of IO (O_DIRECT on pins): the
#           job's acquired delta equals the KiB it read and wrote / 4.
# The client's own success: fio exits 0 with no error in its terse line
# (verify failures make it fail).
fio_run() {
	job=$1 expect=$2
	shift 2
	echo 1 >/proc/sys/vm/stat_refresh
	acq0=$(vmstat nr_foll_pin_acquired)
	pin_sampler /tmp/fio.pins &
	sampler=$!
	/sbin/fio --name="$job" --filename=/dev/ram1 --direct=1 \
		--output-format=terse "$@" >/tmp/fio.out 2>&1
	rc=$?
	kill $sampler
	wait $sampler 2>/dev/null
	cat /tmp/fio.out
	echo 1 >/proc/sys/vm/stat_refresh
	acq1=$(vmstat nr_foll_pin_acquired)
	acquired=$((${acq1:-0} - ${acq0:-0}))
	line=$(grep '^3;' /tmp/fio.out)
	kib=$(echo "$line" | awk -F';' '{ print $6 + $47 }')
	err=$(echo "$line" | awk -F';' '{ print $5 }')
	max=$(sort -n /tmp/fio.pins | tail -n 1)
	echo "fio exit $rc, error '$err', $kib KiB of IO;" \
		"nr_foll_pin_acquired +$acquired, most pins held at once $max"
	fio_pins_ok=0
	case $expect in
	reg:*)
		n=${expect#reg:}
		fio_pins="expected $n pins, all held while the job ran"
		[ "$acquired" = "$n" ] && [ "$max" = "$n" ] && fio_pins_ok=1 ;;
	io)
		# brd completes a bio inside submit_bio(): these pins live
		# only inside io_submit(), and the sampler sees some of them
		# only when it runs on the other CPU at the time.
		fio_pins="expected +$((kib / 4)) acquired, one per 4 KiB page of IO"
		[ "$acquired" = $((kib / 4)) ] && fio_pins_ok=1 ;;
	esac
	[ "$rc" = 0 ] && [ "$err" = 0 ] && [ "${kib:-0}" -gt 0 ]
}

fio_pins_ok() {
	echo "nr_foll_pin_acquired +$acquired, most held at once $max; $fio_pins"
	[ "$fio_pins_ok" = 1 ]
}

# fio_client NAME EXPECT ARGS...: one fio job as two tests, its own success
# and (where the kernel pins) its pins: registrations where the tree has
# the pin API, Direct IO where it has the series' checks (stock 5.10's
# Direct IO takes references).
fio_client() {
	client=$1
	no_fio_pins=${no_clients:-$cl_no_pins}
	[ "$2" = io ] && no_fio_pins=${no_clients:-$cl_no_dio_pins}
	run_test_unless "$no_clients" "client_fio_$client" fio_run "$@"
	run_test_unless "$no_fio_pins" "pin_fio_${client}_pins_exact" fio_pins_ok
}

clients_fio() {
	size=$1
	# io_uring with registered (fixed) buffers: fio registers iodepth
	# buffers of bs each, one pin per page for the life of the job, and
	# its O_DIRECT IO on them takes no more pins. Write, then read back
	# and verify every block.
	fio_client io_uring_fixedbufs_4k_verify reg:16 --ioengine=io_uring \
		--fixedbufs --rw=randwrite --bs=4k --iodepth=16 --size="$size" \
		--verify=crc32c --do_verify=1
	fio_client io_uring_fixedbufs_128k_verify reg:256 --ioengine=io_uring \
		--fixedbufs --rw=randwrite --bs=128k --iodepth=8 --size="$size" \
		--verify=crc32c --do_verify=1
	# libaio O_DIRECT: every request pins its pages until it completes.
	fio_client libaio_4k_verify io --ioengine=libaio --rw=randwrite \
		--bs=4k --iodepth=16 --size="$size" --verify=crc32c --do_verify=1
	fio_client libaio_64k_randread io --ioengine=libaio --rw=randread \
		--bs=64k --iodepth=8 --size="$size"
}

# rxe0, soft-RoCE on a dummy netdev at 10.11.0.1; rdma_gid: the index of
# its IPv4 (RoCE v2) GID.
rdma_setup() {
	[ -e /sys/class/infiniband/rxe0 ] && return 0
	# CONFIG_DUMMY makes dummy0 at boot.
	ip link set lo up &&
		{ [ -e /sys/class/net/dummy0 ] || ip link add dummy0 type dummy; } &&
		ip addr add 10.11.0.1/24 dev dummy0 &&
		ip link set dummy0 up &&
		/sbin/rdma link add rxe0 type rxe netdev dummy0 &&
		[ -e /sys/class/infiniband/rxe0 ]
}

rdma_gid() {
	for g in /sys/class/infiniband/rxe0/ports/1/gids/*; do
		grep -q ':ffff:0a0b:0001$' "$g" 2>/dev/null && { basename "$g"; return 0; }
	done
	return 1
}

# with_server SERVER... -- CLIENT...: start the server command in the
# background, give it a second to listen, run the client; both must
# succeed.
with_server() {
	server=
	while [ "$1" != -- ]; do
		server="$server $1"
		shift
	done
	shift
	$server >/tmp/server.out 2>&1 &
	srv=$!
	sleep 1
	"$@"
	rc=$?
	wait $srv
	src=$?
	sed 's/^/server: /' /tmp/server.out
	[ $rc = 0 ] && [ $src = 0 ]
}

# rdma_pingpong ITERS: ibv_rc_pingpong between two processes over rxe0,
# each checking the data it receives (--chk).
rdma_pingpong() {
	gid=$(rdma_gid) || { echo "rxe0 has no IPv4 GID"; return 1; }
	with_server /sbin/ibv_rc_pingpong -d rxe0 -g "$gid" -n "$1" -c -- \
		/sbin/ibv_rc_pingpong -d rxe0 -g "$gid" -n "$1" -c 127.0.0.1
}

# rdma_rping COUNT: rping over the RDMA CM, client and server validating
# the data of every ping (-V).
rdma_rping() {
	with_server /sbin/rping -s -a 10.11.0.1 -C "$1" -V -- \
		/sbin/rping -c -a 10.11.0.1 -C "$1" -V
}

clients_rdma() {
	iters=$1
	run_test_unless "$no_clients" client_rdma_rxe_up rdma_setup
	no_rdma=$no_clients
	[ "$res" != "not ok" ] || no_rdma="soft-RoCE (rxe0) did not come up"
	run_test_unless "$no_rdma" client_rdma_ibv_rc_pingpong_data_checked rdma_pingpong "$iters"
	run_test_unless "$no_rdma" client_rdma_rping_data_checked rdma_rping "$iters"
	run_test_unless "${no_rdma:-$cl_no_pins}" pin_rdma_reg_mr_64m_thp_pins_each_page \
		/selftests/rdma_mr rxe0 reg
	run_test_unless "${no_rdma:-$cl_no_pins}" pin_rdma_sigkill_releases_registration \
		/selftests/rdma_mr rxe0 kill
}

# vfio_setup: bind QEMU's edu device (1234:11e8) to vfio-pci; its PCI
# address in $edu.
vfio_setup() {
	edu=
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ] &&
			edu=${d##*/}
	done
	[ -n "$edu" ] || { echo "no edu device (scripts/boot adds one)"; return 1; }
	[ -e "/sys/bus/pci/drivers/vfio-pci/$edu" ] ||
		echo 1234 11e8 >/sys/bus/pci/drivers/vfio-pci/new_id
	[ -e "/sys/bus/pci/drivers/vfio-pci/$edu" ] ||
		{ echo "edu at $edu not bound to vfio-pci"; return 1; }
	echo "edu at $edu, iommu group $(basename "$(readlink "/sys/bus/pci/devices/$edu/iommu_group")")"
}

clients_vfio() {
	run_test_unless "$no_clients" client_vfio_edu_bound vfio_setup
	no_vfio=$no_clients
	[ "$res" != "not ok" ] || no_vfio="the edu device is not bound to vfio-pci"
	run_test_unless "$no_vfio" client_vfio_edu_dma_roundtrip /selftests/vfio_edu "$edu" roundtrip
	run_test_unless "${no_vfio:-$cl_no_pins}" pin_vfio_edu_map_dma_pins_each_page \
		/selftests/vfio_edu "$edu" pins
	run_test_unless "${no_vfio:-$cl_no_pins}" pin_vfio_edu_fork_parent_sees_dma \
		/selftests/vfio_edu "$edu" fork
}

# clients short|full: every client's tests, skipped with the reason where
# they do not apply (another architecture, a kernel without pins).
clients() {
	cl_no_pins=
	[ "${PINS:-0}" = 1 ] || cl_no_pins="no pin API in this tree (PINS=0)"
	cl_no_dio_pins=
	[ "${PINCHECK:-0}" = 1 ] || cl_no_dio_pins="Direct IO takes references in this tree (PINCHECK=0)"
	no_clients=
	[ "${ARCH:-x86_64}" = x86_64 ] ||
		no_clients="fio, rdma-core and vfio (edu, intel-iommu) are set up for x86_64 guests only"
	edu=
	clients_start=$(date +%s)
	case $1 in
	short) clients_fio 8M; clients_rdma 20; clients_vfio ;;
	full) clients_fio 64M; clients_rdma 1000; clients_vfio ;;
	esac
	echo "# real clients ($1): $(($(date +%s) - clients_start)) s"
}

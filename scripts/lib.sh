# Shared helpers for the scripts in this directory (sourced, not run).
# Paths, logging and the one-line error convention.

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
logs=$build/logs
tree=$build/linux
mkdir -p "$logs"

die() {
	echo "error: $*" >&2
	exit 1
}

# step [-k] NAME CMD...: run a long step with one line at start and one
# at end, with the time it took; its output goes to build/logs/NAME.log.
# A step that fails shows the end of its log and ends the script, or,
# with -k, returns 1 (for a script that runs on and names what failed).
step() {
	step_keep=
	[ "$1" != -k ] || { step_keep=1; shift; }
	step_name=$1
	shift
	step_log=$logs/$step_name.log
	step_start=$(date +%s)
	echo "== $step_name ..."
	step_rc=0
	"$@" >"$step_log" 2>&1 || step_rc=$?
	step_secs=$(($(date +%s) - step_start))
	if [ "$step_rc" -eq 0 ]; then
		echo "== $step_name done (${step_secs}s)"
		return 0
	fi
	tail -n 20 "$step_log" >&2
	[ -n "$step_keep" ] || die "$step_name failed after ${step_secs}s; full log: $step_log"
	echo "== $step_name FAILED after ${step_secs}s; full log: $step_log" >&2
	return 1
}

# src_dir KERNEL: the source tree for stock, baseline or series.
src_dir() {
	case $1 in
	series) echo "$tree" ;;
	stock | baseline | bisect) echo "$build/src-$1" ;;
	*) die "unknown KERNEL '$1': use stock, baseline or series" ;;
	esac
}

# hash_queue DIR: a hash of a patch queue (its series file and patches),
# recorded by mktree and export to tell when build/linux is stale.
hash_queue() {
	(cd "$top/$1" && cat series $(grep -v '^#' series) 2>/dev/null) |
		sha256sum | cut -c1-16
}

# checkout_src KERNEL: make src_dir KERNEL hold that kernel's tree (a git
# worktree of build/linux at its tag, or at REV for bisect).
checkout_src() {
	[ "$1" != series ] || return 0
	src=$(src_dir "$1")
	if [ -d "$src" ]; then
		git -C "$src" checkout -q --detach "${REV:-$1}"
	else
		git -C "$tree" worktree add -q --detach "$src" "${REV:-$1}"
	fi
}

# config_sfx: the suffix CONFIG= gives obj dirs: none for the test
# kernel's (qemu, the default), -CONFIG for the others, as build-kernel
# names them.
config_sfx() {
	case ${CONFIG:-qemu} in
	qemu) ;;
	*) echo "-$CONFIG" ;;
	esac
}

# The architectures the harness knows, one line each (ARCH=, default
# x86_64): the kernel's ARCH and cross compiler, the Debian architecture
# of the guest's busybox, mke2fs and dmsetup, the kernel image and the
# QEMU that boots it (none: built, never booted), and the defconfig the
# call-site build starts from. Sets arch, sfx (the suffix of obj dirs,
# initramfs and logs: empty for x86_64), karch, srcarch, cross, deb,
# triplet (Debian's multiarch name of deb), image, qemu,
# console and defconfig; kmake runs the kernel's make for them.
arch_setup() {
	arch=${ARCH:-x86_64}
	case $arch in
	x86_64) set -- x86_64 "" amd64 arch/x86/boot/bzImage \
		"qemu-system-x86_64 -machine q35 -cpu max" ttyS0 x86_64_defconfig ;;
	i386) set -- i386 "" i386 arch/x86/boot/bzImage \
		"qemu-system-i386 -machine q35 -cpu max,vendor=GenuineIntel" ttyS0 i386_defconfig ;;
	arm64) set -- arm64 aarch64-linux-gnu- arm64 arch/arm64/boot/Image \
		"qemu-system-aarch64 -machine virt -cpu max,pauth-impdef=on" ttyAMA0 defconfig ;;
	ppc64le) set -- powerpc powerpc64le-linux-gnu- - - - - ppc64le_defconfig ;;
	s390x) set -- s390 s390x-linux-gnu- - - - - defconfig ;;
	sparc64) set -- sparc64 sparc64-linux-gnu- - - - - sparc64_defconfig ;;
	*) die "unknown ARCH '$arch': use x86_64, i386, arm64, ppc64le, s390x or sparc64" ;;
	esac
	karch=$1 cross=$2 deb=$3 image=$4 qemu=$5 console=$6 defconfig=$7
	case $karch in
	x86_64 | i386) srcarch=x86 ;;
	sparc64) srcarch=sparc ;;
	*) srcarch=$karch ;;
	esac
	case $deb in
	amd64) triplet=x86_64-linux-gnu ;;
	i386) triplet=i386-linux-gnu ;;
	arm64) triplet=aarch64-linux-gnu ;;
	esac
	sfx=-$arch
	[ "$arch" != x86_64 ] || sfx=
	ccache=$(command -v ccache || true)
}

# kmake ARGS...: the kernel's make in $src with objects in $obj, for ARCH
# (arch_setup), through ccache where the host has it: every script's
# make of a kernel tree goes through here, so that their objects agree.
kmake() {
	make -C "$src" O="$obj" ARCH="$karch" CROSS_COMPILE="$cross" \
		CC="${ccache:+ccache }${cross}gcc" -j"$(nproc)" "$@"
}

# fragment_holds FRAGMENT CONFIG: every line of the config FRAGMENT holds
# in the .config file CONFIG: those that set an option (CONFIG_X=v) and
# those that unset it (CONFIG_X=n, "# CONFIG_X is not set"), but for
# options the tree in $src does not have (the series' KUnit suite on
# stock and baseline). Names the lines that do not hold.
fragment_holds() {
	known=$(cd "$src" && find . -name 'Kconfig*' -exec cat {} + |
		sed -n 's/^\(menu\)\{0,1\}config \([A-Z0-9_]*\)$/CONFIG_\2/p' | sort -u)
	missing=$(sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1=n/p
		/^CONFIG_[A-Z0-9_]*=/p' "$1" | while read -r line; do
		sym=${line%%=*}
		echo "$known" | grep -qx "$sym" || continue
		case $line in
		*=n) ! grep -q "^$sym=" "$2" ;;
		*) grep -qxF "$line" "$2" ;;
		esac || printf ' %s' "$line"
	done)
	[ -z "$missing" ] || { echo "not as $(basename "$1") says:$missing"; return 1; }
}

# guest_cc ARGS...: the C compiler for the guest's static binaries.
guest_cc() {
	case $arch in
	i386) gcc -m32 "$@" ;;
	*) "${cross}gcc" "$@" ;;
	esac
}

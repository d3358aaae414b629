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

# step NAME CMD...: run a long step with one line at start and one at end;
# its output goes to build/logs/NAME.log.
step() {
	name=$1
	shift
	log=$logs/$name.log
	start=$(date +%s)
	echo "== $name ..."
	if "$@" >"$log" 2>&1; then
		echo "== $name done ($(($(date +%s) - start))s)"
	else
		tail -n 20 "$log" >&2
		die "$name failed after $(($(date +%s) - start))s; full log: $log"
	fi
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

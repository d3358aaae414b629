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

# t NAME CMD [ARG...]: one test; it passes when CMD exits 0 and the pin
# counters balance afterwards. CMD's output is shown as TAP diagnostics.
t() {
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

# gup_range KIND ARGS...: run gup_benchmark over a range of KIND (base,
# thp or hugetlb) and prove the range was what its name says.
gup_range() {
	kind=$1
	shift
	before=$(vmstat thp_fault_alloc)
	case $kind in
	base) /selftests/gup_benchmark -T "$@" || return 1 ;;
	thp) /selftests/gup_benchmark -t "$@" || return 1 ;;
	hugetlb)
		free=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
		[ "${free:-0}" -gt 0 ] || { echo "no free hugetlb pages"; return 1; }
		/selftests/gup_benchmark -H "$@" || return 1
		;;
	esac
	after=$(vmstat thp_fault_alloc)
	echo "thp_fault_alloc: $before -> $after"
	case $kind in
	thp) [ "$after" -gt "$before" ] || { echo "range was not backed by THP"; return 1; } ;;
	base) [ "$after" -eq "$before" ] || { echo "range was backed by THP"; return 1; } ;;
	esac
}

tap_plan_end() {
	echo "1..$tap_n"
}

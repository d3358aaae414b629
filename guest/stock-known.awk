# Print the line numbers, in a kernel log, of the WARNING lines of the one
# known warning of stock Debian 5.10.262 that the jobs allow (see
# scripts/report): i_mmap_assert_write_locked() whose call trace starts
# hugetlb_split(), __vma_adjust(). Frames marked "?" are skipped; a
# warning whose trace does not follow within 60 lines is not allowed.
/WARNING: CPU: [0-9]+ PID: [0-9]+ at i_mmap_assert_write_locked\+/ {
	cand = NR; trace = 0; frame = 0
	next
}
cand && NR - cand > 60 { cand = 0 }
cand && /Call Trace:/ { trace = 1; next }
cand && trace && /\]  [A-Za-z0-9_.]+\+0x/ {
	frame++
	if (frame == 1 && $0 !~ /\]  hugetlb_split\+0x/)
		cand = 0
	else if (frame == 2) {
		if ($0 ~ /\]  __vma_adjust\+0x/)
			print cand
		cand = 0
	}
}

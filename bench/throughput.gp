# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Stream throughput per write size, daemon vs. AF_UNIX baseline, both
# directions. Called by run.sh with datafile, outfile and compare (0/1).
# Log scale: 64-byte writes move a hundredth of what 64 KiB writes move.
if (!exists("compare")) compare = 0

set terminal pngcairo size 1100,620 font ",11" noenhanced
set output outfile
set title "vhost-device-vsock stream throughput vs AF_UNIX baseline\n" . \
	  (compare ? "(vdv-bench, daemons A and B)" : "(vdv-bench; bar labels: daemon / baseline)")
set ylabel "MiB/s (log scale)"
set xlabel "write size"
set logscale y
set grid ytics
set key top left
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [1:*]

if (compare) {
	plot datafile using 2:xtic(1) title "baseline g->h" lc rgb "#9e9e9e", \
	     '' using 3 title "A guest->host" lc rgb "#1f77b4", \
	     '' using 6 title "B guest->host" lc rgb "#17becf", \
	     '' using 4 title "baseline h->g" lc rgb "#616161", \
	     '' using 5 title "A host->guest" lc rgb "#d62728", \
	     '' using 7 title "B host->guest" lc rgb "#ff7f0e"
} else {
	# Four bars per size, 0.2 wide: the daemon's bars sit at -0.1 and
	# +0.3 from the size's centre; each is labelled with its ratio to the
	# baseline (or FAILED, at the bottom, when it has no value).
	plot datafile using 2:xtic(1) title "AF_UNIX baseline (g->h run)" lc rgb "#9e9e9e", \
	     '' using 3 title "daemon guest->host" lc rgb "#1f77b4", \
	     '' using 4 title "AF_UNIX baseline (h->g run)" lc rgb "#616161", \
	     '' using 5 title "daemon host->guest" lc rgb "#d62728", \
	     '' using ($0 - 0.1):($3 > 0 ? $3 * 1.25 : 1.6):6 with labels notitle font ",10", \
	     '' using ($0 + 0.3):($5 > 0 ? $5 * 1.25 : 1.6):7 with labels notitle font ",10"
}

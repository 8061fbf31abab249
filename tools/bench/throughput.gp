# throughput.gp — committed writes per second against requests in flight,
# raftq beside etcd and NATS JetStream (tools/bench/bench_compare.sh makes the
# data: columns in_flight raftq etcd nats, NaN where a run gave nothing).
# gnuplot -e "data='inflight.dat'; out='throughput.png'; title='machine, date'" throughput.gp
if (!exists("data")) data = 'inflight.dat'
if (!exists("out")) out = 'throughput.png'
if (!exists("title")) title = ''
set terminal pngcairo size 900,560 noenhanced
set output out
set title sprintf("256 B writes, 3 nodes on loopback: throughput against in flight (%s)", title)
set xlabel "requests in flight"
set ylabel "committed writes per second"
set logscale x 2
set grid
set key top left
set datafile missing "NaN"
plot data using 1:2 with linespoints lw 2 title "raftq (fdatasync before ack)", \
     data using 1:3 with linespoints lw 2 title "etcd 3.4 (fdatasync before ack)", \
     data using 1:4 with linespoints lw 2 title "NATS JetStream R3 (ack before fsync)"

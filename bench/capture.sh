#!/usr/bin/env bash
# eBPF capture overhead, measured in one run against the same work without capture.
#   bench/capture.sh            (root; make bench-capture builds first)
#   N=2000000 WRK_SECONDS=10 ROUNDS=1 B=.build/release [BPF_OBJECT=FILE] [SIZES="64 256 4096 16384"] bench/capture.sh
# 1. write()+read() pairs over loopback TCP (64 B, 256 B, 4 KiB, 16 KiB): uncaptured,
#    captured (--pid) writing NDJSON, captured writing --format bin, and running while
#    capture targets another process; each size under a capture of its own, so events
#    handled and lost (olly-capture's final stats) and the consumer's CPU (schedstat, all
#    threads, while the loop runs) are per size: per pair and per event.
#    Then the data-record encoder alone per size (olly-bench append-data).
# 2. nginx serving a 612-byte page under wrk on loopback, with and without capture.
# ROUNDS > 1 repeats both parts in turn and reports medians (see below).
# Loopback only; bounded in time (about ROUNDS * (N/2M * 4 min + 2 * WRK_SECONDS + 5 s)).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000000}
WRK_SECONDS=${WRK_SECONDS:-10}
B=${B:-.build/release}
OUT=bench/out/capture
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "capture.sh: needs root (eBPF)" >&2; exit 69; }
[ -x "$B/olly-capture" ] || { echo "capture.sh: build first (make release)" >&2; exit 1; }
if [ -z "${BPF_OBJECT:-}" ]; then bpf/build.sh "$B/olly.bpf.o"; BPF_OBJECT=$B/olly.bpf.o; fi
${CC:-cc} -O2 -o "$OUT/loop" bench/capture-loop.c

# Runs the loop at one size under a capture (mode targeted, bin or untargeted; extra
# olly-capture options after the size), or none; a capture of its own per size, so
# its final stats count the events and losses of that size alone. Prints the loop's
# line ("size ns/pair cpu_ns/pair consumer_cpu_ns"), then "stats lost events".
loop_under() {
	local mode=$1 size=$2; shift 2
	rm -f "$OUT/go"; mkfifo "$OUT/go"
	"$OUT/loop" "$N" --wait "$size" < "$OUT/go" > "$OUT/loop.$mode" &
	local loop=$!
	exec 3> "$OUT/go"
	local olly= other=
	if [ "$mode" != none ]; then
		local target=$loop
		if [ "$mode" = untargeted ]; then sleep 1000 & other=$!; target=$other; fi
		"$B/olly-capture" --pid "$target" --stats-interval 0 --bpf-object "$BPF_OBJECT" "$@" 2> "$OUT/err.$mode" | tail -c 65536 > "$OUT/tail.$mode" &
		# (the pipeline may not have started it yet: a capture left running would
		# disturb every later measurement)
		for _ in $(seq 50); do olly=$(pgrep -n -f "olly-capture --pid $target " || true); [ -n "$olly" ] && break; sleep 0.1; done
		for _ in $(seq 100); do grep -q '"kind":"proc"' "$OUT/tail.$mode" 2>/dev/null && break; sleep 0.1; done
		sleep 1
	fi
	echo "go ${olly:-0}" >&3; exec 3>&-
	wait "$loop"
	if [ -n "$olly" ]; then
		kill -INT "$olly"; while kill -0 "$olly" 2>/dev/null; do sleep 0.1; done
		sleep 0.5
		[ -n "$other" ] && kill "$other"
	fi
	cat "$OUT/loop.$mode"
	if [ -n "$olly" ]; then
		# The last stats record's lost_events and records_in, in either format (the
		# tail of a binary stream has no magic: look for the encoded keys).
		python3 - "$OUT/tail.$mode" <<-'PY'
		import json, sys
		b = open(sys.argv[1], "rb").read()
		def bin_int(key):
		    k = bytes([len(key) + 1]) + key.encode() + b"\x04"
		    i = b.rfind(k) + len(k)
		    v = shift = 0
		    while True:
		        c = b[i]; i += 1
		        v |= (c & 0x7F) << shift; shift += 7
		        if c < 0x80: return v >> 1
		lines = [l for l in b.split(b"\n") if l.startswith(b'{"kind":"stats"')]
		if lines:
		    c = json.loads(lines[-1])["counters"]; lost, n = c["lost_events"], c["records_in"]
		else:
		    lost, n = bin_int("lost_events"), bin_int("records_in")
		print("stats", lost, n)
		PY
	fi
}

SIZES=${SIZES:-64 256 4096 16384}
echo "capture.sh: $N write+read pairs per size; nginx+wrk ${WRK_SECONDS}s each ($(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg))"
# Side by side: the four modes one after another at each size.
# With ROUNDS > 1 the four modes run ROUNDS times in turn at each size and each mode's
# round with the median loop CPU per pair (column 3) stands for it in the tables; the
# "all rounds" lines sum events, losses and consumer CPU over every round.
ROUNDS=${ROUNDS:-1}
median_round() { # mode size: the median round's file becomes r.MODE.SIZE
	local pick
	pick=$(for r in $(seq "$ROUNDS"); do echo "$(awk -v s="$2" '$1==s{print $3}' "$OUT/r.$1.$2.$r") $r"; done | sort -g | awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR==m{print $2}')
	cp "$OUT/r.$1.$2.$pick" "$OUT/r.$1.$2"
}
for sz in $SIZES; do
	for r in $(seq "$ROUNDS"); do
		loop_under none "$sz" > "$OUT/r.none.$sz.$r"
		loop_under targeted "$sz" > "$OUT/r.targeted.$sz.$r"
		loop_under bin "$sz" --format bin > "$OUT/r.bin.$sz.$r"
		loop_under untargeted "$sz" > "$OUT/r.untargeted.$sz.$r"
	done
	for m in none targeted bin untargeted; do median_round $m "$sz"; done
done

col() { awk -v s="$2" -v c="$3" '$1==s{print $c}' "$OUT/r.$1.$2"; }
stat() { awk -v c="$3" '$1=="stats"{print $c}' "$OUT/r.$1.$2"; }
printf '\nCPU ns of the loop per write+read pair (eBPF programs included); + is the difference\n'
printf 'to uncaptured; cons. is olly-capture'"'"'s CPU per pair (NDJSON, binary output)\n'
printf '%-6s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n' size base ndjson bin untarg "+ndjson" "+bin" "+untarg" "cons.ndj" "cons.bin"
for sz in $SIZES; do
	b=$(col none $sz 3); t=$(col targeted $sz 3); y=$(col bin $sz 3); u=$(col untargeted $sz 3)
	ct=$(echo "scale=0; $(col targeted $sz 4) / $N" | bc)
	cy=$(echo "scale=0; $(col bin $sz 4) / $N" | bc)
	printf '%-6s %8.0f %8.0f %8.0f %8.0f %8.0f %8.0f %8.0f %9s %9s\n' "$sz" "$b" "$t" "$y" "$u" \
		"$(echo "$t - $b" | bc)" "$(echo "$y - $b" | bc)" "$(echo "$u - $b" | bc)" "$ct" "$cy"
done
printf '\nwall-clock ns per pair (disturbed by whatever else runs on the machine)\n'
printf '%-6s %8s %8s %8s %8s\n' size base ndjson bin untarg
for sz in $SIZES; do
	printf '%-6s %8.0f %8.0f %8.0f %8.0f\n' "$sz" "$(col none $sz 2)" "$(col targeted $sz 2)" "$(col bin $sz 2)" "$(col untargeted $sz 2)"
done
printf '\nevents per size (a capture of its own each): handled, lost (%% of handled + lost),\n'
printf 'and olly-capture'"'"'s CPU ns per handled event\n'
printf '%-6s %10s %9s %7s %7s  %10s %9s %7s %7s\n' size "ndj.ev" "ndj.lost" "lost%" "ns/ev" "bin.ev" "bin.lost" "lost%" "ns/ev"
for sz in $SIZES; do
	line=$(printf '%-6s' "$sz")
	for m in targeted bin; do
		ev=$(stat $m $sz 3); lost=$(stat $m $sz 2)
		line+=$(printf ' %10s %9s %7s %7s ' "$ev" "$lost" \
			"$(echo "scale=2; 100 * $lost / ($ev + $lost)" | bc)" "$(echo "scale=0; $(col $m $sz 4) / $ev" | bc)")
	done
	echo "$line"
done
for m in targeted bin; do
	events=0 lost=0 ns=0
	for sz in $SIZES; do for r in $(seq "$ROUNDS"); do
		f=$OUT/r.$m.$sz.$r
		events=$((events + $(awk '$1=="stats"{print $3}' "$f"))); lost=$((lost + $(awk '$1=="stats"{print $2}' "$f")))
		ns=$((ns + $(awk -v s="$sz" '$1==s{print $4}' "$f")))
	done; done
	echo "all rounds ($m): $events events, $lost lost ($(echo "scale=3; 100 * $lost / ($events + $lost)" | bc)%), consumer CPU $(echo "scale=0; $ns / $events" | bc) ns/event"
done
echo "(each pair is one captured write and one captured read: 2 data events at 64 and 256 B when nothing is lost)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
# What of the consumer's time per event is the encoding itself (payload in cache, no
# ring buffer, no output): the rest is fetching records written on another CPU, the
# pipe, and the wake-ups.
if [ -x "$B/olly-bench" ]; then
	printf '\nthe data-record encoder alone (olly-bench append-data), ns per record\n%-6s %8s %8s\n' size ndjson bin
	for sz in $SIZES; do
		printf '%-6s %8s %8s\n' "$sz" "$("$B/olly-bench" append-data 2000000 "$sz" ndjson)" "$("$B/olly-bench" append-data 2000000 "$sz" bin)"
	done
fi

# nginx under wrk.
port=18931
conf=$PWD/$OUT/nginx.conf
cat > "$conf" <<CONF
daemon off; worker_processes 1; pid $PWD/$OUT/nginx.pid; error_log $PWD/$OUT/nginx.err;
events { worker_connections 256; }
http { access_log off; sendfile on; client_body_temp_path $PWD/$OUT/cb;
  server { listen 127.0.0.1:$port; location / { return 200 "$(head -c 600 /dev/zero | tr '\0' x)\n"; } } }
CONF
nginx -c "$conf" -p "$PWD/$OUT" & ng=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
wrk_run() { wrk -t1 -c32 -d"${WRK_SECONDS}s" --latency "http://127.0.0.1:$port/" > "$OUT/wrk.$1"; }
rps() { awk '/Requests\/sec/{print $2}' "$OUT/wrk.$1"; }
p99() { awk '$1=="99%"{v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) sub("ms","",v); else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' "$OUT/wrk.$1"; }
wrk -t1 -c32 -d2s "http://127.0.0.1:$port/" > /dev/null # warm-up
# Uncaptured and captured in turn, ROUNDS times (the machine's speed drifts between
# runs ten seconds apart): the median ratio of each pair counts.
lost=0
for r in $(seq "$ROUNDS"); do
	wrk_run "base.$r"
	"$B/olly-capture" --pid "$ng" --stats-interval 0 --bpf-object "$BPF_OBJECT" 2> "$OUT/err.nginx" | tail -c 65536 > "$OUT/tail.nginx" &
	for _ in $(seq 50); do olly=$(pgrep -n -f "olly-capture --pid $ng " || true); [ -n "$olly" ] && break; sleep 0.1; done
	sleep 2
	wrk_run "captured.$r"
	kill -INT "$olly"; while kill -0 "$olly" 2>/dev/null; do sleep 0.1; done
	sleep 0.5
	lost=$((lost + $(grep '"kind":"stats"' "$OUT/tail.nginx" | tail -1 | jq '.counters.lost_events')))
done
kill -QUIT "$ng"; wait "$ng" 2>/dev/null || true
printf '\nnginx+wrk %5s %12s %12s %8s %9s %9s %8s\n' round "req/s base" captured ratio "p99 base" captured ratio
for r in $(seq "$ROUNDS"); do
	printf '          %5s %12s %12s %8.3f %9s %9s %8.3f\n' "$r" "$(rps base.$r)" "$(rps captured.$r)" \
		"$(echo "scale=4; $(rps captured.$r) / $(rps base.$r)" | bc)" "$(p99 base.$r)" "$(p99 captured.$r)" \
		"$(echo "scale=4; $(p99 captured.$r) / $(p99 base.$r)" | bc)"
done | tee "$OUT/nginx.rounds"
printf 'median      req/s ratio %.3f, p99 ratio %.3f\n' \
	"$(awk '{print $4}' "$OUT/nginx.rounds" | sort -g | awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR==m')" \
	"$(awk '{print $7}' "$OUT/nginx.rounds" | sort -g | awk -v m=$(( (ROUNDS + 1) / 2 )) 'NR==m')"
echo "nginx capture: $lost events lost"

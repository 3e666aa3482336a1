#!/usr/bin/env bash
# eBPF capture overhead, measured in one run against the same work without capture.
#   bench/capture.sh            (root; make bench-capture builds first)
#   N=2000000 WRK_SECONDS=10 B=.build/release bench/capture.sh
# 1. write()+read() pairs over loopback TCP (64 B, 256 B, 4 KiB, 16 KiB): uncaptured,
#    captured (--pid), and running while capture targets another process; events lost
#    and the consumer's CPU per event from olly-capture's final stats and /proc.
# 2. nginx serving a 612-byte page under wrk on loopback, with and without capture.
# Loopback only; bounded in time (about N/2M * 3 min + 2 * WRK_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000000}
WRK_SECONDS=${WRK_SECONDS:-10}
B=${B:-.build/release}
OUT=bench/out/capture
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "capture.sh: needs root (eBPF)" >&2; exit 69; }
[ -x "$B/olly-capture" ] || { echo "capture.sh: build first (make release)" >&2; exit 1; }
bpf/build.sh "$B/olly.bpf.o"
${CC:-cc} -O2 -o "$OUT/loop" bench/capture-loop.c

# Runs the loop under a capture started with "$@" (the loop's pid replaces LOOP), or
# none; prints the loop's lines, then "stats lost events cpu_ticks".
loop_under() {
	local mode=$1; shift
	rm -f "$OUT/go"; mkfifo "$OUT/go"
	"$OUT/loop" "$N" --wait < "$OUT/go" > "$OUT/loop.$mode" &
	local loop=$!
	exec 3> "$OUT/go"
	local olly=
	if [ "$mode" != none ]; then
		local target=$loop other=
		if [ "$mode" = untargeted ]; then sleep 1000 & other=$!; target=$other; fi
		"$B/olly-capture" --pid "$target" --stats-interval 0 2> "$OUT/err.$mode" | tail -c 65536 > "$OUT/tail.$mode" &
		olly=$(pgrep -n -f "olly-capture --pid $target " || true)
		for _ in $(seq 100); do grep -q '"kind":"proc"' "$OUT/tail.$mode" 2>/dev/null && break; sleep 0.1; done
		sleep 1
	fi
	echo go >&3; exec 3>&-
	wait "$loop"
	local ticks=0
	if [ -n "$olly" ]; then
		ticks=$(awk '{print $14 + $15}' "/proc/$olly/stat")
		kill -INT "$olly"; while kill -0 "$olly" 2>/dev/null; do sleep 0.1; done
		sleep 0.5
		[ -n "${other:-}" ] && kill "$other"
	fi
	cat "$OUT/loop.$mode"
	if [ -n "$olly" ]; then
		grep '"kind":"stats"' "$OUT/tail.$mode" | tail -1 | jq -r --arg t "$ticks" \
			'"stats \(.counters.lost_events) \(.counters.records_in) \($t)"'
	fi
}

echo "capture.sh: $N write+read pairs per size; nginx+wrk ${WRK_SECONDS}s each ($(nproc) CPUs, $(uname -r))"
loop_under none > "$OUT/r.none"
loop_under targeted > "$OUT/r.targeted"
loop_under untargeted > "$OUT/r.untargeted"

printf '\n%-8s %12s %12s %12s %10s %14s\n' size "base ns/pair" "captured" "untargeted" "+ns/pair" "+ns untargeted"
for sz in 64 256 4096 16384; do
	b=$(awk -v s=$sz '$1==s{print $2}' "$OUT/r.none")
	t=$(awk -v s=$sz '$1==s{print $2}' "$OUT/r.targeted")
	u=$(awk -v s=$sz '$1==s{print $2}' "$OUT/r.untargeted")
	printf '%-8s %12s %12s %12s %10.0f %14.0f\n' "$sz" "$b" "$t" "$u" "$(echo "$t - $b" | bc)" "$(echo "$u - $b" | bc)"
done
read -r _ lost events ticks < <(grep '^stats' "$OUT/r.targeted")
hz=$(getconf CLK_TCK)
echo "captured run: $events events, $lost lost ($(echo "scale=3; 100 * $lost / ($events + $lost)" | bc)%), consumer CPU $(echo "scale=0; $ticks * 1000000000 / $hz / $events" | bc) ns/event"
echo "(each pair is one captured write and one captured read: 2 data events when nothing is lost)"

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
wrk_run base
"$B/olly-capture" --pid "$ng" --stats-interval 0 2> "$OUT/err.nginx" | tail -c 65536 > "$OUT/tail.nginx" &
olly=$(pgrep -n -f "olly-capture --pid $ng " || true)
sleep 2
wrk_run captured
kill -INT "$olly"; while kill -0 "$olly" 2>/dev/null; do sleep 0.1; done
kill -QUIT "$ng"; wait "$ng" 2>/dev/null || true
lost=$(grep '"kind":"stats"' "$OUT/tail.nginx" | tail -1 | jq '.counters.lost_events')
printf '\nnginx+wrk   %12s %12s %8s\n' base captured ratio
printf 'req/s       %12s %12s %8.3f\n' "$(rps base)" "$(rps captured)" "$(echo "scale=4; $(rps captured) / $(rps base)" | bc)"
printf 'p99 ms      %12s %12s %8.3f\n' "$(p99 base)" "$(p99 captured)" "$(echo "scale=4; $(p99 captured) / $(p99 base)" | bc)"
echo "nginx capture: $lost events lost"

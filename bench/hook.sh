#!/usr/bin/env bash
# LD_PRELOAD hook overhead, measured in one run (see olly-capture(1), OVERHEAD):
#   - ns per write() to /dev/null (not a socket: one table load) and to a TCP loopback
#     socket (captured; drained by a child that polls every 200 µs, see bench_write.c),
#     64 B, 256 B and 4 KiB, by the writing thread's CPU time (user + system; leaves out
#     waiting for a core the reader holds) and by wall clock;
#   - under the library, each round pairs N writes through libc's own write() (the
#     library bypassed) with N hooked writes, back to back in one process; the delta is
#     the median of the paired differences (hook/tests/bench_write.c), so the machine's
#     drift between two separate runs stays out of it;
#   - twice: with olly-capture --preload --format bin (release build) draining as it goes
#     (rounds PAUSE_MS apart, a ring holding a round: the reader keeps up), and with the
#     reader stopped (SIGSTOP) during each round: the hooked path alone, without a reader
#     beside it on the other core;
#   - the same loop without the library (a plain process), for reference, and the pairs
#     with libc's write() on both sides: the noise floor of the delta;
#   - unpaced (rounds back to back, no libc rounds, default ring): how many events a reader
#     that cannot keep up drops (counted), i.e. the reader's sustained rate;
#   - the drop rate when the reader is stopped for a whole run of 100,000 socket writes.
# Usage: bench/hook.sh   (OLLY_BIN_DIR: where olly-capture, olly-parse and libolly.so are;
# default .build/release; N writes per round, ROUNDS rounds, the median is reported)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OLLY_BIN_DIR:-.build/release}
N=${N:-10000}
ROUNDS=${ROUNDS:-15}
export PAUSE_MS=${PAUSE_MS:-200}
RING_BYTES=${RING_BYTES:-$((64 << 20))}
SIZES=${SIZES:-64,256,4096}
out=bench/out
mkdir -p "$out"
cc -O2 -pthread -o "$out/bench_write" hook/tests/bench_write.c -ldl

lost_of() { sed -E 's/.*"lost_events":([0-9]+).*/\1/'; }
events_of() { sed -E 's/.*"events":([0-9]+).*/\1/'; }
capture_stats() { "$BIN/olly-parse" --format ndjson "$1" | grep -a -F '"stage":"olly-capture"' | tail -1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

load_start=$(load)
plain=$("$out/bench_write" "$N" "$ROUNDS" "$SIZES")
with=$("$BIN/olly-capture" --preload --ring-bytes "$RING_BYTES" --format bin -- "$out/bench_write" "$N" "$ROUNDS" "$SIZES" 2>&1 >"$out/hook-with.bin" | grep -E '^(devnull|socket) ')
with_lost=$(capture_stats "$out/hook-with.bin" | lost_of)
floor=$(BENCH_AA=1 "$BIN/olly-capture" --preload --ring-bytes "$RING_BYTES" --format bin -- "$out/bench_write" "$N" "$ROUNDS" "$SIZES" 2>&1 >/dev/null | grep -E '^socket ' | awk '{printf "%s%s B %s", (NR > 1 ? ", " : ""), $2, $8}')
stopped=$(STOP_READER=each "$BIN/olly-capture" --preload --ring-bytes "$RING_BYTES" --format bin -- "$out/bench_write" "$N" "$ROUNDS" "$SIZES" 2>&1 >"$out/hook-stopped.bin" | grep -E '^(devnull|socket) ')
stopped_lost=$(capture_stats "$out/hook-stopped.bin" | lost_of)
rm -f "$out/hook-with.bin" "$out/hook-stopped.bin"
# Unpaced: 5 rounds of 100,000 writes back to back, default ring.
PAIRED=0 PAUSE_MS=0 "$BIN/olly-capture" --preload --format bin -- "$out/bench_write" 100000 5 "$SIZES" >"$out/hook-unpaced.bin" 2>/dev/null
unpaced_stats=$(capture_stats "$out/hook-unpaced.bin")
rm -f "$out/hook-unpaced.bin"
unpaced_lost=$(echo "$unpaced_stats" | lost_of)
unpaced_events=$(echo "$unpaced_stats" | events_of)
# Reader stopped: 100,000 writes of 256 B to the socket; the default ring (16 MiB) fills, the rest drops.
drop_stats=$(PAIRED=0 PAUSE_MS=0 STOP_READER=1 "$BIN/olly-capture" --preload -- "$out/bench_write" 100000 1 256 2>/dev/null | grep -a -F '"kind":"stats"' | tail -1)
lost=$(echo "$drop_stats" | lost_of)
events=$(echo "$drop_stats" | events_of)
load_end=$(load)

{
    echo "ns per write(), the writing thread's CPU time (user + system), median of $ROUNDS rounds of $N:"
    printf '%-8s %5s | %8s | %-26s | %-26s\n' "" "" "plain" "  reader running" "  reader stopped"
    printf '%-8s %5s | %8s | %8s %8s %8s | %8s %8s %8s\n' target bytes "no lib" "w/o" with delta "w/o" with delta
    # each line: TARGET SIZE WALL_WITHOUT WALL_WITH WALL_DELTA CPU_WITHOUT CPU_WITH CPU_DELTA,
    # for the plain process (f[0..7]), the reader running (f[8..15]) and stopped (f[16..23])
    paste -d' ' <(echo "$plain") <(echo "$with") <(echo "$stopped") | while read -r -a f; do
        printf '%-8s %5s | %8.1f | %8.1f %8.1f %+8.1f | %8.1f %8.1f %+8.1f\n' "${f[0]}" "${f[1]}" "${f[5]}" \
            "${f[13]}" "${f[14]}" "${f[15]}" "${f[21]}" "${f[22]}" "${f[23]}"
    done
    echo "wall clock, same rounds:"
    paste -d' ' <(echo "$plain") <(echo "$with") <(echo "$stopped") | while read -r -a f; do
        printf '%-8s %5s | %8.1f | %8.1f %8.1f %+8.1f | %8.1f %8.1f %+8.1f\n' "${f[0]}" "${f[1]}" "${f[2]}" \
            "${f[10]}" "${f[11]}" "${f[12]}" "${f[18]}" "${f[19]}" "${f[20]}"
    done
    echo "w/o: libc's write() in the same process, the library bypassed; delta: median of the paired differences"
    echo "noise floor (libc's write() on both sides of the pairs, reader running), socket CPU delta: $floor"
    echo "reader running: rounds ${PAUSE_MS} ms apart, ring $((RING_BYTES >> 20)) MiB; $with_lost events dropped (reader stopped per round: $stopped_lost)"
    echo "unpaced (5 rounds of 100000 back to back per target and size, default ring): $unpaced_lost events dropped and counted, $unpaced_events delivered"
    echo "reader stopped: 100000 socket writes of 256 B (and as many /dev/null writes): $lost events dropped and counted, $events delivered; drop rate $(echo "scale=1; 100 * $lost / ($lost + $events)" | bc -l)%"
    echo "load average (1, 5, 15 min): $load_start at the start, $load_end at the end; $(nproc) CPUs"
} | tee "$out/hook.txt"

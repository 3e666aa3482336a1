#!/usr/bin/env bash
# LD_PRELOAD hook overhead, measured in one run (see olly-capture(1), OVERHEAD):
#   - ns per write() (wall clock, and the writing thread's CPU time, which leaves out
#     waiting for a core the reader holds) without the library and with it (olly-capture --preload reading
#     and writing records as fast as it can), for 64 B, 256 B and 4 KiB payloads, to
#     /dev/null (not a socket: one table load) and to a TCP loopback socket (captured);
#   - the drop rate when the reader is stopped (SIGSTOP) while the host keeps writing.
#   - the same loop unpaced (rounds back to back, the default ring): how many events a
#     reader that cannot keep up drops (counted), i.e. the reader's sustained rate.
# The measured run pauses PAUSE_MS before each round (both without and with the library)
# and gives the ring room for one round (RING_BYTES), so the reader keeps up: the delta is
# the cost of the hooked call itself.
# Usage: bench/hook.sh   (OLLY_BIN_DIR: where olly-capture and libolly.so are; default
# .build/release; N writes per round, ROUNDS rounds, the median round is reported)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OLLY_BIN_DIR:-.build/release}
N=${N:-10000}
ROUNDS=${ROUNDS:-15}
export PAUSE_MS=${PAUSE_MS:-300}
RING_BYTES=${RING_BYTES:-$((64 << 20))}
SIZES=${SIZES:-64,256,4096}
out=bench/out
mkdir -p "$out"
cc -O2 -pthread -o "$out/bench_write" hook/tests/bench_write.c

plain=$("$out/bench_write" "$N" "$ROUNDS" "$SIZES")
with=$("$BIN/olly-capture" --preload --ring-bytes "$RING_BYTES" --format bin -- "$out/bench_write" "$N" "$ROUNDS" "$SIZES" 2>&1 >"$out/hook-with.bin" | grep -E '^(devnull|socket) ')
with_stats=$("$BIN/olly-parse" --format ndjson "$out/hook-with.bin" | grep -a -F '"stage":"olly-capture"' | tail -1)
with_lost=$(echo "$with_stats" | sed -E 's/.*"lost_events":([0-9]+).*/\1/')
rm -f "$out/hook-with.bin"
# Unpaced: 5 rounds of 100,000 writes back to back, default ring.
PAUSE_MS=0 "$BIN/olly-capture" --preload --format bin -- "$out/bench_write" 100000 5 "$SIZES" >"$out/hook-unpaced.bin" 2>/dev/null
unpaced_stats=$("$BIN/olly-parse" --format ndjson "$out/hook-unpaced.bin" | grep -a -F '"stage":"olly-capture"' | tail -1)
rm -f "$out/hook-unpaced.bin"
unpaced_lost=$(echo "$unpaced_stats" | sed -E 's/.*"lost_events":([0-9]+).*/\1/')
unpaced_events=$(echo "$unpaced_stats" | sed -E 's/.*"events":([0-9]+).*/\1/')
# Reader stopped: 100,000 writes of 256 B to the socket; the default ring (16 MiB, 32768 slots) fills, the rest drops.
drop_stats=$(STOP_READER=1 "$BIN/olly-capture" --preload -- "$out/bench_write" 100000 1 256 2>/dev/null | grep -a -F '"kind":"stats"' | tail -1)
lost=$(echo "$drop_stats" | sed -E 's/.*"lost_events":([0-9]+).*/\1/')
events=$(echo "$drop_stats" | sed -E 's/.*"events":([0-9]+).*/\1/')

printf '%-8s %6s %10s %10s %9s %10s %10s %9s\n' target bytes "wall w/o" "wall with" "delta" "cpu w/o" "cpu with" "delta" | tee "$out/hook.txt"
paste <(echo "$plain") <(echo "$with") | while read -r t s a ac _ _ b bc_; do
    printf '%-8s %6s %10.1f %10.1f %+9.1f %10.1f %10.1f %+9.1f\n' "$t" "$s" "$a" "$b" "$(echo "$b - $a" | bc -l)" \
        "$ac" "$bc_" "$(echo "$bc_ - $ac" | bc -l)"
done | tee -a "$out/hook.txt"
echo "reader keeping up: $with_lost events dropped in the measured run" | tee -a "$out/hook.txt"
echo "ns per write(): wall clock, and the writing thread's own CPU time (user + system), median of $ROUNDS rounds of $N, ${PAUSE_MS} ms apart, ring $((RING_BYTES >> 20)) MiB" | tee -a "$out/hook.txt"
echo "unpaced (5 rounds of 100000 back to back per target and size, default ring): $unpaced_lost events dropped and counted, $unpaced_events delivered" | tee -a "$out/hook.txt"
echo "reader stopped: 100000 socket writes of 256 B (and as many /dev/null writes): $lost events dropped and counted, $events delivered; drop rate $(echo "scale=1; 100 * $lost / ($lost + $events)" | bc -l)%" | tee -a "$out/hook.txt"

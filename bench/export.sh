#!/usr/bin/env bash
# Export benchmark (make bench-export): spans/s from olly-export to a local OTLP receiver
# over gRPC and over HTTP (protobuf), at batch sizes 512 and 8192, in one run, beside
# olly-export without a destination (decoding and pass-through only) on the same input, with
# the CPU time olly-export and the receiver each used (on 2 CPUs, the busier one bounds it).
# The receiver is Tests/Receivers/otlp_receiver.py in --count-only mode (it still decodes
# every request with the opentelemetry-proto classes), on loopback. Not a test.
# Bounded: BENCH_SPANS spans (default 200000), each run at most 300 s.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${OLLY_BIN_DIR:-.build/release}
OUT=bench/out
N=${BENCH_SPANS:-200000}
mkdir -p "$OUT"
IN="$OUT/spans-$N.ndjson"
if [ ! -s "$IN" ]; then
    python3 - "$N" > "$IN" <<'PY'
import sys
n = int(sys.argv[1])
w = sys.stdout.write
for i in range(n):
    t = 1763700000000000000 + i * 100000
    w('{"kind":"span","trace_id":"%016x%016x","span_id":"%016x","parent_span_id":"%016x","name":"GET /items/{id}","span_kind":"server","start":%d,"end":%d,"status":"%s","attrs":{"http.request.method":"GET","url.path":"/items/%d","http.route":"/items/{id}","http.response.status_code":%d,"network.peer.address":"10.0.0.%d","server.port":8080},"resource":{"service.name":"shop","host.name":"bench"}}\n'
      % (0xabcdef00 + i // 8, i // 8, i + 1, (i // 8) * 8 + 1, t, t + 250000 + i % 1000 * 1000, "error" if i % 50 == 0 else "unset", i, 500 if i % 50 == 0 else 200, i % 250))
PY
fi
python3 -c 'import grpc, opentelemetry.proto' 2>/dev/null || { echo "bench-export: needs pip install grpcio opentelemetry-proto" >&2; exit 69; }

. bench/receiver.sh
start_receiver

now() { date +%s.%N; }
cpu_of() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; } # user+system seconds
run() { # label, args...: runs olly-export over the input, prints spans/s, what was sent, and
        # the CPU seconds olly-export and the receiver used (which of the two is the bottleneck)
    local label=$1; shift
    local t0 t1 stats r0 r1
    r0=$(cpu_of "$rx")
    t0=$(now)
    TIMEFORMAT='%U %S'
    { time timeout 300 "$B/olly-export" --no-red "$@" < "$IN" | tail -1 > "$rx_dir/stats"; } 2> "$rx_dir/time"
    t1=$(now)
    r1=$(cpu_of "$rx")
    stats=$(cat "$rx_dir/stats")
    local sent lost
    sent=$(echo "$stats" | sed -n 's/.*"sent_spans":\([0-9]*\).*/\1/p')
    lost=$(echo "$stats" | sed -n 's/.*"lost_items":\([0-9]*\).*/\1/p')
    awk -v l="$label" -v n="$N" -v a="$t0" -v b="$t1" -v s="${sent:--}" -v x="${lost:--}" -v t="$(tail -1 "$rx_dir/time")" -v r0="$r0" -v r1="$r1" \
        'BEGIN { split(t, u, " "); printf "%-30s %6.2f s %8.0f spans/s  sent %s lost %s  CPU s: export %.2f receiver %.2f\n", l, b - a, n / (b - a), s, x, u[1] + u[2], r1 - r0 }'
}
echo "olly-export benchmark: $N spans ($(stat -c %s "$IN") bytes NDJSON), receiver on loopback ($(nproc) CPUs)"
run "no destination (decode only)"
for b in 512 8192; do
    run "otlp-grpc batch $b" --to "otlp-grpc://127.0.0.1:$gport" --batch-size "$b"
    run "otlp-http protobuf batch $b" --to "otlp-http://127.0.0.1:$hport" --batch-size "$b"
done
run "otlp-grpc batch 8192 gzip" --to "otlp-grpc://127.0.0.1:$gport" --batch-size 8192 --compression gzip
kill $rx; wait $rx 2>/dev/null || true
echo "receiver: $(tail -1 "$rx_dir/counts")"

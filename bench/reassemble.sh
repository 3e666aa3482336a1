#!/usr/bin/env bash
# Reassembly benchmark (make bench-reassemble; not a test): olly-reassemble over large
# captures made by replicating the recorded fixtures of Tests/Fixtures/reassembly with
# distinct cids, read as NDJSON and as binary, in one run:
#   mixed           every fixture (http with its 1 MiB chunked body, redis, dns, postgres, ...)
#   small-messages  the same without the HTTP ones (many small records)
#   http2           the HTTP/2 and gRPC fixtures alone (h2c, gRPC, h2 over TLS)
# Prints records/s, MB/s of input and MB/s of captured payload (the bytes of the data
# records), single-threaded (one core), from each stage's CPU time (user + system, best of
# 3: what the stage costs its core, which other load on the machine disturbs far less than
# wall-clock time); then olly-parse over the exchanges of the same
# capture (spans/s) and how its time compares with reassembly's (the stages run side by
# side in a pipeline, so the slowest one sets the pace); then olly-stitch over those spans
# and olly-export sending them over OTLP/gRPC (batch 8192) to the count-only test receiver
# on loopback (when grpcio and opentelemetry-proto are installed), and which stage of the
# pipeline is the slowest on this capture.
#   BENCH_COPIES=100 BENCH_SMALL_COPIES=1000 bench/reassemble.sh   (OLLY_BIN_DIR=.build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${OLLY_BIN_DIR:-.build/release}
OUT=bench/out
mkdir -p "$OUT"
sz() { stat -c %s "$1"; }
best() { # best of 3 runs of olly-reassemble ARGS (STAGE=olly-parse for parse): CPU seconds
    # (user + system: the stage's own work on its core) and, in $OUT/wall, wall-clock seconds
    # (which for olly-export include waiting for the receiver's answers)
    local best=999999 bestw=999999 stage=${STAGE:-olly-reassemble}
    for _ in 1 2 3; do
        local t0 t1 cpu
        t0=$(date +%s.%N)
        # bash's `times`: the children's user and system time, in milliseconds
        cpu=$( ( "$B/$stage" "$@" > /dev/null; times ) | tail -1 | awk '{
            split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
        t1=$(date +%s.%N)
        best=$(awk -v a="$best" -v s="$cpu" 'BEGIN { print (s < a ? s : a) }')
        bestw=$(awk -v a="$bestw" -v s="$(awk -v x="$t0" -v y="$t1" 'BEGIN { print y - x }')" 'BEGIN { print (s < a ? s : a) }')
    done
    echo "$bestw" > "$OUT/wall"
    echo "$best"
}
row() { # label input-bytes seconds records payload
    awk -v l="$1" -v b="$2" -v s="$3" -v r="$4" -v p="$5" 'BEGIN {
        printf "  %-34s %7.3f s %10.0f rec/s %7.0f MB/s input %7.0f MB/s payload\n", l, s, r / s, b / s / 1e6, p / s / 1e6 }'
}
run_mix() { # NAME "FIXTURES" COPIES
    local mix=$1 names=$2 copies=$3
    local j="$OUT/reassemble-$mix-$copies.ndjson" bin="$OUT/reassemble-$mix-$copies.bin" meta="$OUT/reassemble-$mix-$copies.meta"
    if [ ! -s "$j" ] || [ ! -s "$meta" ] || [ ! -s "$bin" ]; then
        python3 - "$copies" "$j" "$meta" "$names" <<'PY'
import base64, json, re, sys
copies, path, meta, names = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split()
fixtures = [open(f"Tests/Fixtures/reassembly/{n}.ndjson").read().splitlines() for n in names]
cid = re.compile(r'"cid":(\d+)')
payload = sum(len(base64.b64decode(json.loads(l)["data"])) for f in fixtures for l in f if '"kind":"data"' in l)
with open(path, "w") as out:
    for k in range(copies):
        for i, lines in enumerate(fixtures):
            base = (k * len(fixtures) + i) * 1000
            out.write("\n".join(cid.sub(lambda m: f'"cid":{int(m.group(1)) + base}', l) for l in lines) + "\n")
with open(meta, "w") as f:
    f.write(f"{payload * copies} {sum(len(f) for f in fixtures) * copies}\n")
PY
        "$B/olly-stitch" --format bin < "$j" > "$bin.tmp"   # a pass-through stage converts to binary
        mv "$bin.tmp" "$bin"
    fi
    local payload records
    read -r payload records < "$meta"
    echo "$mix: $copies copies of $names; $records records, $payload payload bytes; NDJSON $(sz "$j") bytes, binary $(sz "$bin") bytes"
    local tj tb tbb
    tj=$(best "$j");                row "NDJSON input -> NDJSON exchanges" "$(sz "$j")" "$tj" "$records" "$payload"
    tb=$(best "$bin");              row "binary input -> NDJSON exchanges" "$(sz "$bin")" "$tb" "$records" "$payload"
    tbb=$(best --format bin "$bin"); row "binary input -> binary exchanges" "$(sz "$bin")" "$tbb" "$records" "$payload"
    local xj="$OUT/reassemble-$mix-$copies.exchanges.ndjson" xb="$OUT/reassemble-$mix-$copies.exchanges.bin"
    "$B/olly-reassemble" "$j" > "$xj"
    "$B/olly-reassemble" --format bin "$bin" > "$xb"
    local n pj pb
    n=$(grep -c '"kind":"exchange"' "$xj" || true)
    pj=$(STAGE=olly-parse best "$xj")
    pb=$(STAGE=olly-parse best --format bin "$xb")
    awk -v n="$n" -v pj="$pj" -v pb="$pb" -v tj="$tj" -v tbb="$tbb" 'BEGIN {
        printf "  %-34s %7.3f s %10.0f spans/s (%.2f of reassembly'"'"'s time, NDJSON)\n", "olly-parse NDJSON -> NDJSON spans", pj, n / pj, pj / tj
        printf "  %-34s %7.3f s %10.0f spans/s (%.2f of reassembly'"'"'s time, binary)\n", "olly-parse binary -> binary spans", pb, n / pb, pb / tbb }'
    local sj="$OUT/reassemble-$mix-$copies.spans.ndjson" sb="$OUT/reassemble-$mix-$copies.spans.bin"
    "$B/olly-parse" "$xj" > "$sj"
    "$B/olly-parse" --format bin "$xb" > "$sb"
    local ns stj stb ex=
    ns=$(grep -c '"kind":"span"' "$sj" || true)
    stj=$(STAGE=olly-stitch best "$sj")
    stb=$(STAGE=olly-stitch best --format bin "$sb")
    local exw=
    if [ -n "${gport:-}" ]; then ex=$(STAGE=olly-export best --no-red --batch-size 8192 --to "otlp-grpc://127.0.0.1:$gport" "$sb"); exw=$(cat "$OUT/wall"); fi
    awk -v n="$ns" -v a="$stj" -v b="$stb" -v e="$ex" -v ew="$exw" -v r="$tbb" -v p="$pb" 'BEGIN {
        printf "  %-34s %7.3f s %10.0f spans/s\n", "olly-stitch NDJSON -> NDJSON", a, n / a
        printf "  %-34s %7.3f s %10.0f spans/s\n", "olly-stitch binary -> binary", b, n / b
        if (e != "") printf "  %-34s %7.3f s %10.0f spans/s (wall clock %.3f s: %.0f spans/s with the receiver answering)\n", "olly-export binary -> OTLP/gRPC", e, n / e, ew, n / ew
        slow = "olly-reassemble"; t = r
        if (p > t) { slow = "olly-parse"; t = p }
        if (b > t) { slow = "olly-stitch"; t = b }
        if (e != "" && e > t) { slow = "olly-export"; t = e }
        printf "  binary pipeline stage CPU times: reassemble %.3f s, parse %.3f s, stitch %.3f s%s; slowest: %s\n", r, p, b, (e != "" ? sprintf(", export %.3f s", e) : ""), slow }'
    rm -f "$xj" "$xb" "$sj" "$sb"
}
# The OTLP receiver of olly-export's tests, counting only (it still decodes every request).
gport=
if python3 -c 'import grpc, opentelemetry.proto' 2>/dev/null; then
    . bench/receiver.sh
    start_receiver
fi
echo "olly-reassemble and olly-parse benchmark: best of 3, one core, MB = 1e6 bytes"
# every recorded fixture; the small-message mix leaves out the ones with large bodies
all=$(for f in Tests/Fixtures/reassembly/*.ndjson; do case $f in *.expected.ndjson) ;; *) basename "$f" .ndjson ;; esac; done | tr '\n' ' ')
small=$(for n in $all; do case $n in http|http2|grpc|http2tls) ;; *) printf '%s ' "$n" ;; esac; done)
h2=$(for n in $all; do case $n in http2|grpc|http2tls) printf '%s ' "$n" ;; esac; done)
run_mix "mixed-$(echo "$all" | cksum | cut -c1-6)" "$all" "${BENCH_COPIES:-100}"
run_mix "small-messages-$(echo "$small" | cksum | cut -c1-6)" "$small" "${BENCH_SMALL_COPIES:-1000}"
run_mix "http2-$(echo "$h2" | cksum | cut -c1-6)" "$h2" "${BENCH_H2_COPIES:-300}"

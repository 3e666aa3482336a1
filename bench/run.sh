#!/usr/bin/env bash
# Codec benchmark (make bench): decode and decode+re-encode of 1 million `data` records
# with 300-byte payloads, NDJSON and binary, read from a pipe, side by side in one run with
# `jq -c .` on the same NDJSON file. Not a test: it prints figures and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release
OUT=bench/out
N=${BENCH_RECORDS:-1000000}
PAYLOAD=${BENCH_PAYLOAD:-300}
mkdir -p "$OUT"
if [ ! -s "$OUT/data-$N.ndjson" ]; then
    "$B/olly-bench" gen "$N" "$PAYLOAD" "$OUT/data-$N.ndjson" "$OUT/data-$N.bin"
fi
J="$OUT/data-$N.ndjson"; BIN="$OUT/data-$N.bin"
sz() { stat -c %s "$1"; }
now() { date +%s.%N; }
row() { # label bytes records seconds
    awk -v l="$1" -v b="$2" -v r="$3" -v s="$4" 'BEGIN { printf "%-44s %8.3f s %9.0f MB/s %11.0f rec/s\n", l, s, b / s / 1e6, r / s }'
}
best() { # best of 3 runs of an olly-bench pipeline: prints seconds
    local best=999999
    for _ in 1 2 3; do
        local s
        s=$(cat "$1" | "$B/olly-bench" "${@:2}" | awk '{print $4}')
        best=$(awk -v a="$best" -v b="$s" 'BEGIN { print (b < a ? b : a) }')
    done
    echo "$best"
}
echo "olly codec benchmark: $N data records, $PAYLOAD-byte payloads; NDJSON $(sz "$J") bytes, binary $(sz "$BIN") bytes"
echo "(read from a pipe fed by cat; best of 3; MB/s of input bytes; one core per process)"
dj=$(best "$J" decode);           row "NDJSON decode" "$(sz "$J")" "$N" "$dj"
rj=$(best "$J" roundtrip ndjson); row "NDJSON decode + encode NDJSON" "$(sz "$J")" "$N" "$rj"
db=$(best "$BIN" decode);         row "binary decode" "$(sz "$BIN")" "$N" "$db"
rb=$(best "$BIN" roundtrip bin);  row "binary decode + encode binary" "$(sz "$BIN")" "$N" "$rb"
t0=$(now); cat "$J" | "$B/olly-parse" > /dev/null; t1=$(now)
pj=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'); row "olly-parse (validate + pass through), NDJSON" "$(sz "$J")" "$N" "$pj"
t0=$(now); cat "$BIN" | "$B/olly-parse" --format bin > /dev/null; t1=$(now)
pb=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'); row "olly-parse (validate + pass through), binary" "$(sz "$BIN")" "$N" "$pb"
if command -v jq >/dev/null && [ "${BENCH_SKIP_JQ:-0}" != 1 ]; then
    t0=$(now); jq -c . "$J" > /dev/null; t1=$(now)
    jqs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'); row "jq -c . (same NDJSON file)" "$(sz "$J")" "$N" "$jqs"
    awk -v a="$jqs" -v b="$dj" 'BEGIN { printf "ratio: NDJSON decode is %.0fx jq\n", a / b }'
fi
awk -v j="$dj" -v b="$db" 'BEGIN { printf "ratio: binary decode is %.2fx NDJSON decode (records/s)\n", j / b }'
awk -v j="$rj" -v b="$rb" 'BEGIN { printf "ratio: binary round trip is %.2fx NDJSON round trip (records/s)\n", j / b }'
awk -v r="$rj" -v d="$dj" -v s="$(sz "$J")" 'BEGIN { printf "NDJSON encode alone (round trip - decode): %.0f MB/s of NDJSON written\n", s / (r - d) / 1e6 }'

# Parse: spans/s per core over exchanges (HTTP/1.1 with traceparent, PostgreSQL, Redis).
NX=${BENCH_EXCHANGES:-300000}
if [ ! -s "$OUT/exchanges-$NX.ndjson" ]; then "$B/olly-bench" gen-exchanges "$NX" "$OUT/exchanges-$NX.ndjson"; fi
X="$OUT/exchanges-$NX.ndjson"
# The same exchanges in binary (olly-stitch passes them through, converting).
"$B/olly-stitch" --format bin < "$X" > "$OUT/exchanges-$NX.bin"
t0=$(now); cat "$X" | "$B/olly-parse" > /dev/null; t1=$(now)
px=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'); row "olly-parse exchanges -> spans, NDJSON" "$(sz "$X")" "$NX" "$px"
XB="$OUT/exchanges-$NX.bin"
t0=$(now); cat "$XB" | "$B/olly-parse" --format bin > /dev/null; t1=$(now)
pxb=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'); row "olly-parse exchanges -> spans, binary" "$(sz "$XB")" "$NX" "$pxb"

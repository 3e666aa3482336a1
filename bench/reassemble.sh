#!/usr/bin/env bash
# Reassembly benchmark (make bench-reassemble; not a test): olly-reassemble over a large
# mixed capture made by replicating the recorded fixtures of Tests/Fixtures/reassembly
# (HTTP/1.1 with a 1 MiB chunked body, Redis, DNS, PostgreSQL) with distinct cids, read
# as NDJSON and as binary, in one run. Prints records/s, MB/s of input and MB/s of
# captured payload (the bytes of the data records), single-threaded (one core).
#   BENCH_COPIES=100 bench/reassemble.sh      OLLY_BIN_DIR=.build/release by default
set -euo pipefail
cd "$(dirname "$0")/.."
B=${OLLY_BIN_DIR:-.build/release}
OUT=bench/out
COPIES=${BENCH_COPIES:-100}
mkdir -p "$OUT"
J="$OUT/reassemble-$COPIES.ndjson"; BIN="$OUT/reassemble-$COPIES.bin"; META="$OUT/reassemble-$COPIES.meta"
if [ ! -s "$J" ] || [ ! -s "$META" ]; then
    python3 - "$COPIES" "$J" "$META" <<'PY'
import base64, json, re, sys
copies, path, meta = int(sys.argv[1]), sys.argv[2], sys.argv[3]
names = ["http", "redis", "dns", "postgres"]
fixtures = [open(f"Tests/Fixtures/reassembly/{n}.ndjson").read().splitlines() for n in names]
cid = re.compile(r'"cid":(\d+)')
payload = records = 0
for lines in fixtures:
    for l in lines:
        if '"kind":"data"' in l:
            payload += len(base64.b64decode(json.loads(l)["data"]))
per_copy = (payload, sum(len(f) for f in fixtures))
with open(path, "w") as out:
    for k in range(copies):
        for i, lines in enumerate(fixtures):
            base = (k * len(fixtures) + i) * 1000
            out.write("\n".join(cid.sub(lambda m: f'"cid":{int(m.group(1)) + base}', l) for l in lines))
            out.write("\n")
with open(meta, "w") as f:
    f.write(f"{per_copy[0] * copies} {per_copy[1] * copies}\n")
PY
    "$B/olly-stitch" --format bin < "$J" > "$BIN.tmp"
    mv "$BIN.tmp" "$BIN"
fi
read -r PAYLOAD RECORDS < "$META"
sz() { stat -c %s "$1"; }
best() { # best of 3 runs: seconds
    local best=999999
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N); "$B/olly-reassemble" "$@" > /dev/null; t1=$(date +%s.%N)
        best=$(awk -v a="$best" -v s="$(awk -v x="$t0" -v y="$t1" 'BEGIN { print y - x }')" 'BEGIN { print (s < a ? s : a) }')
    done
    echo "$best"
}
row() { # label input-bytes seconds
    awk -v l="$1" -v b="$2" -v s="$3" -v r="$RECORDS" -v p="$PAYLOAD" 'BEGIN {
        printf "%-34s %7.3f s %10.0f rec/s %8.0f MB/s input %8.0f MB/s payload\n", l, s, r / s, b / s / 1e6, p / s / 1e6 }'
}
echo "olly-reassemble benchmark: $COPIES copies of the http, redis, dns and postgres fixtures"
echo "$RECORDS records, $PAYLOAD payload bytes; NDJSON $(sz "$J") bytes, binary $(sz "$BIN") bytes; best of 3, one core"
tj=$(best "$J");   row "NDJSON input -> NDJSON exchanges" "$(sz "$J")" "$tj"
tb=$(best "$BIN"); row "binary input -> NDJSON exchanges" "$(sz "$BIN")" "$tb"
tbb=$(best --format bin "$BIN"); row "binary input -> binary exchanges" "$(sz "$BIN")" "$tbb"
awk -v a="$tj" -v b="$tbb" 'BEGIN { printf "binary/NDJSON speed-up: %.2fx\n", a / b }'

#!/usr/bin/env bash
# Re-records the reassembly golden fixtures from real clients and servers, then writes the
# expected exchanges with the olly-reassemble built in $OLLY_BIN_DIR (default
# .build/debug). Review `git diff Tests/Fixtures/reassembly` before committing: the
# expected files are what the golden tests diff against, exactly.
#   scripts/record-fixtures.sh [http redis dns postgres mysql mongo http2 grpc http2tls]   (default: all)
# (http2tls is captured by olly-capture --preload: build first, `make build`)
# (grpc also writes grpc.calls.json: what the client called and got, for the span tests)
#   scripts/record-fixtures.sh --expected-only              (keep the recordings)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
BIN=${OLLY_BIN_DIR:-.build/debug}
DIR=Tests/Fixtures/reassembly
mkdir -p "$DIR"
names=(http redis dns postgres mysql mongo http2 grpc http2tls)
export OLLY_BIN_DIR=$BIN
record=1
if [ "${1:-}" = --expected-only ]; then record=0; shift; fi
if [ $# -gt 0 ]; then names=("$@"); fi
# http2tls is captured by olly-capture's hook: build it beside the binaries when missing.
if [ $record = 1 ] && [[ " ${names[*]} " == *" http2tls "* ]]; then
    [ -x "$BIN/olly-capture" ] || swift build
    [ -e "$BIN/libolly.so" ] || make "$BIN/libolly.so"
fi
for n in "${names[@]}"; do
    if [ $record = 1 ]; then
        python3 scripts/record-fixtures.py "$n" > "$DIR/$n.ndjson.tmp"
        mv "$DIR/$n.ndjson.tmp" "$DIR/$n.ndjson"
    fi
    args=()
    # Redis inline commands carry no RESP marker: the relay's port is named as Redis.
    if [ "$n" = redis ]; then
        port=$(grep -m1 '"kind":"conn"' "$DIR/$n.ndjson" | sed 's/.*"raddr":"[^"]*:\([0-9]*\)".*/\1/')
        args=(--proto "$port=redis")
        echo "--proto $port=redis" > "$DIR/$n.args"
    fi
    "$BIN/olly-reassemble" "${args[@]}" "$DIR/$n.ndjson" | grep -v '^{"kind":"stats"' > "$DIR/$n.expected.ndjson"
    echo "$n: $(grep -c '"kind":"exchange"' "$DIR/$n.expected.ndjson") exchanges" >&2
done

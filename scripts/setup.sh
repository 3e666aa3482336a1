#!/usr/bin/env bash
# Installs what building, running and testing Olly need, idempotently: a package that is
# already installed is not touched, and apt-get runs only when something is missing.
#   scripts/setup.sh run    what `make run` needs
#   scripts/setup.sh test   what `make test` needs (a superset)
set -euo pipefail
what=${1:-test}

# Build and run: the Swift toolchain is expected on PATH (swift 6); C libraries for the
# capture sources; tools the main job uses.
run_pkgs=(make libbpf-dev libelf-dev zlib1g-dev libssl-dev bpftool)
# Tests: man page rendering, jq for the benchmark's comparison, real servers and clients
# that the protocol tests drive.
test_pkgs=(man-db groff-base jq curl python3 python3-pip wrk openssl bc nginx redis-server redis-tools dnsmasq-base dnsutils postgresql-15 gdb gcc
           mariadb-server mariadb-client python3-mockupdb nghttp2-client nghttp2-server)

pkgs=("${run_pkgs[@]}")
if [ "$what" = test ]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python clients of the reassembly fixtures (scripts/record-fixtures.py).
if [ "$what" = test ] && ! python3 -c 'import redis, psycopg' 2>/dev/null; then
    echo "setup: installing the Python packages redis and psycopg" >&2
    python3 -m pip install -q redis 'psycopg[binary]' >&2 || echo "setup: pip install failed; only re-recording fixtures needs them" >&2
fi

# Python clients of the MySQL and MongoDB fixtures (mockupdb itself is the Debian package,
# run by /usr/bin/python3).
if [ "$what" = test ] && ! python3 -c 'import pymysql, mysql.connector, pymongo' 2>/dev/null; then
    echo "setup: installing the Python packages pymysql, mysql-connector-python and pymongo" >&2
    python3 -m pip install -q pymysql mysql-connector-python pymongo >&2 || echo "setup: pip install failed; only re-recording fixtures needs them" >&2
fi

# OTLP test peers of olly-export's tests (Tests/Receivers/otlp_receiver.py): grpcio and the
# official opentelemetry-proto classes. grpcio also runs the gRPC reassembly fixture's client
# and server (scripts/grpc-fixture.py).
if [ "$what" = test ] && ! python3 -c 'import grpc, opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc' 2>/dev/null; then
    echo "setup: installing the Python packages grpcio and opentelemetry-proto" >&2
    python3 -m pip install -q grpcio opentelemetry-proto >&2
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: the Swift 6 toolchain (swift) is not on PATH; install it from swift.org first" >&2
    exit 69
fi

#!/bin/sh
# Build Olly's eBPF object (and the C smoke tool).
#
#   bpf/build.sh [OUT.bpf.o]        default: .build/olly.bpf.o
#   bpf/build.sh --smoke [OUT.bpf.o] also builds .build/olly-bpf-smoke
#
# Needs (Debian bookworm): apt-get install -y libbpf-dev libelf-dev zlib1g-dev bpftool
# and a clang that accepts -target bpf (CLANG=..., default: /opt/swift/usr/bin/clang or clang).
# vmlinux.h is generated from the running kernel's BTF into .build/bpf/ (not committed).
# Idempotent: only rebuilds what is older than its inputs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
out=${1:-$root/.build/olly.bpf.o}
gen=$root/.build/bpf
mkdir -p "$gen" "$(dirname "$out")"

if [ -z "${CLANG:-}" ]; then
	if [ -x /opt/swift/usr/bin/clang ]; then CLANG=/opt/swift/usr/bin/clang; else CLANG=clang; fi
fi
BPFTOOL=${BPFTOOL:-$(command -v bpftool || echo /usr/sbin/bpftool)}
BTF=${BTF:-/sys/kernel/btf/vmlinux}

# newer TARGET THAN DEP...: true when TARGET is missing or older than a DEP
stale() {
	t=$1; shift
	[ -e "$t" ] || return 0
	for d in "$@"; do [ "$d" -nt "$t" ] && return 0; done
	return 1
}

vmlinux=$gen/vmlinux.h
if [ ! -s "$vmlinux" ]; then
	[ -r "$BTF" ] || { echo "build.sh: no kernel BTF at $BTF" >&2; exit 1; }
	"$BPFTOOL" btf dump file "$BTF" format c > "$vmlinux.tmp"
	mv "$vmlinux.tmp" "$vmlinux"
fi

if stale "$out" "$here/olly.bpf.c" "$here/olly_events.h" "$vmlinux"; then
	"$CLANG" -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 \
		-I"$gen" -I"$here" -I/usr/include/x86_64-linux-gnu \
		-Wall -Wno-unused-function \
		-c "$here/olly.bpf.c" -o "$out.tmp"
	mv "$out.tmp" "$out"
	echo "build.sh: built $out" >&2
fi

if [ "$smoke" = 1 ]; then
	bin=$root/.build/olly-bpf-smoke
	src=$root/Sources/COllyBPF
	if stale "$bin" "$here/smoke/olly-bpf-smoke.c" "$src/olly_bpf.c" "$src/include/olly_bpf.h" "$src/include/olly_events.h"; then
		${CC:-gcc} -O2 -g -Wall -Wextra -I"$src/include" \
			"$here/smoke/olly-bpf-smoke.c" "$src/olly_bpf.c" \
			-lbpf -lelf -lz -o "$bin.tmp"
		mv "$bin.tmp" "$bin"
		echo "build.sh: built $bin" >&2
	fi
fi

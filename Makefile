# Olly. The two commands a new machine needs:
#   make run    installs what is missing, builds, and runs the pipeline on the recorded sample
#   make test   installs what is missing, builds, and runs every test
PREFIX ?= /usr/local
SWIFT ?= swift
RELEASE := .build/release
DEBUG := .build/debug
COMMANDS := olly-capture olly-reassemble olly-parse olly-stitch olly-export
SAMPLE ?= samples/http-keepalive.ndjson

.PHONY: run test build release bench bench-export bench-capture bench-hook bpf-debug bpf-release install setup-run setup-test clean

setup-run:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

# The eBPF object goes beside the binaries: olly-capture looks there first.
bpf-debug:
	bpf/build.sh $(DEBUG)/olly.bpf.o

bpf-release:
	bpf/build.sh $(RELEASE)/olly.bpf.o

# The hook library (LD_PRELOAD capture) goes beside the binaries as well.
HOOK_CFLAGS ?= -O2 -g -Wall -fPIC -shared -fvisibility=hidden
$(DEBUG)/libolly.so $(RELEASE)/libolly.so: hook/libolly.c hook/olly_hook.h
	@mkdir -p $(@D)
	$(CC) $(HOOK_CFLAGS) -o $@ hook/libolly.c -ldl -lpthread

build: setup-run
	$(SWIFT) build
	$(MAKE) bpf-debug
	$(MAKE) $(DEBUG)/libolly.so

release: setup-run
	$(SWIFT) build -c release
	$(MAKE) bpf-release
	$(MAKE) $(RELEASE)/libolly.so

# Olly's main job on the embedded default: the five commands over a recorded capture.
run: release
	$(RELEASE)/olly-capture --replay $(SAMPLE) | $(RELEASE)/olly-reassemble | $(RELEASE)/olly-parse \
	  | $(RELEASE)/olly-stitch | $(RELEASE)/olly-export

test: setup-test
	$(SWIFT) build
	$(MAKE) bpf-debug
	$(MAKE) $(DEBUG)/libolly.so
	OLLY_BIN_DIR=$(CURDIR)/$(DEBUG) $(SWIFT) test

bench: release
	bench/run.sh
	bench/capture.sh

# eBPF capture overhead: per-call cost, loss, untargeted cost, nginx under wrk (root).
bench-capture: release
	bench/capture.sh

# LD_PRELOAD hook overhead: ns per hooked write() with and without the library, and the
# drop rate with the reader stopped.
bench-hook: release
	bench/hook.sh

# OTLP export throughput: spans/s over gRPC and HTTP at batch sizes 512 and 8192, one run.
bench-export: release
	bench/export.sh

install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0755 $(addprefix $(RELEASE)/,$(COMMANDS)) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/olly
	install -m 0644 $(RELEASE)/olly.bpf.o $(DESTDIR)$(PREFIX)/lib/olly/
	install -m 0755 $(RELEASE)/libolly.so $(DESTDIR)$(PREFIX)/lib/olly/
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/

clean:
	rm -rf .build bench/out

# Reassembly benchmark (not a test): records/s and MB/s per core of olly-reassemble over a
# large mixed capture replicated from the recorded fixtures, NDJSON and binary input.
.PHONY: bench-reassemble
bench-reassemble: release
	bench/reassemble.sh

/* Olly eBPF capture: user-space loader (libbpf). Event layouts: olly_events.h. */
#ifndef OLLY_BPF_H
#define OLLY_BPF_H

#include <stddef.h>
#include <stdint.h>
#include "olly_events.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes (negative). */
#define OLLY_BPF_OK 0
#define OLLY_BPF_ERR -1          /* anything else; errbuf says what */
#define OLLY_BPF_EPERM -2        /* not permitted (needs root / CAP_BPF+CAP_PERFMON) -> exit 69 */
#define OLLY_BPF_ENOBTF -3       /* kernel has no BTF (/sys/kernel/btf/vmlinux) -> exit 69 */
#define OLLY_BPF_ENOOBJ -4       /* BPF object file missing or unreadable */
#define OLLY_BPF_EUNSUPPORTED -5 /* kernel refused to load/attach (verifier, missing tracepoint) -> exit 69 */

#define OLLY_BPF_MAX_PIDS 64
#define OLLY_BPF_MAX_PORTS 64

struct olly_bpf_config {
	const char *bpf_object_path;  /* path of olly.bpf.o (required) */
	int32_t pids[OLLY_BPF_MAX_PIDS]; /* initial target tgids (0 entries + no other filter = all) */
	int n_pids;
	int filter_pids;          /* 1: only targets (pids[] and olly_bpf_add_pid); implied by n_pids > 0 */
	int follow_children;      /* 1: children forked by targets become targets */
	const char *comm;         /* NULL/"": any; else exact task comm (<= 15 chars) */
	uint64_t cgroup_id;       /* 0: any; else cgroup v2 id (inode number of the cgroup dir) */
	uint16_t ports[OLLY_BPF_MAX_PORTS]; /* local or remote port; n_ports 0 = any */
	int n_ports;
	uint32_t capture_budget;  /* payload bytes per call, 0 = 16384; max OLLY_MAX_CHUNKS*OLLY_CHUNK */
	uint32_t ringbuf_bytes;   /* 0 = 32 MiB; rounded up to a power of two */
	int want_unix, want_inet, want_inet6; /* all 0 = inet + inet6 */
	int verbose;              /* 1: libbpf messages to stderr */
};

struct olly_bpf;

/* Loads and attaches the syscall and sched tracepoints. *out on success.
 * errbuf gets one sentence on failure. Mounts tracefs at /sys/kernel/tracing if
 * no tracefs is mounted. Not thread-safe against other libbpf users (sets the
 * global libbpf print callback). */
int olly_bpf_open(const struct olly_bpf_config *cfg, struct olly_bpf **out, char *errbuf, size_t errlen);

/* Attaches SSL_read/SSL_write(_ex) (+ handshake/shutdown) uprobes to a libssl.so
 * path (as found in /proc/PID/maps). Same path (or same inode) twice is a no-op.
 * Returns 0, or OLLY_BPF_ERR if no SSL_read/SSL_write symbol could be attached. */
int olly_bpf_attach_ssl(struct olly_bpf *h, const char *libssl_path);

/* Attaches to every "libssl.so*" mapped by pid (read from /proc/PID/maps, opened
 * through /proc/PID/root). Returns number of libraries newly attached (>= 0) or < 0. */
int olly_bpf_attach_ssl_pid(struct olly_bpf *h, int pid);

/* Adds/removes a target tgid. Only matters if pid filtering was on at open
 * (filter_pids or n_pids > 0): the filter mode is fixed at load time. */
int olly_bpf_add_pid(struct olly_bpf *h, int pid);
int olly_bpf_remove_pid(struct olly_bpf *h, int pid);

/* Called once per ring-buffer record; event points at struct olly_hdr. Return 0
 * to continue, non-zero to stop this poll (the value is returned by olly_bpf_poll). */
typedef int (*olly_event_cb)(void *ctx, const void *event, size_t size);

/* Drains available events; if none, waits up to timeout_ms for some (as
 * olly_bpf_wait does: events are submitted without wake-ups). timeout_ms < 0: wait until at
 * least one. Returns events handled (>= 0), the callback's non-zero value, or
 * -EINTR when a signal interrupted the wait. */
int olly_bpf_poll(struct olly_bpf *h, int timeout_ms, olly_event_cb cb, void *ctx);

/* Batched reading, without a call per event (what olly-capture uses): up to max
 * committed records (and about 32 KiB of them, at most an eighth of the ring), in
 * order, read in place -- pointers (at struct olly_hdr) and sizes into recs and
 * sizes. Returns how many (0: none ready). Their space is not given back to the
 * kernel, so they stay valid and unchanged, until olly_bpf_release, which releases
 * every record handed out so far. Do not mix with olly_bpf_poll between a batch and
 * its release. */
int olly_bpf_batch(struct olly_bpf *h, const void **recs, uint32_t *sizes, int max);
void olly_bpf_release(struct olly_bpf *h);

/* Waits up to timeout_ms (< 0: no limit; 0: just checks) for a record not yet handed
 * out, checking every ~1 ms. Returns 1 when one is there, 0 at the timeout, -EINTR when
 * a signal interrupted the wait. */
int olly_bpf_wait(struct olly_bpf *h, int timeout_ms);

/* Ring-buffer events lost (reservation failures), per CPU. Fills up to ncpu
 * entries of per_cpu (may be NULL), returns the total (or < 0 on error). */
int64_t olly_bpf_lost(struct olly_bpf *h, uint64_t *per_cpu, int ncpu);

/* Any per-CPU counter of enum olly_stat, summed. */
int64_t olly_bpf_stat(struct olly_bpf *h, int stat);

/* Number of possible CPUs (size for olly_bpf_lost). */
int olly_bpf_ncpus(void);

/* Converts an event timestamp (CLOCK_MONOTONIC ns) to ns since the Unix epoch. */
uint64_t olly_bpf_ts_to_epoch(struct olly_bpf *h, uint64_t ts_ns);

/* Detaches every link, frees every map and program. NULL is fine. Slow: each
 * detach waits for an RCU grace period (~1 s total for the tracepoints, ~2.5 s
 * with SSL uprobes on this VM, even detached in parallel): flush output first. */
void olly_bpf_close(struct olly_bpf *h);

#ifdef __cplusplus
}
#endif
#endif /* OLLY_BPF_H */

// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Olly eBPF capture: socket payloads, connections and processes.
 *
 * Only syscall tracepoints, sched tracepoints and uprobes: this kernel has no
 * kprobes and refuses fentry (MACHINE-NOTES). Events go to one ring buffer,
 * submitted with BPF_RB_NO_WAKEUP; user space drains it on a ~1 ms timer
 * (0.7 us/event instead of 3.2 us with a wake-up per event, MACHINE-NOTES).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "olly_events.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define O_NONBLOCK 04000
#define MSG_PEEK 0x2
#define MSG_DONTWAIT 0x40
#define EINPROGRESS 115
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct olly_kcfg cfg = {};

__u64 next_cid = 0;

/* ---- maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* loader overrides */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OLLY_STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Target tgids as a bitmap: bit (tgid & 63) of word tgid >> 6. An array lookup is
 * inlined by the verifier, where a hash lookup is a helper call that hashes the key:
 * this check runs at every syscall entry and exit of every process while capture
 * runs. Memory-mapped, so user space sets and clears bits with atomics too. The
 * loader sizes it from kernel.pid_max. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 65537);
	__type(key, __u32);
	__type(value, __u64);
} targets SEC(".maps");

static __always_inline bool pid_targeted(__u32 tgid)
{
	__u32 w = tgid >> 6;
	__u64 *v = bpf_map_lookup_elem(&targets, &w);
	return v && ((*v >> (tgid & 63)) & 1);
}

static __always_inline void pid_set(__u32 tgid, bool on)
{
	__u32 w = tgid >> 6;
	__u64 *v = bpf_map_lookup_elem(&targets, &w);
	if (!v)
		return;
	if (on)
		__sync_fetch_and_or(v, 1ULL << (tgid & 63));
	else
		__sync_fetch_and_and(v, ~(1ULL << (tgid & 63)));
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16); /* port, host order */
	__type(value, __u8);
} ports SEC(".maps");

#define CONN_IGNORED 1   /* family/port filtered: never emitted */
#define CONN_TLS 2       /* seen inside an SSL call: ciphertext is not emitted */
#define CONN_ANNOUNCED 4 /* conn event emitted */

struct conn {
	__u64 cid;
	__u64 off[2];     /* syscall stream offsets, by enum olly_dir */
	__u64 tls_off[2]; /* plaintext stream offsets */
	__u64 ino;        /* socket inode number: detects reuse of a struct sock address */
	__u32 flags;
	__u8 role;
	__u8 _pad[3];
};

/* Keyed by struct sock address: the same for every process sharing the socket
 * (fork, dup, SCM_RIGHTS), so cid is stable across fork. LRU bounds sockets that
 * vanish without a close() we see (process exit). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn);
} conns SEC(".maps");

/* SSL* -> socket, learned from syscalls made inside SSL calls; used when an
 * SSL_read is served from OpenSSL's buffer without a syscall. */
struct ssl_sock {
	__u64 sk;
	__s32 fd;
	__u32 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ssl_sock);
} ssl_socks SEC(".maps");

enum olly_op {
	OLLY_OP_NONE = 0,
	OLLY_OP_READ, OLLY_OP_READV, OLLY_OP_RECVMSG,    /* dir in */
	OLLY_OP_WRITE, OLLY_OP_WRITEV, OLLY_OP_SENDMSG,  /* dir out */
	OLLY_OP_SENDFILE, OLLY_OP_CONNECT,
};

enum olly_ssl_op { OLLY_SSL_READ = 1, OLLY_SSL_WRITE, OLLY_SSL_READ_EX, OLLY_SSL_WRITE_EX, OLLY_SSL_OTHER };

/* Per-thread state: enter->exit stash and "inside an SSL call". Task storage
 * (516 ns per stash) is cheaper than a pid_tgid hash map (706 ns), MACHINE-NOTES. */
struct tstate {
	__u64 sk;
	__u64 ino;
	__u64 buf;      /* buffer, iovec array or user msghdr */
	__u64 ssl;
	__u64 ssl_buf;
	__u64 ssl_nptr; /* size_t * of SSL_read_ex/SSL_write_ex */
	__u64 ssl_sk;   /* socket used by a syscall inside the current SSL call */
	__s32 fd;
	__u32 op;
	__u32 iovcnt;
	__u32 ssl_depth;
	__u32 ssl_op;
	__s32 ssl_fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tstate);
} tstate SEC(".maps");

/* Per-CPU staging for variable-size data records (bpf_ringbuf_output copies only
 * header + cap_len), where the pieces of one call (the iovecs of a writev, say) are
 * gathered into one record of up to OLLY_CHUNK bytes. Tracepoint programs run with
 * preemption off; uprobe programs may be preempted, so they reserve fixed-size
 * records instead. Twice the chunk: the verifier sees a piece of up to a chunk at
 * an offset of up to a chunk. */
struct scratch {
	__u8 b[sizeof(struct olly_data_event) + 2 * OLLY_CHUNK];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* ---- helpers ---- */

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1; /* per-CPU: no atomics needed */
}

static __always_inline bool is_target(__u32 tgid)
{
	if (cfg.filter_pids && !pid_targeted(tgid))
		return false;
	if (cfg.cgroup_id && bpf_get_current_cgroup_id() != cfg.cgroup_id)
		return false;
	if (cfg.filter_comm) {
		char c[OLLY_COMM_LEN];
		bpf_get_current_comm(c, sizeof(c));
		for (int i = 0; i < OLLY_COMM_LEN; i++) {
			if (c[i] != cfg.comm[i])
				return false;
			if (c[i] == 0)
				break;
		}
	}
	return true;
}

struct file___old { atomic_long_t f_count; } __attribute__((preserve_access_index));

/* Marks a kernel pointer read as a number as pointing to a type, for direct
 * (exception-handled) loads: verifier-inlined, no helper call. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* fd -> struct sock via the current task's fd table. NULL for non-sockets and
 * unwanted families. Runs at every data syscall of a target: the walk uses
 * direct loads through BTF pointers (one helper call, for the fd array slot)
 * instead of a bpf_probe_read_kernel call per field. */
static __always_inline struct sock *fd_sock(int fd, __u64 *ino, __u32 *fflags, bool *last_ref)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	if (!files)
		return NULL;
	struct fdtable *fdt = files->fdt;
	if (!fdt || fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	struct file **fds = fdt->fd;
	struct file *fp = NULL;
	bpf_probe_read_kernel(&fp, sizeof(fp), &fds[fd]);
	if (!fp)
		return NULL;
	struct file *f = bpf_rdonly_cast(fp, bpf_core_type_id_kernel(struct file));
	struct inode *inode = f->f_inode;
	if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	struct sock *sk = sock->sk;
	if (!sk)
		return NULL;
	__u16 fam = sk->__sk_common.skc_family;
	if (fam == AF_INET || fam == AF_INET6) {
		if (!(fam == AF_INET ? cfg.want_inet : cfg.want_inet6))
			return NULL;
		__u16 proto = sk->sk_protocol;
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
			return NULL; /* raw, ICMP, SCTP, MPTCP... */
	} else if (fam == AF_UNIX) {
		if (!cfg.want_unix)
			return NULL;
	} else {
		return NULL;
	}
	if (ino)
		*ino = inode->i_ino;
	if (fflags)
		*fflags = f->f_flags;
	if (last_ref) {
		/* close() only ends the connection when it drops the last reference
		 * (a forked server's parent closing its copy does not). */
		if (bpf_core_field_exists(fp->f_ref)) {
			/* file_ref_t (6.13+): 0 means exactly one reference */
			*last_ref = BPF_CORE_READ(fp, f_ref.refcnt.counter) == 0;
		} else {
			struct file___old *fo = (void *)fp;
			*last_ref = BPF_CORE_READ(fo, f_count.counter) == 1;
		}
	}
	return sk;
}

static __always_inline void emit_conn(struct sock *sk, __u64 cid, __s32 fd, __u8 ev, __u8 role)
{
	struct olly_conn_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(OLLY_STAT_LOST);
		return;
	}
	__u64 pt = bpf_get_current_pid_tgid();
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.type = OLLY_EV_CONN;
	e->hdr.pid = pt >> 32;
	e->hdr.tid = (__u32)pt;
	e->hdr._pad = 0;
	e->cid = cid;
	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->raddr, 0, sizeof(e->raddr));
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->family = fam;
	e->fd = fd;
	if (fam == AF_INET) {
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (fam == AF_INET6) {
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	if (fam == AF_UNIX) {
		e->lport = 0;
		e->rport = 0;
	} else {
		e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
	e->sotype = BPF_CORE_READ(sk, sk_type);
	e->proto = fam == AF_UNIX ? 0 : (__u8)BPF_CORE_READ(sk, sk_protocol);
	e->ev = ev;
	e->role = role;
	e->_pad = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

static __always_inline bool port_wanted(struct sock *sk)
{
	if (!cfg.filter_ports)
		return true;
	__u16 p = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (bpf_map_lookup_elem(&ports, &p))
		return true;
	p = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return bpf_map_lookup_elem(&ports, &p) != NULL;
}

/* Connection state for sk; created (new cid) on first sight, after a
 * connect/accept (fresh), or when the sock address was reused (inode differs).
 * The conn event is emitted once, when announce is set: at connect/accept for
 * stream sockets, at the first data for datagram sockets (glibc's getaddrinfo
 * connects UDP sockets only to pick a source address and never sends on them). */
static __always_inline struct conn *get_conn(struct sock *sk, __u64 ino, __s32 fd, __u8 role,
					     bool fresh, bool announce)
{
	__u64 key = (__u64)sk;
	struct conn *st = bpf_map_lookup_elem(&conns, &key);
	if (!st || fresh || st->ino != ino) {
		struct conn n = {};
		n.cid = __sync_fetch_and_add(&next_cid, 1) + 1;
		n.ino = ino;
		n.role = role;
		if (!port_wanted(sk))
			n.flags = CONN_IGNORED;
		if (bpf_map_update_elem(&conns, &key, &n, BPF_ANY))
			return NULL;
		st = bpf_map_lookup_elem(&conns, &key);
		if (!st)
			return NULL;
	}
	if (announce && !(st->flags & (CONN_ANNOUNCED | CONN_IGNORED))) {
		st->flags |= CONN_ANNOUNCED;
		emit_conn(sk, st->cid, fd, st->role ? OLLY_CONN_OPEN : OLLY_CONN_SEEN, st->role);
	}
	return st;
}

/* ---- payload emission ---- */

struct emit_ctx {
	__u64 ts, cid, base, ptr, iov, total, done, cur_left, budget_left;
	__u64 chunk_at; /* done when the gathered bytes began */
	__u32 pid, tid, iovcnt, iov_idx;
	__u32 filled; /* bytes gathered in the scratch record, not yet sent */
	__s32 fd;
	__u8 dir, tls, reserve;
};

static __always_inline void fill_hdr_at(struct olly_data_event *e, struct emit_ctx *c, __u64 at, __u32 len, __u32 cap)
{
	e->hdr.ts_ns = c->ts;
	e->hdr.type = OLLY_EV_DATA;
	e->hdr.pid = c->pid;
	e->hdr.tid = c->tid;
	e->hdr._pad = 0;
	e->cid = c->cid;
	e->off = c->base + at;
	e->fd = c->fd;
	e->len = len;
	e->cap_len = cap;
	e->dir = c->dir;
	e->tls = c->tls;
	e->_pad = 0;
}

#define fill_hdr(e, c, len, cap) fill_hdr_at(e, c, (c)->done, len, cap)

/* Sends the bytes gathered in the scratch record as one data event. */
static __always_inline void flush_scratch(struct emit_ctx *c)
{
	__u32 n = c->filled;
	if (!n)
		return;
	c->filled = 0;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	struct olly_data_event *e = (void *)s->b;
	if (n > OLLY_CHUNK)
		n = OLLY_CHUNK;
	fill_hdr_at(e, c, c->chunk_at, n, n);
	if (bpf_ringbuf_output(&events, e, sizeof(*e) + n, BPF_RB_NO_WAKEUP))
		stat_inc(OLLY_STAT_LOST);
}

/* A declared gap: len bytes moved, none captured (after any bytes gathered). */
static __always_inline void emit_gap(struct emit_ctx *c, __u64 len)
{
	flush_scratch(c);
	struct olly_data_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(OLLY_STAT_LOST);
	} else {
		fill_hdr(e, c, len > 0xffffffffULL ? 0xffffffffU : (__u32)len, 0);
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	c->done += len;
}

/* One chunk in a record reserved at its full size (uprobe programs, which may be
 * preempted, cannot use the per-CPU scratch record). */
static __always_inline void emit_chunk(struct emit_ctx *c, __u32 n)
{
	if (n > OLLY_CHUNK)
		n = OLLY_CHUNK;
	struct olly_data_event *e = bpf_ringbuf_reserve(&events, sizeof(*e) + OLLY_CHUNK, 0);
	if (!e) {
		stat_inc(OLLY_STAT_LOST);
	} else {
		__u32 cap = n;
		if (bpf_probe_read_user(e->data, n, (void *)c->ptr)) {
			stat_inc(OLLY_STAT_READ_FAULT);
			cap = 0;
		}
		fill_hdr(e, c, n, cap);
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	c->done += n;
}

/* Appends n bytes (at most what the scratch record has room for) to the bytes
 * gathered in the scratch record; a piece that cannot be read follows them as a gap. */
static __always_inline void gather(struct emit_ctx *c, __u32 n)
{
	__u32 f = c->filled & (OLLY_CHUNK - 1); /* < OLLY_CHUNK: a full record was sent */
	if (n > OLLY_CHUNK)
		n = OLLY_CHUNK;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	struct olly_data_event *e = (void *)s->b;
	if (!f)
		c->chunk_at = c->done;
	if (bpf_probe_read_user(e->data + f, n, (void *)c->ptr)) {
		stat_inc(OLLY_STAT_READ_FAULT);
		emit_gap(c, n);
		return;
	}
	c->filled = f + n;
	c->done += n;
}

/* One step: advance to the next iovec, emit one chunk, or end with a gap.
 * A global function is verified once, with *c unknown; as a static bpf_loop
 * callback the verifier tracked the shrinking budget exactly and hit its 1M
 * instruction limit. Returns 1 when done. */
__noinline int olly_emit_step(struct emit_ctx *c)
{
	if (!c)
		return 1;
	if (c->done >= c->total)
		return 1;
	__u64 remaining = c->total - c->done;
	if (c->budget_left == 0) {
		emit_gap(c, remaining);
		return 1;
	}
	if (c->cur_left == 0) {
		if (!c->iov)
			return 1;
		if (c->iov_idx >= c->iovcnt || c->iov_idx >= OLLY_MAX_IOV) {
			if (c->iovcnt > OLLY_MAX_IOV)
				stat_inc(OLLY_STAT_IOV_TRUNC);
			emit_gap(c, remaining);
			return 1;
		}
		struct iovec v = {};
		bpf_probe_read_user(&v, sizeof(v), (void *)(c->iov + (__u64)c->iov_idx * sizeof(struct iovec)));
		c->iov_idx++;
		c->ptr = (__u64)v.iov_base;
		c->cur_left = v.iov_len;
		return 0;
	}
	__u64 n = c->cur_left;
	if (n > remaining)
		n = remaining;
	if (n > c->budget_left)
		n = c->budget_left;
	if (n > OLLY_CHUNK)
		n = OLLY_CHUNK;
	if (c->reserve) {
		emit_chunk(c, (__u32)n);
	} else {
		/* gathered into the scratch record, sent when it is full or the call's bytes
		 * end: one event for a writev of a response's header and body */
		if (n > OLLY_CHUNK - c->filled)
			n = OLLY_CHUNK - c->filled;
		gather(c, (__u32)n);
		if (c->filled >= OLLY_CHUNK || c->done >= c->total || c->budget_left == n)
			flush_scratch(c);
	}
	c->ptr += n;
	c->cur_left -= n;
	c->budget_left -= n;
	return 0;
}

static long emit_step(__u32 i, void *vc)
{
	int r = olly_emit_step(vc);
	asm volatile("" : "+r"(r)); /* keep clang from dropping the 0/1 clamp the verifier needs */
	return r ? 1 : 0;
}

/* Emit total bytes moved on st in direction dir, read from a buffer (iov == 0) or
 * an iovec array. Offsets are reserved up front with one atomic add, so
 * concurrent threads on one socket still get contiguous, non-overlapping ranges. */
static __always_inline void emit_data(struct conn *st, __s32 fd, __u8 dir, __u8 tls, __u64 ptr,
				      __u64 iov, __u32 iovcnt, __u64 total, bool reserve)
{
	if (!total)
		return;
	struct emit_ctx c = {};
	__u64 pt = bpf_get_current_pid_tgid();
	c.ts = bpf_ktime_get_ns();
	c.pid = pt >> 32;
	c.tid = (__u32)pt;
	c.cid = st->cid;
	dir &= 1;
	if (tls)
		c.base = __sync_fetch_and_add(&st->tls_off[dir], total);
	else
		c.base = __sync_fetch_and_add(&st->off[dir], total);
	c.fd = fd;
	c.dir = dir;
	c.tls = tls;
	c.reserve = reserve;
	c.total = total;
	c.budget_left = cfg.budget;
	c.ptr = ptr;
	c.iov = iov;
	c.iovcnt = iovcnt;
	c.cur_left = iov ? 0 : total;
	bpf_loop(OLLY_MAX_CHUNKS + 2 * OLLY_MAX_IOV + 2, emit_step, &c, 0);
	flush_scratch(&c);
	if (c.done < c.total)
		emit_gap(&c, c.total - c.done);
}

/* ---- syscalls ---- */

static __always_inline struct tstate *ts_get(bool create)
{
	return bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* A socket syscall made inside SSL_read/SSL_write/handshake: remember the socket
 * for the SSL object, mark the connection TLS, and emit nothing (ciphertext). */
static __always_inline bool in_ssl(struct tstate *ts, struct sock *sk, __u64 ino, __s32 fd)
{
	if (!ts || !ts->ssl_depth)
		return false;
	ts->ssl_sk = (__u64)sk;
	ts->ssl_fd = fd;
	__u64 ssl = ts->ssl;
	struct ssl_sock v = {.sk = (__u64)sk, .fd = fd};
	if (ssl)
		bpf_map_update_elem(&ssl_socks, &ssl, &v, BPF_ANY);
	struct conn *st = get_conn(sk, ino, fd, 0, false, true);
	if (st)
		st->flags |= CONN_TLS;
	return true;
}

static __always_inline __u64 iov_sum(__u64 iov, __u32 iovcnt)
{
	__u64 sum = 0;
	for (int i = 0; i < OLLY_MAX_IOV; i++) {
		if (i >= iovcnt)
			break;
		struct iovec v = {};
		bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(struct iovec)));
		sum += v.iov_len;
	}
	return sum;
}

/* Common sys_enter for data syscalls. Writes on blocking sockets are captured
 * here: the buffer is known and the kernel moves it all unless an error or a
 * signal intervenes (+0.36 us vs a stash, MACHINE-NOTES). Reads, and writes on
 * non-blocking sockets (EAGAIN and short writes are routine there), are
 * stashed and emitted at sys_exit with the real byte count. */
static __always_inline int data_enter(__s32 fd, __u64 buf, __u64 count, __u32 op, __u64 sflags)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	if (sflags & MSG_PEEK)
		return 0; /* the bytes will be read again; capturing twice would break offsets */
	__u64 ino = 0;
	__u32 fflags = 0;
	struct sock *sk = fd_sock(fd, &ino, &fflags, NULL);
	if (!sk)
		return 0;
	bool is_write = op == OLLY_OP_WRITE || op == OLLY_OP_WRITEV || op == OLLY_OP_SENDMSG;
	bool blocking = !(fflags & O_NONBLOCK) && !(sflags & MSG_DONTWAIT);
	struct tstate *ts = ts_get(!(is_write && blocking));
	if (in_ssl(ts, sk, ino, fd)) {
		if (ts)
			ts->op = OLLY_OP_NONE;
		return 0;
	}
	if (is_write && blocking) {
		__u64 iov = 0, total = count;
		__u32 iovcnt = 0;
		if (op == OLLY_OP_SENDMSG) {
			struct user_msghdr m = {};
			bpf_probe_read_user(&m, sizeof(m), (void *)buf);
			iov = (__u64)m.msg_iov;
			iovcnt = m.msg_iovlen;
		} else if (op == OLLY_OP_WRITEV) {
			iov = buf;
			iovcnt = count;
		}
		if (iov && iovcnt <= OLLY_MAX_IOV)
			total = iov_sum(iov, iovcnt);
		if (!iov || iovcnt <= OLLY_MAX_IOV) {
			if (ts)
				ts->op = OLLY_OP_NONE;
			struct conn *st = get_conn(sk, ino, fd, 0, false, true);
			if (!st || (st->flags & (CONN_IGNORED | CONN_TLS)))
				return 0;
			emit_data(st, fd, OLLY_DIR_OUT, 0, iov ? 0 : buf, iov, iovcnt, total, false);
			return 0;
		}
		/* more iovecs than we sum: total comes from the return value */
		ts = ts_get(true);
	}
	if (!ts)
		return 0;
	ts->op = op;
	ts->fd = fd;
	ts->buf = buf;
	ts->iovcnt = count;
	ts->sk = (__u64)sk;
	ts->ino = ino;
	return 0;
}

static __always_inline int data_exit(long ret)
{
	/* Processes that are not targets leave here, before the task storage lookup. */
	if (cfg.filter_pids && !pid_targeted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	struct tstate *ts = ts_get(false);
	if (!ts || !ts->op)
		return 0;
	__u32 op = ts->op;
	ts->op = OLLY_OP_NONE;
	if (ret <= 0 || op == OLLY_OP_CONNECT)
		return 0;
	struct sock *sk = (void *)ts->sk;
	struct conn *st = get_conn(sk, ts->ino, ts->fd, 0, false, true);
	if (!st || (st->flags & (CONN_IGNORED | CONN_TLS)))
		return 0;
	__u8 dir = (op == OLLY_OP_READ || op == OLLY_OP_READV || op == OLLY_OP_RECVMSG) ? OLLY_DIR_IN : OLLY_DIR_OUT;
	if (op == OLLY_OP_SENDFILE) {
		/* file-to-socket bytes never pass through user memory: a declared gap */
		struct emit_ctx c = {};
		__u64 pt = bpf_get_current_pid_tgid();
		c.ts = bpf_ktime_get_ns();
		c.pid = pt >> 32;
		c.tid = (__u32)pt;
		c.cid = st->cid;
		c.base = __sync_fetch_and_add(&st->off[OLLY_DIR_OUT], (__u64)ret);
		c.fd = ts->fd;
		c.dir = OLLY_DIR_OUT;
		emit_gap(&c, ret);
		return 0;
	}
	__u64 iov = 0, ptr = 0;
	__u32 iovcnt = 0;
	if (op == OLLY_OP_RECVMSG || op == OLLY_OP_SENDMSG) {
		struct user_msghdr m = {};
		bpf_probe_read_user(&m, sizeof(m), (void *)ts->buf);
		iov = (__u64)m.msg_iov;
		iovcnt = m.msg_iovlen;
	} else if (op == OLLY_OP_READV || op == OLLY_OP_WRITEV) {
		iov = ts->buf;
		iovcnt = ts->iovcnt;
	} else {
		ptr = ts->buf;
	}
	emit_data(st, ts->fd, dir, 0, ptr, iov, iovcnt, ret, false);
	return 0;
}

#define ARG(i) (ctx->args[i])

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), ARG(2), OLLY_OP_READ, 0); }
SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), ARG(2), OLLY_OP_READ, ARG(3)); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), ARG(2), OLLY_OP_READV, 0); }
SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), 0, OLLY_OP_RECVMSG, ARG(2)); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), ARG(2), OLLY_OP_WRITE, 0); }
SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), ARG(2), OLLY_OP_WRITE, ARG(3)); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), ARG(2), OLLY_OP_WRITEV, 0); }
SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx) { return data_enter(ARG(0), ARG(1), 0, OLLY_OP_SENDMSG, ARG(2)); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

/* sendfile: bytes go file -> socket inside the kernel; recorded as a gap at exit. */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int enter_sendfile(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	__u64 ino = 0;
	struct sock *sk = fd_sock(ARG(0), &ino, NULL, NULL);
	if (!sk)
		return 0;
	struct tstate *ts = ts_get(true);
	if (!ts || in_ssl(ts, sk, ino, ARG(0)))
		return 0;
	ts->op = OLLY_OP_SENDFILE;
	ts->fd = ARG(0);
	ts->sk = (__u64)sk;
	ts->ino = ino;
	return 0;
}
SEC("tracepoint/syscalls/sys_exit_sendfile64")
int exit_sendfile(struct trace_event_raw_sys_exit *ctx) { return data_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	struct tstate *ts = ts_get(true);
	if (!ts)
		return 0;
	ts->op = OLLY_OP_CONNECT;
	ts->fd = ARG(0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct tstate *ts = ts_get(false);
	if (!ts || ts->op != OLLY_OP_CONNECT)
		return 0;
	ts->op = OLLY_OP_NONE;
	/* non-blocking connect returns -EINPROGRESS with both addresses already set */
	if (ctx->ret != 0 && ctx->ret != -EINPROGRESS)
		return 0;
	__u64 ino = 0;
	struct sock *sk = fd_sock(ts->fd, &ino, NULL, NULL);
	if (sk)
		get_conn(sk, ino, ts->fd, OLLY_ROLE_CLIENT, true,
			 BPF_CORE_READ(sk, sk_type) == 1 /* SOCK_STREAM */);
	return 0;
}

static __always_inline int accept_exit(long ret)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (ret < 0 || !is_target(pt >> 32))
		return 0;
	__u64 ino = 0;
	struct sock *sk = fd_sock(ret, &ino, NULL, NULL);
	if (sk)
		get_conn(sk, ino, ret, OLLY_ROLE_SERVER, true, true);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx) { return accept_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx) { return accept_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	__u64 ino = 0;
	bool last = false;
	__s32 fd = ARG(0);
	struct sock *sk = fd_sock(fd, &ino, NULL, &last);
	if (!sk || !last)
		return 0;
	__u64 key = (__u64)sk;
	struct conn *st = bpf_map_lookup_elem(&conns, &key);
	if (!st || st->ino != ino)
		return 0;
	if (st->flags & CONN_ANNOUNCED)
		emit_conn(sk, st->cid, fd, OLLY_CONN_CLOSE, st->role);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* ---- processes ---- */

static __always_inline void emit_proc(__u8 ev, __u32 pid, __u32 ppid, __s32 code)
{
	struct olly_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(OLLY_STAT_LOST);
		return;
	}
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.type = OLLY_EV_PROC;
	e->hdr.pid = pid;
	e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
	e->hdr._pad = 0;
	e->ppid = ppid;
	e->exit_code = code;
	e->ev = ev;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

SEC("tracepoint/sched/sched_process_fork")
int on_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	/* Following children depends on the pid filter alone: a child of a target whose
	 * parent's comm or cgroup does not match may still match later (exec, rename). */
	if (cfg.filter_pids && !pid_targeted(parent))
		return 0;
	__u32 child = ctx->child_pid;
	/* A new thread is added last to the thread group's list: if that task is the
	 * child, this clone made a thread, not a process. */
	struct task_struct *cur = bpf_get_current_task_btf();
	struct list_head *last = BPF_CORE_READ(cur, signal, thread_head.prev);
	struct task_struct *t = (void *)last - bpf_core_field_offset(struct task_struct, thread_node);
	if ((__u32)BPF_CORE_READ(t, pid) == child)
		return 0;
	if (cfg.follow_children && cfg.filter_pids)
		pid_set(child, true);
	if (is_target(parent))
		emit_proc(OLLY_PROC_FORK, child, parent, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (!is_target(pid))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	emit_proc(OLLY_PROC_EXEC, pid, BPF_CORE_READ(t, real_parent, tgid), 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 pid = pt >> 32;
	struct task_struct *t = bpf_get_current_task_btf();
	/* signal->live reaches 0 when the last thread of the group exits */
	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0;
	/* An exited target leaves the filter whatever its comm or cgroup by now. */
	if (cfg.filter_pids && !pid_targeted(pid))
		return 0;
	if (is_target(pid))
		emit_proc(OLLY_PROC_EXIT, pid, BPF_CORE_READ(t, real_parent, tgid), BPF_CORE_READ(t, exit_code));
	if (cfg.filter_pids)
		pid_set(pid, false);
	return 0;
}

/* ---- OpenSSL uprobes ----
 * "Inside an SSL call" per thread: at entry remember the SSL*, buffer and op;
 * syscalls made meanwhile reveal the socket (and are not emitted as data); at
 * return the plaintext is emitted on that socket's connection with tls = 1.
 * A depth counter handles nesting (SSL_connect -> SSL_do_handshake). */

static __always_inline int ssl_enter(void *ssl, void *buf, void *nptr, __u32 op)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	struct tstate *ts = ts_get(true);
	if (!ts)
		return 0;
	if (ts->ssl_depth == 0) {
		ts->ssl = (__u64)ssl;
		ts->ssl_buf = (__u64)buf;
		ts->ssl_nptr = (__u64)nptr;
		ts->ssl_op = op;
		ts->ssl_sk = 0;
		ts->ssl_fd = -1;
	}
	if (ts->ssl_depth < 16)
		ts->ssl_depth++;
	return 0;
}

static __always_inline int ssl_exit(long ret)
{
	struct tstate *ts = ts_get(false);
	if (!ts || ts->ssl_depth == 0)
		return 0;
	if (--ts->ssl_depth)
		return 0;
	__u32 op = ts->ssl_op;
	__u64 n = 0;
	if (op == OLLY_SSL_READ || op == OLLY_SSL_WRITE) {
		if ((int)ret <= 0)
			return 0;
		n = (__u32)(int)ret;
	} else if (op == OLLY_SSL_READ_EX || op == OLLY_SSL_WRITE_EX) {
		if ((int)ret != 1 || !ts->ssl_nptr)
			return 0;
		bpf_probe_read_user(&n, sizeof(n), (void *)ts->ssl_nptr);
	} else {
		return 0;
	}
	if (!n)
		return 0;
	__u64 ssl = ts->ssl, skv = ts->ssl_sk;
	__s32 fd = ts->ssl_fd;
	if (!skv) {
		struct ssl_sock *p = bpf_map_lookup_elem(&ssl_socks, &ssl);
		if (p) {
			skv = p->sk;
			fd = p->fd;
		}
	}
	struct conn *st = skv ? bpf_map_lookup_elem(&conns, &skv) : NULL;
	if (!st) {
		stat_inc(OLLY_STAT_TLS_NOSOCK);
		return 0;
	}
	if (st->flags & CONN_IGNORED)
		return 0;
	__u8 dir = (op == OLLY_SSL_READ || op == OLLY_SSL_READ_EX) ? OLLY_DIR_IN : OLLY_DIR_OUT;
	emit_data(st, fd, dir, 1, ts->ssl_buf, 0, 0, n, true);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf, int num) { return ssl_enter(ssl, buf, 0, OLLY_SSL_WRITE); }
SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, long ret) { return ssl_exit(ret); }

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num) { return ssl_enter(ssl, buf, 0, OLLY_SSL_READ); }
SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, long ret) { return ssl_exit(ret); }

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, void *written)
{ return ssl_enter(ssl, buf, written, OLLY_SSL_WRITE_EX); }
SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit, long ret) { return ssl_exit(ret); }

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, void *readbytes)
{ return ssl_enter(ssl, buf, readbytes, OLLY_SSL_READ_EX); }
SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit, long ret) { return ssl_exit(ret); }

/* Handshake and shutdown: their syscalls are ciphertext too (and reveal the socket). */
SEC("uprobe")
int BPF_KPROBE(ssl_other_enter, void *ssl) { return ssl_enter(ssl, 0, 0, OLLY_SSL_OTHER); }
SEC("uretprobe")
int BPF_KRETPROBE(ssl_other_exit, long ret) { return ssl_exit(ret); }

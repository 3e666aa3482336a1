/* libolly.so: Olly's LD_PRELOAD capture library (DESIGN §4 "Capture (hook)").
 *
 * Interposes the socket calls of its host and writes what they move into the shared
 * ring of hook/olly_hook.h, read by `olly-capture --preload` / `--attach`.
 *
 * It never harms its host:
 *   - no malloc, locks or stdio in hooks; the library's own system calls (getsockname,
 *     getpeername, getsockopt, futex) are raw syscalls, so it never sees its own traffic;
 *     a thread-local guard also makes any nested call pass straight through;
 *   - async-signal-safe: everything a hook does is lock-free (atomics on the per-fd table
 *     and on the ring), so a signal handler that writes is captured like any other code;
 *   - the per-fd table holds one atomic word per fd with a generation that changes on
 *     every close/dup2/socket/accept/connect of that fd: a call whose fd changed meaning
 *     while it ran is not attributed (counted as `raced`);
 *   - only connects that succeed or are in progress are tracked;
 *   - the ring never blocks a writer: when it is full the event is dropped and counted;
 *   - without a channel (no olly-capture, or an invalid one) every hook is a pass-through,
 *     and when olly-capture exits the ring just fills and events are counted as dropped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "olly_hook.h"

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---------- the channel ---------- */

static struct olly_ring_hdr *g_hdr;
static uint64_t *g_seq;
static struct olly_conn_slot *g_conns;
static uint8_t *g_slots;
static uint64_t g_nslots, g_mask;
static int g_enabled;          /* atomic: 1 when a valid channel is mapped */
static uint32_t g_budget = OLLY_DEFAULT_BUDGET;
static int g_unix;
static pid_t g_pid;

/* ---------- per-thread state ---------- */

static TLS int t_guard;        /* inside the library: nested calls pass through */
static TLS pid_t t_tid;
static TLS int t_ssl_depth;    /* inside SSL_read/SSL_write: raw data is not reported */
static TLS int t_ssl_fd;       /* the socket the SSL call used */

/* Data calls of this thread between their syscall and the moment they take their stream
 * offset. A signal handler that does I/O on the same fd and direction in that window
 * (typically: the signal is delivered as the interrupted syscall returns) comes after
 * the interrupted call in the stream, so its entry is written but committed only once
 * the interrupted call has taken its offset, with the next one. Kept small: this is
 * initial-exec TLS, which --attach takes from the static TLS surplus. */
#define OLLY_FRAMES 3
#define OLLY_DEFERRED 6
#define FR_OPEN 0x80000000u
struct deferred {
	uint64_t pos;
	uint32_t len;
	uint16_t k;
	uint16_t idx;
};
struct frame {
	int fd;
	uint32_t idx;            /* offset slot: dir (+ 2 for tls) */
	uint32_t state;          /* FR_OPEN | number of deferred entries */
	uint32_t _pad;
	struct deferred def[OLLY_DEFERRED];
};
static TLS struct frame t_frames[OLLY_FRAMES];
static TLS int t_depth;

/* ---------- per-fd table ----------
 * word: bits 0-39 cid, 40-43 kind, 48-63 generation. */
#define OLLY_MAXFD 65536
enum { K_UNKNOWN = 0, K_IGNORED = 1, K_TRACKED = 2 };
static uint64_t g_fds[OLLY_MAXFD];
static int g_maxfd;            /* highest fd ever tracked (for fork) */

#define W_CID(w) ((w) & 0xffffffffffULL)
#define W_KIND(w) (((w) >> 40) & 0xf)
#define W_GEN(w) ((w) >> 48)
#define W_MAKE(gen, kind, cid) (((uint64_t)(gen) << 48) | ((uint64_t)(kind) << 40) | ((cid) & 0xffffffffffULL))

static inline uint64_t fd_load(int fd)
{
	return __atomic_load_n(&g_fds[fd], __ATOMIC_ACQUIRE);
}

/* Replaces fd's word with (kind, cid), bumping the generation; returns the old word. */
static uint64_t fd_put(int fd, int kind, uint64_t cid)
{
	uint64_t old = fd_load(fd), nw;
	do {
		nw = W_MAKE(W_GEN(old) + 1, kind, cid);
	} while (!__atomic_compare_exchange_n(&g_fds[fd], &old, nw, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return old;
}

static inline void stat_add(int i, uint64_t v)
{
	__atomic_fetch_add(&g_hdr->stats[i], v, __ATOMIC_RELAXED);
}

/* ---------- real functions ---------- */

#define REALS(X) \
	X(ssize_t, read, (int, void *, size_t)) \
	X(ssize_t, write, (int, const void *, size_t)) \
	X(ssize_t, send, (int, const void *, size_t, int)) \
	X(ssize_t, recv, (int, void *, size_t, int)) \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int)) \
	X(ssize_t, recvmsg, (int, struct msghdr *, int)) \
	X(ssize_t, readv, (int, const struct iovec *, int)) \
	X(ssize_t, writev, (int, const struct iovec *, int)) \
	X(ssize_t, sendfile, (int, int, off_t *, size_t)) \
	X(int, connect, (int, const struct sockaddr *, socklen_t)) \
	X(int, accept, (int, struct sockaddr *, socklen_t *)) \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int)) \
	X(int, close, (int)) \
	X(int, socket, (int, int, int)) \
	X(int, dup, (int)) \
	X(int, dup2, (int, int)) \
	X(int, dup3, (int, int, int)) \
	X(pid_t, fork, (void))

#define DECL(ret, name, args) static ret(*real_##name) args;
REALS(DECL)

/* Our own hooks, by hidden aliases: a plain `read` in this library is bound by the
 * dynamic linker, and once dlopen'ed (--attach) that is libc's read, not ours. */
#define ALIAS_DECL(ret, name, args) extern ret olly_##name args __attribute__((visibility("hidden")));
REALS(ALIAS_DECL)

static void *find_real(const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p || p == self) {
		/* dlopen'ed (--attach): the next object may not be libc. */
		void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
		if (libc)
			p = dlsym(libc, name);
	}
	return p == self ? NULL : p;
}

static void resolve_all(void)
{
	int g = t_guard;
	t_guard = 1;
#define RES(ret, name, args) \
	if (!real_##name) \
		__atomic_store_n(&real_##name, (ret(*) args)find_real(#name, (void *)olly_##name), __ATOMIC_RELEASE);
	REALS(RES)
	t_guard = g;
}

#define REAL(name) \
	do { \
		if (UNLIKELY(!real_##name)) { \
			resolve_all(); \
			if (!real_##name) { \
				errno = ENOSYS; \
				return -1; \
			} \
		} \
	} while (0)

/* ---------- SSL ---------- */

typedef struct ssl_st SSL;
static int (*real_SSL_read)(SSL *, void *, int);
static int (*real_SSL_write)(SSL *, const void *, int);
static int (*real_SSL_read_ex)(SSL *, void *, size_t, size_t *);
static int (*real_SSL_write_ex)(SSL *, const void *, size_t, size_t *);
static int (*real_SSL_get_fd)(const SSL *);
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;

static void *find_ssl(const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p || p == self)
		p = dlsym(RTLD_DEFAULT, name);
	if (!p || p == self) {
		void *h = dlopen("libssl.so.3", RTLD_NOLOAD | RTLD_LAZY);
		if (!h)
			h = dlopen("libssl.so", RTLD_NOLOAD | RTLD_LAZY);
		p = h ? dlsym(h, name) : NULL;
	}
	return p == self ? NULL : p;
}

EXPORT int SSL_read(SSL *s, void *buf, int num);
EXPORT int SSL_write(SSL *s, const void *buf, int num);
EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *n);
EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *n);
extern int olly_SSL_read(SSL *, void *, int) __attribute__((visibility("hidden")));
extern int olly_SSL_write(SSL *, const void *, int) __attribute__((visibility("hidden")));
extern int olly_SSL_read_ex(SSL *, void *, size_t, size_t *) __attribute__((visibility("hidden")));
extern int olly_SSL_write_ex(SSL *, const void *, size_t, size_t *) __attribute__((visibility("hidden")));

/* Resolved lazily, exactly once, thread-safely (libssl is loaded by then: its caller
 * linked against it). */
static void resolve_ssl(void)
{
	int g = t_guard;
	t_guard = 1;
	real_SSL_read = (int (*)(SSL *, void *, int))find_ssl("SSL_read", (void *)olly_SSL_read);
	real_SSL_write = (int (*)(SSL *, const void *, int))find_ssl("SSL_write", (void *)olly_SSL_write);
	real_SSL_read_ex = (int (*)(SSL *, void *, size_t, size_t *))find_ssl("SSL_read_ex", (void *)olly_SSL_read_ex);
	real_SSL_write_ex = (int (*)(SSL *, const void *, size_t, size_t *))find_ssl("SSL_write_ex", (void *)olly_SSL_write_ex);
	real_SSL_get_fd = (int (*)(const SSL *))find_ssl("SSL_get_fd", NULL);
	t_guard = g;
}

/* ---------- small helpers (async-signal-safe) ---------- */

static inline int active(void)
{
	return LIKELY(__atomic_load_n(&g_enabled, __ATOMIC_RELAXED)) && !t_guard;
}

static inline uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static inline pid_t my_tid(void)
{
	if (UNLIKELY(!t_tid))
		t_tid = (pid_t)syscall(SYS_gettid);
	return t_tid;
}

static long raw(long nr, long a, long b, long c, long d, long e)
{
	int saved = errno;
	long r = syscall(nr, a, b, c, d, e, 0);
	errno = saved;
	return r;
}

/* ---------- the ring ---------- */

/* Reserves k consecutive slots; returns the first position or UINT64_MAX when full. */
static uint64_t ring_reserve(uint32_t k)
{
	uint64_t pos = __atomic_load_n(&g_hdr->head, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t last = pos + k - 1;
		uint64_t s = __atomic_load_n(&g_seq[last & g_mask], __ATOMIC_ACQUIRE);
		int64_t d = (int64_t)(s - last);
		if (d == 0) {
			if (__atomic_compare_exchange_n(&g_hdr->head, &pos, pos + k, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				return pos;
		} else if (d < 0) {
			return UINT64_MAX;
		} else {
			pos = __atomic_load_n(&g_hdr->head, __ATOMIC_RELAXED);
		}
	}
}

static inline uint8_t *slot_ptr(uint64_t pos)
{
	return g_slots + (pos & g_mask) * OLLY_SLOT;
}

/* Copies n bytes at byte offset `at` of the entry that starts at position pos. */
static void ring_copy(uint64_t pos, uint32_t at, const void *src, uint32_t n)
{
	const uint8_t *s = src;
	while (n) {
		uint64_t p = pos + at / OLLY_SLOT;
		uint32_t in = at % OLLY_SLOT;
		uint32_t c = OLLY_SLOT - in;
		if (c > n)
			c = n;
		memcpy(slot_ptr(p) + in, s, c);
		s += c;
		at += c;
		n -= c;
	}
}

static void ring_commit(uint64_t pos, uint32_t k)
{
	/* continuation slots first, the header slot last: a committed header means a whole entry */
	for (uint32_t j = k; j-- > 0;) {
		uint64_t p = pos + j, want = p;
		if (!__atomic_compare_exchange_n(&g_seq[p & g_mask], &want, p + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			stat_add(OLLY_HS_LATE, 1);
	}
	stat_add(OLLY_HS_EVENTS, 1);
	if (__atomic_load_n(&g_hdr->reader_sleeping, __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&g_hdr->reader_sleeping, 0, __ATOMIC_SEQ_CST))
		raw(SYS_futex, (long)&g_hdr->reader_sleeping, FUTEX_WAKE, 1, 0, 0);
}

static inline void entry_init(struct olly_hook_entry *e, uint8_t type, uint32_t k)
{
	memset(e, 0, sizeof *e);
	e->magic = OLLY_ENTRY_MAGIC;
	e->type = type;
	e->nslots = k;
	e->ts = now_ns();
	e->pid = (uint32_t)g_pid;
	e->tid = (uint32_t)my_tid();
}

/* ---------- connections ---------- */

static struct olly_conn_slot *conn_slot(uint64_t cid)
{
	return &g_conns[cid & (OLLY_NCONNS - 1)];
}

static uint64_t conn_new(void)
{
	uint64_t cid = __atomic_add_fetch(&g_hdr->next_cid, 1, __ATOMIC_RELAXED) & 0xffffffffffULL;
	struct olly_conn_slot *c = conn_slot(cid);
	__atomic_store_n(&c->cid, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < 4; i++)
		__atomic_store_n(&c->off[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->refs, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->cid, cid, __ATOMIC_RELEASE);
	return cid;
}

static void addr_split(const struct sockaddr_storage *ss, uint8_t out[16], uint16_t *port)
{
	memset(out, 0, 16);
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		memcpy(out, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		memcpy(out, &a->sin6_addr, 16);
		*port = ntohs(a->sin6_port);
	}
}

static void emit_conn(int fd, uint64_t cid, uint8_t ev, uint8_t role, int family,
		      const struct sockaddr_storage *l, const struct sockaddr_storage *r)
{
	uint64_t pos = ring_reserve(1);
	if (pos == UINT64_MAX) {
		stat_add(OLLY_HS_DROPPED, 1);
		return;
	}
	struct olly_hook_entry e;
	entry_init(&e, OLLY_HOOK_CONN, 1);
	e.cid = cid;
	e.fd = fd;
	e.ev = ev;
	e.role = role;
	e.family = (uint16_t)family;
	uint8_t addrs[32] = {0};
	if (l)
		addr_split(l, addrs, &e.lport);
	if (r)
		addr_split(r, addrs + 16, &e.rport);
	ring_copy(pos, 0, &e, sizeof e);
	ring_copy(pos, OLLY_ENTRY_BYTES, addrs, sizeof addrs);
	ring_commit(pos, 1);
}

static void emit_proc(uint8_t ev, pid_t ppid)
{
	uint64_t pos = ring_reserve(1);
	if (pos == UINT64_MAX) {
		stat_add(OLLY_HS_DROPPED, 1);
		return;
	}
	struct olly_hook_entry e;
	entry_init(&e, OLLY_HOOK_PROC, 1);
	e.ev = ev;
	e.len = (uint32_t)ppid;
	ring_copy(pos, 0, &e, sizeof e);
	ring_commit(pos, 1);
}

static int family_wanted(int f)
{
	return f == AF_INET || f == AF_INET6 || (f == AF_UNIX && g_unix);
}

static void note_maxfd(int fd)
{
	int m = __atomic_load_n(&g_maxfd, __ATOMIC_RELAXED);
	while (fd > m && !__atomic_compare_exchange_n(&g_maxfd, &m, fd, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
}

/* A connection opened by connect (client) or accept (server): a new cid. */
static void track_open(int fd, uint8_t role, const struct sockaddr *peer, socklen_t peerlen)
{
	if (fd < 0 || fd >= OLLY_MAXFD) {
		if (fd >= OLLY_MAXFD)
			stat_add(OLLY_HS_BIGFD, 1);
		return;
	}
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof l, rl = sizeof r;
	memset(&l, 0, sizeof l);
	memset(&r, 0, sizeof r);
	if (raw(SYS_getsockname, fd, (long)&l, (long)&ll, 0, 0) < 0 || !family_wanted(l.ss_family)) {
		fd_put(fd, K_IGNORED, 0);
		return;
	}
	int type = 0;
	socklen_t tl = sizeof type;
	raw(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&tl);
	if (role == OLLY_HR_CLIENT && type == SOCK_DGRAM) {
		/* announced at the first data (getaddrinfo connects UDP only to pick a source) */
		fd_put(fd, K_UNKNOWN, 0);
		return;
	}
	if (peer && peerlen >= sizeof(sa_family_t) && peerlen <= sizeof r && peer->sa_family == l.ss_family)
		memcpy(&r, peer, peerlen);
	else
		raw(SYS_getpeername, fd, (long)&r, (long)&rl, 0, 0);
	uint64_t cid = conn_new();
	uint64_t old = fd_put(fd, K_TRACKED, cid);
	(void)old;
	note_maxfd(fd);
	emit_conn(fd, cid, OLLY_HC_OPEN, role, l.ss_family, &l, &r);
}

/* First data on an fd whose nature is unknown: a socket found already open (or a
 * datagram socket), announced as seen; anything else is ignored from now on. Returns
 * the fd's new word, or 0 when it is not to be reported. */
static uint64_t classify(int fd, uint64_t w0)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof l, rl = sizeof r;
	memset(&l, 0, sizeof l);
	memset(&r, 0, sizeof r);
	long rc = raw(SYS_getsockname, fd, (long)&l, (long)&ll, 0, 0);
	int ignore = 0;
	if (rc < 0) {
		if (errno == EBADF)
			return 0;
		ignore = 1; /* ENOTSOCK */
	} else if (!family_wanted(l.ss_family)) {
		ignore = 1;
	}
	uint64_t nw;
	if (ignore) {
		nw = W_MAKE(W_GEN(w0) + 1, K_IGNORED, 0);
		__atomic_compare_exchange_n(&g_fds[fd], &w0, nw, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		return 0;
	}
	raw(SYS_getpeername, fd, (long)&r, (long)&rl, 0, 0);
	uint64_t cid = conn_new();
	nw = W_MAKE(W_GEN(w0) + 1, K_TRACKED, cid);
	if (!__atomic_compare_exchange_n(&g_fds[fd], &w0, nw, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		/* another thread classified it, or the fd changed meaning meanwhile */
		__atomic_store_n(&conn_slot(cid)->cid, 0, __ATOMIC_RELEASE);
		stat_add(OLLY_HS_RACED, 1);
		return 0;
	}
	note_maxfd(fd);
	emit_conn(fd, cid, OLLY_HC_SEEN, OLLY_HR_UNKNOWN, l.ss_family, &l, &r);
	return nw;
}

/* Drops one reference of the connection in word w; the last one announces the close. */
static void release(int fd, uint64_t w)
{
	if (W_KIND(w) != K_TRACKED)
		return;
	uint64_t cid = W_CID(w);
	struct olly_conn_slot *c = conn_slot(cid);
	if (__atomic_load_n(&c->cid, __ATOMIC_ACQUIRE) != cid)
		return;
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		emit_conn(fd, cid, OLLY_HC_CLOSE, OLLY_HR_UNKNOWN, 0, NULL, NULL);
}

/* ---------- data ---------- */

struct src {
	const void *buf;           /* contiguous source, or */
	const struct iovec *iov;   /* an iovec array */
	int iovcnt;
};

/* Takes the stream offset of an entry written at pos and commits it. */
static void entry_place(uint64_t cid, uint32_t idx, uint64_t pos, uint32_t k, uint64_t len)
{
	struct olly_conn_slot *c = conn_slot(cid);
	uint64_t off = __atomic_fetch_add(&c->off[idx], len, __ATOMIC_RELAXED);
	memcpy(slot_ptr(pos) + __builtin_offsetof(struct olly_hook_entry, off), &off, sizeof off);
	ring_commit(pos, k);
}

/* An open frame of an interrupted call of this thread on the same fd and offset slot,
 * below the frame `below`; NULL when none. */
static struct frame *interrupted(int fd, uint32_t idx, int below)
{
	for (int i = below; i-- > 0;) {
		struct frame *f = &t_frames[i];
		if (f->fd == fd && f->idx == idx && (__atomic_load_n(&f->state, __ATOMIC_RELAXED) & FR_OPEN))
			return f;
	}
	return NULL;
}

/* Adds an entry to the frame's deferred ones; 0 when the frame is closed or full. */
static int defer_to(struct frame *f, uint64_t pos, uint32_t k, uint64_t len, uint32_t idx)
{
	uint32_t st = __atomic_load_n(&f->state, __ATOMIC_RELAXED);
	uint32_t n = st & ~FR_OPEN;
	if (!(st & FR_OPEN) || n >= OLLY_DEFERRED)
		return 0;
	f->def[n] = (struct deferred){.pos = pos, .len = (uint32_t)len, .k = (uint16_t)k, .idx = (uint16_t)idx};
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* same thread: the frame's owner cannot run until this handler returns */
	__atomic_store_n(&f->state, st + 1, __ATOMIC_RELAXED);
	return 1;
}

/* Reports `len` bytes moved on fd (word w0 read before the call). `self` is the frame of
 * this call (-1 when it has none); the entry is deferred behind an interrupted call of
 * the same stream, if any. */
static void emit_data(int fd, uint64_t w0, int in, int tls, const struct src *src, uint64_t len, int self)
{
	if (fd < 0 || fd >= OLLY_MAXFD || len == 0)
		return;
	uint64_t w = fd_load(fd);
	if (W_GEN(w) != W_GEN(w0)) {
		stat_add(OLLY_HS_RACED, 1);
		return;
	}
	if (W_KIND(w) == K_UNKNOWN)
		w = classify(fd, w);
	if (W_KIND(w) != K_TRACKED)
		return;
	uint64_t cid = W_CID(w);
	struct olly_conn_slot *c = conn_slot(cid);
	if (__atomic_load_n(&c->cid, __ATOMIC_ACQUIRE) != cid) {
		stat_add(OLLY_HS_EVICTED, 1);
		return;
	}
	uint32_t idx = (in ? 1 : 0) + (tls ? 2 : 0);
	uint32_t cap = len < g_budget ? (uint32_t)len : g_budget;
	if (!src->buf && !src->iov)
		cap = 0; /* sendfile: not seen */
	uint32_t k = (OLLY_ENTRY_BYTES + cap + OLLY_SLOT - 1) / OLLY_SLOT;
	uint64_t pos = ring_reserve(k);
	if (pos == UINT64_MAX) {
		/* the bytes still advance the stream: the reader sees a gap where they were */
		__atomic_fetch_add(&c->off[idx], len, __ATOMIC_RELAXED);
		stat_add(OLLY_HS_DROPPED, 1);
		stat_add(OLLY_HS_DROPPED_BYTES, len);
		return;
	}
	struct olly_hook_entry e;
	entry_init(&e, OLLY_HOOK_DATA, k);
	e.flags = (in ? OLLY_HF_IN : 0) | (tls ? OLLY_HF_TLS : 0);
	e.cid = cid;
	e.fd = fd;
	e.len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	e.cap = cap;
	ring_copy(pos, 0, &e, sizeof e);
	if (src->buf) {
		ring_copy(pos, OLLY_ENTRY_BYTES, src->buf, cap);
	} else {
		uint32_t at = 0;
		for (int i = 0; i < src->iovcnt && at < cap; i++) {
			uint32_t n = src->iov[i].iov_len < cap - at ? (uint32_t)src->iov[i].iov_len : cap - at;
			if (n && src->iov[i].iov_base)
				ring_copy(pos, OLLY_ENTRY_BYTES + at, src->iov[i].iov_base, n);
			at += n;
		}
	}
	if (!tls && len <= UINT32_MAX) {
		struct frame *f = interrupted(fd, idx, self < 0 ? t_depth : self);
		if (f) {
			if (defer_to(f, pos, k, len, idx))
				return;
			stat_add(OLLY_HS_UNORDERED, 1);
		}
	}
	entry_place(cid, idx, pos, k, len);
}

/* Closes this call's frame: the entries deferred behind it take their offsets, in the
 * order their calls ran, then the frame is popped. */
static void frame_close(int self)
{
	struct frame *f = &t_frames[self];
	uint32_t done = 0;
	for (;;) {
		uint32_t st = __atomic_load_n(&f->state, __ATOMIC_RELAXED);
		uint32_t n = st & ~FR_OPEN;
		if (done == n) {
			/* a handler between the load and this CAS defers one more: go round again */
			if (__atomic_compare_exchange_n(&f->state, &st, n, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				break;
			continue;
		}
		struct deferred d = f->def[done++];
		uint64_t cid;
		memcpy(&cid, slot_ptr(d.pos) + __builtin_offsetof(struct olly_hook_entry, cid), sizeof cid);
		entry_place(cid, d.idx, d.pos, d.k, d.len);
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t_depth = self;
}

/* Raw bytes an SSL call moved on its socket: not reported (the plaintext is), but they
 * advance the raw stream's offset, so the raw stream shows them as a gap. */
static void skip_raw(int fd, uint64_t w0, int in, uint64_t len)
{
	uint64_t w = fd_load(fd);
	if (W_GEN(w) != W_GEN(w0) || W_KIND(w) != K_TRACKED)
		return;
	struct olly_conn_slot *c = conn_slot(W_CID(w));
	if (__atomic_load_n(&c->cid, __ATOMIC_ACQUIRE) == W_CID(w))
		__atomic_fetch_add(&c->off[in ? 1 : 0], len, __ATOMIC_RELAXED);
}

/* The common shape of a data hook. `w0` is read before the call; fds known to be of no
 * interest cost one load. Inside SSL calls the raw bytes are not reported (the
 * plaintext is), only the socket is noted. A tracked call opens a frame (see
 * t_frames) just before the syscall and closes it once its offset is taken. */
#define PRE(FD, IN) \
	uint64_t w0 = 0; \
	int self_ = -1; \
	int track = active() && (FD) >= 0 && (FD) < OLLY_MAXFD; \
	if (track) { \
		w0 = fd_load(FD); \
		if (W_KIND(w0) == K_IGNORED) { \
			track = 0; \
		} else if (t_depth < OLLY_FRAMES) { \
			struct frame *f_ = &t_frames[t_depth]; \
			f_->fd = (FD); \
			f_->idx = (IN); \
			f_->state = FR_OPEN; \
			__atomic_signal_fence(__ATOMIC_SEQ_CST); \
			self_ = t_depth++; \
			__atomic_signal_fence(__ATOMIC_SEQ_CST); \
		} \
	}

#define POST(fd, r, in, SRC) \
	if (track && (r) > 0) { \
		int saved_ = errno; \
		if (t_ssl_depth) { \
			t_ssl_fd = (fd); \
			t_guard = 1; \
			skip_raw((fd), w0, (in), (uint64_t)(r)); \
			t_guard = 0; \
		} else { \
			struct src s_ = SRC; \
			emit_data((fd), w0, (in), 0, &s_, (uint64_t)(r), self_); \
		} \
		errno = saved_; \
	} \
	if (self_ >= 0) { \
		int saved_ = errno; \
		frame_close(self_); \
		errno = saved_; \
	}

#define BUF(b) {.buf = (b)}
#define IOV(v, n) {.iov = (v), .iovcnt = (n)}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write);
	PRE(fd, 0);
	ssize_t r = real_write(fd, buf, n);
	POST(fd, r, 0, BUF(buf));
	return r;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	REAL(read);
	PRE(fd, 1);
	ssize_t r = real_read(fd, buf, n);
	POST(fd, r, 1, BUF(buf));
	return r;
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	REAL(send);
	PRE(fd, 0);
	ssize_t r = real_send(fd, buf, n, flags);
	POST(fd, r, 0, BUF(buf));
	return r;
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	REAL(recv);
	PRE(fd, 1);
	ssize_t r = real_recv(fd, buf, n, flags);
	if (flags & MSG_PEEK)
		track = 0;
	POST(fd, r, 1, BUF(buf));
	return r;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al)
{
	REAL(sendto);
	PRE(fd, 0);
	ssize_t r = real_sendto(fd, buf, n, flags, a, al);
	POST(fd, r, 0, BUF(buf));
	return r;
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
	REAL(recvfrom);
	PRE(fd, 1);
	ssize_t r = real_recvfrom(fd, buf, n, flags, a, al);
	if (flags & MSG_PEEK)
		track = 0;
	POST(fd, r, 1, BUF(buf));
	return r;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	REAL(sendmsg);
	PRE(fd, 0);
	ssize_t r = real_sendmsg(fd, m, flags);
	POST(fd, r, 0, IOV(m->msg_iov, (int)m->msg_iovlen));
	return r;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	REAL(recvmsg);
	PRE(fd, 1);
	ssize_t r = real_recvmsg(fd, m, flags);
	if (flags & MSG_PEEK)
		track = 0;
	POST(fd, r, 1, IOV(m->msg_iov, (int)m->msg_iovlen));
	return r;
}

EXPORT ssize_t readv(int fd, const struct iovec *v, int n)
{
	REAL(readv);
	PRE(fd, 1);
	ssize_t r = real_readv(fd, v, n);
	POST(fd, r, 1, IOV(v, n));
	return r;
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int n)
{
	REAL(writev);
	PRE(fd, 0);
	ssize_t r = real_writev(fd, v, n);
	POST(fd, r, 0, IOV(v, n));
	return r;
}

/* _FORTIFY_SOURCE builds call these instead (glibc's bodies call the syscall directly). */
extern ssize_t olly___read_chk(int, void *, size_t, size_t) __attribute__((visibility("hidden")));
extern ssize_t olly___recv_chk(int, void *, size_t, size_t, int) __attribute__((visibility("hidden")));
extern ssize_t olly___recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *) __attribute__((visibility("hidden")));
static ssize_t (*real___read_chk)(int, void *, size_t, size_t);
static ssize_t (*real___recv_chk)(int, void *, size_t, size_t, int);
static ssize_t (*real___recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);

#define REAL_CHK(name) \
	do { \
		if (UNLIKELY(!real_##name)) { \
			int g_ = t_guard; \
			t_guard = 1; \
			__atomic_store_n(&real_##name, (__typeof__(real_##name))find_real(#name, (void *)olly_##name), __ATOMIC_RELEASE); \
			t_guard = g_; \
			if (!real_##name) { \
				errno = ENOSYS; \
				return -1; \
			} \
		} \
	} while (0)

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	REAL_CHK(__read_chk);
	PRE(fd, 1);
	ssize_t r = real___read_chk(fd, buf, n, buflen);
	POST(fd, r, 1, BUF(buf));
	return r;
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	REAL_CHK(__recv_chk);
	PRE(fd, 1);
	ssize_t r = real___recv_chk(fd, buf, n, buflen, flags);
	if (flags & MSG_PEEK)
		track = 0;
	POST(fd, r, 1, BUF(buf));
	return r;
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *a, socklen_t *al)
{
	REAL_CHK(__recvfrom_chk);
	PRE(fd, 1);
	ssize_t r = real___recvfrom_chk(fd, buf, n, buflen, flags, a, al);
	if (flags & MSG_PEEK)
		track = 0;
	POST(fd, r, 1, BUF(buf));
	return r;
}

/* sendfile: the bytes come from a file the library does not read; they are a gap
 * (len without captured bytes), so offsets stay right. */
EXPORT ssize_t sendfile(int out, int in, off_t *offset, size_t n)
{
	REAL(sendfile);
	PRE(out, 0);
	ssize_t r = real_sendfile(out, in, offset, n);
	POST(out, r, 0, BUF(NULL));
	return r;
}

/* ---------- connection lifecycle ---------- */

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t al)
{
	REAL(connect);
	int r = real_connect(fd, a, al);
	if (active() && fd >= 0 && fd < OLLY_MAXFD && (r == 0 || errno == EINPROGRESS)) {
		int saved = errno;
		t_guard = 1;
		uint64_t old = fd_load(fd);
		if (a && a->sa_family == AF_UNSPEC) {
			release(fd, fd_put(fd, K_UNKNOWN, 0));
		} else if (W_KIND(old) != K_TRACKED) {
			track_open(fd, OLLY_HR_CLIENT, a, al);
		}
		t_guard = 0;
		errno = saved;
	}
	return r;
}

static int after_accept(int r, struct sockaddr *a, socklen_t *al)
{
	if (r >= 0 && active()) {
		int saved = errno;
		t_guard = 1;
		track_open(r, OLLY_HR_SERVER, a, al ? *al : 0);
		t_guard = 0;
		errno = saved;
	}
	return r;
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *al)
{
	REAL(accept);
	return after_accept(real_accept(fd, a, al), a, al);
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
	REAL(accept4);
	return after_accept(real_accept4(fd, a, al, flags), a, al);
}

/* Forgets fd (a new generation), dropping its reference to a connection. */
static void forget(int fd, int kind)
{
	if (fd < 0 || fd >= OLLY_MAXFD || !__atomic_load_n(&g_enabled, __ATOMIC_RELAXED))
		return;
	int g = t_guard;
	t_guard = 1;
	release(fd, fd_put(fd, kind, 0));
	t_guard = g;
}

EXPORT int close(int fd)
{
	REAL(close);
	int saved = errno;
	forget(fd, K_UNKNOWN);
	errno = saved;
	return real_close(fd);
}

/* A descriptor from open() is never a socket: it replaces whatever the number meant (a
 * socket closed behind the library's back, e.g. by a raw close syscall). */
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
extern int olly_open(const char *, int, ...) __attribute__((visibility("hidden")));
extern int olly_open64(const char *, int, ...) __attribute__((visibility("hidden")));
extern int olly_openat(int, const char *, int, ...) __attribute__((visibility("hidden")));
extern int olly_openat64(int, const char *, int, ...) __attribute__((visibility("hidden")));
static open_fn real_open, real_open64;
static openat_fn real_openat, real_openat64;

#define OPEN_MODE(flags) \
	mode_t mode = 0; \
	if ((flags) & (O_CREAT | __O_TMPFILE)) { \
		va_list ap; \
		va_start(ap, flags); \
		mode = (mode_t)va_arg(ap, int); \
		va_end(ap); \
	}

static int after_open(int r)
{
	if (r >= 0) {
		int saved = errno;
		forget(r, K_IGNORED);
		errno = saved;
	}
	return r;
}

EXPORT int open(const char *path, int flags, ...)
{
	OPEN_MODE(flags);
	REAL_CHK(open);
	return after_open(real_open(path, flags, mode));
}

EXPORT int open64(const char *path, int flags, ...)
{
	OPEN_MODE(flags);
	REAL_CHK(open64);
	return after_open(real_open64(path, flags, mode));
}

EXPORT int openat(int dir, const char *path, int flags, ...)
{
	OPEN_MODE(flags);
	REAL_CHK(openat);
	return after_open(real_openat(dir, path, flags, mode));
}

EXPORT int openat64(int dir, const char *path, int flags, ...)
{
	OPEN_MODE(flags);
	REAL_CHK(openat64);
	return after_open(real_openat64(dir, path, flags, mode));
}

EXPORT int socket(int d, int t, int p)
{
	REAL(socket);
	int r = real_socket(d, t, p);
	if (r >= 0) {
		int saved = errno;
		forget(r, family_wanted(d) ? K_UNKNOWN : K_IGNORED);
		errno = saved;
	}
	return r;
}

/* The new fd refers to what the old one did. */
static void copy_fd(int from, int to)
{
	if (to < 0 || to >= OLLY_MAXFD || !__atomic_load_n(&g_enabled, __ATOMIC_RELAXED))
		return;
	int g = t_guard;
	t_guard = 1;
	uint64_t w = (from >= 0 && from < OLLY_MAXFD) ? fd_load(from) : 0;
	if (W_KIND(w) == K_TRACKED) {
		struct olly_conn_slot *c = conn_slot(W_CID(w));
		if (__atomic_load_n(&c->cid, __ATOMIC_ACQUIRE) == W_CID(w)) {
			__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
			release(to, fd_put(to, K_TRACKED, W_CID(w)));
			note_maxfd(to);
			t_guard = g;
			return;
		}
		w = 0;
	}
	release(to, fd_put(to, W_KIND(w) == K_IGNORED ? K_IGNORED : K_UNKNOWN, 0));
	t_guard = g;
}

EXPORT int dup(int fd)
{
	REAL(dup);
	int r = real_dup(fd);
	if (r >= 0) {
		int saved = errno;
		copy_fd(fd, r);
		errno = saved;
	}
	return r;
}

EXPORT int dup2(int a, int b)
{
	REAL(dup2);
	int r = real_dup2(a, b);
	if (r >= 0 && a != b) {
		int saved = errno;
		copy_fd(a, b); /* the replaced fd's connection loses a reference */
		errno = saved;
	}
	return r;
}

EXPORT int dup3(int a, int b, int flags)
{
	REAL(dup3);
	int r = real_dup3(a, b, flags);
	if (r >= 0) {
		int saved = errno;
		copy_fd(a, b);
		errno = saved;
	}
	return r;
}

/* fork: the child shares every tracked socket (one more reference each) and goes on
 * reporting under its own pid. */
static void refs_all(int delta)
{
	int m = __atomic_load_n(&g_maxfd, __ATOMIC_RELAXED);
	for (int fd = 0; fd <= m && fd < OLLY_MAXFD; fd++) {
		uint64_t w = fd_load(fd);
		if (W_KIND(w) != K_TRACKED)
			continue;
		struct olly_conn_slot *c = conn_slot(W_CID(w));
		if (__atomic_load_n(&c->cid, __ATOMIC_ACQUIRE) == W_CID(w))
			__atomic_add_fetch(&c->refs, (uint32_t)delta, __ATOMIC_ACQ_REL);
	}
}

EXPORT pid_t fork(void)
{
	REAL(fork);
	int on = __atomic_load_n(&g_enabled, __ATOMIC_RELAXED);
	if (on)
		refs_all(1);
	pid_t parent = g_pid;
	pid_t r = real_fork();
	if (r == 0) {
		g_pid = (pid_t)syscall(SYS_getpid);
		t_tid = 0;
		if (on) {
			int saved = errno;
			t_guard = 1;
			emit_proc(OLLY_HP_FORK, parent);
			t_guard = 0;
			errno = saved;
		}
	} else if (r < 0 && on) {
		int saved = errno;
		refs_all(-1);
		errno = saved;
	}
	return r;
}

/* ---------- SSL plaintext ---------- */

static void ssl_report(SSL *s, int in, const void *buf, size_t n)
{
	int fd = t_ssl_fd;
	if (fd < 0 && real_SSL_get_fd)
		fd = real_SSL_get_fd(s);
	if (fd < 0 || fd >= OLLY_MAXFD)
		return;
	t_guard = 1;
	struct src src = BUF(buf);
	emit_data(fd, fd_load(fd), in, 1, &src, n, -1);
	t_guard = 0;
}

#define SSL_PRE(name) \
	pthread_once(&ssl_once, resolve_ssl); \
	if (!real_##name) { \
		errno = ENOSYS; \
		return -1; \
	} \
	if (!active()) \
		return real_##name

#define SSL_BODY(call, okexpr, in, buf, nbytes) \
	int depth = t_ssl_depth++; \
	int prev_fd = t_ssl_fd; \
	t_ssl_fd = -1; \
	int r = call; \
	int saved = errno; \
	if (okexpr) \
		ssl_report(s, in, buf, nbytes); \
	t_ssl_depth = depth; \
	t_ssl_fd = prev_fd; \
	errno = saved; \
	return r

EXPORT int SSL_read(SSL *s, void *buf, int num)
{
	SSL_PRE(SSL_read)(s, buf, num);
	SSL_BODY(real_SSL_read(s, buf, num), r > 0, 1, buf, (size_t)r);
}

EXPORT int SSL_write(SSL *s, const void *buf, int num)
{
	SSL_PRE(SSL_write)(s, buf, num);
	SSL_BODY(real_SSL_write(s, buf, num), r > 0, 0, buf, (size_t)r);
}

EXPORT int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *n)
{
	SSL_PRE(SSL_read_ex)(s, buf, num, n);
	SSL_BODY(real_SSL_read_ex(s, buf, num, n), r == 1 && n, 1, buf, *n);
}

EXPORT int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *n)
{
	SSL_PRE(SSL_write_ex)(s, buf, num, n);
	SSL_BODY(real_SSL_write_ex(s, buf, num, n), r == 1 && n, 0, buf, *n);
}

/* ---------- setup ---------- */

static int map_channel(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)OLLY_HDR_BYTES)
		return -1;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	struct olly_ring_hdr *h = m;
	uint64_t n = h->nslots;
	if (h->magic != OLLY_HOOK_MAGIC || h->version != OLLY_HOOK_VERSION || h->slot_bytes != OLLY_SLOT ||
	    h->total_bytes != (uint64_t)st.st_size || n == 0 || (n & (n - 1)) ||
	    h->seq_off + n * 8 > h->total_bytes ||
	    h->conns_off + (uint64_t)OLLY_NCONNS * sizeof(struct olly_conn_slot) > h->total_bytes ||
	    h->slots_off + n * OLLY_SLOT > h->total_bytes) {
		munmap(m, (size_t)st.st_size);
		return -1;
	}
	g_seq = (uint64_t *)((uint8_t *)m + h->seq_off);
	g_conns = (struct olly_conn_slot *)((uint8_t *)m + h->conns_off);
	g_slots = (uint8_t *)m + h->slots_off;
	g_nslots = n;
	g_mask = n - 1;
	g_hdr = h;
	/* an entry may take at most a quarter of the ring */
	uint64_t most = n * OLLY_SLOT / 4 - OLLY_ENTRY_BYTES;
	if (g_budget > most)
		g_budget = (uint32_t)most;
	return 0;
}

static void read_env(void)
{
	const char *u = getenv(OLLY_ENV_UNIX);
	g_unix = u && u[0] == '1';
	const char *b = getenv(OLLY_ENV_BUDGET);
	if (b) {
		unsigned long v = strtoul(b, NULL, 10);
		if (v > 0 && v <= OLLY_MAX_BUDGET)
			g_budget = (uint32_t)v;
	}
}

__attribute__((constructor)) static void olly_init(void)
{
	resolve_all();
	g_pid = (pid_t)syscall(SYS_getpid);
	const char *s = getenv(OLLY_ENV_FD);
	if (!s || !*s)
		return;
	char *end = NULL;
	long fd = strtol(s, &end, 10);
	if (!end || *end || fd < 0 || fd > 1 << 20)
		return;
	read_env();
	if (map_channel((int)fd) < 0)
		return;
	__atomic_store_n(&g_enabled, 1, __ATOMIC_RELEASE);
	emit_proc(OLLY_HP_START, getppid());
}

/* ---------- --attach: injected with gdb into a running process ----------
 * dlopen does not interpose on symbols already bound, so olly_attach also points the
 * GOT entries of every loaded object (but libc, the loader and this library) for the
 * hooked functions at the hooks. */

struct hook_name {
	const char *name;
	void *fn;
};

static const struct hook_name g_hooks[] = {
	{"read", (void *)olly_read}, {"write", (void *)olly_write}, {"send", (void *)olly_send}, {"recv", (void *)olly_recv},
	{"sendto", (void *)olly_sendto}, {"recvfrom", (void *)olly_recvfrom}, {"sendmsg", (void *)olly_sendmsg},
	{"recvmsg", (void *)olly_recvmsg}, {"readv", (void *)olly_readv}, {"writev", (void *)olly_writev},
	{"sendfile", (void *)olly_sendfile}, {"sendfile64", (void *)olly_sendfile}, {"connect", (void *)olly_connect},
	{"accept", (void *)olly_accept}, {"accept4", (void *)olly_accept4}, {"close", (void *)olly_close},
	{"socket", (void *)olly_socket}, {"dup", (void *)olly_dup}, {"dup2", (void *)olly_dup2}, {"dup3", (void *)olly_dup3},
	{"fork", (void *)olly_fork}, {"__read_chk", (void *)olly___read_chk}, {"__recv_chk", (void *)olly___recv_chk},
	{"__recvfrom_chk", (void *)olly___recvfrom_chk}, {"open", (void *)olly_open}, {"open64", (void *)olly_open64},
	{"openat", (void *)olly_openat}, {"openat64", (void *)olly_openat64}, {"SSL_read", (void *)olly_SSL_read}, {"SSL_write", (void *)olly_SSL_write},
	{"SSL_read_ex", (void *)olly_SSL_read_ex}, {"SSL_write_ex", (void *)olly_SSL_write_ex},
};

static int g_patched;

static void patch_rela(struct dl_phdr_info *info, const ElfW(Rela) *rel, size_t bytes, const ElfW(Sym) *symtab,
		       const char *strtab, uintptr_t relro_lo, uintptr_t relro_hi)
{
	long pg = sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < bytes / sizeof *rel; i++) {
		unsigned long type = ELF64_R_TYPE(rel[i].r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		const char *nm = strtab + symtab[ELF64_R_SYM(rel[i].r_info)].st_name;
		for (size_t h = 0; h < sizeof g_hooks / sizeof *g_hooks; h++) {
			if (strcmp(nm, g_hooks[h].name) != 0)
				continue;
			void **slot = (void **)(info->dlpi_addr + rel[i].r_offset);
			uintptr_t page = (uintptr_t)slot & ~(uintptr_t)(pg - 1);
			int ro = (uintptr_t)slot >= relro_lo && (uintptr_t)slot < relro_hi;
			if (ro && mprotect((void *)page, (size_t)pg, PROT_READ | PROT_WRITE) < 0)
				break;
			__atomic_store_n(slot, g_hooks[h].fn, __ATOMIC_RELEASE);
			if (ro)
				mprotect((void *)page, (size_t)pg, PROT_READ);
			g_patched++;
			break;
		}
	}
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	const char *n = info->dlpi_name ? info->dlpi_name : "";
	if (strstr(n, "libolly") || strstr(n, "ld-linux") || strstr(n, "/libc.so") || strstr(n, "linux-vdso") ||
	    strncmp(n, "libc.so", 7) == 0)
		return 0;
	const ElfW(Dyn) *dyn = NULL;
	uintptr_t relro_lo = 0, relro_hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
		if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
			relro_lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			relro_hi = relro_lo + info->dlpi_phdr[i].p_memsz;
		}
	}
	if (!dyn)
		return 0;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	size_t jmpsz = 0, relasz = 0;
#define FIX(p) ((uintptr_t)(p) < info->dlpi_addr ? (uintptr_t)(p) + info->dlpi_addr : (uintptr_t)(p))
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB: symtab = (const void *)FIX(dyn->d_un.d_ptr); break;
		case DT_STRTAB: strtab = (const void *)FIX(dyn->d_un.d_ptr); break;
		case DT_JMPREL: jmprel = (const void *)FIX(dyn->d_un.d_ptr); break;
		case DT_PLTRELSZ: jmpsz = dyn->d_un.d_val; break;
		case DT_RELA: rela = (const void *)FIX(dyn->d_un.d_ptr); break;
		case DT_RELASZ: relasz = dyn->d_un.d_val; break;
		}
	}
	if (!symtab || !strtab)
		return 0;
	if (jmprel)
		patch_rela(info, jmprel, jmpsz, symtab, strtab, relro_lo, relro_hi);
	if (rela)
		patch_rela(info, rela, relasz, symtab, strtab, relro_lo, relro_hi);
	return 0;
}

/* Maps the channel file at `path` (0600, made by olly-capture) and starts reporting.
 * Returns the number of GOT entries patched, or -1 when the channel is not valid. */
EXPORT int olly_attach(const char *path, int unix_too, int budget)
{
	if (__atomic_load_n(&g_enabled, __ATOMIC_ACQUIRE))
		return -2;
	resolve_all();
	pthread_once(&ssl_once, resolve_ssl);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	g_unix = unix_too;
	if (budget > 0 && (unsigned)budget <= OLLY_MAX_BUDGET)
		g_budget = (uint32_t)budget;
	int rc = map_channel(fd);
	syscall(SYS_close, fd);
	if (rc < 0)
		return -1;
	g_pid = (pid_t)syscall(SYS_getpid);
	__atomic_store_n(&g_enabled, 1, __ATOMIC_RELEASE);
	emit_proc(OLLY_HP_START, getppid());
	if (!g_patched)
		dl_iterate_phdr(patch_object, NULL);
	return g_patched;
}

/* Stops reporting (the hooks stay, as pass-throughs: unloading code that other threads
 * may be running is not safe). */
EXPORT int olly_detach(void)
{
	__atomic_store_n(&g_enabled, 0, __ATOMIC_RELEASE);
	return 0;
}

/* The hidden aliases declared above. */
#pragma GCC diagnostic ignored "-Wmissing-attributes"
__typeof__(read) olly_read __attribute__((alias("read")));
__typeof__(write) olly_write __attribute__((alias("write")));
__typeof__(send) olly_send __attribute__((alias("send")));
__typeof__(recv) olly_recv __attribute__((alias("recv")));
__typeof__(sendto) olly_sendto __attribute__((alias("sendto")));
__typeof__(recvfrom) olly_recvfrom __attribute__((alias("recvfrom")));
__typeof__(sendmsg) olly_sendmsg __attribute__((alias("sendmsg")));
__typeof__(recvmsg) olly_recvmsg __attribute__((alias("recvmsg")));
__typeof__(readv) olly_readv __attribute__((alias("readv")));
__typeof__(writev) olly_writev __attribute__((alias("writev")));
__typeof__(sendfile) olly_sendfile __attribute__((alias("sendfile")));
__typeof__(connect) olly_connect __attribute__((alias("connect")));
__typeof__(accept) olly_accept __attribute__((alias("accept")));
__typeof__(accept4) olly_accept4 __attribute__((alias("accept4")));
__typeof__(close) olly_close __attribute__((alias("close")));
__typeof__(socket) olly_socket __attribute__((alias("socket")));
__typeof__(dup) olly_dup __attribute__((alias("dup")));
__typeof__(dup2) olly_dup2 __attribute__((alias("dup2")));
__typeof__(dup3) olly_dup3 __attribute__((alias("dup3")));
__typeof__(fork) olly_fork __attribute__((alias("fork")));
__typeof__(SSL_read) olly_SSL_read __attribute__((alias("SSL_read")));
__typeof__(SSL_write) olly_SSL_write __attribute__((alias("SSL_write")));
__typeof__(SSL_read_ex) olly_SSL_read_ex __attribute__((alias("SSL_read_ex")));
__typeof__(SSL_write_ex) olly_SSL_write_ex __attribute__((alias("SSL_write_ex")));
__typeof__(__read_chk) olly___read_chk __attribute__((alias("__read_chk")));
__typeof__(__recv_chk) olly___recv_chk __attribute__((alias("__recv_chk")));
__typeof__(__recvfrom_chk) olly___recvfrom_chk __attribute__((alias("__recvfrom_chk")));
__typeof__(open) olly_open __attribute__((alias("open")));
__typeof__(open64) olly_open64 __attribute__((alias("open64")));
__typeof__(openat) olly_openat __attribute__((alias("openat")));
__typeof__(openat64) olly_openat64 __attribute__((alias("openat64")));

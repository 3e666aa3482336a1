/* Olly eBPF capture: user-space loader. See include/olly_bpf.h. */
#define _GNU_SOURCE
#include "olly_bpf.h"

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define MAX_LINKS 64
#define MAX_SSL_LIBS 32
/* bytes of the ring fetched ahead of the record being walked (about 16 cache misses in flight) */
#define OLLY_PREFETCH_AHEAD 1024
/* bytes of ring records handed out per batch at most */
#define OLLY_BATCH_SPAN (32ul << 10)

/* The ring buffer, read directly (the kernel's BPF_MAP_TYPE_RINGBUF layout): a
 * writable page with consumer_pos, then a read-only page with producer_pos followed by
 * the data pages mapped twice, so a record that wraps is contiguous. libbpf's reader
 * publishes consumer_pos after every record; the producer reads it on every
 * reservation, so the cache line went back and forth once per event. Here it is
 * published once per batch (and every eighth of the ring within a batch). */
struct ring {
	void *cons_page;
	void *prod_area;
	size_t prod_len;
	size_t page;
	unsigned long *consumer_pos;
	const unsigned long *producer_pos;
	const uint8_t *data;
	uint64_t mask;
	unsigned long next; /* first record not yet handed out (>= *consumer_pos) */
	unsigned long waited_at; /* next when olly_bpf_wait last found the ring empty */
	unsigned long fetched; /* prefetches issued up to here */
	int64_t waited_ns; /* CLOCK_MONOTONIC when olly_bpf_wait last found the ring empty */
};

struct olly_bpf {
	struct bpf_object *obj;
	struct ring rb;
	struct bpf_link *links[MAX_LINKS];
	int n_links;
	struct { dev_t dev; ino_t ino; } ssl_libs[MAX_SSL_LIBS];
	int n_ssl_libs;
	int targets_fd, ports_fd, stats_fd;
	uint64_t *target_bits; /* the targets bitmap, memory-mapped */
	size_t target_words, target_len;
	int64_t mono_to_epoch; /* add to CLOCK_MONOTONIC ns to get epoch ns */
};

static int g_verbose;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!g_verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void seterr(char *buf, size_t len, const char *fmt, ...)
{
	if (!buf || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* libbpf attaches tracepoints by id from tracefs; mount it if nothing is there
 * (MACHINE-NOTES: "mount bpffs/tracefs yourself if absent"). */
static void ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
}

/* Writes the `cfg` variable of .rodata before load. */
static int set_rodata_cfg(struct bpf_object *obj, const struct olly_kcfg *kc)
{
	struct bpf_map *map = NULL, *m;
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t l = strlen(n);
		if (l >= 7 && strcmp(n + l - 7, ".rodata") == 0) {
			map = m;
			break;
		}
	}
	struct btf *btf = bpf_object__btf(obj);
	if (!map || !btf)
		return -ENOENT;
	int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (sec_id < 0)
		return -ENOENT;
	const struct btf_type *sec = btf__type_by_id(btf, sec_id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, var->name_off), "cfg") != 0)
			continue;
		if (vs->size != sizeof(*kc))
			return -EINVAL; /* object built from another olly_events.h */
		size_t sz = 0;
		const void *init = bpf_map__initial_value(map, &sz);
		if (!init || vs->offset + sizeof(*kc) > sz)
			return -EINVAL;
		char *copy = malloc(sz);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, init, sz);
		memcpy(copy + vs->offset, kc, sizeof(*kc));
		int err = bpf_map__set_initial_value(map, copy, sz);
		free(copy);
		return err;
	}
	return -ENOENT;
}

/* kernel.pid_max (the largest pid is one less); 4194304, the 64-bit limit, if unknown. */
static uint32_t pid_max(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	unsigned long v = 0;
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0 && v <= 4194304 ? (uint32_t)v : 4194304;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 4096;
	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

/* Distinguishes "not permitted" from "kernel refused this program". */
static int bpf_permitted(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "olly_probe", 4, 4, 1, NULL);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int ring_map(struct ring *r, int fd, uint32_t size)
{
	r->page = (size_t)sysconf(_SC_PAGESIZE);
	r->cons_page = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->cons_page == MAP_FAILED) {
		r->cons_page = NULL;
		return -errno;
	}
	r->prod_len = r->page + 2 * (size_t)size;
	r->prod_area = mmap(NULL, r->prod_len, PROT_READ, MAP_SHARED, fd, (off_t)r->page);
	if (r->prod_area == MAP_FAILED) {
		int err = -errno;
		r->prod_area = NULL;
		return err;
	}
	r->consumer_pos = r->cons_page;
	r->producer_pos = r->prod_area;
	r->data = (const uint8_t *)r->prod_area + r->page;
	r->mask = size - 1;
	r->next = r->waited_at = *r->consumer_pos;
	r->waited_ns = clock_ns(CLOCK_MONOTONIC);
	return 0;
}

static void ring_unmap(struct ring *r)
{
	if (r->prod_area)
		munmap(r->prod_area, r->prod_len);
	if (r->cons_page)
		munmap(r->cons_page, r->page);
	r->prod_area = r->cons_page = NULL;
}

int olly_bpf_batch(struct olly_bpf *h, const void **recs, uint32_t *sizes, int max)
{
	struct ring *r = &h->rb;
	/* a batch spans at most an eighth of the ring and 32 KiB: the bytes fetched
	 * ahead for it stay in this CPU's first-level cache until they are handled (a
	 * batch of a megabyte of 4 KiB records pushed its first ones out: 10% more time
	 * per 4 KiB event) */
	unsigned long cons = r->next, start = r->next, span = (r->mask + 1) / 8;
	if (span > OLLY_BATCH_SPAN)
		span = OLLY_BATCH_SPAN;
	unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	int n = 0;
	/* The records were written on other CPUs: each first touch is a cache miss, and
	 * where the next record starts is known only once this one's length is read.
	 * Fetching the written bytes linearly, a little ahead of the walk, overlaps those
	 * misses instead of taking them one after another. */
	unsigned long pf = r->fetched > cons ? r->fetched : cons & ~63ul;
	while (n < max && cons < prod && cons - start < span) {
		unsigned long ahead = cons + OLLY_PREFETCH_AHEAD < prod ? cons + OLLY_PREFETCH_AHEAD : prod;
		for (; pf < ahead; pf += 64)
			__builtin_prefetch(r->data + (pf & r->mask), 0, 3);
		const uint8_t *rec = r->data + (cons & r->mask);
		uint32_t len = __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE);
		if (len & BPF_RINGBUF_BUSY_BIT)
			break;
		uint32_t body = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		cons += (body + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			recs[n] = rec + BPF_RINGBUF_HDR_SZ;
			sizes[n] = body;
			n++;
		}
	}
	r->next = cons;
	r->fetched = pf;
	return n;
}

void olly_bpf_release(struct olly_bpf *h)
{
	struct ring *r = &h->rb;
	if (r->next != *r->consumer_pos)
		__atomic_store_n(r->consumer_pos, r->next, __ATOMIC_RELEASE);
}

int olly_bpf_wait(struct olly_bpf *h, int timeout_ms)
{
	struct ring *r = &h->rb;
	int64_t now = clock_ns(CLOCK_MONOTONIC), deadline = now + (int64_t)timeout_ms * 1000000LL;
	/* Records are submitted with BPF_RB_NO_WAKEUP (MACHINE-NOTES: 0.7 us per event
	 * against 3.2 us with wake-ups), so epoll would not fire: the ring is checked on a
	 * timer. Each wake-up costs a few microseconds (timer, two context switches), so the
	 * period is as long as the ring allows: the time in which records arriving at the
	 * rate seen since the ring was last found empty fill a sixteenth of it, between
	 * 50 us (16 KiB write+read pairs on loopback make about 8 GB/s of records) and 1 ms
	 * (a million 256-byte events a second, about 330 MB/s of records, fill a sixteenth
	 * of the default 32 MiB ring in 6 ms). */
	unsigned long moved = r->next - r->waited_at, size = r->mask + 1;
	int64_t elapsed = now - r->waited_ns;
	long period = 1000000;
	if (moved > 0 && elapsed > 0) {
		double t = (double)(size / 16) * (double)elapsed / (double)moved;
		period = t < 50000 ? 50000 : t < 1000000 ? (long)t : 1000000;
	}
	for (;;) {
		/* a record not yet handed out, and written (a reserved one may belong to a
		 * preempted uprobe program: no busy loop on it) */
		if (__atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE) > r->next &&
		    !(__atomic_load_n((const uint32_t *)(r->data + (r->next & r->mask)), __ATOMIC_ACQUIRE) & BPF_RINGBUF_BUSY_BIT))
			return 1;
		r->waited_at = r->next;
		r->waited_ns = now;
		if (timeout_ms == 0 || (timeout_ms > 0 && now >= deadline))
			return 0;
		struct timespec ts = {0, period};
		if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
			return -EINTR;
		now = clock_ns(CLOCK_MONOTONIC);
		period = 1000000;
	}
}

static int add_link(struct olly_bpf *h, struct bpf_link *l)
{
	if (h->n_links >= MAX_LINKS) {
		bpf_link__destroy(l);
		return -ENOSPC;
	}
	h->links[h->n_links++] = l;
	return 0;
}

int olly_bpf_open(const struct olly_bpf_config *cfg, struct olly_bpf **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	g_verbose = cfg->verbose;
	libbpf_set_print(print_fn);

	if (!cfg->bpf_object_path || access(cfg->bpf_object_path, R_OK) != 0) {
		seterr(errbuf, errlen, "cannot read the eBPF object %s: %s",
		       cfg->bpf_object_path ? cfg->bpf_object_path : "(none)", strerror(errno ? errno : ENOENT));
		return OLLY_BPF_ENOOBJ;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		seterr(errbuf, errlen, "this kernel has no BTF type information (/sys/kernel/btf/vmlinux), which eBPF capture needs");
		return OLLY_BPF_ENOBTF;
	}
	int perr = bpf_permitted();
	if (perr == -EPERM || perr == -EACCES) {
		seterr(errbuf, errlen, "eBPF is not permitted here: run as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)");
		return OLLY_BPF_EPERM;
	}
	if (perr == -ENOSYS) {
		seterr(errbuf, errlen, "this kernel has no bpf() system call (CONFIG_BPF_SYSCALL is off)");
		return OLLY_BPF_EUNSUPPORTED;
	}
	ensure_tracefs();

	struct olly_bpf *h = calloc(1, sizeof(*h));
	if (!h) {
		seterr(errbuf, errlen, "out of memory");
		return OLLY_BPF_ERR;
	}
	h->targets_fd = h->ports_fd = h->stats_fd = -1;
	int rc = OLLY_BPF_ERR, err;

	h->obj = bpf_object__open_file(cfg->bpf_object_path, NULL);
	if (!h->obj) {
		err = errno;
		h->obj = NULL;
		seterr(errbuf, errlen, "cannot open the eBPF object %s: %s", cfg->bpf_object_path, strerror(err));
		rc = OLLY_BPF_ENOOBJ;
		goto fail;
	}

	struct olly_kcfg kc;
	memset(&kc, 0, sizeof(kc));
	kc.cgroup_id = cfg->cgroup_id;
	kc.budget = cfg->capture_budget ? cfg->capture_budget : 16384;
	if (kc.budget > OLLY_MAX_CHUNKS * OLLY_CHUNK)
		kc.budget = OLLY_MAX_CHUNKS * OLLY_CHUNK;
	kc.filter_pids = cfg->filter_pids || cfg->n_pids > 0;
	kc.follow_children = !!cfg->follow_children;
	kc.filter_ports = cfg->n_ports > 0;
	if (cfg->comm && cfg->comm[0]) {
		kc.filter_comm = 1;
		strncpy(kc.comm, cfg->comm, OLLY_COMM_LEN - 1);
	}
	kc.want_unix = !!cfg->want_unix;
	kc.want_inet = !!cfg->want_inet;
	kc.want_inet6 = !!cfg->want_inet6;
	if (!kc.want_unix && !kc.want_inet && !kc.want_inet6)
		kc.want_inet = kc.want_inet6 = 1;
	if ((err = set_rodata_cfg(h->obj, &kc)) < 0) {
		seterr(errbuf, errlen, "the eBPF object %s has no usable configuration (built from another olly_events.h?): %s",
		       cfg->bpf_object_path, strerror(-err));
		rc = OLLY_BPF_ENOOBJ;
		goto fail;
	}

	struct bpf_map *rbm = bpf_object__find_map_by_name(h->obj, "events");
	if (!rbm) {
		seterr(errbuf, errlen, "the eBPF object has no events map");
		rc = OLLY_BPF_ENOOBJ;
		goto fail;
	}
	bpf_map__set_max_entries(rbm, pow2_at_least(cfg->ringbuf_bytes ? cfg->ringbuf_bytes : 32u << 20));
	struct bpf_map *tm = bpf_object__find_map_by_name(h->obj, "targets");
	if (!tm) {
		seterr(errbuf, errlen, "the eBPF object has no targets map");
		rc = OLLY_BPF_ENOOBJ;
		goto fail;
	}
	h->target_words = (size_t)pid_max() / 64 + 1;
	bpf_map__set_max_entries(tm, (uint32_t)h->target_words);

	/* uprobe programs are attached per library by olly_bpf_attach_ssl */
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, h->obj)
		bpf_program__set_autoattach(prog, false);

	if ((err = bpf_object__load(h->obj)) < 0) {
		seterr(errbuf, errlen, "the kernel refused to load the eBPF programs (%s); run with verbose for the verifier log",
		       strerror(-err));
		rc = (err == -EPERM) ? OLLY_BPF_EPERM : OLLY_BPF_EUNSUPPORTED;
		goto fail;
	}

	h->targets_fd = bpf_object__find_map_fd_by_name(h->obj, "targets");
	h->ports_fd = bpf_object__find_map_fd_by_name(h->obj, "ports");
	h->stats_fd = bpf_object__find_map_fd_by_name(h->obj, "stats");
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	h->target_len = (h->target_words * 8 + page - 1) / page * page;
	void *bits = mmap(NULL, h->target_len, PROT_READ | PROT_WRITE, MAP_SHARED, h->targets_fd, 0);
	if (bits == MAP_FAILED) {
		err = errno;
		seterr(errbuf, errlen, "cannot map the targets map: %s", strerror(err));
		goto fail;
	}
	h->target_bits = bits;
	uint8_t one = 1;
	for (int i = 0; i < cfg->n_pids && i < OLLY_BPF_MAX_PIDS; i++)
		olly_bpf_add_pid(h, cfg->pids[i]);
	for (int i = 0; i < cfg->n_ports && i < OLLY_BPF_MAX_PORTS; i++) {
		uint16_t port = cfg->ports[i];
		bpf_map_update_elem(h->ports_fd, &port, &one, BPF_ANY);
	}

	bpf_object__for_each_program(prog, h->obj) {
		if (strncmp(bpf_program__section_name(prog), "tracepoint/", 11) != 0)
			continue;
		struct bpf_link *l = bpf_program__attach(prog);
		if (!l) {
			err = errno;
			seterr(errbuf, errlen, "cannot attach %s: %s (is tracefs mounted at /sys/kernel/tracing?)",
			       bpf_program__section_name(prog), strerror(err));
			rc = err == EPERM ? OLLY_BPF_EPERM : OLLY_BPF_EUNSUPPORTED;
			goto fail;
		}
		add_link(h, l);
	}

	if ((err = ring_map(&h->rb, bpf_map__fd(rbm), bpf_map__max_entries(rbm))) < 0) {
		seterr(errbuf, errlen, "cannot map the ring buffer: %s", strerror(-err));
		goto fail;
	}
	h->mono_to_epoch = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	*out = h;
	return OLLY_BPF_OK;
fail:
	olly_bpf_close(h);
	return rc;
}

int olly_bpf_poll(struct olly_bpf *h, int timeout_ms, olly_event_cb cb, void *ctx)
{
	/* The batched reader one record at a time, each released once handled: the
	 * callback's non-zero answer stops after that record, the rest stay in the ring. */
	int w = olly_bpf_wait(h, timeout_ms);
	if (w <= 0)
		return w;
	int count = 0;
	const void *rec;
	uint32_t size;
	while (olly_bpf_batch(h, &rec, &size, 1) == 1) {
		count++;
		int rc = cb ? cb(ctx, rec, size) : 0;
		olly_bpf_release(h);
		if (rc)
			return rc;
	}
	olly_bpf_release(h);
	return count;
}

static int attach_one(struct olly_bpf *h, const char *path, const char *func, const char *prog_name, int ret)
{
	struct bpf_program *p = bpf_object__find_program_by_name(h->obj, prog_name);
	if (!p)
		return -ENOENT;
	LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = func, .retprobe = ret);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(p, -1, path, 0, &o);
	if (!l)
		return -errno;
	return add_link(h, l);
}

int olly_bpf_attach_ssl(struct olly_bpf *h, const char *path)
{
	struct stat st;
	if (!h || !path || stat(path, &st) != 0)
		return OLLY_BPF_ERR;
	for (int i = 0; i < h->n_ssl_libs; i++)
		if (h->ssl_libs[i].dev == st.st_dev && h->ssl_libs[i].ino == st.st_ino)
			return OLLY_BPF_OK;
	if (h->n_ssl_libs >= MAX_SSL_LIBS)
		return OLLY_BPF_ERR;
	static const struct { const char *func, *enter, *exit; int required; } fns[] = {
		{"SSL_write", "ssl_write_enter", "ssl_write_exit", 1},
		{"SSL_read", "ssl_read_enter", "ssl_read_exit", 1},
		{"SSL_write_ex", "ssl_write_ex_enter", "ssl_write_ex_exit", 0},
		{"SSL_read_ex", "ssl_read_ex_enter", "ssl_read_ex_exit", 0},
		{"SSL_do_handshake", "ssl_other_enter", "ssl_other_exit", 0},
		{"SSL_connect", "ssl_other_enter", "ssl_other_exit", 0},
		{"SSL_accept", "ssl_other_enter", "ssl_other_exit", 0},
		{"SSL_shutdown", "ssl_other_enter", "ssl_other_exit", 0},
	};
	int first = h->n_links;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		int e1 = attach_one(h, path, fns[i].func, fns[i].enter, 0);
		int e2 = e1 ? e1 : attach_one(h, path, fns[i].func, fns[i].exit, 1);
		if (e2 && fns[i].required) {
			if (g_verbose)
				fprintf(stderr, "olly-bpf: %s: cannot attach %s: %s\n", path, fns[i].func, strerror(-e2));
			while (h->n_links > first)
				bpf_link__destroy(h->links[--h->n_links]);
			return OLLY_BPF_ERR;
		}
	}
	h->ssl_libs[h->n_ssl_libs].dev = st.st_dev;
	h->ssl_libs[h->n_ssl_libs].ino = st.st_ino;
	h->n_ssl_libs++;
	return OLLY_BPF_OK;
}

int olly_bpf_attach_ssl_pid(struct olly_bpf *h, int pid)
{
	char maps[64], line[PATH_MAX + 256], root[PATH_MAX + 64];
	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	FILE *f = fopen(maps, "re");
	if (!f)
		return -errno;
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');
		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		const char *base = strrchr(p, '/') + 1;
		if (strncmp(base, "libssl.so", 9) != 0)
			continue;
		/* the path is in the process's mount namespace */
		snprintf(root, sizeof(root), "/proc/%d/root%s", pid, p);
		int before = h->n_ssl_libs;
		if (olly_bpf_attach_ssl(h, access(root, R_OK) == 0 ? root : p) == OLLY_BPF_OK && h->n_ssl_libs > before)
			n++;
	}
	fclose(f);
	return n;
}

/* Atomics on the mapped words: the programs set and clear bits of the same words
 * (children of targets, exits) concurrently. */
int olly_bpf_add_pid(struct olly_bpf *h, int pid)
{
	if (!h->target_bits || pid <= 0 || (size_t)pid / 64 >= h->target_words)
		return -EINVAL;
	__atomic_fetch_or(&h->target_bits[pid / 64], 1ULL << (pid % 64), __ATOMIC_SEQ_CST);
	return 0;
}

int olly_bpf_remove_pid(struct olly_bpf *h, int pid)
{
	if (!h->target_bits || pid <= 0 || (size_t)pid / 64 >= h->target_words)
		return -EINVAL;
	__atomic_fetch_and(&h->target_bits[pid / 64], ~(1ULL << (pid % 64)), __ATOMIC_SEQ_CST);
	return 0;
}

int olly_bpf_ncpus(void)
{
	return libbpf_num_possible_cpus();
}

static int64_t read_stat(struct olly_bpf *h, int idx, uint64_t *per_cpu, int ncpu)
{
	int n = libbpf_num_possible_cpus();
	if (n <= 0 || idx < 0 || idx >= OLLY_STAT_NR)
		return -EINVAL;
	uint64_t vals[n];
	uint32_t k = idx;
	if (bpf_map_lookup_elem(h->stats_fd, &k, vals))
		return -errno;
	int64_t total = 0;
	for (int i = 0; i < n; i++) {
		total += vals[i];
		if (per_cpu && i < ncpu)
			per_cpu[i] = vals[i];
	}
	return total;
}

int64_t olly_bpf_lost(struct olly_bpf *h, uint64_t *per_cpu, int ncpu)
{
	return read_stat(h, OLLY_STAT_LOST, per_cpu, ncpu);
}

int64_t olly_bpf_stat(struct olly_bpf *h, int stat)
{
	return read_stat(h, stat, NULL, 0);
}

uint64_t olly_bpf_ts_to_epoch(struct olly_bpf *h, uint64_t ts_ns)
{
	return ts_ns + h->mono_to_epoch;
}

struct detach_job {
	struct bpf_link **links;
	int n;
};

static void *detach_links(void *arg)
{
	struct detach_job *j = arg;
	for (int i = 0; i < j->n; i++)
		bpf_link__destroy(j->links[i]);
	return NULL;
}

/* Each detach waits for an RCU grace period (~75 ms on this VM; ~2 s for all
 * links one after another). Detaching from several threads lets the waits
 * overlap. */
static void destroy_links(struct olly_bpf *h)
{
	enum { NT = MAX_LINKS };
	pthread_t th[NT];
	int running[NT] = {0};
	struct detach_job jobs[NT];
	int per = (h->n_links + NT - 1) / NT;
	for (int t = 0; t < NT; t++) {
		int from = t * per, to = from + per > h->n_links ? h->n_links : from + per;
		jobs[t].links = h->links + from;
		jobs[t].n = to > from ? to - from : 0;
		if (jobs[t].n == 0)
			continue;
		if (pthread_create(&th[t], NULL, detach_links, &jobs[t]) == 0)
			running[t] = 1;
		else
			detach_links(&jobs[t]);
	}
	for (int t = 0; t < NT; t++)
		if (running[t])
			pthread_join(th[t], NULL);
	h->n_links = 0;
}

void olly_bpf_close(struct olly_bpf *h)
{
	if (!h)
		return;
	ring_unmap(&h->rb);
	if (h->target_bits)
		munmap(h->target_bits, h->target_len);
	destroy_links(h);
	if (h->obj)
		bpf_object__close(h->obj);
	free(h);
}

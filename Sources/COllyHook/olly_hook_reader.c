#define _GNU_SOURCE
#include "olly_hook_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct olly_reader {
	uint8_t *map;
	uint64_t size;
	struct olly_ring_hdr *hdr;
	uint64_t *seq;
	uint8_t *slots;
	uint64_t n, mask, tail;
	uint64_t stall_since;
	uint64_t bad, abandoned;
	uint8_t buf[OLLY_MAX_SLOTS_PER_ENTRY * OLLY_SLOT];
};

struct olly_reader *olly_reader_create(uint64_t ring_bytes, const char *path, int *fdp, uid_t uid, gid_t gid)
{
	uint64_t n = 64;
	while (n * OLLY_SLOT < ring_bytes && n < (1ULL << 24))
		n <<= 1;
	uint64_t seq_off = OLLY_HDR_BYTES;
	uint64_t conns_off = (seq_off + n * 8 + 4095) & ~4095ULL;
	uint64_t slots_off = (conns_off + (uint64_t)OLLY_NCONNS * sizeof(struct olly_conn_slot) + 4095) & ~4095ULL;
	uint64_t total = slots_off + n * OLLY_SLOT;
	int fd;
	if (path) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0 && (uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0) {
			int e = errno;
			close(fd);
			unlink(path);
			errno = e;
			return NULL;
		}
	} else {
		int m = (int)syscall(SYS_memfd_create, "olly-hook", 0);
		if (m < 0)
			return NULL;
		fd = fcntl(m, F_DUPFD, 100);
		close(m);
	}
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)total) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	void *map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	struct olly_reader *r = calloc(1, sizeof *r);
	if (!r) {
		munmap(map, total);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	r->map = map;
	r->size = total;
	r->hdr = map;
	r->seq = (uint64_t *)(r->map + seq_off);
	r->slots = r->map + slots_off;
	r->n = n;
	r->mask = n - 1;
	for (uint64_t i = 0; i < n; i++)
		r->seq[i] = i;
	struct olly_ring_hdr *h = r->hdr;
	h->version = OLLY_HOOK_VERSION;
	h->slot_bytes = OLLY_SLOT;
	h->nslots = n;
	h->total_bytes = total;
	h->seq_off = seq_off;
	h->conns_off = conns_off;
	h->slots_off = slots_off;
	h->reader_alive = 1;
	__atomic_store_n(&h->magic, OLLY_HOOK_MAGIC, __ATOMIC_RELEASE);
	if (path) {
		close(fd);
		if (fdp)
			*fdp = -1;
	} else if (fdp) {
		*fdp = fd;
	}
	return r;
}

void olly_reader_free(struct olly_reader *r)
{
	if (!r)
		return;
	munmap(r->map, r->size);
	free(r);
}

void olly_reader_close(struct olly_reader *r)
{
	__atomic_store_n(&r->hdr->reader_alive, 0, __ATOMIC_RELEASE);
}

static void free_slot(struct olly_reader *r, uint64_t p)
{
	__atomic_store_n(&r->seq[p & r->mask], p + r->n, __ATOMIC_RELEASE);
}

static int valid(const struct olly_hook_entry *e, uint32_t k)
{
	if (e->magic != OLLY_ENTRY_MAGIC || k == 0 || k > OLLY_MAX_SLOTS_PER_ENTRY)
		return 0;
	uint64_t room = (uint64_t)k * OLLY_SLOT;
	switch (e->type) {
	case OLLY_HOOK_DATA:
		return e->cap <= e->len && OLLY_ENTRY_BYTES + (uint64_t)e->cap <= room &&
		       (OLLY_ENTRY_BYTES + e->cap + OLLY_SLOT - 1) / OLLY_SLOT == k && (e->flags & ~3u) == 0 && e->cid != 0;
	case OLLY_HOOK_CONN:
		return k == 1 && e->ev >= OLLY_HC_OPEN && e->ev <= OLLY_HC_SEEN && e->role <= OLLY_HR_SERVER && e->cid != 0;
	case OLLY_HOOK_PROC:
		return k == 1 && e->ev >= OLLY_HP_START && e->ev <= OLLY_HP_FORK;
	default:
		return 0;
	}
}

int olly_reader_next(struct olly_reader *r, const uint8_t **entry, uint32_t *size, uint64_t now)
{
	uint64_t p = r->tail;
	uint64_t s = __atomic_load_n(&r->seq[p & r->mask], __ATOMIC_ACQUIRE);
	if (s == p + 1) {
		struct olly_hook_entry e;
		memcpy(&e, r->slots + (p & r->mask) * OLLY_SLOT, sizeof e);
		uint32_t k = e.nslots;
		if (!valid(&e, k)) {
			free_slot(r, p);
			r->tail = p + 1;
			r->bad++;
			r->stall_since = 0;
			return -1;
		}
		for (uint32_t j = 1; j < k; j++) {
			uint64_t q = p + j;
			uint64_t sq = __atomic_load_n(&r->seq[q & r->mask], __ATOMIC_ACQUIRE);
			if (sq != q + 1) {
				/* a header committed before its continuation: a writer in the middle
				 * of a late commit, or garbage. Treat as bad. */
				free_slot(r, p);
				r->tail = p + 1;
				r->bad++;
				return -1;
			}
		}
		for (uint32_t j = 0; j < k; j++)
			memcpy(r->buf + (uint64_t)j * OLLY_SLOT, r->slots + ((p + j) & r->mask) * OLLY_SLOT, OLLY_SLOT);
		for (uint32_t j = 0; j < k; j++)
			free_slot(r, p + j);
		r->tail = p + k;
		r->stall_since = 0;
		*entry = r->buf;
		*size = k * OLLY_SLOT;
		return 1;
	}
	if (s == p) {
		uint64_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
		if (head <= p) {
			r->stall_since = 0;
			return 0;
		}
		/* reserved, not committed yet */
		if (!r->stall_since) {
			r->stall_since = now ? now : 1;
			return 0;
		}
		if (now - r->stall_since < OLLY_ABANDON_NS)
			return 0;
		uint64_t want = p;
		if (__atomic_compare_exchange_n(&r->seq[p & r->mask], &want, p + r->n, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			r->tail = p + 1;
			r->abandoned++;
			return -2; /* stall_since kept: the dead writer's next slots go at once */
		}
		return 0;
	}
	/* a sequence word no writer of this protocol leaves: garbage; skip the slot */
	free_slot(r, p);
	r->tail = p + 1;
	r->bad++;
	return -1;
}

void olly_reader_sleep(struct olly_reader *r, int timeout_ms)
{
	__atomic_store_n(&r->hdr->reader_sleeping, 1, __ATOMIC_SEQ_CST);
	uint64_t p = r->tail;
	uint64_t s = __atomic_load_n(&r->seq[p & r->mask], __ATOMIC_SEQ_CST);
	if (s == p + 1 || __atomic_load_n(&r->hdr->head, __ATOMIC_SEQ_CST) != p) {
		__atomic_store_n(&r->hdr->reader_sleeping, 0, __ATOMIC_SEQ_CST);
		if (s != p + 1) {
			/* reserved but not committed: a writer mid-copy; give it a moment */
			struct timespec t = {0, 200000};
			nanosleep(&t, NULL);
		}
		return;
	}
	struct timespec t = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
	syscall(SYS_futex, &r->hdr->reader_sleeping, FUTEX_WAIT, 1, &t, NULL, 0);
	__atomic_store_n(&r->hdr->reader_sleeping, 0, __ATOMIC_SEQ_CST);
}

uint64_t olly_reader_stat(const struct olly_reader *r, int i)
{
	if (i < 0 || i >= OLLY_HS_NR)
		return 0;
	return __atomic_load_n(&r->hdr->stats[i], __ATOMIC_RELAXED);
}

uint64_t olly_reader_bad(const struct olly_reader *r) { return r->bad; }
uint64_t olly_reader_abandoned(const struct olly_reader *r) { return r->abandoned; }

static uint64_t reserve(struct olly_reader *r, uint32_t k)
{
	uint64_t pos = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t last = pos + k - 1;
		uint64_t s = __atomic_load_n(&r->seq[last & r->mask], __ATOMIC_ACQUIRE);
		int64_t d = (int64_t)(s - last);
		if (d == 0) {
			if (__atomic_compare_exchange_n(&r->hdr->head, &pos, pos + k, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				return pos;
		} else if (d < 0) {
			return UINT64_MAX;
		} else {
			pos = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
		}
	}
}

int olly_reader_inject(struct olly_reader *r, const void *bytes, uint32_t n, uint32_t k)
{
	if (k == 0 || (uint64_t)n > (uint64_t)k * OLLY_SLOT)
		return -1;
	uint64_t pos = reserve(r, k);
	if (pos == UINT64_MAX)
		return -1;
	const uint8_t *b = bytes;
	for (uint32_t j = 0; j < k; j++) {
		uint32_t at = j * OLLY_SLOT;
		uint32_t c = n > at ? (n - at < OLLY_SLOT ? n - at : OLLY_SLOT) : 0;
		uint8_t *dst = r->slots + ((pos + j) & r->mask) * OLLY_SLOT;
		memset(dst, 0, OLLY_SLOT);
		if (c)
			memcpy(dst, b + at, c);
	}
	for (uint32_t j = k; j-- > 0;)
		__atomic_store_n(&r->seq[(pos + j) & r->mask], pos + j + 1, __ATOMIC_RELEASE);
	return 0;
}

int olly_reader_reserve_only(struct olly_reader *r, uint32_t k)
{
	return reserve(r, k) == UINT64_MAX ? -1 : 0;
}

#include <signal.h>
#include <spawn.h>

int olly_hook_spawn(const char *file, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
		    int close_from, pid_t *pid)
{
	posix_spawnattr_t at;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_init(&fa);
	sigset_t def, none;
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGCHLD);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	if (in_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	if (err_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	if (close_from > 2)
		posix_spawn_file_actions_addclosefrom_np(&fa, close_from);
	int rc = posix_spawnp(pid, file, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

int olly_reader_idle(const struct olly_reader *r)
{
	return __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE) == r->tail;
}

/* Olly hook capture: the channel shared by hook/libolly.c (writers, in the captured
 * processes) and olly-capture (the reader, Sources/COllyHook + Sources/OllyHook).
 *
 * The one definition of the layout. The channel is a shared-memory ring in a memfd
 * (olly-capture --preload; inherited by the command and its descendants) or in a 0600
 * file in a 0700 directory (--attach), so no other user can read it or write into it.
 *
 *   [struct olly_ring_hdr, 4096 B][seq[nslots] (u64)][conns[OLLY_NCONNS]][slots: nslots * OLLY_SLOT]
 *
 * Ring protocol (a bounded multi-producer queue with a sequence word per slot):
 *   - slot i of position p is free for that lap when seq[i] == p, committed when p + 1;
 *   - a writer reserves k consecutive positions by checking that the last one is free and
 *     advancing `head` with a CAS; when it is not free the ring is full: the event is
 *     dropped and counted (never waits);
 *   - it fills the slots (an entry's bytes are contiguous, but at the ring's end), then
 *     commits the entry's first slot alone with CAS(seq, p -> p + 1): one locked
 *     instruction per entry, whatever its size (a CAS, so a writer whose slot the reader
 *     gave up on cannot disturb a later lap; it counts late_commits). The other slots of
 *     the entry keep seq == their position: reserved, never committed on their own;
 *   - the reader consumes in position order: a committed first slot whose entry claims k
 *     slots, all reserved (below `head`) and none committed on its own, is an entry; it
 *     frees each slot with seq = p + nslots, and sleeps on the futex word
 *     `reader_sleeping` when the ring is empty; a writer wakes it only when that word is
 *     set.
 *   - a slot reserved but never committed (its writer died) is abandoned by the reader
 *     after OLLY_ABANDON_NS and counted, and so, at once, is each reserved slot after it
 *     that is not a committed first slot. A writer takes its stream offset just before
 *     its commit, so the dead entry's bytes are a gap only when it died after that;
 *   - a call is written after its syscall returns: a process that ends in between (exit
 *     while another thread is just past a call, a fatal signal) never reserves its entry,
 *     and that call is neither reported nor counted.
 *
 * Slots are 128 bytes: a small event (64 bytes of header, up to 64 of payload) takes one,
 * 256 bytes of payload three, so the ring holds several times more small events than
 * with larger slots, and the lines a writer fills are contiguous.
 *
 * Connection state shared by all processes of one capture (cid allocation and the
 * per-direction stream offsets, so offsets stay contiguous across fork) lives in
 * `conns`, indexed by cid % OLLY_NCONNS.
 */
#ifndef OLLY_HOOK_H
#define OLLY_HOOK_H

#include <stdint.h>

#define OLLY_HOOK_MAGIC    0x4f4c4c59484f4f4bULL /* "OLLYHOOK" */
#define OLLY_HOOK_VERSION  2u
#define OLLY_HDR_BYTES     4096u
#define OLLY_SLOT          128u     /* bytes per ring slot */
#define OLLY_NCONNS        65536u   /* shared connection slots (power of two) */
#define OLLY_MAX_SLOTS_PER_ENTRY 2080u /* an entry spans at most this many slots */
#define OLLY_DEFAULT_BUDGET 16384u  /* payload bytes captured per call by default */
#define OLLY_MAX_BUDGET    (OLLY_MAX_SLOTS_PER_ENTRY * OLLY_SLOT - 64u)
#define OLLY_ABANDON_NS    500000000ULL /* reader gives up on an uncommitted slot after this */
#define OLLY_ENTRY_MAGIC   0x4f48u  /* "HO" */

/* Environment between olly-capture and the library. */
#define OLLY_ENV_FD     "OLLY_HOOK_FD"     /* the channel fd number (--preload) */
#define OLLY_ENV_UNIX   "OLLY_HOOK_UNIX"   /* "1": also AF_UNIX sockets */
#define OLLY_ENV_BUDGET "OLLY_HOOK_BUDGET" /* bytes captured per call */

enum olly_hook_type {
	OLLY_HOOK_DATA = 1,
	OLLY_HOOK_CONN = 2,
	OLLY_HOOK_PROC = 3,
};

enum olly_hook_flags {
	OLLY_HF_IN = 1,   /* data: the process received (else sent) */
	OLLY_HF_TLS = 2,  /* data: plaintext from SSL_read/SSL_write */
};

enum olly_hook_conn_ev { OLLY_HC_OPEN = 1, OLLY_HC_CLOSE = 2, OLLY_HC_SEEN = 3 };
enum olly_hook_role { OLLY_HR_UNKNOWN = 0, OLLY_HR_CLIENT = 1, OLLY_HR_SERVER = 2 };
enum olly_hook_proc_ev { OLLY_HP_START = 1, OLLY_HP_FORK = 2 };

/* Counters in the header (atomically added by writers, read by the reader). */
enum olly_hook_stat {
	OLLY_HS_DROPPED = 0,       /* events dropped because the ring was full */
	OLLY_HS_DROPPED_BYTES = 1, /* payload bytes of those events */
	OLLY_HS_LATE = 2,          /* commits after the reader abandoned the slot */
	OLLY_HS_RACED = 3,         /* calls whose fd changed meaning during the call: not reported */
	OLLY_HS_EVICTED = 4,       /* data of a connection whose shared slot was taken by a newer one */
	OLLY_HS_BIGFD = 5,         /* calls on fds beyond the per-process table */
	/* 6: unused (no per-event counter: the reader counts what it reads) */
	OLLY_HS_UNORDERED = 7,     /* signal-handler calls placed before the call they interrupted */
	OLLY_HS_NR = 16,
};

struct olly_ring_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t slot_bytes;       /* OLLY_SLOT */
	uint64_t nslots;           /* power of two */
	uint64_t total_bytes;      /* size of the whole mapping */
	uint64_t seq_off, conns_off, slots_off; /* byte offsets in the mapping */
	uint64_t _pad0[2];
	/* written by writers */
	uint64_t head __attribute__((aligned(64)));
	/* written by the reader */
	uint32_t reader_sleeping __attribute__((aligned(64))); /* futex word */
	uint32_t reader_alive;
	uint64_t next_cid __attribute__((aligned(64)));
	uint64_t stats[OLLY_HS_NR] __attribute__((aligned(64)));
};

/* One shared connection slot (64 B). */
struct olly_conn_slot {
	uint64_t cid;      /* owner; 0 = free */
	uint64_t off[4];   /* [dir + 2 * tls] next offset */
	uint32_t refs;     /* fds referring to it, in all processes */
	uint32_t _pad;
	uint64_t _pad2[2];
};

/* Entry header, at the start of an entry's first slot; 64 bytes. */
struct olly_hook_entry {
	uint16_t magic;    /* OLLY_ENTRY_MAGIC */
	uint8_t type;      /* enum olly_hook_type */
	uint8_t flags;     /* enum olly_hook_flags */
	uint32_t nslots;   /* slots this entry spans, >= 1 */
	uint64_t ts;       /* CLOCK_REALTIME ns */
	uint64_t cid;
	uint64_t off;      /* data: offset in the (cid, dir, tls) stream */
	uint32_t pid;
	uint32_t tid;
	uint32_t len;      /* data: bytes the call moved; proc: ppid */
	uint32_t cap;      /* data: bytes captured, after this header */
	int32_t fd;
	uint16_t family;   /* conn: AF_INET 2, AF_INET6 10, AF_UNIX 1 */
	uint8_t ev;        /* conn: enum olly_hook_conn_ev; proc: enum olly_hook_proc_ev */
	uint8_t role;      /* conn: enum olly_hook_role */
	uint16_t lport, rport; /* conn: host order */
	uint32_t _pad;
	/* conn entries: 32 more bytes follow: laddr[16], raddr[16] (network order; IPv4 in
	 * the first 4 bytes) */
};

#define OLLY_ENTRY_BYTES 64u
#define OLLY_CONN_ADDR_BYTES 32u

#endif

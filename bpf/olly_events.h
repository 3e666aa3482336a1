/* Olly eBPF capture: events shared by bpf/olly.bpf.c and user space.
 *
 * The one definition of these structs. Usable from BPF (vmlinux.h types) and from
 * ordinary C / Swift (<stdint.h> via <linux/types.h>). All fields fixed width,
 * largest first, so the layout is the same on both sides.
 *
 * Every ring-buffer record starts with struct olly_hdr; dispatch on hdr.type.
 */
#ifndef OLLY_EVENTS_H
#define OLLY_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OLLY_CHUNK      4096   /* max payload bytes per data event */
#define OLLY_MAX_IOV    8      /* iovecs walked per readv/writev/recvmsg/sendmsg */
#define OLLY_MAX_CHUNKS 64     /* max data events per call: budget <= 64 * OLLY_CHUNK */
#define OLLY_COMM_LEN   16

enum olly_ev_type {
	OLLY_EV_DATA = 1,
	OLLY_EV_CONN = 2,
	OLLY_EV_PROC = 3,
};

enum olly_dir {
	OLLY_DIR_OUT = 0, /* the process sent */
	OLLY_DIR_IN = 1,  /* the process received */
};

enum olly_conn_ev {
	OLLY_CONN_OPEN = 1,  /* connect (client) or accept (server) seen */
	OLLY_CONN_CLOSE = 2, /* last close() of the socket */
	OLLY_CONN_SEEN = 3,  /* first sight of a socket whose open was not seen (role unknown) */
};

enum olly_role {
	OLLY_ROLE_UNKNOWN = 0,
	OLLY_ROLE_CLIENT = 1,
	OLLY_ROLE_SERVER = 2,
};

enum olly_proc_ev {
	OLLY_PROC_EXEC = 1,
	OLLY_PROC_EXIT = 2,
	OLLY_PROC_FORK = 3, /* pid = child, ppid = parent */
};

/* Per-CPU counters in map "stats" (index = enum value). */
enum olly_stat {
	OLLY_STAT_LOST = 0,       /* ring-buffer reservation failed: events dropped */
	OLLY_STAT_READ_FAULT = 1, /* user memory not readable: chunk sent with cap_len 0 */
	OLLY_STAT_TLS_NOSOCK = 2, /* SSL plaintext whose socket was never seen: dropped */
	OLLY_STAT_IOV_TRUNC = 3,  /* calls with more than OLLY_MAX_IOV iovecs (rest is a gap) */
	OLLY_STAT_NR = 8,
};

struct olly_hdr {
	__u64 ts_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns); user space converts to epoch */
	__u32 type;   /* enum olly_ev_type */
	__u32 pid;    /* tgid */
	__u32 tid;
	__u32 _pad;
};

/* Data: one chunk of a send/receive. Record size = sizeof(struct olly_data_event) +
 * cap_len (TLS records may be longer; always use cap_len). cap_len < len means the
 * last len - cap_len bytes of this chunk were not captured (a declared gap). */
struct olly_data_event {
	struct olly_hdr hdr;
	__u64 cid;     /* connection id, unique within one capture, stable across fork */
	__u64 off;     /* byte offset of this chunk in the (cid, dir, tls) stream */
	__s32 fd;
	__u32 len;     /* bytes the call moved that this chunk accounts for */
	__u32 cap_len; /* bytes captured, following this struct */
	__u8 dir;      /* enum olly_dir */
	__u8 tls;      /* 1: plaintext from an SSL_read/SSL_write hook (its own offsets) */
	__u16 _pad;
	__u8 data[];   /* cap_len bytes */
};

/* Addresses: AF_INET -> first 4 bytes of addr (network order), rest zero;
 * AF_INET6 -> all 16 bytes (v4-mapped kept as ::ffff:a.b.c.d); AF_UNIX -> zero.
 * Read from the socket when the event is made: on CLOSE the kernel may already
 * have released the local port (lport 0) -- take addresses from OPEN/SEEN.
 * Stream sockets are announced at connect/accept; datagram sockets at their
 * first data (so getaddrinfo's probe connects make no events). Unconnected UDP
 * has raddr zero. role on CLOSE repeats the role of OPEN. */
struct olly_conn_event {
	struct olly_hdr hdr;
	__u64 cid;
	__u8 laddr[16];
	__u8 raddr[16];
	__s32 fd;
	__u16 lport;   /* host order */
	__u16 rport;   /* host order */
	__u16 family;  /* AF_INET 2, AF_INET6 10, AF_UNIX 1 */
	__u16 sotype;  /* SOCK_STREAM 1, SOCK_DGRAM 2, ... */
	__u8 ev;       /* enum olly_conn_ev */
	__u8 role;     /* enum olly_role */
	__u8 proto;    /* IPPROTO_TCP 6, IPPROTO_UDP 17, 0 for unix */
	__u8 _pad;
};

struct olly_proc_event {
	struct olly_hdr hdr;
	__u32 ppid;
	__s32 exit_code; /* OLLY_PROC_EXIT: task->exit_code (wait status) */
	__u8 ev;         /* enum olly_proc_ev */
	__u8 _pad[7];
	char comm[OLLY_COMM_LEN];
};

/* Load-time configuration: the BPF object's `const volatile struct olly_kcfg cfg`
 * in .rodata, written by the loader before load. */
struct olly_kcfg {
	__u64 cgroup_id;      /* 0: any cgroup */
	__u32 budget;         /* payload bytes captured per call (rest is a gap) */
	__u32 filter_pids;    /* 1: only tgids in map "targets" */
	__u32 follow_children;/* 1: forked children of targets become targets */
	__u32 filter_ports;   /* 1: only sockets whose local or remote port is in map "ports" */
	__u32 filter_comm;    /* 1: only tasks whose comm equals comm */
	__u8 want_unix;
	__u8 want_inet;
	__u8 want_inet6;
	__u8 _pad;
	char comm[OLLY_COMM_LEN];
};

#ifndef __VMLINUX_H__
static inline const __u8 *olly_data_payload(const struct olly_data_event *e)
{
	return (const __u8 *)e + sizeof(struct olly_data_event);
}
#endif

#endif /* OLLY_EVENTS_H */

/* olly-bpf-smoke: run a command under Olly's eBPF capture and print its events.
 *
 *   olly-bpf-smoke [-o OBJ] [-b BUDGET] [-s LIBSSL]... [-u] [-p PORT]... [-w DIR] [-q] -- CMD ARGS...
 *   olly-bpf-smoke -o OBJ --cycles N      open/close N times, check for fd leaks
 *
 * The child blocks on a pipe until its pid is in the target map, then execs, so
 * only it and its descendants are captured. At the end: per-stream totals, offset
 * continuity check, lost-event counts. -w DIR writes each stream's captured bytes
 * at their offsets to DIR/CID-DIR[-tls].bin (compare with the expected payload).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "olly_bpf.h"

#define MAX_STREAMS 4096

struct stream {
	uint64_t cid;
	int dir, tls;
	uint64_t next_off, bytes, captured, events, gaps, discontinuities;
	int fd; /* -w output */
};

static struct stream streams[MAX_STREAMS];
static int n_streams;
static int quiet;
static const char *wdir;
static uint64_t n_data, n_conn, n_proc;

static struct stream *stream_for(uint64_t cid, int dir, int tls)
{
	for (int i = 0; i < n_streams; i++)
		if (streams[i].cid == cid && streams[i].dir == dir && streams[i].tls == tls)
			return &streams[i];
	if (n_streams >= MAX_STREAMS)
		return NULL;
	struct stream *s = &streams[n_streams++];
	memset(s, 0, sizeof(*s));
	s->cid = cid;
	s->dir = dir;
	s->tls = tls;
	s->fd = -1;
	if (wdir) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%llu-%s%s.bin", wdir, (unsigned long long)cid, dir ? "in" : "out", tls ? "-tls" : "");
		s->fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	}
	return s;
}

static void fmt_addr(char *out, size_t n, int family, const uint8_t *a, int port)
{
	char ip[INET6_ADDRSTRLEN] = "";
	if (family == 2) {
		inet_ntop(AF_INET, a, ip, sizeof(ip));
		snprintf(out, n, "%s:%d", ip, port);
	} else if (family == 10) {
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%d", ip, port);
	} else {
		snprintf(out, n, "unix");
	}
}

static void preview(const uint8_t *p, uint32_t n)
{
	putchar('"');
	for (uint32_t i = 0; i < n && i < 48; i++) {
		uint8_t c = p[i];
		if (c == '\n') fputs("\\n", stdout);
		else if (c == '\r') fputs("\\r", stdout);
		else if (c >= 32 && c < 127 && c != '"' && c != '\\') putchar(c);
		else printf("\\x%02x", c);
	}
	putchar('"');
	if (n > 48)
		fputs("...", stdout);
}

static int on_event(void *ctx, const void *ev, size_t size)
{
	struct olly_bpf *h = ctx;
	const struct olly_hdr *hd = ev;
	uint64_t ts = olly_bpf_ts_to_epoch(h, hd->ts_ns);
	if (hd->type == OLLY_EV_DATA && size >= sizeof(struct olly_data_event)) {
		const struct olly_data_event *e = ev;
		n_data++;
		struct stream *s = stream_for(e->cid, e->dir, e->tls);
		if (s) {
			if (e->off != s->next_off) {
				s->discontinuities++;
				printf("!! offset discontinuity cid=%llu dir=%d tls=%d expected=%llu got=%llu\n",
				       (unsigned long long)e->cid, e->dir, e->tls,
				       (unsigned long long)s->next_off, (unsigned long long)e->off);
			}
			if (e->off + e->len > s->next_off)
				s->next_off = e->off + e->len;
			s->bytes += e->len;
			s->captured += e->cap_len;
			s->events++;
			if (e->cap_len < e->len)
				s->gaps += e->len - e->cap_len;
			if (s->fd >= 0 && e->cap_len)
				pwrite(s->fd, olly_data_payload(e), e->cap_len, e->off);
		}
		if (!quiet) {
			printf("data ts=%llu cid=%llu pid=%u tid=%u fd=%d dir=%s off=%llu len=%u cap=%u tls=%u ",
			       (unsigned long long)ts, (unsigned long long)e->cid, hd->pid, hd->tid, e->fd,
			       e->dir ? "in" : "out", (unsigned long long)e->off, e->len, e->cap_len, e->tls);
			preview(olly_data_payload(e), e->cap_len);
			putchar('\n');
		}
	} else if (hd->type == OLLY_EV_CONN) {
		const struct olly_conn_event *e = ev;
		char l[80], r[80];
		n_conn++;
		fmt_addr(l, sizeof(l), e->family, e->laddr, e->lport);
		fmt_addr(r, sizeof(r), e->family, e->raddr, e->rport);
		static const char *evs[] = {"?", "open", "close", "seen"}, *roles[] = {"unknown", "client", "server"};
		printf("conn ev=%s ts=%llu cid=%llu pid=%u tid=%u fd=%d role=%s family=%u type=%u proto=%u laddr=%s raddr=%s\n",
		       evs[e->ev & 3], (unsigned long long)ts, (unsigned long long)e->cid, hd->pid, hd->tid, e->fd,
		       roles[e->role % 3], e->family, e->sotype, e->proto, l, r);
	} else if (hd->type == OLLY_EV_PROC) {
		const struct olly_proc_event *e = ev;
		static const char *evs[] = {"?", "exec", "exit", "fork"};
		n_proc++;
		printf("proc ev=%s ts=%llu pid=%u ppid=%u comm=%.16s exit_code=%d\n", evs[e->ev & 3],
		       (unsigned long long)ts, hd->pid, e->ppid, e->comm, e->exit_code);
	} else {
		printf("?? unknown event type %u size %zu\n", hd->type, size);
	}
	return 0;
}

static volatile pid_t g_child;

/* SIGINT/SIGTERM: stop the command; the summary is still printed. */
static void on_signal(int sig)
{
	if (g_child > 0)
		kill(g_child, sig);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	struct olly_bpf_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.bpf_object_path = ".build/olly.bpf.o";
	cfg.filter_pids = 1;
	cfg.follow_children = 1;
	const char *ssl[8];
	int n_ssl = 0, cycles = 0;
	static struct option lo[] = {{"cycles", required_argument, 0, 'C'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "+o:b:s:up:w:qvr:", lo, NULL)) != -1) {
		switch (c) {
		case 'o': cfg.bpf_object_path = optarg; break;
		case 'b': cfg.capture_budget = strtoul(optarg, NULL, 0); break;
		case 's': if (n_ssl < 8) ssl[n_ssl++] = optarg; break;
		case 'u': cfg.want_unix = cfg.want_inet = cfg.want_inet6 = 1; break;
		case 'p': if (cfg.n_ports < OLLY_BPF_MAX_PORTS) cfg.ports[cfg.n_ports++] = atoi(optarg); break;
		case 'w': wdir = optarg; break;
		case 'q': quiet = 1; break;
		case 'v': cfg.verbose = 1; break;
		case 'r': cfg.ringbuf_bytes = strtoul(optarg, NULL, 0); break;
		case 'C': cycles = atoi(optarg); break;
		default: fprintf(stderr, "usage: see source\n"); return 64;
		}
	}
	char err[256];
	if (cycles) {
		int before = count_fds();
		for (int i = 0; i < cycles; i++) {
			struct olly_bpf *h;
			int rc = olly_bpf_open(&cfg, &h, err, sizeof(err));
			if (rc) {
				fprintf(stderr, "olly-bpf-smoke: open #%d: %s (%d)\n", i, err, rc);
				return rc == OLLY_BPF_EPERM || rc == OLLY_BPF_ENOBTF ? 69 : 1;
			}
			for (int j = 0; j < n_ssl; j++)
				olly_bpf_attach_ssl(h, ssl[j]);
			olly_bpf_close(h);
		}
		int after = count_fds();
		printf("cycles=%d fds_before=%d fds_after=%d %s\n", cycles, before, after, before == after ? "OK" : "LEAK");
		return before == after ? 0 : 1;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: olly-bpf-smoke [opts] -- CMD ARGS...\n");
		return 64;
	}
	struct olly_bpf *h;
	int rc = olly_bpf_open(&cfg, &h, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "olly-bpf-smoke: %s\n", err);
		return rc == OLLY_BPF_EPERM || rc == OLLY_BPF_ENOBTF || rc == OLLY_BPF_EUNSUPPORTED ? 69 : 1;
	}
	for (int j = 0; j < n_ssl; j++) {
		int r1 = olly_bpf_attach_ssl(h, ssl[j]);
		int r2 = olly_bpf_attach_ssl(h, ssl[j]); /* second time: must be a no-op */
		fprintf(stderr, "olly-bpf-smoke: attach %s: %d, again: %d\n", ssl[j], r1, r2);
	}
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0)
		return 1;
	pid_t child = fork();
	if (child == 0) {
		char b;
		close(gate[1]);
		if (read(gate[0], &b, 1) != 1)
			_exit(127);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	close(gate[0]);
	g_child = child;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	olly_bpf_add_pid(h, child);
	if (write(gate[1], "g", 1) != 1)
		return 1;
	close(gate[1]);
	int status = 0;
	for (;;) {
		olly_bpf_poll(h, 10, on_event, h);
		fflush(stdout);
		pid_t w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
	}
	/* drain what the exit left behind */
	for (int i = 0; i < 20; i++)
		olly_bpf_poll(h, 5, on_event, h);
	int ncpu = olly_bpf_ncpus();
	uint64_t per[256] = {0};
	int64_t lost = olly_bpf_lost(h, per, ncpu < 256 ? ncpu : 256);
	printf("== summary: data=%llu conn=%llu proc=%llu lost=%lld (", (unsigned long long)n_data,
	       (unsigned long long)n_conn, (unsigned long long)n_proc, (long long)lost);
	for (int i = 0; i < ncpu && i < 256; i++)
		printf("%scpu%d=%llu", i ? " " : "", i, (unsigned long long)per[i]);
	printf(") read_fault=%lld tls_nosock=%lld iov_trunc=%lld\n", (long long)olly_bpf_stat(h, OLLY_STAT_READ_FAULT),
	       (long long)olly_bpf_stat(h, OLLY_STAT_TLS_NOSOCK), (long long)olly_bpf_stat(h, OLLY_STAT_IOV_TRUNC));
	for (int i = 0; i < n_streams; i++) {
		struct stream *s = &streams[i];
		printf("== stream cid=%llu dir=%s tls=%d events=%llu bytes=%llu captured=%llu gap=%llu discontinuities=%llu\n",
		       (unsigned long long)s->cid, s->dir ? "in" : "out", s->tls, (unsigned long long)s->events,
		       (unsigned long long)s->bytes, (unsigned long long)s->captured, (unsigned long long)s->gaps,
		       (unsigned long long)s->discontinuities);
		if (s->fd >= 0)
			close(s->fd);
	}
	olly_bpf_close(h);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

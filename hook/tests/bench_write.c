/* ns per write() for the hook benchmark (bench/hook.sh). For each target (/dev/null, a
 * TCP loopback socket drained by a child with raw read syscalls, so only the writes are
 * hooked) and each size: ROUNDS rounds of N writes; prints the median ns per write,
 * wall-clock and this thread's CPU time (user + system; what the calls cost the thread,
 * without time spent waiting for a core that the reader or the drainer holds):
 *   TARGET SIZE WALL_NS CPU_NS
 * With STOP_READER=1 the parent process (olly-capture) is stopped with SIGSTOP during
 * the measurement and continued afterwards: the ring fills and the rest is dropped.
 * With PAUSE_MS=M the program sleeps M ms before each round, so that a reader that
 * drains more slowly than this loop writes empties the ring between rounds (the ring
 * must then hold one round). */
#include "common.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

static long long clock_ns(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void measure(const char *name, int fd, size_t size, long n, int rounds)
{
	static char buf[65536];
	memset(buf, 'b', sizeof buf);
	double r[32], c[32];
	if (rounds > 32)
		rounds = 32;
	const char *pause = getenv("PAUSE_MS");
	long pause_ms = pause ? atol(pause) : 0;
	for (int k = 0; k < rounds; k++) {
		if (pause_ms > 0) {
			struct timespec p = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
			nanosleep(&p, NULL);
		}
		long long t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		for (long i = 0; i < n; i++)
			if (write(fd, buf, size) != (ssize_t)size)
				exit(3);
		r[k] = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / (double)n;
		c[k] = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)n;
	}
	qsort(r, (size_t)rounds, sizeof *r, cmp);
	qsort(c, (size_t)rounds, sizeof *c, cmp);
	printf("%s %zu %.1f %.1f\n", name, size, r[rounds / 2], c[rounds / 2]);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	const char *sizes = argc > 3 ? argv[3] : "64,256,4096";
	int stop = getenv("STOP_READER") && getenv("STOP_READER")[0] == '1';
	int port;
	int ls = listen_any(&port);
	int c = dial(port);
	int one = 1 << 22;
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
	int srv = accept(ls, NULL, NULL);
	pid_t drainer = fork();
	if (drainer == 0) {
		static char b[1 << 16];
		syscall(SYS_close, c);
		while (syscall(SYS_read, srv, b, sizeof b) > 0) {
		}
		_exit(0);
	}
	close(srv); /* hooked: the library forgets the fd before /dev/null reuses it */
	int null = open("/dev/null", O_WRONLY);
	if (stop)
		kill(getppid(), SIGSTOP);
	char list[256];
	snprintf(list, sizeof list, "%s", sizes);
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		size_t size = (size_t)atol(tok);
		measure("devnull", null, size, n, rounds);
		measure("socket", c, size, n, rounds);
		fflush(stdout);
	}
	if (stop)
		kill(getppid(), SIGCONT);
	close(c);
	int st;
	waitpid(drainer, &st, 0);
	return 0;
}

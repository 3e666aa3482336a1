/* ns per write() for the hook benchmark (bench/hook.sh).
 *
 * For each target (/dev/null, and a TCP loopback socket drained by a child with raw
 * syscalls, so only the writes are hooked) and each size: ROUNDS rounds of N writes,
 * timed by wall clock and by this thread's CPU time (user + system: what the calls cost
 * the thread, without time spent waiting for a core that the reader or the drainer holds).
 *
 * Under libolly.so every round is a pair: N writes through libc's own write() (the
 * library bypassed: what the call costs without it) and N writes through the hooked
 * write(), in blocks of 1000 taken in turn (ABBA). Pairing the two in one process, in
 * the same milliseconds, under the same load, keeps the machine's drift (other builds,
 * the scheduler) out of the difference. It prints the medians and the median of the paired
 * differences:
 *   TARGET SIZE WALL_WITHOUT WALL_WITH WALL_DELTA CPU_WITHOUT CPU_WITH CPU_DELTA
 * Without the library it prints the medians of plain write() (WITH = WITHOUT, DELTA 0).
 *
 * The drainer reads what is there every 200 µs instead of sleeping in read(): a drainer
 * woken by the writes makes each write pay for waking it or not depending on how fast
 * the writes come, so any delay between writes (the hook's, or a spin loop's: measured)
 * moved the kernel's share of a write by up to ±200 ns between runs.
 *
 * PAUSE_MS=M: sleep M ms before each round, so that a reader that drains more slowly
 * than this loop writes empties the ring between rounds (the ring must hold a round).
 * STOP_READER=1: the parent process (olly-capture) is stopped with SIGSTOP for the whole
 * measurement and continued afterwards: the ring fills and the rest is dropped.
 * STOP_READER=each: the reader is stopped during each round and continued after it, so
 * it drains in the pause: the hooked path without a reader running beside it.
 * PAIRED=0: no libc rounds (for counting drops: the reader gets no time in between).
 * BENCH_AA=1: both sides of each pair through libc's write(): the noise floor of the
 * delta. */
#include "common.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);

#define BLOCK 1000

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

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void pause_ms(long ms)
{
	if (ms > 0) {
		struct timespec p = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&p, NULL);
	}
}

/* n writes; adds their wall-clock and CPU time (ns) to *wall and *cpu. */
static void run(write_fn w, int fd, const char *buf, size_t size, long n, double *wall, double *cpu)
{
	long long t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (long i = 0; i < n; i++)
		if (w(fd, buf, size) != (ssize_t)size)
			exit(3);
	*wall += (double)(clock_ns(CLOCK_MONOTONIC) - t0);
	*cpu += (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0);
}

static write_fn aa_write; /* BENCH_AA=1: libc's write() on the "hooked" side too */

static ssize_t hooked_write(int fd, const void *buf, size_t n)
{
	if (aa_write)
		return aa_write(fd, buf, n);
	return write(fd, buf, n);
}

static void measure(const char *name, int fd, size_t size, long n, int rounds, write_fn libc_write, int paired,
		    long pause, int stop_each)
{
	static char buf[65536];
	memset(buf, 'b', sizeof buf);
	double wa[64], wb[64], wd[64], ca[64], cb[64], cd[64];
	if (rounds > 64)
		rounds = 64;
	for (int k = 0; k < rounds; k++) {
		pause_ms(pause);
		wa[k] = wb[k] = ca[k] = cb[k] = 0;
		if (!paired) {
			run(hooked_write, fd, buf, size, n, &wa[k], &ca[k]);
			wa[k] /= (double)n, ca[k] /= (double)n;
			wb[k] = wa[k], cb[k] = ca[k], wd[k] = cd[k] = 0;
			continue;
		}
		if (stop_each)
			kill(getppid(), SIGSTOP);
		/* blocks of BLOCK writes, libc and hooked in turn (ABBA), so that both see the
		 * same moments of the round */
		for (long done = 0, j = 0; done < n; done += BLOCK, j++) {
			long b = n - done < BLOCK ? n - done : BLOCK;
			if (j % 2 == 0) {
				run(libc_write, fd, buf, size, b, &wa[k], &ca[k]);
				run(hooked_write, fd, buf, size, b, &wb[k], &cb[k]);
			} else {
				run(hooked_write, fd, buf, size, b, &wb[k], &cb[k]);
				run(libc_write, fd, buf, size, b, &wa[k], &ca[k]);
			}
		}
		if (stop_each)
			kill(getppid(), SIGCONT);
		wa[k] /= (double)n, wb[k] /= (double)n, ca[k] /= (double)n, cb[k] /= (double)n;
		wd[k] = wb[k] - wa[k];
		cd[k] = cb[k] - ca[k];
	}
	printf("%s %zu %.1f %.1f %+.1f %.1f %.1f %+.1f\n", name, size, median(wa, rounds), median(wb, rounds),
	       median(wd, rounds), median(ca, rounds), median(cb, rounds), median(cd, rounds));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	const char *sizes = argc > 3 ? argv[3] : "64,256,4096";
	const char *stop_env = getenv("STOP_READER");
	int stop_all = stop_env && strcmp(stop_env, "1") == 0;
	int stop_each = stop_env && strcmp(stop_env, "each") == 0;
	const char *pause_env = getenv("PAUSE_MS");
	long pause = pause_env ? atol(pause_env) : 0;
	/* libc's write(), not the interposed one: the library's hooks are found first by
	 * name, libc's own symbol through its handle */
	write_fn libc_write = NULL;
	void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
	if (libc)
		libc_write = (write_fn)dlsym(libc, "write");
	const char *paired_env = getenv("PAIRED");
	int paired = libc_write && dlsym(RTLD_DEFAULT, "olly_attach") != NULL && !(paired_env && paired_env[0] == '0');
	const char *aa_env = getenv("BENCH_AA");
	if (aa_env && aa_env[0] == '1')
		aa_write = libc_write;
	int port;
	int ls = listen_any(&port);
	int c = dial(port);
	int one = 1 << 22;
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
	int srv = accept(ls, NULL, NULL);
	int rcv = 1 << 23;
	setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	pid_t drainer = fork();
	if (drainer == 0) {
		static char b[1 << 16];
		syscall(SYS_close, c);
		for (;;) {
			long r = syscall(SYS_recvfrom, srv, b, sizeof b, MSG_DONTWAIT, NULL, NULL);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break;
			if (r < 0) {
				struct timespec p = {0, 200000};
				nanosleep(&p, NULL);
			}
		}
		_exit(0);
	}
	close(srv); /* hooked: the library forgets the fd before /dev/null reuses it */
	int null = open("/dev/null", O_WRONLY);
	if (stop_all)
		kill(getppid(), SIGSTOP);
	char list[256];
	snprintf(list, sizeof list, "%s", sizes);
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		size_t size = (size_t)atol(tok);
		measure("devnull", null, size, n, rounds, libc_write, paired, pause, stop_each);
		measure("socket", c, size, n, rounds, libc_write, paired, pause, stop_each);
	}
	if (stop_all)
		kill(getppid(), SIGCONT);
	close(c);
	int st;
	waitpid(drainer, &st, 0);
	return 0;
}

/* Benchmark loop for bench/capture.sh: N write()+read() pairs of SIZE bytes over one
 * loopback TCP connection inside this process. Waits for a line on stdin before
 * starting (so a capture can attach first), prints "SIZE wall_ns cpu_ns watched_ns" per
 * size: wall-clock and CPU time (user + system, the eBPF programs' run included) of
 * this process per pair -- CPU time is what other load on the machine disturbs least --
 * and the CPU time in ns (all threads) that the process whose pid follows "go" on
 * that line (the capture) used during this size, 0 without one.
 *   loop N [--wait [SIZE]]   all four sizes (64, 256, 4096, 16384), or only SIZE */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* CPU time of pid in ns, all its threads (the first field of each
 * /proc/PID/task/TID/schedstat: exact, where utime + stime count whole clock ticks);
 * 0 if unreadable. */
static long long cpu_of(int pid)
{
	char path[96];
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	long long sum = 0;
	struct dirent *t;
	while ((t = readdir(d))) {
		if (t->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/schedstat", pid, t->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		unsigned long long ns = 0;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += (long long)ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static long long cpu_ns(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000000LL + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1000LL;
}

static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int wait = argc > 2 && strcmp(argv[2], "--wait") == 0;
	int sizes[] = {64, 256, 4096, 16384}, nsizes = 4;
	if (wait && argc > 3) {
		sizes[0] = atoi(argv[3]);
		nsizes = 1;
		if (sizes[0] <= 0 || sizes[0] > 16384) { fprintf(stderr, "loop: size 1..16384\n"); return 2; }
	}
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(ls, (void *)&a, sizeof(a)) || listen(ls, 1) || getsockname(ls, (void *)&a, &al)) { perror("listen"); return 1; }
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (void *)&a, sizeof(a))) { perror("connect"); return 1; }
	int s = accept(ls, NULL, NULL);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	static char buf[16384], in[16384];
	memset(buf, 'x', sizeof(buf));
	int watch = 0;
	if (wait) {
		char line[64];
		if (!fgets(line, sizeof(line), stdin)) return 1;
		sscanf(line, "go %d", &watch);
	}
	for (int k = 0; k < nsizes; k++) {
		int sz = sizes[k];
		long long t0 = now(), u0 = cpu_ns(), c0 = cpu_of(watch);
		for (long i = 0; i < n; i++) {
			if (write(c, buf, sz) != sz) { perror("write"); return 1; }
			for (int got = 0; got < sz;) {
				ssize_t r = read(s, in + got, sz - got);
				if (r <= 0) { perror("read"); return 1; }
				got += r;
			}
		}
		long long t1 = now(), u1 = cpu_ns();
		printf("%d %.1f %.1f %lld\n", sz, (double)(t1 - t0) / n, (double)(u1 - u0) / n, cpu_of(watch) - c0);
		fflush(stdout);
	}
	return 0;
}

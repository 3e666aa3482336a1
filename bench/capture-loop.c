/* Benchmark loop for bench/capture.sh: N write()+read() pairs of SIZE bytes over one
 * loopback TCP connection inside this process. Waits for a line on stdin before
 * starting (so a capture can attach first), prints "SIZE ns_per_pair". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int wait = argc > 2 && strcmp(argv[2], "--wait") == 0;
	int sizes[] = {64, 256, 4096, 16384};
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
	if (wait) { char line[16]; if (!fgets(line, sizeof(line), stdin)) return 1; }
	for (int k = 0; k < 4; k++) {
		int sz = sizes[k];
		long long t0 = now();
		for (long i = 0; i < n; i++) {
			if (write(c, buf, sz) != sz) { perror("write"); return 1; }
			for (int got = 0; got < sz;) {
				ssize_t r = read(s, in + got, sz - got);
				if (r <= 0) { perror("read"); return 1; }
				got += r;
			}
		}
		printf("%d %.1f\n", sz, (double)(now() - t0) / n);
		fflush(stdout);
	}
	return 0;
}

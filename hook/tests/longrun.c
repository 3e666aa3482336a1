/* Keeps talking to itself over loopback for argv[1] milliseconds, then writes "done N"
 * to the file argv[2]: whether olly-capture is there or not. */
#include "common.h"
#include <fcntl.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 64;
	long until = now_ms() + atol(argv[1]);
	int port;
	int s = listen_any(&port);
	int c = dial(port);
	int srv = accept(s, NULL, NULL);
	char buf[256];
	memset(buf, 'x', sizeof buf);
	long n = 0;
	while (now_ms() < until) {
		if (write_full(c, buf, sizeof buf) < 0 || read_full(srv, buf, sizeof buf) < 0)
			return 3;
		n++;
	}
	int f = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dprintf(f, "done %ld\n", n);
	close(f);
	return 0;
}

/* Rapid close and reopen of fd numbers on 4 threads: each connection carries one message
 * naming itself ("conn T-I;"), and between connections the same fd numbers are reused
 * for /dev/null and pipes that are written too. A hook that attributes by stale fd state
 * would put bytes of one connection (or of a file) on another. */
#include "common.h"
#include <fcntl.h>

#define THREADS 4
#define PER 300
static int port;

static void *drain(void *arg)
{
	int c = (int)(long)arg;
	char buf[256];
	while (read(c, buf, sizeof buf) > 0) {
	}
	close(c);
	return NULL;
}

static void *acceptor(void *arg)
{
	int s = (int)(long)arg;
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		pthread_t t;
		pthread_create(&t, NULL, drain, (void *)(long)c);
		pthread_detach(t);
	}
	return NULL;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	char msg[64];
	for (int i = 0; i < PER; i++) {
		int c = dial(port);
		int n = snprintf(msg, sizeof msg, "conn %ld-%d;", id, i);
		write_full(c, msg, (size_t)n);
		close(c);
		int f = open("/dev/null", O_WRONLY);
		write(f, "FILE-BYTES", 10);
		close(f);
		int p[2];
		if (pipe(p) == 0) {
			write(p[1], "PIPE", 4);
			close(p[0]);
			close(p[1]);
		}
		/* dup2 over a socket: the replaced fd's connection is closed */
		int d = dial(port);
		int e = dial(port);
		n = snprintf(msg, sizeof msg, "dup %ld-%d;", id, i);
		dup2(d, e);
		write_full(e, msg, (size_t)n);
		close(e);
		close(d);
	}
	return NULL;
}

int main(void)
{
	int s = listen_any(&port);
	pthread_t a, t[THREADS];
	pthread_create(&a, NULL, acceptor, (void *)(long)s);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	usleep(100000);
	printf("ok\n");
	return 0;
}

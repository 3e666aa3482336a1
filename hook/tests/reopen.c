/* Rapid close and reopen of fd numbers on 4 threads: each connection carries one message
 * naming itself ("conn T-I;"), and between connections the same fd numbers are reused
 * for /dev/null and pipes that are written too. A hook that attributes by stale fd state
 * would put bytes of one connection (or of a file) on another. */
#include "common.h"
#include <fcntl.h>

#define THREADS 4
#define PER 300
static int port;
/* connections whose receiving end has read to EOF: main waits for all of them, so the
 * process never exits while a receiving end still has unread bytes */

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
	pthread_t t[THREADS];
	start_acceptor(s, drain_connection, 1);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* three connections per iteration (conn, d, e); bounded wait */
	int want = 3 * THREADS * PER;
	int got = wait_finished(want, 60000);
	if (got < want) {
		fprintf(stderr, "only %d of %d connections drained\n", got, want);
		return 1;
	}
	printf("ok\n");
	return 0;
}

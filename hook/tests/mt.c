/* 10,000 requests on 32 threads against an echo server on loopback (one thread per
 * connection). Each request is REQ bytes tagged with its thread and number; the echo
 * must come back intact. Prints "ok REQUESTS BYTES". */
#include "common.h"

#define THREADS 32
#define TOTAL 10000
#define REQ 100

static int port;
/* serving threads that have read to EOF and closed: main waits for all of them. A hook
 * records a call after its syscall returns, so without that wait a client could read
 * its last echo and the process exit while the serving thread was still between that
 * write() and its entry: the echo was on the wire but never reported, and not counted
 * (seen under load: one 100-byte server write missing at the end of its stream). */

static void *serve(void *arg)
{
	int c = (int)(long)arg;
	char buf[REQ];
	while (read_full(c, buf, REQ) == 0)
		if (write_full(c, buf, REQ) < 0)
			break;
	close(c);
	__atomic_add_fetch(&finished_connections, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *client(void *arg)
{
	long id = (long)arg;
	int n = TOTAL / THREADS + (id < TOTAL % THREADS ? 1 : 0);
	int c = dial(port);
	char req[REQ], resp[REQ];
	for (int i = 0; i < n; i++) {
		memset(req, 'a' + (int)(id % 26), REQ);
		snprintf(req, REQ, "t%ld r%d ", id, i);
		if (write_full(c, req, REQ) < 0 || read_full(c, resp, REQ) < 0 || memcmp(req, resp, REQ) != 0) {
			fprintf(stderr, "bad echo\n");
			exit(3);
		}
	}
	close(c);
	return (void *)(long)n;
}

int main(void)
{
	int s = listen_any(&port);
	pthread_t t[THREADS];
	start_acceptor(s, serve, 0);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, client, (void *)i);
	long total = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (long)r;
	}
	/* bounded: a serving thread stuck elsewhere must not hang the test */
	int served = wait_finished(THREADS, 30000);
	if (served < THREADS)
		fprintf(stderr, "only %d of %d serving threads finished\n", served, THREADS);
	printf("ok %ld %ld\n", total, total * REQ);
	return 0;
}

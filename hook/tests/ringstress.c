/* Ring stress: WRITERS threads each send ROUNDS writes of 1..MAXW bytes (entries of one
 * to seven 128-byte slots, so a small ring wraps inside entries and fills) on their own
 * loopback connection, drained by a thread per connection, while SPINNERS threads
 * compete for the cores (busy loops that yield now and then, so writers are preempted
 * between reserving their slots and committing them). Every byte at stream offset o is
 * (o * 7 + o / 251) & 0xff, so a capture can check each entry's bytes against its offset.
 * The process exits only after every draining end has read to EOF and closed (a hook
 * records a call after its syscall: an exit right after the peer got the bytes could
 * cut a call off before its entry). Prints "ok WRITES BYTES" (bytes sent, all
 * connections). */
#include "common.h"
#include <sched.h>
#include <stdint.h>

#define WRITERS 16
#define ROUNDS 3000
#define MAXW 800
#define SPINNERS 3

static int port;
static volatile int stop_spin;

static inline unsigned char pat(uint64_t o) { return (unsigned char)((o * 7 + o / 251) & 0xff); }

static void *spinner(void *arg)
{
	(void)arg;
	unsigned long x = 1;
	while (!stop_spin) {
		for (int i = 0; i < 20000; i++)
			x = x * 6364136223846793005UL + 1;
		sched_yield();
	}
	return (void *)x;
}

static void *writer(void *arg)
{
	long id = (long)arg;
	int c = dial(port);
	unsigned char buf[MAXW];
	uint64_t off = 0, sent = 0;
	unsigned r = (unsigned)id * 2654435761u + 1;
	for (int i = 0; i < ROUNDS; i++) {
		r = r * 1103515245u + 12345u;
		size_t n = 1 + (r >> 8) % MAXW;
		for (size_t j = 0; j < n; j++)
			buf[j] = pat(off + j);
		if (write_full(c, buf, n) < 0) {
			fprintf(stderr, "write failed\n");
			exit(3);
		}
		off += n;
		sent += n;
		if ((r & 15) == 0)
			sched_yield();
	}
	close(c);
	return (void *)(uintptr_t)sent;
}

int main(void)
{
	int s = listen_any(&port);
	pthread_t sp[SPINNERS], t[WRITERS];
	start_acceptor(s, drain_connection, 0);
	for (int i = 0; i < SPINNERS; i++)
		pthread_create(&sp[i], NULL, spinner, NULL);
	for (long i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	uint64_t total = 0;
	for (int i = 0; i < WRITERS; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (uintptr_t)r;
	}
	stop_spin = 1;
	for (int i = 0; i < SPINNERS; i++)
		pthread_join(sp[i], NULL);
	int drained = wait_finished(WRITERS, 30000);
	if (drained < WRITERS) {
		fprintf(stderr, "only %d of %d connections drained\n", drained, WRITERS);
		return 4;
	}
	printf("ok %d %llu\n", WRITERS * ROUNDS, (unsigned long long)total);
	return 0;
}

/* Helpers for the hook test programs: a loopback listener and a connected client. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int listen_any(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(s, (void *)&a, sizeof a) < 0 || listen(s, 512) < 0) {
		perror("listen");
		exit(2);
	}
	socklen_t l = sizeof a;
	getsockname(s, (void *)&a, &l);
	*port = ntohs(a.sin_port);
	return s;
}

static inline int dial(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(s, (void *)&a, sizeof a) < 0) {
		perror("connect");
		exit(2);
	}
	return s;
}

static inline int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static inline int write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = write(fd, (const char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* Connections whose serving thread has finished (read to EOF and closed). */
static int finished_connections;

/* Reads a connection to EOF and closes it (the receiving end of the writers). */
static inline void *drain_connection(void *arg)
{
	int c = (int)(long)arg;
	char buf[4096];
	while (read(c, buf, sizeof buf) > 0) {
	}
	close(c);
	__atomic_add_fetch(&finished_connections, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Accepts on a listening socket forever, one detached thread running fn per connection,
 * with accept4() or (to exercise that hook) plain accept(). */
struct acceptor_args {
	int s;
	int plain;
	void *(*fn)(void *);
};

static inline void *accept_loop(void *arg)
{
	struct acceptor_args *a = arg;
	for (;;) {
		int c = a->plain ? accept(a->s, NULL, NULL) : accept4(a->s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		pthread_t t;
		pthread_create(&t, NULL, a->fn, (void *)(long)c);
		pthread_detach(t);
	}
	return NULL;
}

static inline void start_acceptor(int s, void *(*fn)(void *), int plain)
{
	static struct acceptor_args a;
	a.s = s;
	a.plain = plain;
	a.fn = fn;
	pthread_t t;
	pthread_create(&t, NULL, accept_loop, &a);
	pthread_detach(t);
}

/* Waits (bounded: up to ms milliseconds) until want connections have finished; the count. */
static inline int wait_finished(int want, int ms)
{
	for (int i = 0; i < ms && __atomic_load_n(&finished_connections, __ATOMIC_ACQUIRE) < want; i++)
		usleep(1000);
	return __atomic_load_n(&finished_connections, __ATOMIC_ACQUIRE);
}

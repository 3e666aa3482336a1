/* A signal handler that writes to a socket (SIGALRM every 200 us) while the main thread
 * writes too; a reader thread counts what arrives. Prints "ok SENT RECEIVED". */
#include "common.h"
#include <sys/time.h>

static int cfd;
static volatile long sig_bytes;

static void on_alarm(int sig)
{
	(void)sig;
	int e = errno;
	if (write(cfd, "SIG!", 4) == 4)
		sig_bytes += 4;
	errno = e;
}

static long received;
static void *reader(void *arg)
{
	int s = (int)(long)arg;
	char buf[4096];
	ssize_t r;
	while ((r = read(s, buf, sizeof buf)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		received += r;
	}
	return NULL;
}

int main(void)
{
	int port;
	int s = listen_any(&port);
	cfd = dial(port);
	int srv = accept(s, NULL, NULL);
	pthread_t t;
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_create(&t, NULL, reader, (void *)(long)srv);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 200}, {0, 200}};
	setitimer(ITIMER_REAL, &it, NULL);
	char msg[100];
	memset(msg, 'm', sizeof msg);
	long sent = 0;
	for (int i = 0; i < 20000; i++) {
		if (write_full(cfd, msg, sizeof msg) == 0)
			sent += sizeof msg;
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	close(cfd);
	pthread_join(t, NULL);
	printf("ok %ld %ld %ld\n", sent + sig_bytes, received, sig_bytes);
	return 0;
}

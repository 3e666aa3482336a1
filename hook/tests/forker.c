/* A connection shared across fork: the child writes first, then the parent. Both go to
 * one server connection, so one cid with contiguous offsets. */
#include "common.h"

int main(void)
{
	int port;
	int s = listen_any(&port);
	int c = dial(port);
	int srv = accept(s, NULL, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		write_full(c, "child-says-hello;", 17);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	write_full(c, "parent-says-bye;", 16);
	close(c);
	char buf[64];
	int n = 0, r;
	while ((r = (int)read(srv, buf + n, sizeof buf - (size_t)n)) > 0)
		n += r;
	printf("ok %d %.*s\n", n, n, buf);
	return 0;
}

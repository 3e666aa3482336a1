#ifndef OLLY_SUPPORT_H
#define OLLY_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Installs SIGINT/SIGTERM handlers (without SA_RESTART, so a blocking read returns EINTR)
/// that only record the signal number, and ignores SIGPIPE so a closed stdout is seen as EPIPE.
void olly_install_signal_handlers(void);

/// The last SIGINT/SIGTERM received, or 0. Async-signal-safe to set, cheap to poll.
int olly_pending_signal(void);

/// Best-effort enlargement of a pipe's buffer (F_SETPIPE_SZ). Returns the new size or -1.
int olly_set_pipe_size(int fd, int bytes);

/// 1 when fd is a FIFO (pipe), else 0.
int olly_is_fifo(int fd);

/// 1 when fd refers to a terminal.
int olly_isatty(int fd);

#endif

#ifndef OLLY_SUPPORT_H
#define OLLY_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Installs SIGINT/SIGTERM handlers (without SA_RESTART, so a blocking read returns EINTR)
/// that only record the signal number, and ignores SIGPIPE so a closed stdout is seen as EPIPE.
void olly_install_signal_handlers(void);

/// Keeps freed buffers of up to 16 MiB in the heap (and up to 64 MiB of free heap before it
/// is returned), so large message buffers that come and go are not fresh zeroed pages each
/// time. A no-op where the C library has no mallopt.
void olly_tune_malloc(void);

/// The last SIGINT/SIGTERM received, or 0. Async-signal-safe to set, cheap to poll.
int olly_pending_signal(void);

/// Best-effort enlargement of a pipe's buffer (F_SETPIPE_SZ). Returns the new size or -1.
int olly_set_pipe_size(int fd, int bytes);

/// 1 when fd is a FIFO (pipe), else 0.
int olly_is_fifo(int fd);

/// 1 when fd refers to a terminal.
int olly_isatty(int fd);

#endif

#ifndef OLLY_B64_DECLS
#define OLLY_B64_DECLS
/// Standard padded base64 (RFC 4648 §4). Writes 4*ceil(n/3) bytes to dst.
void olly_b64_encode(const uint8_t *src, size_t n, uint8_t *dst);

/// Decodes padded base64 of length n (a multiple of 4) into dst, which must hold
/// n/4*3 + 4 bytes (slack for vector stores). Returns the decoded length, or
/// -(1 + offset of the first invalid byte) on error.
long olly_b64_decode(const uint8_t *src, size_t n, uint8_t *dst);
#endif

/// Parses the run of ASCII digits at p (at most n bytes), eight at a time (SWAR).
/// Returns how many digits there were (0 if none); *out gets their value when there
/// were at most 19 (otherwise it is unspecified: callers reject more than 19 digits).
size_t olly_parse_digits(const uint8_t *p, size_t n, uint64_t *out);

/* Reader side of the hook channel (hook/olly_hook.h): creating the channel, taking
 * entries out of the ring, sleeping until writers have more. One reader per channel. */
#ifndef OLLY_HOOK_READER_H
#define OLLY_HOOK_READER_H

#include <stdint.h>
#include <sys/types.h>
#include "olly_hook.h"

struct olly_reader;

/* Creates a channel with a ring of about ring_bytes: in a memfd when path is NULL (the fd
 * is returned in *fd, without FD_CLOEXEC, at a number >= 100), else in a new file at path
 * (mode 0600, O_EXCL), owned by uid/gid when they are not -1. NULL on failure (errno set). */
struct olly_reader *olly_reader_create(uint64_t ring_bytes, const char *path, int *fd, uid_t uid, gid_t gid);
void olly_reader_free(struct olly_reader *r);

/* Next entry: 1 with *entry/*size set (valid until the next call), 0 when nothing is
 * ready, -1 after skipping a malformed or foreign entry, -2 after abandoning a slot whose
 * writer never committed it. now_ns: CLOCK_MONOTONIC. */
int olly_reader_next(struct olly_reader *r, const uint8_t **entry, uint32_t *size, uint64_t now_ns);

/* Sleeps until a writer commits or timeout_ms passes (writers wake the reader only when
 * it sleeps). */
void olly_reader_sleep(struct olly_reader *r, int timeout_ms);

uint64_t olly_reader_stat(const struct olly_reader *r, int i);
uint64_t olly_reader_bad(const struct olly_reader *r);
uint64_t olly_reader_abandoned(const struct olly_reader *r);
/* Marks the reader gone (writers keep dropping and counting). */
void olly_reader_close(struct olly_reader *r);

/* Test helper: writes raw bytes as one committed entry of k slots (for malformed-entry
 * tests); returns 0, or -1 when full. */
int olly_reader_inject(struct olly_reader *r, const void *bytes, uint32_t n, uint32_t k);
/* Test helper: reserves k slots and never commits them (a writer that died). */
int olly_reader_reserve_only(struct olly_reader *r, uint32_t k);



/* Starts file (searched on PATH) with argv/envp: SIGINT, SIGTERM, SIGPIPE and SIGCHLD
 * at their defaults, no blocked signals (a parent may leave them otherwise), fds 0-2
 * replaced by in_fd/out_fd/err_fd when not -1, fds from close_from up closed when > 2.
 * Returns 0 and *pid, or an errno value. */
int olly_hook_spawn(const char *file, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
		    int close_from, pid_t *pid);
/* 1 when no slot is reserved beyond what the reader has consumed. */
int olly_reader_idle(const struct olly_reader *r);
#endif

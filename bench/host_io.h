/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The host side's plumbing, shared by the baseline and the daemon runs so
 * that both use exactly the same system calls: AF_UNIX listen/connect/
 * accept, the hybrid-vsock handshake, whole reads and writes, clocks and
 * bounded thread joins. Blocking sockets get SO_RCVTIMEO/SO_SNDTIMEO so a
 * stuck peer ends a run with an error instead of hanging it, at no cost per
 * call.
 */
#ifndef VDV_BENCH_HOST_IO_H
#define VDV_BENCH_HOST_IO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int64_t now_ns(void);

/* SO_RCVTIMEO and SO_SNDTIMEO on a blocking socket. */
int hio_set_timeouts(int fd, int timeout_ms);
int hio_set_nonblock(int fd, bool on);

/* A listening AF_UNIX stream socket at path (an old one is removed). */
int hio_listen(const char *path, int backlog);
int hio_connect(const char *path);
/* Waits up to timeout_ms for a connection. */
int hio_accept(int lfd, int timeout_ms);

/* Until n bytes, EOF or error: returns the count, or -errno. */
ssize_t hio_read_full(int fd, void *buf, size_t n);
int hio_write_full(int fd, const void *buf, size_t n);
/* Reads one '\n'-terminated line in as few reads as possible, so only for
 * exchanges where the peer sends nothing after the line until answered.
 * Returns its length, 0 at EOF, or -errno. */
int hio_read_line(int fd, char *line, size_t cap);

/* Hybrid vsock, host -> guest: connect to uds_path, send "CONNECT port\n".
 * hio_hybrid_ok() then reads the "OK <port>" line. */
int hio_hybrid_open(const char *uds_path, uint32_t port, int timeout_ms);
int hio_hybrid_ok(int fd);
/* The Unix socket a guest connection to host port P reaches: uds_path_P. */
int hio_guest_listen_path(char *out, size_t cap, const char *uds_path, uint32_t port);

int hio_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);
/* Joins within timeout_ms: 0, or -ETIMEDOUT (the thread is left running
 * and the caller must treat the run as failed and exit). */
int hio_thread_join(pthread_t th, int timeout_ms);

#endif

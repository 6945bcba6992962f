/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A small epoll event loop, one per thread. Handlers are registered per fd
 * with an opaque pointer; a before-sleep hook runs once per iteration before
 * blocking, which is where batched work (used-ring flushes, notifications)
 * gets done.
 */
#ifndef VDV_UTIL_EVENT_LOOP_H
#define VDV_UTIL_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;

/* Called with the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLHUP, ...). */
typedef void (*ev_handler)(struct ev_loop *loop, int fd, uint32_t events, void *opaque);
/* Returns true when it left work for the next turn: the loop then polls
 * without blocking. */
typedef bool (*ev_hook)(struct ev_loop *loop, void *opaque);

struct ev_loop *ev_loop_new(void);
void ev_loop_free(struct ev_loop *loop);

/* Registration: returns 0 or -errno. An fd is registered at most once. */
int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_handler h, void *opaque);
int ev_mod(struct ev_loop *loop, int fd, uint32_t events);
/* Safe to call from within a handler, also for fds with events pending in
 * the current batch: those are skipped. */
int ev_del(struct ev_loop *loop, int fd);

/* Like ev_del() for an fd about to be closed, without the epoll_ctl call:
 * closing the last reference removes it from the epoll set anyway. Only
 * for fds that were never duplicated. */
int ev_forget(struct ev_loop *loop, int fd);

void ev_set_before_sleep(struct ev_loop *loop, ev_hook hook, void *opaque);

/* Runs until ev_stop() is called (from a handler or another thread). */
int ev_run(struct ev_loop *loop);
/* One iteration, waiting at most timeout_ms (-1 = forever). Returns the
 * number of events handled or -errno. */
int ev_run_once(struct ev_loop *loop, int timeout_ms);
/* Thread-safe: wakes the loop and makes ev_run return. */
void ev_stop(struct ev_loop *loop);
bool ev_stopped(const struct ev_loop *loop);

#endif

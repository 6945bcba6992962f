/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Fixtures shared by the integration tests: one daemon per test (guest CID
 * 5, a fresh temp dir), frontends from the simulator, and the checks that
 * every robustness test ends with: the daemon is still alive and a new
 * frontend negotiates and starts its rings.
 */
#ifndef VDV_TESTS_INTEGRATION_ITEST_H
#define VDV_TESTS_INTEGRATION_ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/sim.h"
#include "sim/sim_daemon.h"

#define ITEST_CID 5
#define ITEST_TIMEOUT_MS 3000

struct itest {
	struct sim_daemon d;
};

/* cmocka setup/teardown: spawn the daemon; stop it and require a clean
 * exit (status 0 on SIGTERM). The log is printed when something is off. */
int itest_setup(void **state);
int itest_teardown(void **state);

/* Test options: defaults with bounded, shortish timeouts. */
void itest_opts(struct sim_opts *o);

/* Connects a new frontend (asserts). opts NULL = itest_opts(). */
struct sim *itest_connect(struct itest *t, const struct sim_opts *opts);

/* A fresh frontend negotiates, starts the rings and stops: the daemon got
 * over whatever the test did to it. */
void itest_fresh_frontend_ok(struct itest *t);

/* r came from a set message the daemon should refuse: accepts a non-zero
 * ack (-EIO) or a closed connection, fails on success or on a hang. */
void itest_expect_rejected(int r, const char *what);

/* After a message that cannot be parsed: the daemon must answer with an
 * error (non-zero u64 reply) or close the connection, within the timeout. */
void itest_expect_error_or_close(struct sim *s, const char *what);

#endif

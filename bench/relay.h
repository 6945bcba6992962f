/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The round trip's floor, measured beside the socket pair in the same run:
 * what any device between a host application and a guest that sleeps
 * between messages costs at the least with the daemon's wake-up pattern.
 * The host client (app.c) is the same as in the other round trips; a
 * "device" thread polls the host socket without sleeping, yielding between
 * looks as the daemon does in its polling window, and hands each message to
 * a "guest" thread through shared memory and an eventfd (its interrupt);
 * the guest sleeps in poll() between messages, makes the simulated guest's
 * two application calls and answers through shared memory, which the
 * device sees without a kick. Three threads and two wake-ups per round
 * trip, as through the daemon, but no rings, headers or bookkeeping: no
 * device can be faster with this guest model, so the daemon's p50 over this
 * one says how much of its round trip is its own.
 */
#ifndef VDV_BENCH_RELAY_H
#define VDV_BENCH_RELAY_H

#include "bench.h"

/* Records rr_floor_p50 and rr_floor_p99 as the baseline's values. */
int relay_rr(struct bench *b);

/* The neighbour figure's floor: the relay's round trips alone and beside a
 * stream of three busy threads (a writer of 64 KiB writes, a thread copying
 * it from one socket pair to another, a reader), as VM A's guest, worker
 * and host reader are; records nb_floor_p99_ratio = p99 beside / alone as
 * the baseline's value. No daemon and nothing shared but the CPUs: what a
 * 64 B round trip's p99 pays on this machine for a busy neighbour. */
int relay_nb_floor(struct bench *b);

/* A host->guest stream's floor: the same host writer (size-byte writes)
 * through the relay: the device thread reads the socket into 64 KiB slots
 * of shared memory (as the daemon reads into up to 16 rx buffers), waking
 * the guest only when it sleeps; the guest copies each slot into its
 * application's buffer with one application call and checksums it. Three
 * copies per byte and three threads, as through the daemon, no rings or
 * headers. Records h2g_floor_<size> (MiB/s, CPU-s/GiB) as the baseline's. */
int relay_h2g(struct bench *b, size_t size);

#endif

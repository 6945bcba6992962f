/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The host-socket side of a connection: watching its fd, carrying out the
 * effects conn.c asks for (close, shut, re-arm, free, tell the backend),
 * writing guest data (straight, then from the tx buffer when the socket
 * pushes back), reading for the guest, and the VM's deadline timer. Never
 * touches a vring.
 */
#ifndef VDV_VSOCK_CONN_IO_H
#define VDV_VSOCK_CONN_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vsock/dev_state.h"

/* Whether d may add a connection opened by src (from peer_cid, for a
 * sibling): true, possibly after evicting the oldest pending host
 * connection for a new host one; false (counted by source, logged once
 * per episode) when a limit says no. */
bool conn_io_admit(struct vsock_dev *d, enum conn_src src, uint64_t peer_cid);
/* A new connection of d owning fd, opened by src (peer_cid: the sibling
 * VM's CID), watched on d's loop (wait_out: its connect completes with
 * EPOLLOUT), owned by backend via, with a buf_alloc the tx-buffer budgets
 * allow. NULL at a connection limit or out of memory; fd is then NOT
 * closed. */
struct vsock_conn *conn_io_new(struct vsock_dev *d, struct vsock_backend *via, int fd,
			       bool wait_out, enum conn_src src, uint64_t peer_cid);
/* Queues a standalone control packet h for the guest (bounded: false,
 * counted, when the queue is full). */
bool conn_io_ctrl_push(struct vsock_dev *d, const struct vsock_hdr *h);
/* Carries out fx (CONN_FX_*). With CONN_FX_FREE, c is gone afterwards. */
void conn_io_apply(struct vsock_conn *c, unsigned fx);
/* Hands len bytes of guest payload in iov to the host socket, keeping in
 * the tx buffer what it refuses, and applies what follows (credit update,
 * shutdown, reset on a socket error). */
void conn_io_write(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t len);
/* A SEQPACKET connection's data packet: len bytes of iov from byte off,
 * with the packet's flags. Messages reach the host whole, one per guest
 * message (EOM); the parts of one are kept until its EOM. */
void conn_io_write_msg(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t off,
		       size_t len, uint32_t flags);
/* The SEQPACKET state of c, allocated on first use; NULL if memory is short. */
struct conn_seq *conn_io_seq(struct vsock_conn *c);
/* The payload size of the next host message (without our flags byte), or
 * -errno (-EAGAIN: none now); *eof when the host side sends no more. */
ssize_t conn_io_msg_size(struct vsock_conn *c, bool *eof);
/* Reads the next host message into iov: its payload size (0 at EOF on a
 * flags-byte socket), -EMSGSIZE if it did not fit, or -errno; *flags gets
 * its VIRTIO_VSOCK_SEQ_EOR. */
ssize_t conn_io_recv_msg(struct vsock_conn *c, const struct iovec *iov, unsigned n,
			 uint32_t *flags);
/* readv on the host socket: bytes read, 0 at EOF, or -errno. */
ssize_t conn_io_readv(struct vsock_conn *c, const struct iovec *iov, unsigned n);
/* Whether the host side of c still reads (a zero-length send tells; see
 * conn_io.c). */
bool conn_io_peer_reads(const struct vsock_conn *c);
/* Looks whether the host side of c stopped reading, and if so tells the
 * guest (SHUTDOWN RCV). For a backend that learns of it out of band. */
void conn_io_probe(struct vsock_conn *c);
/* A backend's handshake consumed the socket's edges: remember a hang-up
 * already queued, else its EOF would wait for an edge that never comes. */
void conn_io_note_hangup(struct vsock_conn *c);
/* Closes the host socket of c, if open. */
void conn_io_close(struct vsock_conn *c);
/* Closes and forgets every connection of d (the guest went away). */
void conn_io_free_all(struct vsock_dev *d);
/* d->timer's callback: runs the deadlines that are due. */
void conn_io_timer_fired(struct ev_loop *loop, void *opaque);

#endif

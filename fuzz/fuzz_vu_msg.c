/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A sequence of vhost-user messages fed to a session attached to one end
 * of a socketpair: framed by the harness (vu_dev_handle_msg()) or as raw
 * bytes in pieces through the socket, to the session's own incremental
 * reader (0xf2, below). Replies are drained from the other end and checked
 * for framing.
 *
 * Input: up to MAX_MSGS records, each
 *   u8  request     (0xf0 and 0xf1 are harness actions, below)
 *   u8  flags       (header flags; a version other than 1 ends the
 *                    connection: the header is sent on the socket, where
 *                    the session reads and refuses it)
 *   u16 size        (payload bytes that follow; > 4096 ends the
 *                    connection, the same way)
 *   u8  nfds        (mod 9: fds that come with the message)
 *   u16 kinds       (2 bits per fd: 0/1 a dup of memfd 0/1, 2/3 an eventfd)
 *   size bytes of payload (a malloc of exactly hdr + size bytes, so a
 *   handler reading past the declared payload is caught by ASan)
 *
 * Harness actions: 0xf0 writes guest memory (payload: u8 memfd, u32 offset,
 * data); 0xf1 kicks queue payload[0] (eventfd write + one loop turn); 0xf2
 * sends the payload on the socket as raw bytes, for the session's own
 * reader: in pieces of `flags` bytes (0: at once; at most 64 pieces, the
 * last takes the rest), the record's fds with the first piece, the loop
 * turned after each piece. So the reader sees arbitrary byte streams:
 * messages cut anywhere, several in one piece, one spread over records,
 * fds with any piece, bad headers at any point.
 *
 * The memfds are 1 MiB; memory regions that would map past their end are
 * clamped first (a frontend that lies about the size of its memory makes
 * any vhost-user backend fault with SIGBUS; that is outside this target).
 *
 * The toy device (3 queues, 8-byte config) drains every queue that becomes
 * ready with vq_pop/vq_push/vq_notify. A session that ends (bad message)
 * is attached again to a fresh socketpair. Between inputs the session is
 * detached and the memfds emptied; the process must then hold exactly the
 * fds it held before the first attach and no event loop registration.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "util/event_loop.h"
#include "vhost_user/vu_dev.h"

#define MAX_MSGS 64
#define REC_HDR 7u
#define MEMFD_SIZE (1u << 20)
#define H_WRITE_MEM 0xf0
#define H_KICK 0xf1
#define H_RAW 0xf2
#define MAX_RAW_PIECES 64u
#define MAX_KICK_POPS 64

static struct ev_loop *loop;
static struct vu_dev dev;
static int sv[2] = { -1, -1 };
static int memfd[2] = { -1, -1 };
static int baseline_fds; /* with no session attached */

static void toy_get_config(struct vu_dev *d, uint32_t offset, uint32_t size, uint8_t *out)
{
	static const uint8_t cfg[8] = { 3, 0, 0, 0, 0, 0, 0, 0 };
	(void)d;
	FUZZ_ASSERT(offset <= sizeof(cfg) && size <= sizeof(cfg) - offset);
	memcpy(out, cfg + offset, size);
}

static void check_elem(const struct vu_dev *d, const struct vq *vq, const struct vq_elem *e)
{
	uint64_t out = 0, in = 0;

	FUZZ_ASSERT(e->head < vq->num);
	FUZZ_ASSERT(e->out_num + e->in_num <= VQ_ELEM_MAX_IOV);
	for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
		const struct iovec *v = &e->iov[i];
		const uint8_t *p = v->iov_base;
		bool inside = false;

		for (unsigned r = 0; r < d->mem.nregions && !inside; r++) {
			const struct gm_region *g = &d->mem.regions[r];
			inside = p >= g->host && p < g->host + g->size &&
				 v->iov_len <= (size_t)(g->host + g->size - p);
		}
		FUZZ_ASSERT(inside && v->iov_len > 0);
		if (i < e->out_num)
			out += v->iov_len;
		else
			in += v->iov_len;
	}
	FUZZ_ASSERT(out == e->out_len && in == e->in_len);
}

static void toy_queue_kick(struct vu_dev *d, unsigned q)
{
	static struct vq_elem elem;
	struct vq *vq = vu_queue(d, q);

	FUZZ_ASSERT(q < d->ops->num_queues && vq_ready(vq));
	for (unsigned i = 0; i < MAX_KICK_POPS; i++) {
		if (vq_pop(vq, &d->mem, &elem) <= 0)
			break;
		check_elem(d, vq, &elem);
		vq_push(vq, elem.head, (uint32_t)(elem.in_len > 16 ? 16 : elem.in_len));
	}
	vq_notify(vq);
}

static void toy_reset(struct vu_dev *d)
{
	(void)d;
}

static const struct vu_dev_ops toy_ops = {
	.device_features = 1ull << 0,
	.num_queues = 3,
	.config_size = 8,
	.get_config = toy_get_config,
	.queue_kick = toy_queue_kick,
	.reset = toy_reset,
};

static void reset_memfds(void)
{
	for (int i = 0; i < 2; i++)
		if (ftruncate(memfd[i], 0) < 0 || ftruncate(memfd[i], MEMFD_SIZE) < 0)
			abort();
}

/* A new frontend connection: sv[0] goes to the session, sv[1] is ours. */
static void attach(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    vu_dev_attach(&dev, sv[0]) < 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;

	fuzz_quiet_logs();
	loop = ev_loop_new();
	if (!loop || vu_dev_init(&dev, loop, "fuzz", &toy_ops, NULL) < 0)
		abort();
	for (int i = 0; i < 2; i++) {
		memfd[i] = memfd_create("fuzz_vu_msg", MFD_CLOEXEC);
		if (memfd[i] < 0)
			abort();
	}
	reset_memfds();
	baseline_fds = fuzz_count_fds();
	attach();
	return 0;
}

/* Reads back every reply; each must be a well-formed reply header with
 * its payload. If the session ended meanwhile, our end is closed and a
 * fresh connection attached. */
static void drain_replies(void)
{
	/* Larger than a full socket of replies (the session ends rather
	 * than waiting once the socket is full), so none is cut in two. */
	static uint8_t buf[512 * 1024];
	size_t have = 0;
	ssize_t r;

	while (have < sizeof(buf) &&
	       (r = recv(sv[1], buf + have, sizeof(buf) - have, MSG_DONTWAIT)) > 0)
		have += (size_t)r;
	for (size_t off = 0; off < have;) {
		struct vu_msg_header h;

		FUZZ_ASSERT(have - off >= sizeof(h));
		memcpy(&h, buf + off, sizeof(h));
		FUZZ_ASSERT(h.flags == (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK));
		FUZZ_ASSERT(h.size <= VHOST_USER_PAYLOAD_MAX);
		FUZZ_ASSERT(have - off - sizeof(h) >= h.size);
		off += sizeof(h) + h.size;
	}
	if (!vu_dev_attached(&dev)) {
		close(sv[1]);
		attach();
	}
}

/* Turns the loop until nothing is left to do. Bounded: a turn takes up to
 * 32 messages, one if it is answered, and a record of at most 64 KiB holds
 * fewer than 5462 (12-byte headers). */
static void run_loop_idle(void)
{
	for (unsigned i = 0; i < 8192 && ev_run_once(loop, 0) > 0; i++)
		;
}

/* A header the session's reader refuses (bad version, oversized payload):
 * sent on the socket, so that the session ends the way it does for a VMM. */
static void send_refused_header(uint8_t req, uint8_t flags, uint16_t psize)
{
	struct vu_msg_header h = { .request = req, .flags = flags, .size = psize };

	bool partial;

	/* Whatever raw bytes (H_RAW) left is handled first; a message they
	 * began takes these bytes as its own: then the header is not
	 * refused as such. */
	run_loop_idle();
	partial = vu_msg_rx_partial(&dev.rx);
	if (send(sv[1], &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h))
		abort();
	run_loop_idle();
	FUZZ_ASSERT(partial || !vu_dev_attached(&dev));
	drain_replies();
}

/* H_RAW: see the comment at the top. */
static void send_raw(const uint8_t *p, size_t len, uint8_t piece, const int *fds,
		     unsigned nfds)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	size_t off = 0, step = piece ? piece : len;

	if (step < (len + MAX_RAW_PIECES - 1) / MAX_RAW_PIECES)
		step = (len + MAX_RAW_PIECES - 1) / MAX_RAW_PIECES;
	while (off < len) {
		struct iovec iov = { .iov_base = (void *)(p + off),
				     .iov_len = len - off < step ? len - off : step };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;

		if (off == 0 && nfds) {
			struct cmsghdr *c;

			memset(control, 0, sizeof(control));
			mh.msg_control = control;
			mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		r = sendmsg(sv[1], &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r <= 0)
			break; /* the session ended (EPIPE): drain_replies attaches anew */
		off += (size_t)r;
		run_loop_idle();
	}
	run_loop_idle();
	drain_replies();
}

/* Keeps a region inside its memfd: see the comment at the top. */
static void clamp_region(struct vu_mem_region *rg)
{
	if (rg->mmap_offset >= MEMFD_SIZE)
		rg->mmap_offset %= MEMFD_SIZE;
	if (rg->memory_size > MEMFD_SIZE - rg->mmap_offset)
		rg->memory_size = MEMFD_SIZE - rg->mmap_offset;
}

static void clamp_regions(struct vu_msg *m, const uint8_t *kinds, unsigned nfds)
{
	uint32_t req = m->hdr.request, size = m->hdr.size;

	if (req == VHOST_USER_SET_MEM_TABLE && size >= 8) {
		for (unsigned i = 0; i < m->payload.memory.nregions && i < nfds &&
		     i < VHOST_USER_MEM_MAX_REGIONS; i++) {
			if (8 + (i + 1) * sizeof(struct vu_mem_region) > size)
				break;
			if (kinds[i] < 2)
				clamp_region(&m->payload.memory.regions[i]);
		}
	} else if (req == VHOST_USER_ADD_MEM_REG && nfds >= 1 && kinds[0] < 2 &&
		   size >= sizeof(struct vu_mem_single_region)) {
		clamp_region(&m->payload.mem_reg.region);
	}
}

static void harness_action(uint8_t req, const uint8_t *p, size_t len)
{
	if (req == H_WRITE_MEM && len >= 5) {
		uint32_t off = fuzz_u32(p + 1) % MEMFD_SIZE;
		size_t n = len - 5;

		if (n > MEMFD_SIZE - off)
			n = MEMFD_SIZE - off;
		if (pwrite(memfd[p[0] & 1], p + 5, n, off) < 0)
			abort();
	} else if (req == H_KICK && len >= 1 && p[0] < toy_ops.num_queues) {
		struct vq *vq = vu_queue(&dev, p[0]);
		uint64_t one = 1;

		if (vq->kick_fd >= 0) {
			if (write(vq->kick_fd, &one, sizeof(one)) < 0) {
				/* not an eventfd (e.g. a memfd): nothing to do */
			}
			(void)ev_run_once(loop, 0);
			vq_drain_kick(vq);
		}
	}
}

/* The fds that come with a record: 2 bits of kinds_bits each. */
static void make_fds(int *fds, uint8_t *kinds, unsigned nfds, uint16_t kinds_bits)
{
	for (unsigned i = 0; i < nfds; i++) {
		kinds[i] = (kinds_bits >> (2 * i)) & 3;
		fds[i] = kinds[i] < 2 ? fcntl(memfd[kinds[i]], F_DUPFD_CLOEXEC, 0)
				      : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fds[i] < 0)
			abort();
	}
}

static void end_input(void)
{
	int n;

	if (log_max_level >= LOG_DEBUG)
		for (unsigned q = 0; q < toy_ops.num_queues; q++)
			fprintf(stderr, "fuzz: queue %u popped %llu bad %llu calls %llu\n", q,
				(unsigned long long)vu_queue(&dev, q)->stats.popped,
				(unsigned long long)vu_queue(&dev, q)->stats.bad_chains,
				(unsigned long long)vu_queue(&dev, q)->stats.notifications);
	vu_dev_detach(&dev, "end of input");
	close(sv[1]); /* the replies were drained after each message */
	/* Nothing may stay registered on the loop once the session is gone. */
	for (int fd = 0; fd < 256; fd++)
		FUZZ_ASSERT(ev_del(loop, fd) == -ENOENT);
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
		const struct vq *vq = vu_queue(&dev, q);
		FUZZ_ASSERT(vq->kick_fd < 0 && vq->call_fd < 0 && vq->err_fd < 0);
	}
	FUZZ_ASSERT(dev.mem.nregions == 0);
	/* A message cut short by the end: its deadline and fds went too. */
	FUZZ_ASSERT(!ev_timer_armed(&dev.msg_timer) && !vu_msg_rx_partial(&dev.rx));
	n = fuzz_count_fds();
	if (n != baseline_fds) {
		fprintf(stderr, "fd leak: %d open fds, %d at start\n", n, baseline_fds);
		fuzz_dump_fds();
		abort();
	}
	reset_memfds();
	attach();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (unsigned m = 0; m < MAX_MSGS && size - off >= REC_HDR; m++) {
		const uint8_t *rec = data + off;
		uint8_t req = rec[0], flags = rec[1];
		uint16_t psize = fuzz_u16(rec + 2), kinds_bits = fuzz_u16(rec + 5);
		unsigned nfds = rec[4] % 9u;
		uint8_t kinds[VHOST_USER_MAX_FDS];
		int fds[VHOST_USER_MAX_FDS];
		struct vu_msg *msg;
		int r;

		off += REC_HDR;
		if (psize > size - off)
			break; /* a truncated message: the connection would hang up */
		if (req == H_WRITE_MEM || req == H_KICK) {
			harness_action(req, data + off, psize);
			off += psize;
			continue;
		}
		if (req == H_RAW) {
			make_fds(fds, kinds, nfds, kinds_bits);
			send_raw(data + off, psize, flags, fds, nfds);
			/* Sent fds are the kernel's (then the session's) now. */
			for (unsigned i = 0; i < nfds; i++)
				close(fds[i]);
			off += psize;
			continue;
		}
		if ((flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
		    psize > VHOST_USER_PAYLOAD_MAX) {
			send_refused_header(req, flags, psize);
			off += psize;
			continue;
		}
		msg = malloc(sizeof(struct vu_msg_header) + psize);
		if (!msg)
			abort();
		msg->hdr.request = req;
		msg->hdr.flags = flags;
		msg->hdr.size = psize;
		memcpy((uint8_t *)msg + sizeof(struct vu_msg_header), data + off, psize);
		off += psize;

		make_fds(fds, kinds, nfds, kinds_bits);
		clamp_regions(msg, kinds, nfds);
		r = vu_dev_handle_msg(&dev, msg, fds, nfds);
		free(msg);
		FUZZ_ASSERT(r <= 0);
		FUZZ_ASSERT(vu_dev_attached(&dev) == (r == 0)); /* errors end it */
		drain_replies();
	}
	end_input();
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The VMM half of the simulator: the vhost-user connection, message framing
 * with SCM_RIGHTS, and the sequences QEMU's vhost-user-vsock runs at device
 * realize (negotiation), start (memory + rings) and stop (GET_VRING_BASE).
 * Replies are validated but never trusted to be well-formed: anything odd is
 * reported as a negative errno for the test to assert on.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>

#include "sim/sim_priv.h"

int64_t sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sim_remaining_ms(int64_t deadline)
{
	int64_t left = deadline - sim_now_ms();

	if (left <= 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

void sim_opts_init(struct sim_opts *o)
{
	unsigned q;

	memset(o, 0, sizeof(*o));
	for (q = 0; q < SIM_NUM_VQS; q++)
		o->queue_size[q] = 128;
	o->mem_size = 64u << 20;
	o->mem_regions = 1;
	o->region_gap = 1ull << 30;
	o->mem_mode = SIM_MEM_AUTO;
	o->features = SIM_DEFAULT_FEATURES;
	o->protocol_features = SIM_DEFAULT_PROTOCOL_FEATURES;
	o->connect_timeout_ms = 5000;
	o->io_timeout_ms = 5000;
	o->rx_bufs = SIM_RX_FILL;
	o->rx_buf_size = 4096;
	o->event_bufs = 8;
	o->tx_slot_size = SIM_PKT_MAX;
}

/* ---- socket ---- */

static int connect_retry(const char *path, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int err;

		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		err = errno;
		close(fd);
		/* The daemon may not have bound yet, or be between two VMMs. */
		if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN)
			return -err;
		if (!sim_remaining_ms(deadline))
			return -ETIMEDOUT;
		usleep(10 * 1000);
	}
}

int sim_send_raw(struct sim *sim, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS * 2)];
	const uint8_t *p = buf;
	size_t done = 0;

	if (nfds > VHOST_USER_MAX_FDS * 2)
		return -EINVAL;
	while (done < len || (done == 0 && len == 0)) {
		struct iovec iov = { .iov_base = (void *)(p + done), .iov_len = len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds && done == 0) {
			struct cmsghdr *cm;

			memset(cbuf, 0, sizeof(cbuf));
			mh.msg_control = cbuf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		/* MSG_NOSIGNAL: a backend that hung up must give -EPIPE, not
		 * kill the test with SIGPIPE. */
		n = sendmsg(sim->sock, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
		if (len == 0)
			break;
	}
	return 0;
}

int sim_send_msg(struct sim *sim, uint32_t request, uint32_t flags,
		 const void *payload, size_t size, const int *fds, unsigned nfds)
{
	struct vu_msg msg;

	if (size > sizeof(msg.payload))
		return -EINVAL;
	msg.hdr.request = request;
	msg.hdr.flags = flags;
	msg.hdr.size = (uint32_t)size;
	if (size)
		memcpy(msg.payload.raw, payload, size);
	return sim_send_raw(sim, &msg, sizeof(msg.hdr) + size, fds, nfds);
}

/* Reads exactly len bytes before the deadline. Stray fds are closed: the
 * backend has no business sending us any in a reply. */
static int recv_exact(struct sim *sim, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct iovec iov = { .iov_base = p + done, .iov_len = len - done };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct pollfd pfd = { .fd = sim->sock, .events = POLLIN };
		struct cmsghdr *cm;
		ssize_t n;
		int r;

		r = poll(&pfd, 1, sim_remaining_ms(deadline));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;
		n = recvmsg(sim->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int *fds = (int *)CMSG_DATA(cm);
				size_t k, nf = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				for (k = 0; k < nf; k++)
					close(fds[k]);
			}
		}
		done += (size_t)n;
	}
	return 0;
}

int sim_recv_reply(struct sim *sim, struct vu_msg_header *hdr, void *buf,
		   size_t cap, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	uint8_t sink[512];
	size_t left;
	int r;

	r = recv_exact(sim, hdr, sizeof(*hdr), deadline);
	if (r)
		return r;
	if (hdr->size <= cap) {
		r = recv_exact(sim, buf, hdr->size, deadline);
		return r ? r : (int)hdr->size;
	}
	/* Too large for the caller: consume it so the stream stays framed. */
	for (left = hdr->size; left;) {
		size_t n = left < sizeof(sink) ? left : sizeof(sink);

		r = recv_exact(sim, sink, n, deadline);
		if (r)
			return r;
		left -= n;
	}
	return -EMSGSIZE;
}

int sim_wait_closed(struct sim *sim, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	uint8_t sink[4096];

	for (;;) {
		struct pollfd pfd = { .fd = sim->sock, .events = POLLIN };
		ssize_t n;
		int r = poll(&pfd, 1, sim_remaining_ms(deadline));

		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			continue;
		n = recv(sim->sock, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
}

int sim_request(struct sim *sim, uint32_t request, const void *payload,
		size_t size, void *reply, size_t reply_cap)
{
	struct vu_msg_header hdr;
	int r;

	r = sim_send_msg(sim, request, VHOST_USER_VERSION, payload, size, NULL, 0);
	if (r)
		return r;
	r = sim_recv_reply(sim, &hdr, reply, reply_cap, sim->opts.io_timeout_ms);
	if (r < 0)
		return r;
	if (hdr.request != request || !(hdr.flags & VHOST_USER_REPLY_MASK) ||
	    (hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		return -EPROTO;
	return r;
}

int sim_set_msg(struct sim *sim, uint32_t request, const void *payload,
		size_t size, const int *fds, unsigned nfds)
{
	bool ack = sim->info.reply_ack && !sim->opts.no_reply_ack;
	struct vu_msg_header hdr;
	uint64_t v;
	int r;

	r = sim_send_msg(sim, request,
			 VHOST_USER_VERSION | (ack ? VHOST_USER_NEED_REPLY_MASK : 0),
			 payload, size, fds, nfds);
	if (r || !ack)
		return r;
	r = sim_recv_reply(sim, &hdr, &v, sizeof(v), sim->opts.io_timeout_ms);
	if (r < 0)
		return r;
	if (r != sizeof(v) || hdr.request != request || !(hdr.flags & VHOST_USER_REPLY_MASK))
		return -EPROTO;
	sim->last_ack = v;
	return v ? -EIO : 0;
}

uint64_t sim_last_ack(const struct sim *sim)
{
	return sim->last_ack;
}

static int get_u64(struct sim *sim, uint32_t request, uint64_t *out)
{
	int r = sim_request(sim, request, NULL, 0, out, sizeof(*out));

	if (r < 0)
		return r;
	return r == sizeof(*out) ? 0 : -EPROTO;
}

static int set_u64(struct sim *sim, uint32_t request, uint64_t v)
{
	return sim_set_msg(sim, request, &v, sizeof(v), NULL, 0);
}

int sim_get_features(struct sim *sim, uint64_t *features)
{
	return get_u64(sim, VHOST_USER_GET_FEATURES, features);
}

int sim_set_features(struct sim *sim, uint64_t features)
{
	return set_u64(sim, VHOST_USER_SET_FEATURES, features);
}

int sim_get_protocol_features(struct sim *sim, uint64_t *features)
{
	return get_u64(sim, VHOST_USER_GET_PROTOCOL_FEATURES, features);
}

int sim_set_protocol_features(struct sim *sim, uint64_t features)
{
	int r;

	/* No NEED_REPLY here: REPLY_ACK only takes effect once this message
	 * has been processed, as QEMU assumes too. */
	r = sim_send_msg(sim, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_VERSION,
			 &features, sizeof(features), NULL, 0);
	if (r)
		return r;
	sim->info.protocol_acked = features;
	sim->info.reply_ack = !!(features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	return 0;
}

int sim_set_owner(struct sim *sim)
{
	return sim_set_msg(sim, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
}

int sim_get_queue_num(struct sim *sim, uint64_t *num)
{
	return get_u64(sim, VHOST_USER_GET_QUEUE_NUM, num);
}

int sim_get_max_mem_slots(struct sim *sim, uint64_t *num)
{
	return get_u64(sim, VHOST_USER_GET_MAX_MEM_SLOTS, num);
}

int sim_get_config(struct sim *sim, uint32_t offset, uint32_t size, void *buf)
{
	struct vu_config_space cfg = { .offset = offset, .size = size };
	struct vu_config_space reply;
	int r;

	if (size > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	r = sim_request(sim, VHOST_USER_GET_CONFIG, &cfg, VU_CONFIG_HDR_SIZE + size,
			&reply, sizeof(reply));
	if (r < 0)
		return r;
	/* QEMU treats any other size as failure; so do we. */
	if ((uint32_t)r != VU_CONFIG_HDR_SIZE + size || reply.size != size)
		return -EIO;
	memcpy(buf, reply.region, size);
	return 0;
}

int sim_set_vring_enable(struct sim *sim, unsigned idx, bool enable)
{
	struct vu_vring_state st = { .index = idx, .num = enable };

	return sim_set_msg(sim, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
}

int sim_get_vring_base(struct sim *sim, unsigned idx, uint32_t *base)
{
	struct vu_vring_state st = { .index = idx }, reply;
	int r;

	r = sim_request(sim, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), &reply, sizeof(reply));
	if (r < 0)
		return r;
	if (r != sizeof(reply) || reply.index != idx)
		return -EPROTO;
	*base = reply.num;
	return 0;
}

/* ---- sequences ---- */

int sim_connect(const char *socket_path, const struct sim_opts *opts, struct sim **out)
{
	struct sim *sim;
	unsigned q;
	int r;

	*out = NULL;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	sim->sock = -1;
	sim->mem.fd = -1;
	for (q = 0; q < SIM_NUM_VQS; q++)
		sim->vq[q].kickfd = sim->vq[q].callfd = -1;
	if (opts)
		sim->opts = *opts;
	else
		sim_opts_init(&sim->opts);

	r = sim_mem_init(&sim->mem, sim->opts.mem_size, sim->opts.mem_regions,
			 sim->opts.region_gap);
	if (r)
		goto err;
	for (q = 0; q < SIM_NUM_VQS; q++) {
		r = sim_vq_init(&sim->vq[q], &sim->mem, q, sim->opts.queue_size[q]);
		if (r)
			goto err;
	}
	r = connect_retry(socket_path, sim->opts.connect_timeout_ms);
	if (r < 0)
		goto err;
	sim->sock = r;
	sim->guest_cid = sim->opts.guest_cid;
	*out = sim;
	return 0;
err:
	sim_close(sim);
	return r;
}

void sim_close(struct sim *sim)
{
	unsigned q;

	if (!sim)
		return;
	if (sim->sock >= 0)
		close(sim->sock);
	for (q = 0; q < SIM_NUM_VQS; q++)
		sim_vq_fini(&sim->vq[q], &sim->mem);
	sim_mem_fini(&sim->mem);
	free(sim->rx_idle);
	free(sim->tx_free);
	free(sim->tx_slot);
	free(sim);
}

int sim_negotiate(struct sim *sim)
{
	struct sim_info *in = &sim->info;
	uint64_t want;
	uint8_t cfg[8];
	unsigned q;
	int r;

	r = sim_get_features(sim, &in->features_offered);
	if (r)
		return r;
	if (in->features_offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		r = sim_get_protocol_features(sim, &in->protocol_offered);
		if (r)
			return r;
		r = sim_set_protocol_features(sim, in->protocol_offered &
						   sim->opts.protocol_features);
		if (r)
			return r;
	}
	if (in->protocol_acked & (1ull << VHOST_USER_PROTOCOL_F_MQ)) {
		r = sim_get_queue_num(sim, &in->queue_num);
		if (r)
			return r;
	}
	if (in->protocol_acked & (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		r = sim_get_max_mem_slots(sim, &in->max_mem_slots);
		if (r)
			return r;
	}
	r = sim_set_owner(sim);
	if (r)
		return r;
	if (in->protocol_acked & (1ull << VHOST_USER_PROTOCOL_F_CONFIG)) {
		r = sim_get_config(sim, 0, sizeof(cfg), cfg);
		if (r)
			return r;
		in->has_config = true;
		memcpy(&in->config_guest_cid, cfg, 8);
		in->config_guest_cid = le64toh(in->config_guest_cid);
	}
	if (!sim->guest_cid)
		sim->guest_cid = in->has_config ? in->config_guest_cid : 3;

	/* The guest acks what it knows; PROTOCOL_FEATURES is the VMM's own
	 * bit and goes back whenever it was offered. */
	want = in->features_offered & sim->opts.features;
	r = sim_set_features(sim, want);
	if (r)
		return r;
	in->features_acked = want;
	for (q = 0; q < SIM_NUM_VQS; q++)
		sim->vq[q].event_idx = !!(want & (1ull << VIRTIO_RING_F_EVENT_IDX));
	sim->negotiated = true;
	return 0;
}

int sim_send_mem(struct sim *sim)
{
	struct sim_info *in = &sim->info;
	bool slots = !!(in->protocol_acked & (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
	unsigned i, n = sim->mem.nregions;
	int r;

	if (sim->opts.mem_mode == SIM_MEM_ADD_REG && !slots)
		return -ENOTSUP;
	if (sim->opts.mem_mode != SIM_MEM_TABLE && slots) {
		if (n > in->max_mem_slots)
			return -ENOSPC;
		/* QEMU adds one region per message, each with its fd. */
		for (i = 0; i < n; i++) {
			struct vu_mem_single_region m = { 0 };

			sim_mem_region(sim, i, &m.region);
			r = sim_set_msg(sim, VHOST_USER_ADD_MEM_REG, &m, sizeof(m), &sim->mem.fd, 1);
			if (r)
				return r;
		}
		return 0;
	} else {
		struct vu_memory m = { .nregions = n };
		int fds[SIM_MAX_REGIONS];

		for (i = 0; i < n; i++) {
			sim_mem_region(sim, i, &m.regions[i]);
			fds[i] = sim->mem.fd;
		}
		return sim_set_msg(sim, VHOST_USER_SET_MEM_TABLE, &m,
				   8 + n * sizeof(struct vu_mem_region), fds, n);
	}
}

static int start_vring(struct sim *sim, struct sim_vq *vq)
{
	struct vu_vring_state st = { .index = vq->idx, .num = vq->num };
	struct vu_vring_addr addr = {
		.index = vq->idx,
		/* Frontend virtual addresses: ours, as in userspace_addr. */
		.desc_user_addr = (uint64_t)(uintptr_t)vq->desc,
		.used_user_addr = (uint64_t)(uintptr_t)vq->used,
		.avail_user_addr = (uint64_t)(uintptr_t)vq->avail,
	};
	uint64_t u;
	int r;

	r = sim_set_msg(sim, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	if (r)
		return r;
	/* 0 on first start; after a stop, where the backend said it was. */
	st.num = sim->info.vring_base[vq->idx];
	r = sim_set_msg(sim, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0);
	if (r)
		return r;
	r = sim_set_msg(sim, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0);
	if (r)
		return r;
	u = vq->idx;
	r = sim_set_msg(sim, VHOST_USER_SET_VRING_KICK, &u, sizeof(u), &vq->kickfd, 1);
	if (r)
		return r;
	return sim_set_msg(sim, VHOST_USER_SET_VRING_CALL, &u, sizeof(u), &vq->callfd, 1);
}

int sim_start(struct sim *sim)
{
	bool proto = false;
	unsigned q, n;
	int r;

	if (sim->started)
		return -EALREADY;
	if (!sim->negotiated) {
		r = sim_negotiate(sim);
		if (r)
			return r;
	}
	proto = !!(sim->info.features_acked & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	r = sim_send_mem(sim);
	if (r)
		return r;
	for (q = 0; q < SIM_NUM_VQS; q++) {
		r = start_vring(sim, &sim->vq[q]);
		if (r)
			return r;
	}
	/* With PROTOCOL_FEATURES rings start disabled; QEMU enables them once
	 * all are set up. */
	for (q = 0; proto && q < SIM_NUM_VQS; q++) {
		r = sim_set_vring_enable(sim, q, true);
		if (r)
			return r;
	}
	sim->started = true;

	n = sim->opts.rx_bufs;
	if (n == SIM_RX_FILL)
		n = sim->opts.rx_split_hdr ? sim->vq[SIM_VQ_RX].num_free / 2
					   : sim->vq[SIM_VQ_RX].num_free;
	if (n) {
		r = sim_rx_post(sim, n, sim->opts.rx_buf_size);
		if (r)
			return r;
	}
	if (sim->opts.event_bufs)
		return sim_event_post(sim, sim->opts.event_bufs);
	return 0;
}

int sim_stop(struct sim *sim)
{
	bool proto = !!(sim->info.features_acked & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	unsigned q;
	int r, err = 0;

	if (!sim->started)
		return -EINVAL;
	for (q = 0; q < SIM_NUM_VQS; q++) {
		if (proto) {
			r = sim_set_vring_enable(sim, q, false);
			if (r && !err)
				err = r;
		}
		r = sim_get_vring_base(sim, q, &sim->info.vring_base[q]);
		if (r && !err)
			err = r;
	}
	sim->started = false;
	return err;
}

int sim_reset(struct sim *sim)
{
	bool eidx = !!(sim->info.features_acked & (1ull << VIRTIO_RING_F_EVENT_IDX));
	unsigned q;
	int r = 0, e;

	if (sim->started)
		r = sim_stop(sim);
	for (q = 0; q < SIM_NUM_VQS; q++)
		sim_vq_fini(&sim->vq[q], &sim->mem);
	/* Every buffer of the old driver is gone with it. */
	sim_mem_forget_all(&sim->mem);
	free(sim->rx_idle);
	sim->rx_idle = NULL;
	sim->rx_nidle = sim->rx_total = sim->rx_posted = 0;
	sim->ev_gpa = 0;
	sim->ev_n = 0;
	free(sim->tx_slot);
	free(sim->tx_free);
	sim->tx_slot = NULL;
	sim->tx_free = NULL;
	sim->tx_nslots = sim->tx_nfree = 0;
	for (q = 0; q < SIM_NUM_VQS; q++) {
		e = sim_vq_init(&sim->vq[q], &sim->mem, q, sim->opts.queue_size[q]);
		if (e && !r)
			r = e;
		sim->vq[q].event_idx = eidx;
		sim->info.vring_base[q] = 0;
	}
	return r;
}

const struct sim_info *sim_info(const struct sim *sim)
{
	return &sim->info;
}

const struct sim_opts *sim_opts(const struct sim *sim)
{
	return &sim->opts;
}

uint64_t sim_guest_cid(const struct sim *sim)
{
	return sim->guest_cid ? sim->guest_cid : 3;
}

int sim_socket_fd(const struct sim *sim)
{
	return sim->sock;
}

const char *sim_request_name(uint32_t request)
{
	static const char *const names[] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
		[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER",
		[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
		[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
		[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
		[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
		[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
		[VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
		[VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
		[VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
		[VHOST_USER_SET_STATUS] = "SET_STATUS",
		[VHOST_USER_GET_STATUS] = "GET_STATUS",
	};

	if (request < sizeof(names) / sizeof(names[0]) && names[request])
		return names[request];
	return "?";
}

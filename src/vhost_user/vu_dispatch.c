/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The vhost-user request handlers behind one table: each entry says how big
 * the payload must be and how many fds may come with it, so that validation,
 * stray-fd cleanup, logging and REPLY_ACK happen in one place (vu_dispatch).
 */
#include "vhost_user/vu_dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/stat.h"
#include "vhost_user/vu_msg_io.h"

enum fd_rule {
	FDS_NONE,       /* no fd may come */
	FDS_ONE,        /* exactly one */
	FDS_VRING,      /* one, unless the NOFD bit is set in the u64 payload */
	FDS_REGIONS,    /* one per memory region */
	FDS_ANY,        /* optional, ignored (closed) */
};

/* One request being handled: what a handler gets. */
struct vu_req {
	struct vu_dev *dev;
	const struct vu_session_hooks *session;
	struct vu_msg *msg;     /* only hdr.size payload bytes may be there */
	int *fds;               /* a handler that keeps fds[i] sets it to -1 */
	unsigned nfds;
	bool replied;           /* the handler sent its own reply (GET_*) */
};

/* A handler returns 0 or -errno. */
typedef int (*vu_handler)(struct vu_req *req);

struct vu_request_desc {
	vu_handler handler;
	uint32_t min_size;
	uint32_t max_size;
	enum fd_rule fds;
	bool replies;   /* always answers with data (GET_*) */
	/* Refused before SET_OWNER: everything that touches the device.
	 * Only the queries and the protocol-feature exchange QEMU sends
	 * before SET_OWNER (vhost_user_backend_init) may come first. */
	bool needs_owner;
	/* Refused unless this VHOST_USER_PROTOCOL_F_* bit was negotiated
	 * (0: no bit needed; no request depends on bit 0, MQ). */
	uint8_t needs_pf;
};

#define BIT(n) (1ull << (n))

uint64_t vu_offered_protocol_features(void)
{
	return BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	       BIT(VHOST_USER_PROTOCOL_F_CONFIG) |
	       BIT(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
}

uint64_t vu_offered_features(const struct vu_dev *dev)
{
	return BIT(VIRTIO_F_VERSION_1_BIT) | BIT(VIRTIO_RING_F_EVENT_IDX) |
	       BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_F_NOTIFY_ON_EMPTY_BIT) |
	       BIT(VHOST_USER_F_PROTOCOL_FEATURES) | dev->ops->device_features;
}

static bool protocol_features_negotiated(const struct vu_dev *dev)
{
	return dev->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES);
}

static int reply_u64(struct vu_req *req, uint64_t v)
{
	req->replied = true;
	return vu_msg_reply(req->dev->conn_fd, &req->msg->hdr, &v, sizeof(v));
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* A queue became usable: let the device look at it right away, buffers
 * may have been posted before the kick fd or the enable arrived. */
static void queue_maybe_ready(struct vu_dev *dev, unsigned q)
{
	if (vq_ready(&dev->vqs[q]) && dev->ops->queue_kick)
		dev->ops->queue_kick(dev, q);
}

static int h_get_features(struct vu_req *req)
{
	return reply_u64(req, vu_offered_features(req->dev));
}

static int h_set_features(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	uint64_t f = req->msg->payload.u64, offered = vu_offered_features(dev);

	if (f & ~offered) {
		log_warn("%s: frontend acked features 0x%" PRIx64 " that were not offered (0x%" PRIx64 ")",
			 dev->name, f & ~offered, offered);
		return -EINVAL;
	}
	dev->features = f;
	dev->features_set = true;
	for (unsigned q = 0; q < dev->ops->num_queues; q++) {
		struct vq *vq = &dev->vqs[q];
		vq->event_idx = f & BIT(VIRTIO_RING_F_EVENT_IDX);
		vq->indirect = f & BIT(VIRTIO_RING_F_INDIRECT_DESC);
		vq->notify_on_empty = f & BIT(VIRTIO_F_NOTIFY_ON_EMPTY_BIT);
		/* Without PROTOCOL_FEATURES there is no SET_VRING_ENABLE:
		 * rings are enabled as soon as they start (spec). Never
		 * disable here: SET_FEATURES also comes during migration. */
		if (!(f & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
			vq->enabled = true;
	}
	return 0;
}

static int h_get_protocol_features(struct vu_req *req)
{
	return reply_u64(req, vu_offered_protocol_features());
}

static int h_set_protocol_features(struct vu_req *req)
{
	uint64_t f = req->msg->payload.u64;

	if (f & ~vu_offered_protocol_features()) {
		log_warn("%s: frontend acked protocol features 0x%" PRIx64 " that were not offered",
			 req->dev->name, f & ~vu_offered_protocol_features());
		return -EINVAL;
	}
	req->dev->protocol_features = f;
	return 0;
}

static int h_set_owner(struct vu_req *req)
{
	/* Repeating it is harmless (libvhost-user accepts it too). It stays
	 * set across RESET_OWNER: QEMU resets a device without claiming it
	 * again; only a new connection starts unowned. */
	req->dev->owned = true;
	return 0;
}

static int h_reset_owner(struct vu_req *req)
{
	req->session->reset(req->dev);
	return 0;
}

static void remap_queues(struct vu_dev *dev)
{
	for (unsigned q = 0; q < dev->ops->num_queues; q++)
		if (vq_remap(&dev->vqs[q], &dev->mem) < 0)
			log_warn("%s: queue %u rings are not in the new memory table",
				 dev->name, q);
}

static int h_set_mem_table(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	const struct vu_memory *m = &req->msg->payload.memory;
	int r = 0;

	if (m->nregions == 0 || m->nregions > VHOST_USER_MEM_MAX_REGIONS ||
	    req->msg->hdr.size < 8 + m->nregions * sizeof(struct vu_mem_region) ||
	    req->nfds != m->nregions) {
		log_warn("%s: SET_MEM_TABLE with %u regions, %u fds, %u bytes is malformed",
			 dev->name, m->nregions, req->nfds, req->msg->hdr.size);
		return -EINVAL;
	}
	/* The device holds no pointer into guest memory between events, so
	 * the old table can go before the new one is mapped. */
	gm_clear(&dev->mem);
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct vu_mem_region *rg = &m->regions[i];
		r = gm_add_region(&dev->mem, req->fds[i], rg->guest_phys_addr, rg->memory_size,
				  rg->userspace_addr, rg->mmap_offset);
		if (r < 0) {
			log_warn("%s: cannot map memory region %u (gpa 0x%" PRIx64 ", size 0x%" PRIx64 "): %s",
				 dev->name, i, rg->guest_phys_addr, rg->memory_size, strerror(-r));
			gm_clear(&dev->mem);
			break;
		}
	}
	close_fds(req->fds, req->nfds);
	remap_queues(dev);
	return r;
}

static int h_get_max_mem_slots(struct vu_req *req)
{
	return reply_u64(req, GM_MAX_REGIONS);
}

static int h_add_mem_reg(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	const struct vu_mem_region *rg = &req->msg->payload.mem_reg.region;
	int r;

	r = gm_add_region(&dev->mem, req->fds[0], rg->guest_phys_addr, rg->memory_size,
			  rg->userspace_addr, rg->mmap_offset);
	close_fds(req->fds, 1);
	if (r < 0) {
		log_warn("%s: ADD_MEM_REG gpa 0x%" PRIx64 " size 0x%" PRIx64 " failed: %s",
			 dev->name, rg->guest_phys_addr, rg->memory_size, strerror(-r));
		return r;
	}
	remap_queues(dev);
	return 0;
}

static int h_rem_mem_reg(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	const struct vu_mem_region *rg = &req->msg->payload.mem_reg.region;
	int r;

	close_fds(req->fds, req->nfds);
	r = gm_remove_region(&dev->mem, rg->guest_phys_addr, rg->memory_size,
			     rg->userspace_addr);
	if (r < 0) {
		log_warn("%s: REM_MEM_REG gpa 0x%" PRIx64 " size 0x%" PRIx64 ": no such region",
			 dev->name, rg->guest_phys_addr, rg->memory_size);
		return r;
	}
	remap_queues(dev);
	return 0;
}

/* The queue a vring request names, or NULL (logged) if out of range. */
/* The queue a request names, or NULL (logged) when the device has none. */
static struct vq *req_queue(struct vu_req *req, uint32_t index)
{
	struct vu_dev *dev = req->dev;

	if (index >= dev->ops->num_queues) {
		log_warn("%s: %s for queue %u, but the device has %u queues", dev->name,
			 vu_request_name(req->msg->hdr.request), index, dev->ops->num_queues);
		return NULL;
	}
	return &dev->vqs[index];
}

static int h_set_vring_num(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	const struct vu_vring_state *st = &req->msg->payload.state;
	struct vq *vq = req_queue(req, st->index);

	if (!vq)
		return -EINVAL;
	if (dev->max_queue_size && st->num > dev->max_queue_size) {
		log_warn("%s: queue %u size %u is larger than queue-size %u", dev->name,
			 st->index, st->num, dev->max_queue_size);
		return -EINVAL;
	}
	if (vq_set_num(vq, st->num) < 0) {
		log_warn("%s: queue %u size %u is not a power of two in 1..%u", dev->name,
			 st->index, st->num, VQ_MAX_SIZE);
		return -EINVAL;
	}
	return 0;
}

static int h_set_vring_addr(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	const struct vu_vring_addr *a = &req->msg->payload.addr;
	struct vq *vq = req_queue(req, a->index);
	int r;

	if (!vq)
		return -EINVAL;
	r = vq_set_addr(vq, &dev->mem, a->desc_user_addr, a->avail_user_addr,
			a->used_user_addr);
	if (r < 0) {
		log_warn("%s: queue %u ring addresses (desc 0x%" PRIx64 " avail 0x%" PRIx64
			 " used 0x%" PRIx64 ", size %u) are invalid or outside guest memory",
			 dev->name, a->index, a->desc_user_addr, a->avail_user_addr,
			 a->used_user_addr, vq->num);
		return r;
	}
	queue_maybe_ready(dev, a->index);
	return 0;
}

static int h_set_vring_base(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	const struct vu_vring_state *st = &req->msg->payload.state;
	struct vq *vq = req_queue(req, st->index);

	if (!vq)
		return -EINVAL;
	if (st->num > UINT16_MAX) {
		log_warn("%s: queue %u base %u is out of range", dev->name, st->index, st->num);
		return -EINVAL;
	}
	vq_set_base(vq, (uint16_t)st->num);
	return 0;
}

static int h_get_vring_base(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	struct vu_vring_state st = req->msg->payload.state;
	struct vq *vq = req_queue(req, st.index);

	if (!vq)
		return -EINVAL;
	/* GET_VRING_BASE stops the ring: publish what we did, then let go.
	 * The first ring stopped begins a new stop (see ring_started). */
	req->session->unwatch_queue(dev, st.index);
	if (!dev->stopped_queues)
		dev->reset_seen = false;
	dev->stopped_queues |= 1u << st.index;
	st.num = vq_stop(vq);
	req->replied = true;
	return vu_msg_reply(dev->conn_fd, &req->msg->hdr, &st, sizeof(st));
}

/*
 * Kick, call and err fds must be eventfds: the thread writes a call fd on
 * every notification, and a pipe or socket there blocks it once full; any
 * other file could be anything. An eventfd is an anonymous inode (no file
 * type bits) that /proc names "anon_inode:[eventfd]". Without /proc the
 * anonymous-inode test alone decides. Returns 0 (the fd is then made
 * non-blocking, so that even a saturated counter cannot block a write) or
 * -EINVAL with what the fd is in what.
 */
static int check_eventfd(int fd, char *what, size_t len)
{
	char link[64], target[64];
	struct stat st;
	ssize_t n;
	int fl;

	if (fstat(fd, &st) < 0) {
		snprintf(what, len, "fstat: %s", strerror(errno));
		return -EINVAL;
	}
	if ((st.st_mode & S_IFMT) != 0) {
		snprintf(what, len, "a %s",
			 S_ISFIFO(st.st_mode) ? "pipe" : S_ISSOCK(st.st_mode) ? "socket" :
			 S_ISREG(st.st_mode) ? "regular file" : S_ISCHR(st.st_mode) ?
			 "character device" : "file of another type");
		return -EINVAL;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[eventfd]") != 0) {
			snprintf(what, len, "%s", target);
			return -EINVAL;
		}
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		snprintf(what, len, "cannot make it non-blocking: %s", strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/*
 * SET_VRING_KICK started ring q. After a stop (GET_VRING_BASE), QEMU
 * restarts a ring at the index we returned when the VM was only paused
 * (stop/cont, or the source of a migration that failed), and at 0 with
 * rings the guest's driver set up anew after a device reset (a guest
 * reboot): vq_start() compares. The device hears of a reset once per
 * stop, before the ring that showed it can be kicked.
 */
static void ring_started(struct vu_dev *dev, unsigned q)
{
	enum vq_start_kind k = vq_start(&dev->vqs[q]);

	dev->stopped_queues &= ~(1u << q);
	if (k != VQ_START_RESET || dev->reset_seen)
		return;
	dev->reset_seen = true;
	log_debug("%s: queue %u restarted at avail index %u (stopped at %u): driver reset",
		  dev->name, q, dev->vqs[q].last_avail_idx, dev->vqs[q].stop.base);
	if (dev->ops->driver_reset)
		dev->ops->driver_reset(dev);
}

static int h_set_vring_fd(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	uint32_t request = req->msg->hdr.request;
	uint64_t v = req->msg->payload.u64;
	unsigned q = (unsigned)(v & VHOST_USER_VRING_IDX_MASK);
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
	struct vq *vq = req_queue(req, q);
	int fd = req->nfds ? req->fds[0] : -1;
	int *slot;

	if (!vq) {
		close_fds(req->fds, req->nfds);
		return -EINVAL;
	}
	if (fd >= 0) {
		char what[80];

		if (check_eventfd(fd, what, sizeof(what)) < 0) {
			log_warn("%s: %s queue %u: the fd is not an eventfd (%s); refused",
				 dev->name, vu_request_name(request), q, what);
			return -EINVAL; /* the dispatcher closes it */
		}
	}
	switch (request) {
	case VHOST_USER_SET_VRING_KICK:
		if (nofd) {
			log_warn("%s: queue %u: polling mode (kick without fd) is not supported",
				 dev->name, q);
			return -ENOTSUP;
		}
		req->session->unwatch_queue(dev, q);
		slot = &vq->kick_fd;
		break;
	case VHOST_USER_SET_VRING_CALL:
		slot = &vq->call_fd;
		break;
	default:
		slot = &vq->err_fd;
		break;
	}
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
	if (req->nfds)
		req->fds[0] = -1; /* kept */
	if (request == VHOST_USER_SET_VRING_KICK) {
		ring_started(dev, q);
		req->session->watch_queue(dev, q);
		queue_maybe_ready(dev, q);
	}
	return 0;
}

static int h_set_vring_enable(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	const struct vu_vring_state *st = &req->msg->payload.state;
	struct vq *vq = req_queue(req, st->index);

	if (!vq)
		return -EINVAL;
	if (!protocol_features_negotiated(dev)) {
		log_warn("%s: SET_VRING_ENABLE without PROTOCOL_FEATURES negotiated", dev->name);
		return -EINVAL;
	}
	if (st->num > 1) {
		log_warn("%s: SET_VRING_ENABLE queue %u with value %u (not 0 or 1)",
			 dev->name, st->index, st->num);
		return -EINVAL;
	}
	vq->enabled = st->num == 1;
	if (!vq->enabled && vq->addr_set)
		vq_notify(vq);
	queue_maybe_ready(dev, st->index);
	return 0;
}

static int h_get_queue_num(struct vu_req *req)
{
	return reply_u64(req, req->dev->ops->num_queues);
}

static int h_get_config(struct vu_req *req)
{
	struct vu_dev *dev = req->dev;
	struct vu_config_space *c = &req->msg->payload.config;
	uint32_t off = c->offset, size = c->size;

	req->replied = true;
	if (size > VHOST_USER_MAX_CONFIG_SIZE || req->msg->hdr.size != VU_CONFIG_HDR_SIZE + size ||
	    off > dev->ops->config_size || size > dev->ops->config_size - off) {
		log_warn("%s: GET_CONFIG offset %u size %u outside the %u-byte config space",
			 dev->name, off, size, dev->ops->config_size);
		/* QEMU treats a reply whose size differs as a failure. */
		c->size = 0;
		return vu_msg_reply(dev->conn_fd, &req->msg->hdr, c, VU_CONFIG_HDR_SIZE);
	}
	memset(c->region, 0, size);
	dev->ops->get_config(dev, off, size, c->region);
	return vu_msg_reply(dev->conn_fd, &req->msg->hdr, c, VU_CONFIG_HDR_SIZE + size);
}

static int h_set_config(struct vu_req *req)
{
	/* Config space is read-only for the driver of every device served
	 * here: no vu_dev_ops hook writes it. */
	log_warn("%s: SET_CONFIG refused: the config space is read-only", req->dev->name);
	return -EPERM;
}

#define U64 sizeof(uint64_t)
#define STATE sizeof(struct vu_vring_state)

#define OWNER .needs_owner = true
#define MEM_SLOTS .needs_pf = VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS

/* Requests without a handler are refused (-ENOTSUP); the owner and
 * protocol-feature rules, the size range and the fd rule of the others are
 * checked before their handler runs. */
static const struct vu_request_desc requests[VHOST_USER_MAX_REQUEST] = {
	[VHOST_USER_GET_FEATURES] = { h_get_features, 0, U64, FDS_NONE, true },
	[VHOST_USER_SET_FEATURES] = { h_set_features, U64, U64, FDS_NONE, OWNER },
	[VHOST_USER_SET_OWNER] = { h_set_owner, 0, U64, FDS_NONE },
	[VHOST_USER_RESET_OWNER] = { h_reset_owner, 0, U64, FDS_NONE, OWNER },
	[VHOST_USER_SET_MEM_TABLE] = { h_set_mem_table, 8 + sizeof(struct vu_mem_region),
				       sizeof(struct vu_memory), FDS_REGIONS, OWNER },
	[VHOST_USER_SET_VRING_NUM] = { h_set_vring_num, STATE, STATE, FDS_NONE, OWNER },
	[VHOST_USER_SET_VRING_ADDR] = { h_set_vring_addr, sizeof(struct vu_vring_addr),
					sizeof(struct vu_vring_addr), FDS_NONE, OWNER },
	[VHOST_USER_SET_VRING_BASE] = { h_set_vring_base, STATE, STATE, FDS_NONE, OWNER },
	[VHOST_USER_GET_VRING_BASE] = { h_get_vring_base, STATE, STATE, FDS_NONE, true, OWNER },
	[VHOST_USER_SET_VRING_KICK] = { h_set_vring_fd, U64, U64, FDS_VRING, OWNER },
	[VHOST_USER_SET_VRING_CALL] = { h_set_vring_fd, U64, U64, FDS_VRING, OWNER },
	[VHOST_USER_SET_VRING_ERR] = { h_set_vring_fd, U64, U64, FDS_VRING, OWNER },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { h_get_protocol_features, 0, U64, FDS_NONE, true },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { h_set_protocol_features, U64, U64, FDS_NONE },
	[VHOST_USER_GET_QUEUE_NUM] = { h_get_queue_num, 0, U64, FDS_NONE, true },
	[VHOST_USER_SET_VRING_ENABLE] = { h_set_vring_enable, STATE, STATE, FDS_NONE, OWNER },
	[VHOST_USER_GET_CONFIG] = { h_get_config, VU_CONFIG_HDR_SIZE,
				    sizeof(struct vu_config_space), FDS_NONE, true, OWNER },
	[VHOST_USER_SET_CONFIG] = { h_set_config, VU_CONFIG_HDR_SIZE,
				    sizeof(struct vu_config_space), FDS_NONE, OWNER },
	[VHOST_USER_GET_MAX_MEM_SLOTS] = { h_get_max_mem_slots, 0, U64, FDS_NONE, true,
					   MEM_SLOTS },
	[VHOST_USER_ADD_MEM_REG] = { h_add_mem_reg, sizeof(struct vu_mem_single_region),
				     sizeof(struct vu_mem_single_region), FDS_ONE, OWNER,
				     MEM_SLOTS },
	[VHOST_USER_REM_MEM_REG] = { h_rem_mem_reg, sizeof(struct vu_mem_single_region),
				     sizeof(struct vu_mem_single_region), FDS_ANY, OWNER,
				     MEM_SLOTS },
};

static const char *const request_names[VHOST_USER_MAX_REQUEST] = {
#define VU_REQUEST_NAME(name, code) [code] = #name,
	VHOST_USER_REQUESTS(VU_REQUEST_NAME)
#undef VU_REQUEST_NAME
};

const char *vu_request_name(uint32_t request)
{
	return request < VHOST_USER_MAX_REQUEST ? request_names[request] : "UNKNOWN";
}

static bool fds_ok(const struct vu_request_desc *d, const struct vu_msg *msg, unsigned nfds)
{
	switch (d->fds) {
	case FDS_NONE:
		return nfds == 0;
	case FDS_ONE:
		return nfds == 1;
	case FDS_VRING:
		return nfds == ((msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK) ? 0u : 1u);
	case FDS_REGIONS:
		return nfds >= 1; /* exact count checked against nregions by the handler */
	case FDS_ANY:
		return true;
	}
	return false;
}

int vu_dispatch(struct vu_dev *dev, const struct vu_session_hooks *session,
		struct vu_msg *msg, int *fds, unsigned nfds)
{
	uint32_t code = msg->hdr.request;
	const char *name = vu_request_name(code);
	const struct vu_request_desc *d = code < VHOST_USER_MAX_REQUEST ? &requests[code] : NULL;
	bool want_ack = (msg->hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
			(dev->protocol_features & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK));
	struct vu_req req = {
		.dev = dev, .session = session, .msg = msg, .fds = fds, .nfds = nfds,
	};
	int r;

	STAT_INC(dev->stats.messages);
	if (!d || !d->handler) {
		log_warn("%s: unsupported vhost-user request %u (%s)", dev->name, code, name);
		close_fds(fds, nfds);
		r = -ENOTSUP;
		goto out;
	}
	if (d->needs_owner && !dev->owned) {
		log_warn("%s: %s before SET_OWNER refused", dev->name, name);
		close_fds(fds, nfds);
		r = -EPERM;
		goto out;
	}
	if (d->needs_pf && !(dev->protocol_features & BIT(d->needs_pf))) {
		log_warn("%s: %s refused: protocol feature %u was not negotiated "
			 "(SET_PROTOCOL_FEATURES 0x%" PRIx64 ")", dev->name, name, d->needs_pf,
			 dev->protocol_features);
		close_fds(fds, nfds);
		r = -ENOTSUP;
		goto out;
	}
	if (msg->hdr.size < d->min_size || msg->hdr.size > d->max_size) {
		log_warn("%s: %s with a %u-byte payload (expected %u..%u)", dev->name, name,
			 msg->hdr.size, d->min_size, d->max_size);
		close_fds(fds, nfds);
		r = -EINVAL;
		goto out;
	}
	if (!fds_ok(d, msg, nfds)) {
		log_warn("%s: %s came with %u file descriptors", dev->name, name, nfds);
		close_fds(fds, nfds);
		r = -EINVAL;
		goto out;
	}
	log_debug("%s: %s", dev->name, name);
	r = d->handler(&req);
	/* Handlers mark the fds they keep with -1; the rest are closed. */
	close_fds(fds, nfds);
out:
	if (r < 0)
		STAT_INC(dev->stats.bad_messages);
	/* A request that owes a reply and failed before sending it: the
	 * frontend would wait forever, so drop the connection instead. */
	if (r < 0 && !req.replied && d && d->replies)
		return r;
	if (req.replied) {
		dev->replied = true;
		return r; /* only a failed reply write gets here with r < 0 */
	}
	if (want_ack) {
		uint64_t status = r < 0 ? 1 : 0;
		int w = vu_msg_reply(dev->conn_fd, &msg->hdr, &status, sizeof(status));

		dev->replied = true;
		if (w < 0)
			return w;
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The vhost-user session on an attached fd, with no listening socket: one
 * end of a socketpair is the frontend, the test turns the session's event
 * loop itself. Covers what the session adds over the request handlers:
 * attach / detach / re-attach, the device's reset and the owner's detached
 * callback, ending the session on a bad message, REPLY_ACK, kick fds
 * watched while a ring runs and forgotten when it stops, and messages
 * taken in piece by piece without ever waiting for the frontend.
 */
#include "vu_test_msg.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "util/clock.h"
#include "vhost_user/vu_dev.h"
#include "vhost_user/vu_dispatch.h"

#define BIT(n) (1ull << (n))
#define TOY_QUEUES 2u
#define TOY_FEATURE BIT(0)

/* Guest memory: a memfd seen at a made-up frontend address. */
#define MEM_SIZE (1u << 20)
#define MEM_GPA 0x40000000ull
#define MEM_UVA 0x7f0040000000ull
#define RING_NUM 16u

struct fixture {
	struct ev_loop *loop;
	struct vu_dev dev;
	int sv[2];              /* sv[0] goes to the session, sv[1] is the frontend */
	unsigned resets;
	unsigned kicks[TOY_QUEUES];
	unsigned detached;
	bool attached_in_reset; /* the fd was still attached when reset ran */
	int next_fd;            /* attached by the detached callback if >= 0 */
};

static void toy_get_config(struct vu_dev *dev, uint32_t offset, uint32_t size, uint8_t *out)
{
	static const uint8_t cfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	(void)dev;
	memcpy(out, cfg + offset, size);
}

static void toy_queue_kick(struct vu_dev *dev, unsigned q)
{
	struct fixture *f = dev->opaque;

	assert_true(q < TOY_QUEUES);
	f->kicks[q]++;
}

static void toy_reset(struct vu_dev *dev)
{
	struct fixture *f = dev->opaque;

	f->resets++;
	f->attached_in_reset = vu_dev_attached(dev);
}

static const struct vu_dev_ops toy_ops = {
	.device_features = TOY_FEATURE,
	.num_queues = TOY_QUEUES,
	.config_size = 8,
	.get_config = toy_get_config,
	.queue_kick = toy_queue_kick,
	.reset = toy_reset,
};

static void on_detached(struct vu_dev *dev, void *opaque)
{
	struct fixture *f = opaque;

	assert_ptr_equal(dev, &f->dev);
	assert_false(vu_dev_attached(dev));
	f->detached++;
	if (f->next_fd >= 0) {
		assert_int_equal(vu_dev_attach(dev, f->next_fd), 0);
		f->next_fd = -1;
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = ev_loop_new();
	assert_non_null(f->loop);
	assert_int_equal(vu_dev_init(&f->dev, f->loop, "test", &toy_ops, f), 0);
	vu_dev_on_detached(&f->dev, on_detached, f);
	f->sv[0] = f->sv[1] = -1;
	f->next_fd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_dev_destroy(&f->dev);
	if (f->sv[1] >= 0)
		close(f->sv[1]);
	if (f->next_fd >= 0)
		close(f->next_fd);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

/* A fresh socketpair; sv[0] is attached. */
static void connect_frontend(struct fixture *f)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv), 0);
	assert_int_equal(vu_dev_attach(&f->dev, f->sv[0]), 0);
}

static void negotiate_reply_ack(struct fixture *f)
{
	vt_send(f->sv[1], VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	vt_send_u64(f->sv[1], VHOST_USER_SET_FEATURES, 0,
		    TOY_FEATURE | BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	vt_send_u64(f->sv[1], VHOST_USER_SET_PROTOCOL_FEATURES, 0,
		    BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK));
	vt_pump(f->loop);
	vt_expect_silence(f->sv[1]);
}

static void test_init_opens_nothing(void **state)
{
	struct fixture *f = *state;
	struct vu_dev_ops bad = toy_ops;
	struct vu_dev dev;
	int before = count_fds();

	assert_int_equal(vu_dev_init(&dev, f->loop, "idle", &toy_ops, NULL), 0);
	assert_int_equal(count_fds(), before);
	assert_false(vu_dev_attached(&dev));
	assert_false(vu_dev_has_memory(&dev));
	vu_dev_destroy(&dev);

	bad.num_queues = 0;
	assert_int_equal(vu_dev_init(&dev, f->loop, "bad", &bad, NULL), -EINVAL);
	bad.num_queues = VU_MAX_QUEUES + 1;
	assert_int_equal(vu_dev_init(&dev, f->loop, "bad", &bad, NULL), -EINVAL);
	assert_int_equal(count_fds(), before);
}

static void test_get_features_reply(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	connect_frontend(f);
	assert_true(vu_dev_attached(&f->dev));
	vt_send(f->sv[1], VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	v = vt_recv_u64(f->sv[1], VHOST_USER_GET_FEATURES);
	assert_true(v == vu_offered_features(&f->dev));
	assert_true(v & TOY_FEATURE);
	assert_true(v & BIT(VIRTIO_F_VERSION_1_BIT));
	assert_true(v & BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	assert_int_equal(f->dev.stats.messages, 1);
	assert_int_equal(f->dev.stats.frontends, 1);
}

static void test_set_owner_no_reply(void **state)
{
	struct fixture *f = *state;

	connect_frontend(f);
	vt_send(f->sv[1], VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	vt_expect_silence(f->sv[1]);
	/* The session still serves: the next reply is the next request's. */
	vt_send(f->sv[1], VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_GET_QUEUE_NUM), TOY_QUEUES);
	assert_int_equal(f->dev.stats.messages, 2);
	assert_int_equal(f->dev.stats.bad_messages, 0);
	assert_int_equal(f->resets, 0);
}

/* A request that owes a reply, with a payload outside its size range:
 * the frontend would wait for an answer that never comes, so the session
 * ends instead. */
static void test_bad_size_closes(void **state)
{
	struct fixture *f = *state;
	uint64_t big[2] = { 0, 0 };

	connect_frontend(f);
	vt_send(f->sv[1], VHOST_USER_GET_FEATURES, 0, big, sizeof(big), NULL, 0);
	vt_pump(f->loop);
	vt_expect_closed(f->sv[1]);
	assert_false(vu_dev_attached(&f->dev));
	assert_int_equal(f->dev.stats.bad_messages, 1);
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->detached, 1);
}

/* A header announcing more payload than any request may carry: the
 * reader refuses it before reading on. */
static void test_oversized_header_closes(void **state)
{
	struct fixture *f = *state;
	struct vu_msg_header h = {
		.request = VHOST_USER_SET_FEATURES, .flags = VHOST_USER_VERSION,
		.size = VHOST_USER_PAYLOAD_MAX + 1,
	};

	connect_frontend(f);
	assert_int_equal(send(f->sv[1], &h, sizeof(h), MSG_NOSIGNAL), (ssize_t)sizeof(h));
	vt_pump(f->loop);
	vt_expect_closed(f->sv[1]);
	assert_false(vu_dev_attached(&f->dev));
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->detached, 1);
}

static void test_reply_ack(void **state)
{
	struct fixture *f = *state;
	struct vu_vring_state ok = { .index = 0, .num = RING_NUM };
	struct vu_vring_state bad = { .index = TOY_QUEUES, .num = RING_NUM };

	connect_frontend(f);
	/* Before REPLY_ACK is negotiated, NEED_REPLY asks for nothing. */
	vt_send(f->sv[1], VHOST_USER_SET_OWNER, VHOST_USER_NEED_REPLY_MASK, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	vt_expect_silence(f->sv[1]);

	negotiate_reply_ack(f);
	vt_send(f->sv[1], VHOST_USER_SET_VRING_NUM, VHOST_USER_NEED_REPLY_MASK, &ok,
		sizeof(ok), NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_SET_VRING_NUM), 0);
	/* A refused request is acked with a failure status; the session
	 * goes on. */
	vt_send(f->sv[1], VHOST_USER_SET_VRING_NUM, VHOST_USER_NEED_REPLY_MASK, &bad,
		sizeof(bad), NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_SET_VRING_NUM), 1);
	/* So is a request the backend does not implement. */
	vt_send_u64(f->sv[1], VHOST_USER_SET_LOG_BASE, VHOST_USER_NEED_REPLY_MASK, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_SET_LOG_BASE), 1);
	assert_true(vu_dev_attached(&f->dev));
	assert_int_equal(f->dev.stats.bad_messages, 2);
	assert_int_equal(f->resets, 0);
}

/* SET_OWNER is required before anything that touches the device; the
 * queries and the protocol-feature exchange QEMU sends before it are not. */
static void test_owner_required(void **state)
{
	struct fixture *f = *state;
	struct vu_config_space cfg = { .offset = 0, .size = 4 };

	connect_frontend(f);
	vt_send_u64(f->sv[1], VHOST_USER_SET_PROTOCOL_FEATURES, 0,
		    BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK));
	vt_send(f->sv[1], VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_GET_QUEUE_NUM), TOY_QUEUES);
	/* A set message before SET_OWNER: refused with a failure ack. */
	vt_send_u64(f->sv[1], VHOST_USER_SET_FEATURES, VHOST_USER_NEED_REPLY_MASK, TOY_FEATURE);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_SET_FEATURES), 1);
	assert_false(f->dev.features_set);
	/* After SET_OWNER the same message is taken. */
	vt_send(f->sv[1], VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	vt_send_u64(f->sv[1], VHOST_USER_SET_FEATURES, VHOST_USER_NEED_REPLY_MASK, TOY_FEATURE);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_SET_FEATURES), 0);
	assert_true(f->dev.features_set);
	/* A new connection starts unowned: a GET_CONFIG before SET_OWNER owes a
	 * reply it will not get, so the session ends. */
	vu_dev_detach(&f->dev, "test");
	close(f->sv[1]);
	connect_frontend(f);
	vt_send(f->sv[1], VHOST_USER_GET_CONFIG, 0, &cfg, VU_CONFIG_HDR_SIZE + 4, NULL, 0);
	vt_pump(f->loop);
	vt_expect_closed(f->sv[1]);
	assert_false(vu_dev_attached(&f->dev));
}

/* Memory-slot requests need VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS. */
static void test_mem_slots_need_protocol_feature(void **state)
{
	struct fixture *f = *state;
	struct vu_mem_single_region m = {
		.region = { .guest_phys_addr = MEM_GPA, .memory_size = MEM_SIZE,
			    .userspace_addr = MEM_UVA },
	};
	int memfd = memfd_create("test_vu_dev", MFD_CLOEXEC);
	int before;

	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, MEM_SIZE), 0);
	connect_frontend(f);
	negotiate_reply_ack(f); /* REPLY_ACK only: no CONFIGURE_MEM_SLOTS */
	before = count_fds();
	vt_send(f->sv[1], VHOST_USER_ADD_MEM_REG, VHOST_USER_NEED_REPLY_MASK, &m, sizeof(m),
		&memfd, 1);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_ADD_MEM_REG), 1);
	assert_false(vu_dev_has_memory(&f->dev));
	assert_int_equal(count_fds(), before); /* the region's fd was closed */
	vt_send(f->sv[1], VHOST_USER_REM_MEM_REG, VHOST_USER_NEED_REPLY_MASK, &m, sizeof(m),
		NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_REM_MEM_REG), 1);
	assert_int_equal(f->dev.stats.bad_messages, 2);
	/* GET_MAX_MEM_SLOTS owes a reply: refusing it ends the session. */
	vt_send(f->sv[1], VHOST_USER_GET_MAX_MEM_SLOTS, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	vt_expect_closed(f->sv[1]);
	assert_false(vu_dev_attached(&f->dev));

	/* With the feature, the same requests are served. */
	close(f->sv[1]);
	connect_frontend(f);
	vt_send(f->sv[1], VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	vt_send_u64(f->sv[1], VHOST_USER_SET_FEATURES, 0,
		    TOY_FEATURE | BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	vt_send_u64(f->sv[1], VHOST_USER_SET_PROTOCOL_FEATURES, 0,
		    BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
		    BIT(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
	vt_send(f->sv[1], VHOST_USER_GET_MAX_MEM_SLOTS, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_true(vt_recv_u64(f->sv[1], VHOST_USER_GET_MAX_MEM_SLOTS) > 0);
	vt_send(f->sv[1], VHOST_USER_ADD_MEM_REG, VHOST_USER_NEED_REPLY_MASK, &m, sizeof(m),
		&memfd, 1);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_ADD_MEM_REG), 0);
	assert_true(vu_dev_has_memory(&f->dev));
	close(memfd);
}

/* Kick, call and err fds must be eventfds: a pipe as call fd would block
 * the VM's thread once full. Refused, closed, and the ring keeps none. */
static void test_vring_fds_must_be_eventfds(void **state)
{
	static const uint32_t reqs[] = { VHOST_USER_SET_VRING_CALL, VHOST_USER_SET_VRING_KICK,
					 VHOST_USER_SET_VRING_ERR };
	struct fixture *f = *state;
	int pfd[2], sv[2], efd, before;

	connect_frontend(f);
	negotiate_reply_ack(f);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	before = count_fds();
	for (unsigned i = 0; i < 3; i++) {
		vt_send(f->sv[1], reqs[i], VHOST_USER_NEED_REPLY_MASK, &(uint64_t){ 1 },
			sizeof(uint64_t), &pfd[1], 1);
		vt_pump(f->loop);
		assert_int_equal(vt_recv_u64(f->sv[1], reqs[i]), 1);
		vt_send(f->sv[1], reqs[i], VHOST_USER_NEED_REPLY_MASK, &(uint64_t){ 1 },
			sizeof(uint64_t), &sv[0], 1);
		vt_pump(f->loop);
		assert_int_equal(vt_recv_u64(f->sv[1], reqs[i]), 1);
	}
	assert_int_equal(count_fds(), before); /* every refused fd was closed */
	assert_int_equal(vu_queue(&f->dev, 1)->call_fd, -1);
	assert_int_equal(vu_queue(&f->dev, 1)->kick_fd, -1);
	assert_int_equal(vu_queue(&f->dev, 1)->err_fd, -1);
	assert_true(vu_dev_attached(&f->dev));
	/* An eventfd is taken, and made non-blocking. */
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	vt_send(f->sv[1], VHOST_USER_SET_VRING_CALL, VHOST_USER_NEED_REPLY_MASK,
		&(uint64_t){ 1 }, sizeof(uint64_t), &efd, 1);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_SET_VRING_CALL), 0);
	assert_true(vu_queue(&f->dev, 1)->call_fd >= 0);
	assert_true(fcntl(efd, F_GETFL) & O_NONBLOCK); /* same open file */
	close(efd);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_detach_resets_and_tells(void **state)
{
	struct fixture *f = *state;

	connect_frontend(f);
	negotiate_reply_ack(f);
	assert_true(f->dev.features_set);
	vu_dev_detach(&f->dev, "test");
	assert_false(vu_dev_attached(&f->dev));
	assert_int_equal(f->resets, 1);
	assert_false(f->attached_in_reset);
	assert_int_equal(f->detached, 1);
	assert_false(f->dev.features_set);
	assert_int_equal(f->dev.features, 0);
	assert_int_equal(f->dev.protocol_features, 0);
	vt_expect_closed(f->sv[1]);
	/* Nothing attached: nothing to do, nobody told. */
	vu_dev_detach(&f->dev, "again");
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->detached, 1);
}

static void test_peer_close_detaches(void **state)
{
	struct fixture *f = *state;

	connect_frontend(f);
	close(f->sv[1]);
	f->sv[1] = -1;
	vt_pump(f->loop);
	assert_false(vu_dev_attached(&f->dev));
	assert_false(fd_open(f->sv[0])); /* the session closed its end */
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->detached, 1);
}

static void test_attach_busy(void **state)
{
	struct fixture *f = *state;
	int other[2];

	connect_frontend(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other), 0);
	assert_int_equal(vu_dev_attach(&f->dev, other[0]), -EBUSY);
	/* Refused: the fd is still the caller's, and the first frontend is
	 * still served. */
	assert_true(fd_open(other[0]));
	close(other[0]);
	close(other[1]);
	vt_send(f->sv[1], VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_true(vt_recv_u64(f->sv[1], VHOST_USER_GET_FEATURES) & TOY_FEATURE);
	assert_int_equal(f->dev.stats.frontends, 1);
	assert_int_equal(f->detached, 0);
}

static void test_reattach_after_detach(void **state)
{
	struct fixture *f = *state;
	int old;

	connect_frontend(f);
	old = f->sv[1];
	vu_dev_detach(&f->dev, "test");
	connect_frontend(f);
	vt_send(f->sv[1], VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_GET_QUEUE_NUM), TOY_QUEUES);
	vt_expect_closed(old);
	close(old);
	assert_int_equal(f->dev.stats.frontends, 2);
	assert_int_equal(f->resets, 1);
}

/* What a listener does: attach the next frontend from the callback. */
static void test_reattach_from_callback(void **state)
{
	struct fixture *f = *state;
	int next[2];

	connect_frontend(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, next), 0);
	f->next_fd = next[0];
	close(f->sv[1]);
	f->sv[1] = next[1];
	vt_pump(f->loop);
	assert_int_equal(f->detached, 1);
	assert_true(vu_dev_attached(&f->dev));
	vt_send(f->sv[1], VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_true(vt_recv_u64(f->sv[1], VHOST_USER_GET_FEATURES) & TOY_FEATURE);
	assert_int_equal(f->dev.stats.frontends, 2);
}

static void write_kick(int efd)
{
	uint64_t one = 1;

	assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* Memory, one ring started with a kick fd: kicks reach the device while
 * the ring runs, not after GET_VRING_BASE stopped it, again once it is
 * restarted, and not after the frontend went (nor its memory). */
static void test_kicks_follow_the_ring(void **state)
{
	struct fixture *f = *state;
	struct vu_memory mem = { .nregions = 1 };
	struct vu_vring_state num = { .index = 0, .num = RING_NUM };
	struct vu_vring_state base = { .index = 0, .num = 0 };
	struct vu_vring_addr addr = {
		.index = 0,
		.desc_user_addr = MEM_UVA,
		.avail_user_addr = MEM_UVA + 0x1000,
		.used_user_addr = MEM_UVA + 0x2000,
	};
	struct vu_msg_header h;
	struct vu_vring_state st;
	int memfd = memfd_create("test_vu_dev", MFD_CLOEXEC);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int efd2 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	unsigned kicks;

	assert_true(memfd >= 0 && efd >= 0 && efd2 >= 0);
	assert_int_equal(ftruncate(memfd, MEM_SIZE), 0);
	mem.regions[0] = (struct vu_mem_region){
		.guest_phys_addr = MEM_GPA, .memory_size = MEM_SIZE,
		.userspace_addr = MEM_UVA, .mmap_offset = 0,
	};
	connect_frontend(f);
	/* No PROTOCOL_FEATURES: rings are enabled as soon as they start. */
	vt_send(f->sv[1], VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	vt_send_u64(f->sv[1], VHOST_USER_SET_FEATURES, 0, TOY_FEATURE);
	vt_send(f->sv[1], VHOST_USER_SET_MEM_TABLE, 0, &mem,
		8 + sizeof(struct vu_mem_region), &memfd, 1);
	vt_send(f->sv[1], VHOST_USER_SET_VRING_NUM, 0, &num, sizeof(num), NULL, 0);
	vt_send(f->sv[1], VHOST_USER_SET_VRING_BASE, 0, &base, sizeof(base), NULL, 0);
	vt_send(f->sv[1], VHOST_USER_SET_VRING_ADDR, 0, &addr, sizeof(addr), NULL, 0);
	vt_send(f->sv[1], VHOST_USER_SET_VRING_KICK, 0, &(uint64_t){ 0 }, sizeof(uint64_t),
		&efd, 1);
	vt_pump(f->loop);
	vt_expect_silence(f->sv[1]);
	assert_true(vu_dev_attached(&f->dev));
	assert_true(vu_dev_has_memory(&f->dev));
	assert_true(vq_ready(vu_queue(&f->dev, 0)));
	/* The ring became ready: the device looked once. */
	assert_int_equal(f->kicks[0], 1);

	write_kick(efd);
	vt_pump(f->loop);
	assert_int_equal(f->kicks[0], 2);
	assert_int_equal(f->kicks[1], 0);

	vt_send(f->sv[1], VHOST_USER_GET_VRING_BASE, 0, &base, sizeof(base), NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv(f->sv[1], &h, &st, sizeof(st)), (int)sizeof(st));
	assert_int_equal(h.request, VHOST_USER_GET_VRING_BASE);
	assert_int_equal(st.index, 0);
	kicks = f->kicks[0];
	/* Stopped: the kick fd is no longer watched (and was closed). */
	write_kick(efd);
	vt_pump_idle(f->loop);
	assert_int_equal(f->kicks[0], kicks);

	/* Restarted with a new kick fd (it likely gets the old one's number
	 * in the session: a stale watch would make it unwatchable). */
	vt_send(f->sv[1], VHOST_USER_SET_VRING_KICK, 0, &(uint64_t){ 0 }, sizeof(uint64_t),
		&efd2, 1);
	vt_pump(f->loop);
	assert_int_equal(f->kicks[0], kicks + 1);
	write_kick(efd2);
	vt_pump(f->loop);
	assert_int_equal(f->kicks[0], kicks + 2);

	vu_dev_detach(&f->dev, "test");
	assert_false(vu_dev_has_memory(&f->dev));
	assert_int_equal(f->dev.mem.nregions, 0);
	/* Detached: the kick fd is no longer watched either. */
	write_kick(efd2);
	vt_pump_idle(f->loop);
	assert_int_equal(f->kicks[0], kicks + 2);
	close(memfd);
	close(efd);
	close(efd2);
}

static void test_handle_msg_needs_attach(void **state)
{
	struct fixture *f = *state;
	struct vu_msg msg = { .hdr = { .request = VHOST_USER_SET_OWNER,
				       .flags = VHOST_USER_VERSION } };
	int fd = eventfd(0, EFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(vu_dev_handle_msg(&f->dev, &msg, &fd, 1), -ENOTCONN);
	assert_false(fd_open(fd)); /* consumed all the same */

	/* Attached: a bad message ends the session, as if read from it. */
	connect_frontend(f);
	msg.hdr.request = VHOST_USER_GET_QUEUE_NUM;
	msg.hdr.size = 16;
	assert_int_equal(vu_dev_handle_msg(&f->dev, &msg, NULL, 0), -EINVAL);
	assert_false(vu_dev_attached(&f->dev));
	assert_int_equal(f->detached, 1);
	vt_expect_closed(f->sv[1]);
}

static void test_destroy_detaches(void **state)
{
	struct fixture *f = *state;

	connect_frontend(f);
	vu_dev_destroy(&f->dev);
	assert_false(vu_dev_attached(&f->dev));
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->detached, 1);
	vt_expect_closed(f->sv[1]);
}

/* ---- messages as the socket has them: nothing waits for the frontend ---- */

/* Sends len raw bytes, with nfds fds (SCM_RIGHTS) if any. */
static void send_piece(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char control[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_true(nfds <= 16);
	if (nfds) {
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
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* A whole message as bytes: header + u64 payload. */
struct wire_u64 {
	struct vu_msg_header h;
	uint64_t v;
} __attribute__((packed));

static struct wire_u64 wire_u64(uint32_t request, uint64_t v)
{
	return (struct wire_u64){ .h = { .request = request, .flags = VHOST_USER_VERSION,
					 .size = sizeof(uint64_t) },
				  .v = v };
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A message in four pieces, its fd with the first byte: each turn takes
 * what is there and returns (the session stays, the loop is free), the
 * fd is held meanwhile, the deadline runs from the first byte, and the
 * message is handled once whole. Then a header byte by byte. */
static void test_message_in_pieces(void **state)
{
	struct fixture *f = *state;
	struct wire_u64 m = wire_u64(VHOST_USER_SET_VRING_CALL, 1);
	struct vu_msg_header g = { .request = VHOST_USER_GET_FEATURES,
				   .flags = VHOST_USER_VERSION };
	const uint8_t *b = (const uint8_t *)&m;
	int efd = eventfd(0, EFD_CLOEXEC), before;
	int64_t t0;

	assert_true(efd >= 0);
	connect_frontend(f);
	vt_send(f->sv[1], VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	before = count_fds();

	t0 = vdv_now_ns();
	send_piece(f->sv[1], b, 1, &efd, 1);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	assert_int_equal(count_fds(), before + 1); /* the session holds the fd */
	assert_true(ev_timer_armed(&f->dev.msg_timer));
	assert_true(f->dev.msg_timer.deadline_ns >= t0 + (int64_t)VU_MSG_TIMEOUT_MS * 1000000);
	assert_true(f->dev.msg_timer.deadline_ns <= vdv_now_ns() +
						    (int64_t)VU_MSG_TIMEOUT_MS * 1000000);
	send_piece(f->sv[1], b + 1, sizeof(m.h) - 1, NULL, 0);
	vt_pump(f->loop);
	send_piece(f->sv[1], b + sizeof(m.h), 4, NULL, 0);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	assert_int_equal(vu_queue(&f->dev, 1)->call_fd, -1);
	assert_int_equal(f->dev.stats.messages, 1); /* SET_OWNER only */
	send_piece(f->sv[1], b + sizeof(m.h) + 4, 4, NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(f->dev.stats.messages, 2);
	assert_true(vu_queue(&f->dev, 1)->call_fd >= 0);
	assert_true(same_file(vu_queue(&f->dev, 1)->call_fd, efd));
	assert_false(ev_timer_armed(&f->dev.msg_timer)); /* whole: no deadline */
	vt_expect_silence(f->sv[1]);

	for (size_t i = 0; i < sizeof(g); i++) {
		vt_expect_silence(f->sv[1]);
		send_piece(f->sv[1], (const uint8_t *)&g + i, 1, NULL, 0);
		vt_pump(f->loop);
	}
	assert_true(vt_recv_u64(f->sv[1], VHOST_USER_GET_FEATURES) ==
		    vu_offered_features(&f->dev));
	assert_int_equal(f->dev.stats.bad_messages, 0);
	close(efd);
}

/* Several whole messages in one write: one turn of the loop handles them
 * all (not one per wake-up), up to one that is answered, which ends the
 * turn (the loop's before-sleep hooks run before the frontend can act on
 * the reply); the next turn goes on. Also a message in two sends that are
 * both there. */
static void test_messages_in_one_write(void **state)
{
	struct fixture *f = *state;
	struct vu_vring_state num = { .index = 0, .num = RING_NUM }, base = { .index = 0 };
	struct {
		struct vu_msg_header a;
		struct wire_u64 b;
		struct vu_msg_header c;
		struct vu_vring_state cp;
		struct vu_msg_header d;
		struct vu_vring_state dp;
		struct vu_msg_header e, g;
	} __attribute__((packed)) w = {
		.a = { .request = VHOST_USER_SET_OWNER, .flags = VHOST_USER_VERSION },
		.b = wire_u64(VHOST_USER_SET_FEATURES, TOY_FEATURE),
		.c = { .request = VHOST_USER_SET_VRING_NUM, .flags = VHOST_USER_VERSION,
		       .size = sizeof(num) },
		.cp = num,
		.d = { .request = VHOST_USER_SET_VRING_BASE, .flags = VHOST_USER_VERSION,
		       .size = sizeof(base) },
		.dp = base,
		.e = { .request = VHOST_USER_GET_QUEUE_NUM, .flags = VHOST_USER_VERSION },
		.g = { .request = VHOST_USER_GET_FEATURES, .flags = VHOST_USER_VERSION },
	};
	struct wire_u64 m = wire_u64(VHOST_USER_SET_VRING_CALL, 1);
	int efd;

	connect_frontend(f);
	send_piece(f->sv[1], &w, sizeof(w), NULL, 0);
	assert_int_equal(ev_run_once(f->loop, VT_TIMEOUT_MS), 1);
	assert_int_equal(f->dev.stats.messages, 5); /* up to GET_QUEUE_NUM */
	assert_true(f->dev.owned);
	assert_int_equal(f->dev.features, TOY_FEATURE);
	assert_int_equal(vu_queue(&f->dev, 0)->num, RING_NUM);
	assert_int_equal(vt_recv_u64(f->sv[1], VHOST_USER_GET_QUEUE_NUM), TOY_QUEUES);
	vt_expect_silence(f->sv[1]);
	assert_int_equal(ev_run_once(f->loop, VT_TIMEOUT_MS), 1);
	assert_int_equal(f->dev.stats.messages, 6);
	assert_true(vt_recv_u64(f->sv[1], VHOST_USER_GET_FEATURES) ==
		    vu_offered_features(&f->dev));
	vt_expect_silence(f->sv[1]);

	/* Two sends already queued, the first with an fd: a read stops where
	 * that send ends, and the same turn reads on. */
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	send_piece(f->sv[1], &m, 1, &efd, 1);
	send_piece(f->sv[1], (const uint8_t *)&m + 1, sizeof(m) - 1, NULL, 0);
	assert_int_equal(ev_run_once(f->loop, VT_TIMEOUT_MS), 1);
	assert_int_equal(f->dev.stats.messages, 7);
	assert_true(same_file(vu_queue(&f->dev, 1)->call_fd, efd));
	assert_false(ev_timer_armed(&f->dev.msg_timer));
	close(efd);
}

/* The fds of a message cut short are closed, however it ends: detach,
 * EOF in its middle, or too many fds over its pieces. */
static void test_partial_message_fds_closed(void **state)
{
	struct fixture *f = *state;
	struct wire_u64 m = wire_u64(VHOST_USER_SET_VRING_CALL, 1);
	int e[9], before;

	for (unsigned i = 0; i < 9; i++) {
		e[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(e[i] >= 0);
	}
	before = count_fds();

	/* Detach while a message with two fds is half read. */
	connect_frontend(f);
	send_piece(f->sv[1], &m, 7, e, 2);
	vt_pump(f->loop);
	assert_int_equal(count_fds(), before + 2 + 2); /* socketpair + fds */
	vu_dev_detach(&f->dev, "test");
	assert_false(ev_timer_armed(&f->dev.msg_timer));
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(count_fds(), before);

	/* EOF in the middle of the payload. */
	connect_frontend(f);
	send_piece(f->sv[1], &m, sizeof(m.h) + 3, e, 1);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	close(f->sv[1]);
	f->sv[1] = -1;
	vt_pump(f->loop);
	assert_false(vu_dev_attached(&f->dev));
	assert_false(ev_timer_armed(&f->dev.msg_timer));
	assert_int_equal(f->dev.stats.bad_messages, 1);
	assert_int_equal(count_fds(), before);

	/* Eight fds with the first byte and one more with the second: more
	 * than a message may carry. */
	connect_frontend(f);
	send_piece(f->sv[1], &m, 1, e, 8);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	send_piece(f->sv[1], (const uint8_t *)&m + 1, 1, &e[8], 1);
	vt_pump(f->loop);
	assert_false(vu_dev_attached(&f->dev));
	assert_int_equal(f->dev.stats.bad_messages, 2);
	vt_expect_closed(f->sv[1]);
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(count_fds(), before);
	for (unsigned i = 0; i < 9; i++)
		close(e[i]);
}

/* A frontend that sends requests and reads no reply: once the socket is
 * full the session ends, at once; the thread never waits for room. */
static void test_unread_replies_end_session(void **state)
{
	struct fixture *f = *state;
	enum { N = 4096 };
	static struct vu_msg_header reqs[N];
	struct vu_msg_header h;
	uint64_t v;
	int64_t t0, took;
	unsigned replies = 0;
	ssize_t sent;

	for (unsigned i = 0; i < N; i++)
		reqs[i] = (struct vu_msg_header){ .request = VHOST_USER_GET_FEATURES,
						  .flags = VHOST_USER_VERSION };
	connect_frontend(f);
	sent = send(f->sv[1], reqs, sizeof(reqs), MSG_DONTWAIT | MSG_NOSIGNAL);
	assert_true(sent > 0);
	t0 = vdv_now_ns();
	while (vu_dev_attached(&f->dev) && vdv_now_ns() - t0 < 10000000000ll)
		assert_true(ev_run_once(f->loop, 100) >= 0);
	took = (vdv_now_ns() - t0) / 1000000;
	print_message("session ended after %lld ms\n", (long long)took);
	assert_false(vu_dev_attached(&f->dev));
	assert_true(took < 2000); /* a blocking send would have waited 5 s */
	assert_int_equal(f->detached, 1);
	/* What was sent are whole replies, then EOF. */
	for (;;) {
		int r = vt_recv(f->sv[1], &h, &v, sizeof(v));

		if (r == -ECONNRESET)
			break;
		assert_int_equal(r, (int)sizeof(v));
		assert_int_equal(h.request, VHOST_USER_GET_FEATURES);
		replies++;
	}
	print_message("%u replies were sent before the socket was full\n", replies);
	assert_true(replies > 0 && replies < (unsigned)(sent / (ssize_t)sizeof(h)));
}

/* The deadline: a message not whole VU_MSG_TIMEOUT_MS after its first
 * byte ends the session, and its fds are closed. */
static void test_message_deadline(void **state)
{
	struct fixture *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC), before;
	int64_t t0;

	assert_true(efd >= 0);
	before = count_fds();
	connect_frontend(f);
	t0 = vdv_now_ns();
	send_piece(f->sv[1], &(uint32_t){ VHOST_USER_SET_VRING_CALL }, 2, &efd, 1);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	/* Nothing else to do: the loop sleeps until the deadline. */
	while (vu_dev_attached(&f->dev) &&
	       vdv_now_ns() - t0 < (int64_t)(VU_MSG_TIMEOUT_MS + 3000) * 1000000)
		assert_true(ev_run_once(f->loop, VU_MSG_TIMEOUT_MS + 3000) >= 0);
	assert_false(vu_dev_attached(&f->dev));
	assert_true(vdv_now_ns() - t0 >= (int64_t)VU_MSG_TIMEOUT_MS * 1000000);
	assert_int_equal(f->dev.stats.bad_messages, 1);
	vt_expect_closed(f->sv[1]);
	close(f->sv[1]);
	f->sv[1] = -1;
	assert_int_equal(count_fds(), before);
	close(efd);
}

static void test_request_names(void **state)
{
	(void)state;
	assert_string_equal(vu_request_name(VHOST_USER_GET_FEATURES), "GET_FEATURES");
	assert_string_equal(vu_request_name(VHOST_USER_SET_VRING_KICK), "SET_VRING_KICK");
	/* Names come from the code list, also for requests we refuse. */
	assert_string_equal(vu_request_name(VHOST_USER_SET_LOG_BASE), "SET_LOG_BASE");
	assert_string_equal(vu_request_name(VHOST_USER_GET_STATUS), "GET_STATUS");
	assert_int_equal(VHOST_USER_GET_STATUS, 40);
	assert_int_equal(VHOST_USER_MAX_REQUEST, 41);
	assert_string_equal(vu_request_name(VHOST_USER_MAX_REQUEST), "UNKNOWN");
	assert_string_equal(vu_request_name(0xffffffffu), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_opens_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_features_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_owner_no_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_size_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_header_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_slots_need_protocol_feature, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vring_fds_must_be_eventfds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_resets_and_tells, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_close_detaches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reattach_after_detach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reattach_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kicks_follow_the_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handle_msg_needs_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_detaches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_messages_in_one_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_message_fds_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_replies_end_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_deadline, setup, teardown),
		cmocka_unit_test(test_request_names),
	};

	return cmocka_run_group_tests_name("vu_dev", tests, NULL, NULL);
}

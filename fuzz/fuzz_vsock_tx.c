/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest packets: the device built as the daemon builds it (vsock_dev_new
 * and a backend), its tx queue kicked on a ring the input fills, with the
 * event loop run in between so that replies, credit and host data flow.
 * No real backend: connect() hands out one end of a Unix socketpair
 * (refused, immediate or in progress, chosen by the port), so nothing
 * outside this process is touched. Only the vhost-user session's memory
 * and rings are set up by hand, as the VMM's messages would.
 *
 * Input: a 4-byte header, then the image of a 64 KiB guest memory region
 * (gpa 0, zero-filled past the input):
 *   [0] log2 of the tx ring size (mod 7: 1..64)
 *   [1] bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 host peers write data,
 *       bit 3 the input owns the rx ring too, bit 4 the driver took
 *       VIRTIO_VSOCK_F_SEQPACKET (SEQPACKET peers are SOCK_SEQPACKET
 *       socketpairs), bit 5 the backend puts a flags byte before each
 *       SEQPACKET message (as sibling does)
 *   [2] rounds of tx / rx / loop turn (1 + [2] % 4)
 * The tx ring: desc at 0x0000, avail at 0x1000, used at 0x2000. The rx
 * ring (16 entries) is at 0x3000..0x3fff: unless [1] bit 3 is set, the
 * harness fills it with 16 buffers of 256 bytes at 0xf000, so that its
 * writes are the guest's "receive" memory; with bit 3 the input's own
 * descriptors and avail ring are used (header-only, read-only, chained,
 * indirect or overlapping rx buffers).
 * The guest CID is 3. Between inputs every connection is freed, and the
 * fd count and event loop registrations must be back to their start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "vsock/vsock.h"

#define MEM_SIZE 0x10000u
#define HDR_SIZE 4u
#define UVA0 0x7f0000000000ull
#define RX_NUM 16u
#define RX_DESC 0x3000u
#define RX_AVAIL 0x3400u
#define RX_USED 0x3800u
#define RX_BUF 0xf000u
#define MAX_PEERS 256

static struct vm_config cfg;
static char *groups[] = { (char *)"default" };
static struct vsock_dev *d;
static struct vu_dev *vu;
static struct ev_loop *loop;
static struct guest_mem gm;
static uint8_t *mem;
static int peers[MAX_PEERS];
static unsigned npeers;
static int baseline_fds;
static bool peers_write;

static int fake_start(struct vsock_backend *b, char *err, size_t errlen)
{
	(void)b, (void)err, (void)errlen;
	return 0;
}

static void fake_stop(struct vsock_backend *b)
{
	(void)b;
}

static int fake_connect(struct vsock_backend *b, const struct vsock_hdr *h, uint32_t *wait)
{
	int sv[2];
	(void)b;

	*wait = 0;
	if (h->dst_port % 3 == 0 || npeers == MAX_PEERS)
		return -ECONNREFUSED;
	if (socketpair(AF_UNIX,
		       (h->type == VIRTIO_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM) |
			       SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) < 0)
		return -errno;
	peers[npeers++] = sv[1];
	if (h->dst_port % 3 == 2)
		*wait = EPOLLOUT;
	return sv[0];
}

static int fake_connect_done(struct vsock_conn *c, uint32_t events)
{
	(void)c;
	return events & EPOLLOUT ? 1 : 0;
}

static int fake_established(struct vsock_conn *c)
{
	(void)c;
	return 0;
}

/* Not const: seq_flags_byte is the input's choice. */
static struct vsock_backend_ops fake_ops = {
	.name = "fuzz",
	.start = fake_start,
	.stop = fake_stop,
	.connect = fake_connect,
	.connect_done = fake_connect_done,
	.established = fake_established,
};
static struct vsock_backend fake_backend = { .ops = &fake_ops };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;
	(void)argc, (void)argv;

	fuzz_quiet_logs();
	cfg.guest_cid = 3;
	cfg.socket = (char *)"/nonexistent/fuzz.sock";
	cfg.uds_path = (char *)"/nonexistent/fuzz.vsock";
	cfg.tx_buffer_size = 8192;
	cfg.queue_size = 64;
	cfg.groups = groups;
	cfg.n_groups = 1;
	/* The budgets as config/budget.c derives them for max-connections 64:
	 * small, so that inputs reach the limits and the eviction. */
	cfg.max_connections = 64;
	cfg.guest_reserved_connections = 8;
	cfg.max_host_handshakes = 16;
	cfg.max_sibling_connections = 16;
	cfg.tx_buffer_budget = 64u * 4096u + 4u * 8192u;
	loop = ev_loop_new();
	d = loop ? vsock_dev_new(&cfg, loop) : NULL;
	fd = memfd_create("fuzz_vsock_tx", MFD_CLOEXEC);
	if (!d || vsock_dev_add_backend(d, &fake_backend) < 0 || fd < 0 ||
	    ftruncate(fd, MEM_SIZE) < 0)
		abort();
	vu = vsock_dev_vu(d);
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	gm_init(&gm);
	if (mem == MAP_FAILED || gm_add_region(&gm, fd, 0, MEM_SIZE, UVA0, 0) < 0)
		abort();
	close(fd);
	/* What SET_MEM_TABLE would do; shares the mappings: never
	 * gm_clear() the session's copy. */
	vu->mem = gm;
	baseline_fds = fuzz_count_fds();
	return 0;
}

static void post_rx_buffers(void)
{
	struct vring_desc *desc = (struct vring_desc *)(mem + RX_DESC);
	uint16_t *avail = (uint16_t *)(mem + RX_AVAIL);

	memset(mem + RX_DESC, 0, 0x1000);
	for (unsigned i = 0; i < RX_NUM; i++) {
		desc[i].addr = RX_BUF + 256 * i;
		desc[i].len = 256;
		desc[i].flags = VRING_DESC_F_WRITE;
		avail[2 + i] = (uint16_t)i;
	}
	avail[1] = RX_NUM;
}

static int start_queue(unsigned q, unsigned num, uint64_t desc, uint64_t avail, uint64_t used,
		       uint8_t flags)
{
	struct vq *vq = vu_queue(vu, q);

	vq_init(vq);
	if (vq_set_num(vq, num) < 0 || vq_set_addr(vq, &vu->mem, UVA0 + desc,
						   UVA0 + avail, UVA0 + used) < 0)
		return -1;
	vq->event_idx = flags & 1;
	vq->indirect = flags & 2;
	vq->started = vq->enabled = true;
	return 0;
}

static void end_input(void)
{
	int n;

	/* What a VMM disconnecting does: every connection goes. */
	vu->ops->reset(vu);
	for (unsigned i = 0; i < npeers; i++)
		close(peers[i]);
	npeers = 0;
	FUZZ_ASSERT(vsock_dev_nconns(d) == 0);
	for (int fd = 0; fd < 256; fd++)
		FUZZ_ASSERT(ev_del(loop, fd) == -ENOENT);
	n = fuzz_count_fds();
	if (n != baseline_fds) {
		fprintf(stderr, "fd leak: %d open fds, %d at start\n", n, baseline_fds);
		fuzz_dump_fds();
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char host_data[] = "host says hello";
	unsigned rounds;

	if (size < HDR_SIZE)
		return -1;
	memset(mem, 0, MEM_SIZE);
	memcpy(mem, data + HDR_SIZE, size - HDR_SIZE < MEM_SIZE ? size - HDR_SIZE : MEM_SIZE);
	if (!(data[1] & 8))
		post_rx_buffers();
	peers_write = data[1] & 4;
	rounds = 1 + data[2] % 4;
	/* What SET_FEATURES would leave; the session resets it. */
	vu->features = data[1] & 16 ? 1ull << VSOCK_F_SEQPACKET_BIT : 0;
	fake_ops.seq_flags_byte = data[1] & 32;

	if (start_queue(VSOCK_TX_Q, 1u << (data[0] % 7), 0x0000, 0x1000, 0x2000, data[1]) < 0 ||
	    start_queue(VSOCK_RX_Q, RX_NUM, RX_DESC, RX_AVAIL, RX_USED, data[1]) < 0)
		abort();

	for (unsigned r = 0; r < rounds; r++) {
		vu->ops->queue_kick(vu, VSOCK_TX_Q);
		(void)ev_run_once(loop, 0); /* before sleeping: the rx path */
		if (peers_write)
			for (unsigned i = 0; i < npeers; i++)
				if (send(peers[i], host_data, sizeof(host_data),
					 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
					/* full or closed: fine */
				}
		(void)ev_run_once(loop, 0);
		(void)ev_run_once(loop, 0);
		FUZZ_ASSERT(vsock_dev_nconns(d) <= 1024);
	}
	end_input();
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest packets: vsock_tx_process() on a tx ring the input fills, with the
 * rx path and the event loop run in between so that replies, credit and
 * host data flow. No real backend: connect() hands out one end of a Unix
 * socketpair (refused, immediate or in progress, chosen by the port), so
 * nothing outside this process is touched.
 *
 * Input: a 4-byte header, then the image of a 64 KiB guest memory region
 * (gpa 0, zero-filled past the input):
 *   [0] log2 of the tx ring size (mod 7: 1..64)
 *   [1] bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 host peers write data,
 *       bit 3 the input owns the rx ring too
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
#include <sys/timerfd.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "vsock/vsock_internal.h"

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
static struct ev_loop *loop;
static int timer_fd = -1;
static struct guest_mem gm;
static uint8_t *mem;
static int peers[MAX_PEERS];
static unsigned npeers;
static int baseline_fds;
static bool peers_write;

static int fake_start(struct vsock_dev *dev, char *err, size_t errlen)
{
	(void)dev, (void)err, (void)errlen;
	return 0;
}

static void fake_stop(struct vsock_dev *dev)
{
	(void)dev;
}

static int fake_connect(struct vsock_dev *dev, uint64_t dst_cid, uint32_t port, bool *in_progress)
{
	int sv[2];
	(void)dev, (void)dst_cid;

	if (port % 3 == 0 || npeers == MAX_PEERS)
		return -ECONNREFUSED;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	peers[npeers++] = sv[1];
	*in_progress = port % 3 == 2;
	return sv[0];
}

static int fake_established(struct vsock_conn *c)
{
	(void)c;
	return 0;
}

static void fake_handshake_readable(struct vsock_conn *c, uint32_t events)
{
	(void)c, (void)events;
}

static const struct host_backend_ops fake_backend = {
	.name = "fuzz",
	.start = fake_start,
	.stop = fake_stop,
	.connect = fake_connect,
	.established = fake_established,
	.handshake_readable = fake_handshake_readable,
};

static void fuzz_reset(struct vu_dev *vu)
{
	conn_free_all(vu->opaque);
}

static const struct vu_dev_ops fuzz_ops = {
	.num_queues = VSOCK_NUM_QUEUES,
	.config_size = 8,
	.reset = fuzz_reset,
};

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
	d = calloc(1, sizeof(*d));
	loop = ev_loop_new();
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	fd = memfd_create("fuzz_vsock_tx", MFD_CLOEXEC);
	if (!d || !loop || timer_fd < 0 || fd < 0 || ftruncate(fd, MEM_SIZE) < 0)
		abort();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	gm_init(&gm);
	if (mem == MAP_FAILED || gm_add_region(&gm, fd, 0, MEM_SIZE, UVA0, 0) < 0)
		abort();
	close(fd);
	baseline_fds = fuzz_count_fds();
	return 0;
}

static void setup_dev(void)
{
	memset(d, 0, sizeof(*d));
	d->cfg = &cfg;
	d->loop = loop;
	d->backend = &fake_backend;
	d->backend_fd = -1;
	d->timer_fd = timer_fd;
	d->inbox.efd = -1;
	d->next_host_port = VSOCK_HOST_PORT_BASE;
	if (vu_dev_init(&d->vu, loop, "fuzz", &fuzz_ops, d) < 0)
		abort();
	d->vu.mem = gm; /* shares the mappings: never gm_clear() this copy */
	if (ev_add(loop, timer_fd, EPOLLIN, vsock_timer_event, d) < 0)
		abort();
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
	struct vq *vq = vu_queue(&d->vu, q);

	if (vq_set_num(vq, num) < 0 || vq_set_addr(vq, &d->vu.mem, UVA0 + desc,
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

	if (log_max_level >= LOG_DEBUG)
		fprintf(stderr, "fuzz: tx %llu pkts %llu bytes, rx %llu pkts, malformed %llu, "
			"spoofed %llu, rst %llu, conns %u, peers %u\n",
			(unsigned long long)d->stats.tx_packets, (unsigned long long)d->stats.tx_bytes,
			(unsigned long long)d->stats.rx_packets,
			(unsigned long long)d->stats.dropped_malformed,
			(unsigned long long)d->stats.dropped_spoofed,
			(unsigned long long)d->stats.rst_sent, d->nconns, npeers);
	conn_free_all(d);
	ev_del(loop, timer_fd);
	for (unsigned i = 0; i < npeers; i++)
		close(peers[i]);
	npeers = 0;
	FUZZ_ASSERT(d->nconns == 0);
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

	setup_dev();
	if (start_queue(VSOCK_TX_Q, 1u << (data[0] % 7), 0x0000, 0x1000, 0x2000, data[1]) < 0 ||
	    start_queue(VSOCK_RX_Q, RX_NUM, RX_DESC, RX_AVAIL, RX_USED, data[1]) < 0)
		abort();

	for (unsigned r = 0; r < rounds; r++) {
		vsock_tx_process(d);
		vsock_rx_process(d);
		if (peers_write)
			for (unsigned i = 0; i < npeers; i++)
				if (send(peers[i], host_data, sizeof(host_data),
					 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
					/* full or closed: fine */
				}
		(void)ev_run_once(loop, 0);
		vsock_rx_process(d);
		FUZZ_ASSERT(d->nconns <= VSOCK_MAX_CONNS);
	}
	end_input();
	return 0;
}

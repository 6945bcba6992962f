/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vdv-sim: manual checks against a running backend, acting as a VMM.
 *
 *   vdv-sim [OPTIONS] info SOCKET     negotiate, print what the backend
 *                                     offers, start the rings, stop cleanly
 *   vdv-sim [OPTIONS] connect SOCKET PORT [MESSAGE]
 *                                     guest connects to host PORT (hybrid
 *                                     vsock: a listener on UDS_PATH_PORT),
 *                                     sends MESSAGE, prints what comes back
 *
 * Options: --regions N, --queue-size N, --mem-table, --no-event-idx,
 * --no-indirect, --timeout MS.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vdv-sim [--regions N] [--queue-size N] [--mem-table]\n"
		"               [--no-event-idx] [--no-indirect] [--timeout MS]\n"
		"               info SOCKET\n"
		"       vdv-sim [options] connect SOCKET PORT [MESSAGE]\n");
}

static void print_bits(const char *what, uint64_t v, const char *const *names, unsigned n)
{
	unsigned i;

	printf("%-22s 0x%016llx", what, (unsigned long long)v);
	for (i = 0; i < 64; i++) {
		if (!(v & (1ull << i)))
			continue;
		if (i < n && names[i])
			printf(" %s", names[i]);
		else
			printf(" bit%u", i);
	}
	printf("\n");
}

static const char *const feature_names[64] = {
	[0] = "VSOCK_F_STREAM", [1] = "VSOCK_F_SEQPACKET",
	[2] = "VSOCK_F_NO_IMPLIED_STREAM",
	[24] = "NOTIFY_ON_EMPTY", [27] = "ANY_LAYOUT", [28] = "RING_INDIRECT_DESC",
	[29] = "RING_EVENT_IDX", [30] = "PROTOCOL_FEATURES", [32] = "VERSION_1",
	[33] = "ACCESS_PLATFORM", [34] = "RING_PACKED", [35] = "IN_ORDER",
};

static const char *const protocol_names[64] = {
	[0] = "MQ", [1] = "LOG_SHMFD", [2] = "RARP", [3] = "REPLY_ACK", [4] = "MTU",
	[5] = "BACKEND_REQ", [6] = "CROSS_ENDIAN", [7] = "CRYPTO_SESSION",
	[8] = "PAGEFAULT", [9] = "CONFIG", [10] = "BACKEND_SEND_FD",
	[11] = "HOST_NOTIFIER", [12] = "INFLIGHT_SHMFD", [13] = "RESET_DEVICE",
	[14] = "INBAND_NOTIFICATIONS", [15] = "CONFIGURE_MEM_SLOTS", [16] = "STATUS",
};

static int cmd_info(const char *path, const struct sim_opts *o)
{
	const struct sim_info *in;
	struct sim *s;
	unsigned q;
	int r;

	r = sim_connect(path, o, &s);
	if (r) {
		fprintf(stderr, "connect %s: %s\n", path, strerror(-r));
		return 1;
	}
	r = sim_start(s);
	in = sim_info(s);
	print_bits("features offered", in->features_offered, feature_names, 64);
	print_bits("features acked", in->features_acked, feature_names, 64);
	print_bits("protocol offered", in->protocol_offered, protocol_names, 64);
	print_bits("protocol acked", in->protocol_acked, protocol_names, 64);
	printf("%-22s %llu\n", "queue num", (unsigned long long)in->queue_num);
	printf("%-22s %llu\n", "max mem slots", (unsigned long long)in->max_mem_slots);
	if (in->has_config)
		printf("%-22s %llu\n", "config guest_cid", (unsigned long long)in->config_guest_cid);
	else
		printf("%-22s (not available)\n", "config guest_cid");
	if (r) {
		fprintf(stderr, "start: %s (last ack %llu)\n", strerror(-r),
			(unsigned long long)sim_last_ack(s));
		sim_close(s);
		return 1;
	}
	printf("%-22s %u region(s), rings started\n", "memory", sim_mem_nregions(s));
	r = sim_stop(s);
	if (r) {
		fprintf(stderr, "stop: %s\n", strerror(-r));
		sim_close(s);
		return 1;
	}
	for (q = 0; q < SIM_NUM_VQS; q++)
		printf("vring %u base            %u\n", q, in->vring_base[q]);
	sim_close(s);
	return 0;
}

static int cmd_connect(const char *path, unsigned port, const char *message,
		       const struct sim_opts *o, int timeout_ms)
{
	const uint32_t src_port = 40000, buf_alloc = 256 * 1024;
	struct virtio_vsock_hdr h;
	struct sim_pkt *p = sim_pkt_new();
	uint32_t fwd = 0;
	struct sim *s = NULL;
	int r, ret = 1;

	if (!p)
		return 1;
	r = sim_connect(path, o, &s);
	if (!r)
		r = sim_start(s);
	if (r) {
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
		goto out;
	}
	h = sim_vsock_hdr(sim_guest_cid(s), 2, src_port, port, VIRTIO_VSOCK_OP_REQUEST, 0, 0,
			  buf_alloc, 0);
	r = sim_tx_send(s, &h, NULL, 0, 0);
	if (r)
		goto io_err;
	r = sim_rx_poll(s, p, timeout_ms);
	if (r)
		goto io_err;
	printf("<- %s\n", sim_op_name(p->op));
	if (p->op != VIRTIO_VSOCK_OP_RESPONSE)
		goto stop;
	if (message) {
		size_t len = strlen(message);

		h = sim_vsock_hdr(sim_guest_cid(s), 2, src_port, port, VIRTIO_VSOCK_OP_RW, 0,
				  (uint32_t)len, buf_alloc, 0);
		r = sim_tx_send(s, &h, message, len, 0);
		if (r)
			goto io_err;
	}
	/* Print whatever the host sends until it shuts down or goes quiet. */
	while (!(r = sim_rx_poll(s, p, timeout_ms))) {
		if (p->op == VIRTIO_VSOCK_OP_RW) {
			fwrite(p->payload, 1, p->payload_len, stdout);
			fwd += (uint32_t)p->payload_len;
		} else {
			printf("<- %s\n", sim_op_name(p->op));
		}
		if (p->op == VIRTIO_VSOCK_OP_SHUTDOWN || p->op == VIRTIO_VSOCK_OP_RST)
			break;
		if (p->op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			h = sim_vsock_hdr(sim_guest_cid(s), 2, src_port, port,
					  VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0, buf_alloc, fwd);
			sim_tx_send(s, &h, NULL, 0, 0);
		}
	}
	h = sim_vsock_hdr(sim_guest_cid(s), 2, src_port, port, VIRTIO_VSOCK_OP_RST, 0, 0,
			  buf_alloc, fwd);
	sim_tx_send(s, &h, NULL, 0, 0);
	sim_tx_flush(s, timeout_ms);
stop:
	ret = sim_stop(s) ? 1 : 0;
	goto out;
io_err:
	fprintf(stderr, "vsock: %s\n", strerror(-r));
out:
	sim_close(s);
	free(p);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "regions", required_argument, NULL, 'r' },
		{ "queue-size", required_argument, NULL, 'q' },
		{ "mem-table", no_argument, NULL, 'm' },
		{ "no-event-idx", no_argument, NULL, 'e' },
		{ "no-indirect", no_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_opts o;
	int c, timeout = 2000;
	unsigned q;

	sim_opts_init(&o);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.mem_regions = (unsigned)atoi(optarg);
			break;
		case 'q':
			for (q = 0; q < SIM_NUM_VQS; q++)
				o.queue_size[q] = (unsigned)atoi(optarg);
			break;
		case 'm':
			o.mem_mode = SIM_MEM_TABLE;
			break;
		case 'e':
			o.features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
			break;
		case 'i':
			o.features &= ~(1ull << VIRTIO_RING_F_INDIRECT_DESC);
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 2 && !strcmp(argv[0], "info"))
		return cmd_info(argv[1], &o);
	if ((argc == 3 || argc == 4) && !strcmp(argv[0], "connect"))
		return cmd_connect(argv[1], (unsigned)atoi(argv[2]), argc == 4 ? argv[3] : NULL,
				   &o, timeout);
	usage(stderr);
	return 2;
}

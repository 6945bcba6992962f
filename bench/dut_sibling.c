/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * VM -> VM throughput through one daemon serving two VMs of one group
 * (rust-vmm's --vm ...,groups=G form): guest 3 connects to CID 4 and
 * streams `size`-byte writes, guest 4 accepts and reads. Each guest runs in
 * its own thread, as two VMs' vCPUs would. The baseline is the same
 * AF_UNIX stream as run_stream's.
 *
 * A daemon without sibling routing refuses the connection (RST) or does not
 * take the --vm form: the figure is then "n/a", not a failure.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "app.h"
#include "baseline.h"
#include "dut.h"
#include "host_io.h"
#include "record.h"

#define PORT 5206
#define CID_A 3
#define CID_B 4
#define NA_MSG "n/a (sibling routing not implemented)"

struct receiver {
	struct sg *g;
	atomic_int stop;
	struct dut_reader rd; /* also the results */
	int err;
};

/* Guest B: serves its device until the stream ended or we are told to stop. */
static void *receiver_main(void *arg)
{
	struct receiver *r = arg;

	while (!r->rd.eof && !atomic_load(&r->stop)) {
		int n = sg_poll(r->g, 20);

		if (n < 0) {
			r->err = n;
			break;
		}
	}
	return NULL;
}

struct conn_state {
	bool answered, refused;
};

static void snd_event(struct sg_conn *c, enum sg_event ev)
{
	struct conn_state *st = c->user;

	if (ev == SG_EV_CONNECTED)
		st->answered = true;
	if (ev == SG_EV_CLOSED) {
		st->answered = true;
		st->refused = c->refused;
	}
}

static const struct sg_conn_ops snd_ops = { .event = snd_event };

static int stream(struct dut *s, struct sg *ga, struct receiver *rcv, const char *id,
		  size_t size)
{
	struct bench *b = s->b;
	struct conn_state st = { false, false };
	struct csum sent = { 0 };
	uint64_t bytes = 0;
	struct sg_conn *c;
	struct cpu_mark m;
	int64_t t0, deadline;
	pthread_t th;
	int r;

	r = sg_connect(ga, CID_B, PORT, 0, &snd_ops, &st, &c);
	if (r)
		return r;
	if (hio_thread_start(&th, receiver_main, rcv))
		return -EAGAIN;
	deadline = now_ns() + (int64_t)b->cfg.timeout_ms * 1000000;
	while (!r && !st.answered)
		r = now_ns() > deadline ? -ETIMEDOUT : sg_poll(ga, 20) < 0 ? -EIO : 0;
	if (!r && st.refused) {
		res_na(&b->res, id, s->which, NA_MSG);
		r = 1;
	}
	cpu_mark(&m, s->d.pid);
	t0 = now_ns();
	r = dut_guest_write(b, c, size, &bytes, &sent);
	if (r)
		atomic_store(&rcv->stop, 1);
	/* Guest A keeps serving its device until B has everything. */
	deadline = now_ns() + 2ll * b->cfg.timeout_ms * 1000000;
	while (pthread_tryjoin_np(th, NULL) == EBUSY) {
		if (now_ns() > deadline) {
			fprintf(stderr, "vdv-bench: %s: receiving guest hung; aborting\n", id);
			exit(2);
		}
		if (sg_poll(ga, 2) < 0)
			usleep(2000);
	}
	if (r)
		return r;
	if (rcv->err)
		return rcv->err;
	if (rec_check_stream(b, id, s->which, bytes, &sent, rcv->rd.rx.bytes, &rcv->rd.rx.sum))
		return -EBADMSG;
	rec_stream(b, id, s->which, rcv->rd.rx.bytes, rcv->rd.t_end_ns - t0, cpu_since(&m));
	return 0;
}

static int sibling(struct bench *b, int which, const char *id, size_t size)
{
	char dir[] = "/tmp/vdv-bench-XXXXXX", vm_a[256], vm_b[256], sock_a[64], sock_b[64];
	struct receiver rcv = { .rd.rx = { .cap = b->cfg.read_size, .verify = b->cfg.verify } };
	const char *argv[] = { b->cfg.daemon[which - T_A], "--vm", vm_a, "--vm", vm_b, NULL };
	struct sg *ga = NULL;
	struct sg_cfg cfg;
	struct dut s = { .b = b, .which = which, .fig = id };
	int r;

	if (!mkdtemp(dir))
		return -errno;
	snprintf(sock_a, sizeof(sock_a), "%s/vhost3.sock", dir);
	snprintf(sock_b, sizeof(sock_b), "%s/vhost4.sock", dir);
	snprintf(vm_a, sizeof(vm_a), "guest-cid=%d,socket=%s,uds-path=%s/vm3.vsock,groups=bench",
		 CID_A, sock_a, dir);
	snprintf(vm_b, sizeof(vm_b), "guest-cid=%d,socket=%s,uds-path=%s/vm4.vsock,groups=bench",
		 CID_B, sock_b, dir);
	rcv.rd.rx.buf = malloc(rcv.rd.rx.cap);
	r = rcv.rd.rx.buf ? sim_daemon_spawn_argv(&s.d, argv, NULL, 0) : -ENOMEM;
	if (!r)
		r = sim_daemon_wait_path(&s.d, sock_a, 10000);
	if (!r)
		r = sim_daemon_wait_path(&s.d, sock_b, 10000);
	if (r == -ECHILD) {
		/* It did not take the multi-VM command line. */
		res_na(&b->res, id, which, NA_MSG);
		r = 1;
	}
	dut_sg_cfg(b, size, &cfg);
	if (!r)
		r = sg_open(sock_a, &cfg, &ga);
	if (!r)
		r = sg_open(sock_b, &cfg, &rcv.g);
	if (!r)
		r = sg_listen(rcv.g, PORT, &dut_reader_ops, &rcv.rd);
	if (!r)
		r = stream(&s, ga, &rcv, id, size);
	if (r < 0)
		bench_fail(b, id, which, "%s", strerror(-r));
	sg_close(ga);
	sg_close(rcv.g);
	if (r < 0)
		sim_daemon_dump_log(&s.d, stderr, 4096);
	sim_daemon_stop(&s.d, 5000, NULL);
	unlink(sock_a);
	unlink(sock_b);
	snprintf(vm_a, sizeof(vm_a), "%s/vm3.vsock", dir);
	unlink(vm_a);
	snprintf(vm_b, sizeof(vm_b), "%s/vm4.vsock", dir);
	unlink(vm_b);
	rmdir(dir);
	free(rcv.rd.rx.buf);
	return r < 0 ? -1 : 0;
}

int run_sibling(struct bench *b, int which, size_t size)
{
	char id[32];

	rec_id(id, sizeof(id), "sib", size);
	if (which == T_BASE)
		return base_stream(b, id, size);
	return sibling(b, which, id, size);
}

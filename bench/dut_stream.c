/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Stream throughput through the daemon, one connection (guest-initiated to
 * a host listener, as a guest agent talking to a host service would).
 *  g2h: the guest application writes `size` bytes per write, each write
 *       going out as packets of at most `size` bytes within the daemon's
 *       credit; the host application reads read_size at a time.
 *  h2g: the host application writes `size` bytes per write; the daemon
 *       fills the guest's rx buffers; the guest application takes each
 *       packet's payload (one copy into its read_size buffer).
 * Throughput is the bytes the receiver got, checksum-verified, over the
 * time from the writer's start to the receiver seeing end of stream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "app.h"
#include "baseline.h"
#include "dut.h"
#include "host_io.h"
#include "record.h"
#include "relay.h"

#define PORT 5201

static int join_ms(const struct bench *b)
{
	return (int)(b->cfg.duration_s * 1000) + 2 * b->cfg.timeout_ms;
}

static int guest_to_host(struct dut *s, const char *id, size_t size)
{
	struct bench *b = s->b;
	struct app_stream hr = { .io_size = b->cfg.read_size, .verify = b->cfg.verify };
	struct csum sent = { 0 };
	struct sg_conn *c;
	struct cpu_mark m;
	uint64_t bytes = 0;
	int64_t t0;
	pthread_t th;
	int r;

	r = dut_connect_pairs(s, PORT, 1, NULL, NULL, &c, &hr.fd);
	if (r) {
		bench_fail(b, id, s->which, "connect: %s", strerror(-r));
		return -1;
	}
	r = hio_thread_start(&th, app_stream_read, &hr);
	if (r) {
		close(hr.fd);
		return -1;
	}
	cpu_mark(&m, s->d.pid);
	t0 = now_ns();
	r = dut_guest_write(b, c, size, &bytes, &sent);
	/* Keep serving the device (credit updates, the close) until the host
	 * reader has seen the end of the stream. */
	if (dut_poll_join(s, th, join_ms(b)) && !r)
		r = -EIO;
	close(hr.fd);
	if (r || hr.err) {
		bench_fail(b, id, s->which, "%s", strerror(-(r ? r : hr.err)));
		return -1;
	}
	if (rec_check_stream(b, id, s->which, bytes, &sent, hr.bytes, &hr.sum))
		return -1;
	rec_stream(b, id, s->which, hr.bytes, hr.t_end_ns - t0, cpu_since(&m));
	return 0;
}

static int host_to_guest(struct dut *s, const char *id, size_t size)
{
	struct bench *b = s->b;
	struct dut_reader gr = { .rx = { .cap = b->cfg.read_size, .verify = b->cfg.verify } };
	char floor_id[32];
	struct cpu_use cpu;
	struct app_stream hw = { .io_size = size, .verify = b->cfg.verify };
	void *user = &gr;
	struct sg_conn *c;
	struct cpu_mark m;
	int64_t t0;
	pthread_t th;
	int r;

	gr.rx.buf = malloc(gr.rx.cap);
	if (!gr.rx.buf)
		return -1;
	r = dut_connect_pairs(s, PORT, 1, &dut_reader_ops, &user, &c, &hw.fd);
	if (r) {
		bench_fail(b, id, s->which, "connect: %s", strerror(-r));
		free(gr.rx.buf);
		return -1;
	}
	cpu_mark(&m, s->d.pid);
	t0 = now_ns();
	hw.deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	r = hio_thread_start(&th, app_stream_write, &hw);
	if (!r)
		r = dut_poll_until(s, &gr.eof, join_ms(b));
	if (!r && !gr.closed)
		sg_close_conn(c);
	if (r)
		shutdown(hw.fd, SHUT_RDWR);
	if (dut_poll_join(s, th, join_ms(b)) && !r)
		r = -EIO;
	close(hw.fd);
	free(gr.rx.buf);
	if (r || hw.err) {
		bench_fail(b, id, s->which, "%s", strerror(-(r ? r : hw.err)));
		return -1;
	}
	if (gr.credit_violations) {
		bench_fail(b, id, s->which, "the daemon sent beyond the guest's credit");
		return -1;
	}
	if (rec_check_stream(b, id, s->which, hw.bytes, &hw.sum, gr.rx.bytes, &gr.rx.sum))
		return -1;
	cpu = cpu_since(&m);
	rec_stream(b, id, s->which, gr.rx.bytes, gr.t_end_ns - t0, cpu);
	/* The floor figure's daemon side: the same run again (relay.h). */
	rec_stream(b, rec_id(floor_id, sizeof(floor_id), "h2g_floor", size), s->which,
		   gr.rx.bytes, gr.t_end_ns - t0, cpu);
	return 0;
}

int run_stream(struct bench *b, int which, bool g2h, size_t size)
{
	struct dut s;
	char id[32];
	int r;

	rec_id(id, sizeof(id), g2h ? "g2h" : "h2g", size);
	/* host->guest: the baseline's turn also measures the relay's floor. */
	if (which == T_BASE) {
		r = base_stream(b, id, size);
		return !g2h && relay_h2g(b, size) ? -1 : r;
	}
	if (dut_start(b, which, id, g2h ? size : 64, &s))
		return -1;
	r = g2h ? guest_to_host(&s, id, size) : host_to_guest(&s, id, size);
	return dut_stop(&s) ? -1 : r;
}

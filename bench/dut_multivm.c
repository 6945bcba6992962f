/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Many VMs streaming at once through one daemon: multivm_vms VMs from one
 * --config file (the daemon's default --threads), each with its own
 * simulated guest and one guest-initiated connection, all streaming
 * mc_write-byte writes for the measured duration; then the same with one
 * VM alone (a daemon with a 1-VM config, the same guest model), the
 * reference. Figures: aggregate MiB/s, Jain's index and min/max of the
 * bytes each VM delivered, the VM alone, and aggregate / alone. Absolute:
 * an AF_UNIX baseline would not say how the daemon shares itself between
 * VMs, and the ratio to the VM alone does.
 *
 * All guests are driven from the bench's one thread, round-robin (see
 * vmset.h): each pass polls every guest without blocking and gives each
 * VM's application one write (or the rest of one the credit cut short);
 * the thread sleeps on every guest's call eventfds only when a pass found
 * nothing to do. A guest therefore never waits behind another's sleep, and
 * every VM gets the same chances to write: differences in the bytes
 * delivered are the daemon's.
 *  g2h: the host application reads all VMs' host sockets from one epoll
 *       thread (app_multi_read, as mc_g2h).
 *  h2g: the host application writes to all of them from one epoll thread
 *       (app_multi_write, one write per writable socket in turn, as
 *       mc_h2g); each guest application takes what arrives (dut_reader).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "app.h"
#include "dut.h"
#include "host_io.h"
#include "procstat.h"
#include "record.h"
#include "stats.h"
#include "vmset.h"

#define PORT 5206

/* One VM's application and connection. */
struct vmapp {
	struct sg_conn *c;
	uint64_t bytes;      /* g2h: written */
	size_t partial;      /* g2h: bytes of the current write already queued */
	struct csum sum;
	struct dut_reader rd; /* h2g: what the guest application got */
};

/* One measurement's outcome. */
struct mvm_result {
	uint64_t *bytes;     /* per VM, at the receiver */
	int64_t ns;
	struct cpu_use cpu;
};

static const char *fig_id(char *buf, size_t cap, bool g2h, const char *what)
{
	snprintf(buf, cap, "mvm_%s_%s", g2h ? "g2h" : "h2g", what);
	return buf;
}

static int join_ms(const struct bench *b)
{
	return (int)(b->cfg.duration_s * 1000) + 2 * b->cfg.timeout_ms;
}

/* VM i's application: one write's worth, or the rest of the write the
 * credit cut short. Returns bytes queued, or -errno. */
static ssize_t write_once(const struct bench *b, struct vmapp *a)
{
	size_t wsize = b->cfg.mc_write;
	const uint8_t *p = app_chunk(a->bytes - a->partial, wsize) + a->partial;
	ssize_t r;

	dut_app_call(); /* a non-blocking send(), even if it takes nothing */
	r = sg_send(a->c, p, wsize - a->partial);
	if (r <= 0)
		return r;
	a->partial += (size_t)r;
	a->bytes += (uint64_t)r;
	if (a->partial == wsize) {
		if (b->cfg.verify)
			csum_update(&a->sum, app_chunk(a->bytes - wsize, wsize), wsize);
		a->partial = 0;
	}
	return r;
}

static int guests_write(struct vmset *s, struct vmapp *apps, struct app_multi *hr,
			struct mvm_result *out)
{
	struct bench *b = s->b;
	int64_t t0, deadline;
	struct cpu_mark m;
	pthread_t th;
	int r;

	r = hio_thread_start(&th, app_multi_read, hr);
	if (r)
		return r;
	cpu_mark(&m, s->d.pid);
	t0 = now_ns();
	deadline = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	/* Writes are whole: once the time is up, finish the ones begun. At
	 * least one pass, as app_multi_write(). */
	for (bool first = true; !r; first = false) {
		bool pending = false;
		int64_t progress = 0;

		for (unsigned i = 0; i < s->n; i++)
			pending |= apps[i].partial != 0;
		if (!first && now_ns() >= deadline && !pending)
			break;
		for (unsigned i = 0; !r && i < s->n; i++) {
			ssize_t n = sg_poll(s->g[i], 0);

			if (n >= 0) {
				progress += n;
				n = write_once(b, &apps[i]);
			}
			if (n >= 0) {
				progress += n;
				r = sg_kick(s->g[i]);
			} else {
				r = (int)n;
			}
		}
		if (!r && !progress) {
			r = vmset_wait(s, b->cfg.timeout_ms);
			if (r == 0) {
				for (unsigned i = 0; i < s->n; i++)
					if (apps[i].partial || !sg_peer_credit(apps[i].c)) {
						sg_note_stall(apps[i].c);
						break;
					}
				r = -ETIMEDOUT;
			}
			r = r < 0 ? r : 0;
		}
	}
	for (unsigned i = 0; !r && i < s->n; i++) {
		r = sg_shutdown(apps[i].c, VIRTIO_VSOCK_SHUTDOWN_SEND);
		if (!r)
			r = sg_kick(s->g[i]);
	}
	if (r) /* the host reader would wait for EOFs that never come */
		for (unsigned i = 0; i < s->n; i++)
			shutdown(hr->fds[i], SHUT_RDWR);
	if (vmset_poll_join(s, th, join_ms(b)) && !r)
		r = -EIO;
	if (r || hr->err)
		return r ? r : hr->err;
	{
		uint64_t *sent = calloc(s->n, sizeof(*sent));
		struct csum *sums = calloc(s->n, sizeof(*sums));

		for (unsigned i = 0; sent && sums && i < s->n; i++) {
			sent[i] = apps[i].bytes;
			sums[i] = apps[i].sum;
		}
		if (!sent || !sums)
			r = -ENOMEM;
		else if (rec_check_multi(b, s->fig, s->which, sent, sums, hr->bytes, hr->sums,
					 s->n))
			r = -EBADMSG;
		free(sent);
		free(sums);
	}
	if (!r) {
		memcpy(out->bytes, hr->bytes, s->n * sizeof(*out->bytes));
		out->ns = hr->t_end_ns - t0;
		out->cpu = cpu_since(&m);
	}
	return r;
}

static int host_writes(struct vmset *s, struct vmapp *apps, struct app_multi *hw,
		       struct mvm_result *out)
{
	struct bench *b = s->b;
	struct csum *sums;
	struct cpu_mark m;
	unsigned eofs = 0;
	int64_t t0, t_end = 0;
	pthread_t th;
	int r;

	cpu_mark(&m, s->d.pid);
	t0 = now_ns();
	hw->deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	r = hio_thread_start(&th, app_multi_write, hw);
	if (r)
		return r;
	while (!r && eofs < s->n) {
		r = vmset_poll_all(s);
		if (r == 0) {
			r = vmset_wait(s, join_ms(b));
			r = r < 0 ? r : r == 0 ? -ETIMEDOUT : 0;
		}
		r = r < 0 ? r : 0;
		eofs = 0;
		for (unsigned i = 0; i < s->n; i++)
			eofs += apps[i].rd.eof;
	}
	if (r) /* unblock the writer */
		for (unsigned i = 0; i < s->n; i++)
			shutdown(hw->fds[i], SHUT_RDWR);
	if (vmset_poll_join(s, th, join_ms(b)) && !r)
		r = -EIO;
	if (r || hw->err)
		return r ? r : hw->err;
	for (unsigned i = 0; i < s->n; i++) {
		if (apps[i].rd.credit_violations) {
			bench_fail(b, s->fig, s->which,
				   "VM %u: the daemon sent beyond the guest's credit",
				   VMSET_FIRST_CID + i);
			return -EPROTO;
		}
		out->bytes[i] = apps[i].rd.rx.bytes;
		if (apps[i].rd.t_end_ns > t_end)
			t_end = apps[i].rd.t_end_ns;
	}
	sums = calloc(s->n, sizeof(*sums));
	if (!sums)
		return -ENOMEM;
	for (unsigned i = 0; i < s->n; i++)
		sums[i] = apps[i].rd.rx.sum;
	if (rec_check_multi(b, s->fig, s->which, hw->bytes, hw->sums, out->bytes, sums, s->n))
		r = -EBADMSG;
	free(sums);
	out->ns = t_end - t0;
	out->cpu = cpu_since(&m);
	return r;
}

/* One daemon with n VMs streaming: fills out (out->bytes has n entries). */
static int measure(struct bench *b, int which, bool g2h, unsigned n, const char *id,
		   struct mvm_result *out)
{
	struct app_multi h = { .n = n, .verify = b->cfg.verify, .timeout_ms = b->cfg.timeout_ms,
			       .io_size = g2h ? b->cfg.read_size : b->cfg.mc_write };
	struct vmapp *apps = calloc(n, sizeof(*apps));
	uint8_t *rbuf = malloc(b->cfg.read_size);
	struct vmset s;
	unsigned i = 0, connected = 0;
	char path[128];
	int r = -ENOMEM;

	h.fds = calloc(n, sizeof(int));
	h.bytes = calloc(n, sizeof(uint64_t));
	h.sums = calloc(n, sizeof(struct csum));
	if (!apps || !rbuf || !h.fds || !h.bytes || !h.sums) {
		bench_fail(b, id, which, "%u VMs: out of memory", n);
		goto out;
	}
	r = vmset_start(b, which, id, n, NULL, g2h ? b->cfg.mc_write : 64, &s);
	if (r)
		goto out;
	for (i = 0; !r && i < n; i++) {
		struct vmapp *a = &apps[i];
		void *user = &a->rd;

		/* The guest applications only copy what they receive: one
		 * buffer serves them all (one thread). */
		a->rd.rx = (struct dut_app_rx){ .buf = rbuf, .cap = b->cfg.read_size,
						.verify = b->cfg.verify };
		r = dut_connect_pairs_at(b, s.g[i], vmset_uds_path(&s, i, path, sizeof(path)),
					 PORT, 1, g2h ? NULL : &dut_reader_ops,
					 g2h ? NULL : &user, &a->c, &h.fds[i]);
		if (!r)
			connected++;
	}
	if (r)
		bench_fail(b, id, which, "VM %u: connect: %s", VMSET_FIRST_CID + i - 1,
			   strerror(-r));
	else
		r = g2h ? guests_write(&s, apps, &h, out) : host_writes(&s, apps, &h, out);
	if (r && r != -EBADMSG && r != -EPROTO && connected == n)
		bench_fail(b, id, which, "%u VMs: %s", n, strerror(-r));
	for (i = 0; i < connected; i++)
		close(h.fds[i]);
	if (vmset_stop(&s))
		r = r ? r : -EIO;
out:
	free(apps);
	free(rbuf);
	free(h.fds);
	free(h.bytes);
	free(h.sums);
	return r;
}

int run_multivm(struct bench *b, int which, bool g2h)
{
	unsigned n = b->cfg.multivm_vms;
	struct mvm_result alone = { 0 }, all = { 0 };
	double alone_mibps = 0, aggr;
	uint64_t total = 0;
	char id[32], aid[32];
	int r, ra;

	if (which == T_BASE)
		return 0;
	fig_id(id, sizeof(id), g2h, "aggr");
	fig_id(aid, sizeof(aid), g2h, "alone");
	alone.bytes = calloc(1, sizeof(uint64_t));
	all.bytes = calloc(n, sizeof(uint64_t));
	if (!alone.bytes || !all.bytes) {
		free(alone.bytes);
		free(all.bytes);
		bench_fail(b, id, which, "out of memory");
		return -1;
	}
	ra = measure(b, which, g2h, 1, aid, &alone);
	if (!ra) {
		alone_mibps = stats_mibps(alone.bytes[0], alone.ns);
		res_add(&b->res, aid, which, alone_mibps);
		res_add_cpu(&b->res, aid, which, alone.cpu.daemon, alone.cpu.self);
	}
	r = measure(b, which, g2h, n, id, &all);
	if (!r) {
		for (unsigned i = 0; i < n; i++)
			total += all.bytes[i];
		aggr = stats_mibps(total, all.ns);
		res_add(&b->res, id, which, aggr);
		res_add_cpu(&b->res, id, which, all.cpu.daemon, all.cpu.self);
		res_add(&b->res, fig_id(id, sizeof(id), g2h, "jain"), which,
			stats_jain(all.bytes, n));
		res_add(&b->res, fig_id(id, sizeof(id), g2h, "minmax"), which,
			stats_min_over_max(all.bytes, n));
		/* Paired within the round: both ran back to back. */
		if (!ra && alone_mibps > 0)
			res_add(&b->res, fig_id(id, sizeof(id), g2h, "vs_alone"), which,
				aggr / alone_mibps);
	}
	free(alone.bytes);
	free(all.bytes);
	return r || ra ? -1 : 0;
}

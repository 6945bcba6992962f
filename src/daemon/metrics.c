/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "daemon/metrics.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/unix_socket.h"

/* One scrape: the request must arrive, and the answer leave, within this.
 * A client that is slower only loses its own scrape. */
#define METRICS_IO_MS 2000
/* A request line and headers; Prometheus sends a few hundred bytes. */
#define METRICS_REQ_MAX 8192

struct metrics {
	int fd;                 /* listening socket */
	int stop_fd;            /* eventfd: the thread is to end */
	struct net_addr addr;
	struct unix_path_id path_id;
	struct vm_set *set;     /* read under its lock */
	pthread_t thread;
};

/* ---- the text ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void sb_label(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sb_printf(b, "\\%c", *v);
		else if (*v == '\n')
			sb_printf(b, "\\n");
		else
			sb_printf(b, "%c", *v);
	}
}

/* A family with one sample per VM, or one per VM and label value. */
struct family {
	const char *name, *type, *help;
	const char *label;                /* NULL: no extra label */
	struct {
		const char *value;        /* the extra label's value */
		size_t off;               /* offsetof(struct vsock_metrics, ...) */
	} s[3];
	bool by_cause;                    /* one sample per close cause (label "cause") */
};

#define M(f) offsetof(struct vsock_metrics, f)

static const struct family families[] = {
	{ "vdv_packets_total", "counter", "virtio-vsock packets, by direction", "direction",
	  { { "from_guest", M(packets_from_guest) }, { "to_guest", M(packets_to_guest) } } },
	{ "vdv_bytes_total", "counter", "Payload bytes, by direction", "direction",
	  { { "from_guest", M(bytes_from_guest) }, { "to_guest", M(bytes_to_guest) } } },
	{ "vdv_dropped_packets_total", "counter",
	  "Guest packets dropped, or replies not sent, by reason", "reason",
	  { { "spoofed_source", M(dropped_spoofed) },
	    { "malformed", M(dropped_malformed) },
	    { "reply_queue_full", M(dropped_ctrl_full) } } },
	{ "vdv_rst_sent_total", "counter", "RST packets sent to the guest", NULL,
	  { { NULL, M(rst_sent) } } },
	{ "vdv_connections_established_total", "counter", "Connections that completed a handshake",
	  NULL, { { NULL, M(conns_established) } } },
	{ "vdv_connections_refused_total", "counter", "Guest connection requests answered with RST",
	  NULL, { { NULL, M(conns_refused) } } },
	/* One sample per cause (vsock/conn.h, enum conn_end): they sum to
	 * every connection that ended, the total this family had before it
	 * had a label. */
	{ "vdv_connections_closed_total", "counter",
	  "Connections that ended, by cause: who shut down first for a graceful close, else "
	  "what ended it", "cause", { { NULL, M(conns_closed_by) } }, true },
	{ "vdv_rst_received_total", "counter", "RST packets from the guest on live connections",
	  NULL, { { NULL, M(rst_received) } } },
	{ "vdv_transport_resets_total", "counter",
	  "Device resets by the guest's driver (a reboot): its connections reset", NULL,
	  { { NULL, M(transport_resets) } } },
	{ "vdv_stalls_total", "counter",
	  "Data that waited: for the guest's credit (to_guest, one per stall) or for the host "
	  "socket to take it (from_guest)", "direction",
	  { { "to_guest", M(credit_stalls_to_guest) }, { "from_guest", M(host_backpressure) } } },
	{ "vdv_tx_buffer_doubled_total", "counter",
	  "Tx buffers grown past the tx-buffer-size for data the guest sent on socket-backed "
	  "credit that the host socket then refused (tiny packets)", NULL,
	  { { NULL, M(txbuf_beyond_window) } } },
	{ "vdv_connections", "gauge", "Connections now, handshakes included", NULL,
	  { { NULL, M(conns_open) } } },
	{ "vdv_connection_limit_hits_total", "counter",
	  "Connections refused because a limit of the VM was reached, by who opened them",
	  "source",
	  { { "guest", M(conn_limit_hits_guest) },
	    { "host", M(conn_limit_hits_host) },
	    { "sibling", M(conn_limit_hits_sibling) } } },
	{ "vdv_host_handshakes_evicted_total", "counter",
	  "Host connections still waiting for the guest, closed for newer ones "
	  "(max-host-handshakes)", NULL, { { NULL, M(handshakes_evicted) } } },
	{ "vdv_tx_buffer_bytes", "gauge",
	  "Tx buffer allocated now: guest data waiting for slow host sockets", NULL,
	  { { NULL, M(tx_buffer_bytes) } } },
	{ "vdv_tx_buffer_promised_bytes", "gauge",
	  "Tx buffer promised to the VM's connections (their buf_alloc; tx-buffer-budget)",
	  NULL, { { NULL, M(tx_buffer_promised) } } },
	{ "vdv_rx_buffer_starved_total", "counter",
	  "Times data or replies waited for the guest to post rx buffers", NULL,
	  { { NULL, M(rx_no_buffer) } } },
	{ "vdv_frontend_sessions_total", "counter", "vhost-user frontends (VMMs) served", NULL,
	  { { NULL, M(frontends) } } },
	{ "vdv_vhost_user_messages_total", "counter", "vhost-user requests received", NULL,
	  { { NULL, M(vu_messages) } } },
	{ "vdv_vhost_user_bad_messages_total", "counter", "vhost-user requests refused", NULL,
	  { { NULL, M(vu_bad_messages) } } },
	{ "vdv_poll_windows_total", "counter", "Busy-poll windows spun (--poll-us)", NULL,
	  { { NULL, M(poll_windows) } } },
	{ "vdv_poll_windows_with_work_total", "counter", "Busy-poll windows that found work",
	  NULL, { { NULL, M(poll_hits) } } },
	{ "vdv_sleeps_total", "counter", "Blocking waits of the VM's thread", NULL,
	  { { NULL, M(poll_sleeps) } } },
};

static uint64_t field(const struct vsock_metrics *m, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)m + off, sizeof(v));
	return v;
}

/* The VMs of set; its lock is held. */
static long render_locked(struct vm_slot *const *slots, size_t n, char **out)
{
	struct vsock_metrics *snap = calloc(n ? n : 1, sizeof(*snap));
	struct sbuf b = { 0 };

	*out = NULL;
	if (!snap)
		return -ENOMEM;
	/* One snapshot per VM, taken once: every family shows the same instant. */
	for (size_t i = 0; i < n; i++)
		vsock_dev_metrics(slots[i]->vm.dev, &snap[i]);
	sb_printf(&b, "# HELP vdv_build_info The daemon's version (value 1)\n"
		      "# TYPE vdv_build_info gauge\nvdv_build_info{version=\"%s\"} 1\n",
		  VDV_VERSION);
	sb_printf(&b, "# HELP vdv_vm_info A VM of this daemon and its vhost-user socket (value 1)\n"
		      "# TYPE vdv_vm_info gauge\n");
	for (size_t i = 0; i < n; i++) {
		sb_printf(&b, "vdv_vm_info{cid=\"%llu\",socket=\"",
			  (unsigned long long)slots[i]->vm.cfg->guest_cid);
		sb_label(&b, slots[i]->vm.socket_label);
		sb_printf(&b, "\"} 1\n");
	}
	sb_printf(&b, "# HELP vdv_frontend_attached Whether a VMM is connected now\n"
		      "# TYPE vdv_frontend_attached gauge\n");
	for (size_t i = 0; i < n; i++)
		sb_printf(&b, "vdv_frontend_attached{cid=\"%llu\"} %d\n",
			  (unsigned long long)slots[i]->vm.cfg->guest_cid, snap[i].frontend_attached);
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		const struct family *fa = &families[f];

		sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fa->name, fa->help, fa->name,
			  fa->type);
		for (size_t i = 0; i < n; i++) {
			unsigned long long cid = (unsigned long long)slots[i]->vm.cfg->guest_cid;

			if (fa->by_cause) {
				/* Causes 1.. first; 0 ("other", no cause known)
				 * last: it should stay 0. */
				for (unsigned k = 1; k <= VSOCK_CLOSE_CAUSES; k++) {
					unsigned c = k % VSOCK_CLOSE_CAUSES;

					sb_printf(&b, "%s{cid=\"%llu\",cause=\"%s\"} %llu\n",
						  fa->name, cid, vsock_close_cause_name(c),
						  (unsigned long long)snap[i].conns_closed_by[c]);
				}
				continue;
			}
			for (size_t k = 0; k < 3 && (k == 0 || fa->s[k].value); k++) {
				uint64_t v = field(&snap[i], fa->s[k].off);

				if (fa->label)
					sb_printf(&b, "%s{cid=\"%llu\",%s=\"%s\"} %llu\n", fa->name,
						  cid, fa->label, fa->s[k].value,
						  (unsigned long long)v);
				else
					sb_printf(&b, "%s{cid=\"%llu\"} %llu\n", fa->name, cid,
						  (unsigned long long)v);
			}
		}
	}
	free(snap);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	return (long)b.len;
}

long metrics_render(struct vm_set *set, char **out)
{
	long r;

	/* Held while the text is built: a reload must not free a VM whose
	 * counters or socket path are being read. Rendering is short. */
	vm_set_lock(set);
	r = render_locked(set->slots, set->n, out);
	vm_set_unlock(set);
	return r;
}

void metrics_log(struct vm_set *set)
{
	char *text, *line, *save = NULL;

	if (metrics_render(set, &text) < 0) {
		log_warn("metrics: out of memory");
		return;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			log_info("metrics: %s", line);
	free(text);
}

/* ---- the server ---- */

/* Waits for events on fd until deadline_ms (vdv_now_ms). 1 ready, 0 timed
 * out or stopped, -errno. */
static int wait_fd(const struct metrics *m, int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = events },
				       { .fd = m->stop_fd, .events = POLLIN } };
		int64_t left = deadline_ms - (vdv_now_ns() / 1000000);
		int r;

		if (left <= 0)
			return 0;
		r = poll(p, 2, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (p[1].revents)
			return 0;
		if (p[0].revents)
			return 1;
	}
}

static void send_all(const struct metrics *m, int fd, const char *p, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(m, fd, POLLOUT, deadline) <= 0)
				return;
			continue;
		}
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

/* The answer: head, then body unless body is NULL (HEAD: the length
 * still says what GET would send). */
static void reply(const struct metrics *m, int fd, const char *status, const char *type,
		  const char *body, size_t len, int64_t deadline)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, len);

	send_all(m, fd, head, (size_t)n, deadline);
	if (body)
		send_all(m, fd, body, len, deadline);
}

/* Reads the request head (up to the blank line) and answers it. */
static void serve_one(const struct metrics *m, int fd)
{
	static const char text_plain[] = "text/plain; charset=utf-8";
	int64_t deadline = (vdv_now_ns() / 1000000) + METRICS_IO_MS;
	char *req = malloc(METRICS_REQ_MAX + 1), *text;
	size_t got = 0;
	long len;

	if (!req)
		return;
	while (got < METRICS_REQ_MAX) {
		ssize_t r = recv(fd, req + got, METRICS_REQ_MAX - got, MSG_DONTWAIT);

		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(m, fd, POLLIN, deadline) <= 0)
				goto out;
			continue;
		}
		if (r <= 0)
			goto out;
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = '\0';
	if (strncmp(req, "GET ", 4) && strncmp(req, "HEAD ", 5)) {
		reply(m, fd, "405 Method Not Allowed", text_plain, "only GET\n", 9, deadline);
		goto out;
	}
	{
		const char *path = strchr(req, ' ') + 1;
		size_t plen = strcspn(path, " ?\r\n");

		if (!(plen == 8 && !strncmp(path, "/metrics", 8)) && !(plen == 1 && *path == '/')) {
			reply(m, fd, "404 Not Found", text_plain, "try /metrics\n", 13, deadline);
			goto out;
		}
	}
	len = metrics_render(m->set, &text);
	if (len < 0) {
		reply(m, fd, "503 Service Unavailable", text_plain, "out of memory\n", 14,
		      deadline);
		goto out;
	}
	reply(m, fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
	      strncmp(req, "HEAD ", 5) ? text : NULL, (size_t)len, deadline);
	free(text);
out:
	free(req);
}

static void *server(void *opaque)
{
	struct metrics *m = opaque;

	for (;;) {
		struct pollfd p[2] = { { .fd = m->fd, .events = POLLIN },
				       { .fd = m->stop_fd, .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("metrics: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors or memory: the pending client
				 * stays queued; try again later instead of spinning. */
				log_warn("metrics: accept: %s; pausing 100 ms", strerror(errno));
				poll(&p[1], 1, 100);
			}
			continue;
		}
		serve_one(m, fd);
		close(fd);
	}
}

static int open_listener(struct metrics *m, char *err, size_t errlen)
{
	const struct net_addr *a = &m->addr;
	int one = 1, fd, r;

	if (a->family == AF_UNIX) {
		char why[256];

		fd = unix_listen(net_addr_path(a), why, sizeof(why));
		if (fd < 0) {
			snprintf(err, errlen, "--metrics unix:%s: %s", net_addr_path(a), why);
			return fd;
		}
		unix_path_remember(net_addr_path(a), &m->path_id);
		return fd;
	}
	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "--metrics: socket: %s", strerror(errno));
		return r;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		snprintf(err, errlen, "--metrics: cannot listen on the address: %s",
			 strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

int metrics_start(struct metrics **out, const struct net_addr *addr, struct vm_set *set,
		  char *err, size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int r;

	*out = NULL;
	if (!m) {
		snprintf(err, errlen, "--metrics: out of memory");
		return -ENOMEM;
	}
	m->addr = *addr;
	m->set = set;
	m->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->stop_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "--metrics: eventfd: %s", strerror(errno));
		free(m);
		return r;
	}
	m->fd = open_listener(m, err, errlen);
	if (m->fd < 0) {
		r = m->fd;
		close(m->stop_fd);
		free(m);
		return r;
	}
	r = pthread_create(&m->thread, NULL, server, m);
	if (r) {
		snprintf(err, errlen, "--metrics: cannot start thread: %s", strerror(r));
		close(m->fd);
		if (addr->family == AF_UNIX)
			unix_unlink_if_ours(net_addr_path(&m->addr), &m->path_id);
		close(m->stop_fd);
		free(m);
		return -r;
	}
	*out = m;
	return 0;
}

void metrics_stop(struct metrics *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (write(m->stop_fd, &one, sizeof(one)) < 0)
		log_warn("metrics: cannot stop the server thread: %s", strerror(errno));
	pthread_join(m->thread, NULL);
	close(m->fd);
	if (m->addr.family == AF_UNIX)
		unix_unlink_if_ours(net_addr_path(&m->addr), &m->path_id);
	close(m->stop_fd);
	free(m);
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * --metrics ADDR and SIGUSR1: the counters a scrape shows match the traffic
 * the simulated guest and a host application exchanged, over a Unix socket
 * and over TCP on 127.0.0.1; other paths and methods get 404 / 405; a slow
 * client does not stop the next scrape; SIGUSR1 logs the same samples.
 */
#include "itest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PORT 1234
#define G2H 100000u
#define H2G 50000u

static const char *const unix_args[] = { "--metrics", "unix:%D/metrics.sock", NULL };
static char tcp_arg[32];
static const char *const tcp_args[] = { "--metrics", tcp_arg, NULL };
static uint16_t tcp_port;

/* Connects to the daemon's metrics socket, retrying while the daemon is
 * still starting (it opens it after the VMs' sockets). */
static int dial(const struct itest *t, bool tcp)
{
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;;) {
		int fd;

		if (tcp) {
			struct sockaddr_in si = { .sin_family = AF_INET, .sin_port = htons(tcp_port),
						  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&si, sizeof(si)) == 0)
				return fd;
		} else {
			struct sockaddr_un su = { .sun_family = AF_UNIX };

			snprintf(su.sun_path, sizeof(su.sun_path), "%s/metrics.sock", t->d.dir);
			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&su, sizeof(su)) == 0)
				return fd;
		}
		if (fd >= 0)
			close(fd);
		if (sim_now_ms() > end)
			fail_msg("cannot connect to the metrics socket: %s", strerror(errno));
		usleep(10000);
	}
}

/* Sends req, reads the whole answer (the server closes); NUL-terminated. */
static char *http(const struct itest *t, bool tcp, const char *req)
{
	char *buf;
	int fd = dial(t, tcp);

	assert_int_equal(itest_host_write(fd, req, strlen(req), ITEST_TIMEOUT_MS), 0);
	buf = itest_host_read_all(fd);
	close(fd);
	return buf;
}

static char *scrape(const struct itest *t, bool tcp)
{
	char *r = http(t, tcp, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");

	if (strncmp(r, "HTTP/1.1 200 OK\r\n", 17))
		fail_msg("scrape answered: %.80s", r);
	assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
	return r;
}

/* The value of the sample whose name and labels are exactly sample. */
static unsigned long long sample(const char *text, const char *name)
{
	return itest_metrics_sample(text, name);
}

/* The value of metric{cid="<ours>"[,label]}. */
static unsigned long long vm_sample(const char *text, const char *metric, const char *label)
{
	char name[160];

	snprintf(name, sizeof(name), "%s{cid=\"%u\"%s%s}", metric, ITEST_CID, label ? "," : "",
		 label ? label : "");
	return sample(text, name);
}

static const char *const causes[] = { "guest_shutdown", "host_close", "guest_rst",
				       "guest_protocol_error", "host_error", "refused",
				       "timeout", "vmm_gone", "other" };

/* vdv_connections_closed_total of our VM, all causes added up. */
static unsigned long long closed_total(const char *m)
{
	unsigned long long sum = 0;
	char label[64];

	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++) {
		snprintf(label, sizeof(label), "cause=\"%s\"", causes[i]);
		sum += vm_sample(m, "vdv_connections_closed_total", label);
	}
	return sum;
}

/* A guest -> host and a host -> guest transfer on one connection. */
static void traffic(struct itest *t, struct sim *s, struct sim_stream *st, int *lfd, int *hfd)
{
	struct itest_pump hp = { .tx_seed = 3, .tx_len = H2G, .rx_seed = 4, .rx_len = G2H };
	struct itest_xfer x = { .tx_seed = 4, .tx_len = G2H, .rx_seed = 3, .rx_len = H2G };

	*lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, st, ITEST_HOST_CID, PORT, 40000, 0,
					    ITEST_TIMEOUT_MS), 0);
	hp.fd = *hfd = itest_host_accept(*lfd, ITEST_TIMEOUT_MS);
	assert_true(*hfd >= 0);
	itest_pump_start(&hp);
	itest_stream_xfer(st, &x, 10000);
	assert_int_equal(itest_pump_join(&hp), 0);
}

static void check_traffic(const char *m)
{
	assert_int_equal(vm_sample(m, "vdv_bytes_total", "direction=\"from_guest\""), G2H);
	assert_int_equal(vm_sample(m, "vdv_bytes_total", "direction=\"to_guest\""), H2G);
	assert_int_equal(vm_sample(m, "vdv_connections", NULL), 1);
	assert_int_equal(vm_sample(m, "vdv_connections_established_total", NULL), 1);
	assert_int_equal(vm_sample(m, "vdv_frontend_attached", NULL), 1);
	assert_int_equal(vm_sample(m, "vdv_frontend_sessions_total", NULL), 1);
	/* The data, the REQUEST and a credit update at least. */
	assert_true(vm_sample(m, "vdv_packets_total", "direction=\"from_guest\"") >=
		    G2H / 65536 + 2);
}

static void scrape_matches_traffic(void **state, bool tcp)
{
	struct itest *t = *state;
	struct sim *s;
	struct sim_stream st, st2;
	char *m;
	int lfd, hfd;

	/* Before any VMM: the VM is there, with nothing attached. */
	m = scrape(t, tcp);
	assert_int_equal(vm_sample(m, "vdv_frontend_attached", NULL), 0);
	assert_non_null(strstr(m, "# TYPE vdv_bytes_total counter\n"));
	assert_non_null(strstr(m, "vdv_vm_info{cid=\"5\",socket=\""));
	free(m);

	s = itest_start(t, NULL);
	traffic(t, s, &st, &lfd, &hfd);
	m = scrape(t, tcp);
	if (getenv("VDV_TEST_VERBOSE"))
		fprintf(stderr, "---- scrape after the transfer ----\n%s", strstr(m, "\r\n\r\n") + 4);
	check_traffic(m);
	free(m);

	/* Gone (host closed, guest reset): the gauge drops, the counters stay.
	 * The guest resets only once it has seen the host's close, which
	 * makes it a host_close. */
	close(hfd);
	{
		char buf[16];

		assert_int_equal(sim_stream_recv(&st, buf, sizeof(buf), ITEST_TIMEOUT_MS), 0);
	}
	assert_int_equal(sim_stream_rst(&st), 0);
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;;) {
		m = scrape(t, tcp);
		if (vm_sample(m, "vdv_connections", NULL) == 0)
			break;
		free(m);
		assert_true(sim_now_ms() < end);
		usleep(10000);
	}
	assert_int_equal(vm_sample(m, "vdv_bytes_total", "direction=\"from_guest\""), G2H);
	assert_int_equal(vm_sample(m, "vdv_connections_closed_total", "cause=\"host_close\""), 1);
	assert_int_equal(closed_total(m), 1);
	assert_int_equal(vm_sample(m, "vdv_rst_received_total", NULL), 1);
	assert_int_equal(vm_sample(m, "vdv_connections_refused_total", NULL), 0);
	free(m);
	/* Nothing listens on port 4321: refused, and counted. */
	assert_true(sim_stream_connect(s, &st2, ITEST_HOST_CID, 4321, 40001, 0,
				       ITEST_TIMEOUT_MS) < 0);
	m = scrape(t, tcp);
	assert_int_equal(vm_sample(m, "vdv_connections_refused_total", NULL), 1);
	free(m);
	sim_stream_fini(&st2);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_unix_scrape(void **state)
{
	scrape_matches_traffic(state, false);
}

static void test_tcp_scrape(void **state)
{
	scrape_matches_traffic(state, true);
}

static void test_other_requests(void **state)
{
	struct itest *t = *state;
	char *r;

	r = http(t, false, "GET /nope HTTP/1.1\r\n\r\n");
	assert_int_equal(strncmp(r, "HTTP/1.1 404 ", 13), 0);
	free(r);
	r = http(t, false, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(strncmp(r, "HTTP/1.1 405 ", 13), 0);
	free(r);
	r = http(t, false, "HEAD /metrics HTTP/1.1\r\n\r\n");
	assert_int_equal(strncmp(r, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(r, "\r\n\r\n"));
	assert_string_equal(strstr(r, "\r\n\r\n"), "\r\n\r\n"); /* no body */
	free(r);
}

/* A client that connects and says nothing holds the server at most about
 * 2 s; the next scrape is answered after it. */
static void test_silent_client(void **state)
{
	struct itest *t = *state;
	int64_t t0 = sim_now_ms();
	int silent = dial(t, false);
	char *m = scrape(t, false);

	assert_true(sim_now_ms() - t0 < 2500 + ITEST_TIMEOUT_MS);
	free(m);
	close(silent);
}

static void test_sigusr1(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	char want[128];
	int lfd, hfd;

	traffic(t, s, &st, &lfd, &hfd);
	assert_int_equal(kill(t->d.pid, SIGUSR1), 0);
	snprintf(want, sizeof(want),
		 "metrics: vdv_bytes_total{cid=\"%u\",direction=\"from_guest\"} %u\n", ITEST_CID,
		 G2H);
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS; !itest_log_contains(t, want);) {
		assert_true(sim_now_ms() < end);
		usleep(10000);
	}
	assert_true(sim_daemon_alive(&t->d));
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Scrapes until closed_total{cause} reaches want (bounded); the text. */
static char *wait_closed(const struct itest *t, const char *cause, unsigned long long want)
{
	char label[64];

	snprintf(label, sizeof(label), "cause=\"%s\"", cause);
	for (int64_t end = sim_now_ms() + 2 * ITEST_TIMEOUT_MS;;) {
		char *m = scrape(t, false);
		unsigned long long v = vm_sample(m, "vdv_connections_closed_total", label);

		if (v == want)
			return m;
		if (v > want || sim_now_ms() > end)
			fail_msg("closed{%s} is %llu, want %llu:\n%s", cause, v, want, m);
		free(m);
		usleep(10000);
	}
}

/* A guest connection to PORT and its host end. */
static void dial_guest(struct itest *t, struct sim *s, int lfd, struct sim_stream *st,
		       uint32_t src_port, int *hfd)
{
	assert_int_equal(sim_stream_connect(s, st, ITEST_HOST_CID, PORT, src_port, 0,
					    ITEST_TIMEOUT_MS), 0);
	*hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(*hfd >= 0);
	(void)t;
}

/* Each way a connection ends is counted under its cause, and the causes
 * add up to every connection closed. */
static void test_close_causes(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream a, b, c, e, f;
	int lfd = itest_host_listen(t, PORT, 8), ha, hb, hc, hd, he, hf;
	size_t discarded;
	char buf[16], *m;

	/* The guest closes (SHUTDOWN both ways): the host sees EOF. */
	dial_guest(t, s, lfd, &a, 41000, &ha);
	assert_int_equal(sim_stream_shutdown(&a, VIRTIO_VSOCK_SHUTDOWN_RCV |
						     VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(itest_host_wait_closed(ha, ITEST_TIMEOUT_MS, &discarded), 0);
	free(wait_closed(t, "guest_shutdown", 1));

	/* The guest resets without a shutdown. */
	dial_guest(t, s, lfd, &b, 41001, &hb);
	assert_int_equal(sim_stream_rst(&b), 0);
	free(wait_closed(t, "guest_rst", 1));

	/* The guest breaks the protocol (an unknown op): we reset it. */
	dial_guest(t, s, lfd, &c, 41002, &hc);
	itest_send_op(s, 41002, PORT, 99, 0, 65536, 0);
	free(wait_closed(t, "guest_protocol_error", 1));

	/* A host connection that never sends its CONNECT line. */
	hd = itest_host_dial(t);
	free(wait_closed(t, "timeout", 1));

	/* The host closes first; the guest answers with RST. */
	dial_guest(t, s, lfd, &f, 41004, &hf);
	close(hf);
	assert_int_equal(sim_stream_recv(&f, buf, sizeof(buf), ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_rst(&f), 0);
	free(wait_closed(t, "host_close", 1));

	/* Open when the VMM goes. */
	dial_guest(t, s, lfd, &e, 41003, &he);
	sim_close(s);
	m = wait_closed(t, "vmm_gone", 1);
	if (getenv("VDV_TEST_VERBOSE"))
		fprintf(stderr, "---- closes by cause ----\n%s", strstr(m, "\r\n\r\n") + 4);
	assert_int_equal(closed_total(m), 6);
	assert_int_equal(vm_sample(m, "vdv_connections", NULL), 0);
	assert_int_equal(vm_sample(m, "vdv_connections_closed_total", "cause=\"host_error\""), 0);
	assert_int_equal(vm_sample(m, "vdv_connections_closed_total", "cause=\"other\""), 0);
	free(m);
	close(ha);
	close(hb);
	close(hc);
	close(hd);
	close(he);
	close(lfd);
	sim_stream_fini(&a);
	sim_stream_fini(&b);
	sim_stream_fini(&c);
	sim_stream_fini(&e);
	sim_stream_fini(&f);
}

/* ---- scrapes while data flows ---- */

#define BIG (8u << 20) /* each way */

/* A scraper thread: no cmocka asserts here (they must not leave another
 * thread); it records what it saw and what went wrong. */
struct scraper {
	const struct itest *t;
	bool tcp;
	volatile bool stop;
	unsigned scrapes, mid;     /* all, and those that saw a transfer in progress */
	unsigned long long last[4]; /* bytes from/to, packets from/to, last seen */
	int64_t max_ms;            /* the slowest scrape */
	char bad[256];             /* first problem, or "" */
	char sample[8192];         /* the text of the last scrape taken mid-transfer */
	pthread_t th;
};

/* One GET /metrics without asserts: the malloc'd answer or NULL. */
static char *try_scrape(const struct scraper *sc)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t cap = 1 << 16, got = 0;
	char *buf;
	int fd;

	if (sc->tcp) {
		struct sockaddr_in si = { .sin_family = AF_INET, .sin_port = htons(tcp_port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&si, sizeof(si)) != 0) {
			close(fd);
			return NULL;
		}
	} else {
		struct sockaddr_un su = { .sun_family = AF_UNIX };

		snprintf(su.sun_path, sizeof(su.sun_path), "%s/metrics.sock", sc->t->d.dir);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&su, sizeof(su)) != 0) {
			close(fd);
			return NULL;
		}
	}
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	if (!buf || itest_host_write(fd, req, sizeof(req) - 1, ITEST_TIMEOUT_MS) != 0) {
		free(buf);
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n = itest_host_read(fd, buf + got, cap - 1 - got, ITEST_TIMEOUT_MS);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (got + 1 == cap)
			break;
	}
	buf[got] = '\0';
	close(fd);
	return buf;
}

/* metric{cid="5",label} from text, or -1 when absent. */
static long long find_sample(const char *text, const char *metric, const char *label)
{
	char want[200];
	const char *p;

	snprintf(want, sizeof(want), "\n%s{cid=\"%u\",%s} ", metric, ITEST_CID, label);
	p = strstr(text, want);
	return p ? (long long)strtoull(p + strlen(want), NULL, 10) : -1;
}

static void *scraper_main(void *opaque)
{
	static const char *const names[4][2] = {
		{ "vdv_bytes_total", "direction=\"from_guest\"" },
		{ "vdv_bytes_total", "direction=\"to_guest\"" },
		{ "vdv_packets_total", "direction=\"from_guest\"" },
		{ "vdv_packets_total", "direction=\"to_guest\"" },
	};
	struct scraper *sc = opaque;

	while (!sc->stop && !sc->bad[0]) {
		int64_t t0 = sim_now_ms();
		char *m = try_scrape(sc);
		long long v[4];
		bool partial;

		if (!m || strncmp(m, "HTTP/1.1 200 OK\r\n", 17)) {
			snprintf(sc->bad, sizeof(sc->bad), "scrape %u failed: %.60s", sc->scrapes,
				 m ? m : "(no answer)");
			free(m);
			break;
		}
		if (sim_now_ms() - t0 > sc->max_ms)
			sc->max_ms = sim_now_ms() - t0;
		for (int i = 0; i < 4; i++) {
			v[i] = find_sample(m, names[i][0], names[i][1]);
			if (v[i] < 0 || (unsigned long long)v[i] < sc->last[i])
				snprintf(sc->bad, sizeof(sc->bad), "%s{%s} went from %llu to %lld",
					 names[i][0], names[i][1], sc->last[i], v[i]);
			else
				sc->last[i] = (unsigned long long)v[i];
		}
		if (v[0] > (long long)BIG || v[1] > (long long)BIG)
			snprintf(sc->bad, sizeof(sc->bad),
				 "bytes %lld / %lld exceed the %u sent each way", v[0], v[1], BIG);
		partial = (v[0] > 0 && v[0] < (long long)BIG) || (v[1] > 0 && v[1] < (long long)BIG);
		/* Kept: the last one that saw the transfer in progress. */
		if (partial) {
			sc->mid++;
			snprintf(sc->sample, sizeof(sc->sample), "%s", strstr(m, "\r\n\r\n") + 4);
		}
		sc->scrapes++;
		free(m);
	}
	return NULL;
}

/* Several MiB each way while another thread scrapes as fast as it can:
 * every scrape is answered, each counter only grows and never passes what
 * was sent, the transfer keeps its usual bound, and at the end bytes and
 * packets equal what the simulated guest sent and received. */
static void scrape_during_transfer(void **state, bool tcp)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct itest_pump hp = { .tx_seed = 5, .tx_len = BIG, .rx_seed = 6, .rx_len = BIG };
	struct itest_xfer x = { .tx_seed = 6, .tx_len = BIG, .rx_seed = 5, .rx_len = BIG };
	struct scraper sc = { .t = t, .tcp = tcp };
	const struct sg_stats *gs;
	struct sim_stream st;
	int64_t t0;
	char *m;
	int lfd;

	lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 42000, 0,
					    ITEST_TIMEOUT_MS), 0);
	hp.fd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hp.fd >= 0);
	assert_int_equal(pthread_create(&sc.th, NULL, scraper_main, &sc), 0);
	t0 = sim_now_ms();
	itest_pump_start(&hp);
	/* The bound every bulk test uses: scraping must not stretch it. */
	itest_stream_xfer(&st, &x, 20000);
	assert_int_equal(itest_pump_join(&hp), 0);
	sc.stop = true;
	assert_int_equal(pthread_join(sc.th, NULL), 0);
	if (sc.bad[0])
		fail_msg("%s", sc.bad);
	if (getenv("VDV_TEST_VERBOSE"))
		fprintf(stderr, "---- %s: %u scrapes, %u during the transfer (%lld ms), slowest "
			"%lld ms; one of them ----\n%s", tcp ? "tcp" : "unix", sc.scrapes, sc.mid,
			(long long)(sim_now_ms() - t0), (long long)sc.max_ms, sc.sample);
	/* Several scrapes landed while the data flowed. */
	assert_true(sc.mid >= 3);

	/* The daemon counts a packet when it puts it in the ring, the guest
	 * when it takes it: a credit update sent after the last data may
	 * still be in the ring. Take what is there (bounded: 100 ms of
	 * silence ends it) before comparing the counts. */
	for (int i = 0; i < 100 && sim_stream_poll(&st, 100) > 0; i++)
		;
	m = scrape(t, tcp);
	gs = sg_stats(st.g);
	assert_int_equal(vm_sample(m, "vdv_bytes_total", "direction=\"from_guest\""), BIG);
	assert_int_equal(vm_sample(m, "vdv_bytes_total", "direction=\"to_guest\""), BIG);
	assert_int_equal(gs->tx_bytes, BIG);
	assert_int_equal(gs->rx_bytes, BIG);
	assert_int_equal(vm_sample(m, "vdv_packets_total", "direction=\"from_guest\""),
			 gs->tx_pkts);
	assert_int_equal(vm_sample(m, "vdv_packets_total", "direction=\"to_guest\""),
			 gs->rx_pkts);
	assert_true(sc.last[0] <= BIG && sc.last[2] <= gs->tx_pkts);
	free(m);
	close(hp.fd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_unix_scrape_during_transfer(void **state)
{
	scrape_during_transfer(state, false);
}

static void test_tcp_scrape_during_transfer(void **state)
{
	scrape_during_transfer(state, true);
}

/* A free TCP port on 127.0.0.1 for the daemon to take (bound and closed
 * here; nothing else on this machine races for it in practice). */
static uint16_t free_port(void)
{
	struct sockaddr_in si = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(si);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&si, sizeof(si)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&si, &len) == 0)
		port = ntohs(si.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int main(void)
{
	tcp_port = free_port();
	snprintf(tcp_arg, sizeof(tcp_arg), "127.0.0.1:%u", tcp_port);
	const struct CMUnitTest tests[] = {
		ITEST_T_ARGS(test_unix_scrape, unix_args),
		ITEST_T_ARGS(test_tcp_scrape, tcp_args),
		ITEST_T_ARGS(test_other_requests, unix_args),
		ITEST_T_ARGS(test_silent_client, unix_args),
		ITEST_T(test_sigusr1),
		ITEST_T_ARGS(test_close_causes, unix_args),
		ITEST_T_ARGS(test_unix_scrape_during_transfer, unix_args),
		ITEST_T_ARGS(test_tcp_scrape_during_transfer, tcp_args),
	};

	if (!tcp_port) {
		fprintf(stderr, "no free TCP port on 127.0.0.1\n");
		return 1;
	}
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}

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
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);
	int fd = dial(t, tcp);

	assert_non_null(buf);
	assert_int_equal(itest_host_write(fd, req, strlen(req), ITEST_TIMEOUT_MS), 0);
	for (;;) {
		ssize_t n;

		if (got + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = itest_host_read(fd, buf + got, cap - 1 - got, ITEST_TIMEOUT_MS);
		if (n == 0)
			break;
		assert_true(n > 0);
		got += (size_t)n;
	}
	buf[got] = '\0';
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

	/* Gone (host closed, guest reset): the gauge drops, the counters stay. */
	close(hfd);
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
	assert_int_equal(vm_sample(m, "vdv_connections_closed_total", NULL), 1);
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
	};

	if (!tcp_port) {
		fprintf(stderr, "no free TCP port on 127.0.0.1\n");
		return 1;
	}
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}

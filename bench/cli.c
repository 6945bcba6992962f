/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* vdv-bench's command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "provenance.h"
#include "sim/sim_sock.h"
#include "sim/sim_daemon.h"

static const char usage_text[] =
	"usage: vdv-bench [OPTIONS]\n"
	"\n"
	"Measures a vhost-user vsock daemon through the frontend simulator (no VM),\n"
	"always next to an AF_UNIX baseline measured in the same run.\n"
	"\n"
	"  --daemon PATH        daemon under test [$VDV_DAEMON or vhost-device-vsock]\n"
	"                       run as: PATH --guest-cid 3 --socket S --uds-path U\n"
	"  --compare PATH       a second daemon, alternated with the first (A B A B..)\n"
	"  --daemon-arg ARG     extra argument for both daemons (repeatable)\n"
	"  --rounds N           rounds per figure; the median, min and max are\n"
	"                       reported [3]\n"
	"  --duration SEC       length of each timed measurement [1.0]\n"
	"  --sizes LIST         write sizes, comma-separated [64,4096,65536]\n"
	"  --queue-size N       virtqueue size (QEMU: 128) [128]\n"
	"  --rx-buf-size N      guest rx buffer payload size (Linux: 4096) [4096]\n"
	"  --guest-buf-alloc N  guest socket buffer, the credit it gives [262144]\n"
	"  --read-size N        every reader's buffer size [65536]\n"
	"  --rr-iters N         most round trips per measurement [200000]\n"
	"  --conns N            concurrent connections [64]\n"
	"  --mc-write N         write size with concurrent connections [4096]\n"
	"  --idle-conns N       idle connections for the memory figure [800]\n"
	"  --multivm-vms N      VMs streaming at once in the multivm scenario [64]\n"
	"  --only LIST          scenarios: stream,rr,connrate,multi,sibling,rss,scale,\n"
	"                       multivm,neighbour\n"
	"  --json FILE          write the results as JSON\n"
	"  --dat FILE           write throughput per size for gnuplot\n"
	"  --check-against FILE compare the medians with a saved --json FILE: list\n"
	"                       each figure more than 10 % worse, exit 3 if any\n"
	"  --commit ID          daemon A's source commit for the record [git -C\n"
	"                       <directory of the binary> rev-parse HEAD]\n"
	"  --compare-commit ID  the same for the --compare daemon\n"
	"  --no-verify          count bytes but skip checksums\n"
	"  --no-guest-syscalls  guest applications do not pay a system call per\n"
	"                       send/recv/accept/close (see README)\n"
	"  --timeout MS         bound of any single wait [5000]\n"
	"  --smoke              a few seconds in all: tiny durations, one round\n"
	"  -v, --verbose        print the guest driver's counters after each daemon run\n"
	"  -h, --help\n";

enum {
	O_DAEMON = 256, O_COMPARE, O_DAEMON_ARG, O_ROUNDS, O_DURATION, O_SIZES, O_QUEUE,
	O_RXBUF, O_BUFALLOC, O_READ, O_RR_ITERS, O_CONNS, O_MC_WRITE, O_IDLE, O_MVM, O_ONLY,
	O_JSON, O_DAT, O_NO_VERIFY, O_NO_GSYS, O_TIMEOUT, O_SMOKE, O_CHECK, O_COMMIT,
	O_COMMIT_B,
};

static const struct option options[] = {
	{ "daemon", required_argument, NULL, O_DAEMON },
	{ "compare", required_argument, NULL, O_COMPARE },
	{ "daemon-arg", required_argument, NULL, O_DAEMON_ARG },
	{ "rounds", required_argument, NULL, O_ROUNDS },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "sizes", required_argument, NULL, O_SIZES },
	{ "queue-size", required_argument, NULL, O_QUEUE },
	{ "rx-buf-size", required_argument, NULL, O_RXBUF },
	{ "guest-buf-alloc", required_argument, NULL, O_BUFALLOC },
	{ "read-size", required_argument, NULL, O_READ },
	{ "rr-iters", required_argument, NULL, O_RR_ITERS },
	{ "conns", required_argument, NULL, O_CONNS },
	{ "mc-write", required_argument, NULL, O_MC_WRITE },
	{ "idle-conns", required_argument, NULL, O_IDLE },
	{ "multivm-vms", required_argument, NULL, O_MVM },
	{ "only", required_argument, NULL, O_ONLY },
	{ "json", required_argument, NULL, O_JSON },
	{ "dat", required_argument, NULL, O_DAT },
	{ "check-against", required_argument, NULL, O_CHECK },
	{ "commit", required_argument, NULL, O_COMMIT },
	{ "compare-commit", required_argument, NULL, O_COMMIT_B },
	{ "no-verify", no_argument, NULL, O_NO_VERIFY },
	{ "no-guest-syscalls", no_argument, NULL, O_NO_GSYS },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "smoke", no_argument, NULL, O_SMOKE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int number(const char *opt, const char *s, unsigned long long lo, unsigned long long hi,
		  unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || end == s || *end || *out < lo || *out > hi) {
		fprintf(stderr, "vdv-bench: --%s: '%s' is not a number in %llu..%llu\n", opt, s,
			lo, hi);
		return -1;
	}
	return 0;
}

static int parse_sizes(struct bench_cfg *c, const char *list)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", list);
	c->n_sizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long long v;

		if (c->n_sizes == BENCH_MAX_SIZES) {
			fprintf(stderr, "vdv-bench: --sizes: at most %d sizes\n", BENCH_MAX_SIZES);
			return -1;
		}
		if (number("sizes", tok, 1, SIM_PKT_MAX, &v))
			return -1;
		c->sizes[c->n_sizes++] = (size_t)v;
	}
	return c->n_sizes ? 0 : -1;
}

static int check_only(const char *list)
{
	static const char *const names[] = { "stream", "rr", "connrate", "multi", "sibling",
					      "rss", "scale", "multivm", "neighbour" };
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(tok, names[i]))
				break;
		if (i == sizeof(names) / sizeof(names[0])) {
			fprintf(stderr, "vdv-bench: --only: unknown scenario '%s'\n", tok);
			return -1;
		}
	}
	return 0;
}

static void defaults(struct bench_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->daemon[0] = sim_daemon_exe();
	c->rounds = 3;
	c->duration_s = 1.0;
	c->sizes[0] = 64;
	c->sizes[1] = 4096;
	c->sizes[2] = 65536;
	c->n_sizes = 3;
	c->queue_size = 128;
	c->rx_buf_size = 4096;
	c->guest_buf_alloc = 256u * 1024u;
	c->read_size = 65536;
	c->rr_msg = 64;
	c->rr_iters = 200000;
	c->mc_conns = 64;
	c->mc_write = 4096;
	/* Host-initiated connections may use all but the slots the daemon
	 * keeps for the guest's own (1024 - 128 by default). */
	c->idle_conns = 800;
	c->multivm_vms = 64;
	c->conn_window = 16;
	c->verify = true;
	c->guest_syscalls = true;
	c->timeout_ms = 5000;
}

int bench_parse_args(int argc, char **argv, struct bench_cfg *c)
{
	bool set_rounds = false, set_duration = false, set_iters = false, set_conns = false,
	     set_idle = false, set_timeout = false, set_mvm = false;
	unsigned long long v;
	int o;

	defaults(c);
	while ((o = getopt_long(argc, argv, "hv", options, NULL)) != -1) {
		switch (o) {
		case O_DAEMON:
			c->daemon[0] = optarg;
			break;
		case O_COMPARE:
			c->daemon[1] = optarg;
			break;
		case O_DAEMON_ARG:
			if (c->n_daemon_args == BENCH_MAX_DAEMON_ARGS) {
				fprintf(stderr, "vdv-bench: too many --daemon-arg\n");
				return -1;
			}
			c->daemon_args[c->n_daemon_args++] = optarg;
			break;
		case O_ROUNDS:
			if (number("rounds", optarg, 1, RES_MAX_ROUNDS, &v))
				return -1;
			c->rounds = (unsigned)v;
			set_rounds = true;
			break;
		case O_DURATION: {
			char *end;

			c->duration_s = strtod(optarg, &end);
			if (*end || end == optarg || c->duration_s < 0.01 || c->duration_s > 600) {
				fprintf(stderr, "vdv-bench: --duration: '%s' is not in 0.01..600 s\n",
					optarg);
				return -1;
			}
			set_duration = true;
			break;
		}
		case O_SIZES:
			if (parse_sizes(c, optarg))
				return -1;
			break;
		case O_QUEUE:
			if (number("queue-size", optarg, 2, 32768, &v))
				return -1;
			if (v & (v - 1)) {
				fprintf(stderr, "vdv-bench: --queue-size: not a power of two\n");
				return -1;
			}
			c->queue_size = (unsigned)v;
			break;
		case O_RXBUF:
			if (number("rx-buf-size", optarg, 1, SIM_PKT_MAX, &v))
				return -1;
			c->rx_buf_size = (size_t)v;
			break;
		case O_BUFALLOC:
			if (number("guest-buf-alloc", optarg, 1, 1u << 30, &v))
				return -1;
			c->guest_buf_alloc = (uint32_t)v;
			break;
		case O_READ:
			if (number("read-size", optarg, 1, 1u << 24, &v))
				return -1;
			c->read_size = (size_t)v;
			break;
		case O_RR_ITERS:
			if (number("rr-iters", optarg, 1, 10000000, &v))
				return -1;
			c->rr_iters = (unsigned)v;
			set_iters = true;
			break;
		case O_CONNS:
			if (number("conns", optarg, 1, 1000, &v))
				return -1;
			c->mc_conns = (unsigned)v;
			set_conns = true;
			break;
		case O_MC_WRITE:
			if (number("mc-write", optarg, 1, SIM_PKT_MAX, &v))
				return -1;
			c->mc_write = (size_t)v;
			break;
		case O_IDLE:
			if (number("idle-conns", optarg, 1, 1000, &v))
				return -1;
			c->idle_conns = (unsigned)v;
			set_idle = true;
			break;
		case O_MVM:
			/* The bench process holds about 8 descriptors and a few
			 * MiB of guest RAM per VM. */
			if (number("multivm-vms", optarg, 1, 256, &v))
				return -1;
			c->multivm_vms = (unsigned)v;
			set_mvm = true;
			break;
		case O_ONLY:
			if (check_only(optarg))
				return -1;
			c->only = optarg;
			break;
		case O_JSON:
			c->json_path = optarg;
			break;
		case O_DAT:
			c->dat_path = optarg;
			break;
		case O_CHECK:
			c->check_path = optarg;
			break;
		case O_COMMIT:
		case O_COMMIT_B:
			if (!prov_commit_valid(optarg)) {
				fprintf(stderr,
					"vdv-bench: --%s: '%s' is not 1..64 of [0-9A-Za-z._+-]\n",
					o == O_COMMIT ? "commit" : "compare-commit", optarg);
				return -1;
			}
			c->commit[o == O_COMMIT ? 0 : 1] = optarg;
			break;
		case O_NO_VERIFY:
			c->verify = false;
			break;
		case O_NO_GSYS:
			c->guest_syscalls = false;
			break;
		case O_TIMEOUT:
			if (number("timeout", optarg, 100, 600000, &v))
				return -1;
			c->timeout_ms = (int)v;
			set_timeout = true;
			break;
		case O_SMOKE:
			c->smoke = true;
			break;
		case 'v':
			c->verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (c->commit[1] && !c->daemon[1]) {
		fprintf(stderr, "vdv-bench: --compare-commit without --compare\n");
		return -1;
	}
	c->argc = argc;
	c->argv = argv;
	if (optind < argc) {
		fprintf(stderr, "vdv-bench: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (c->smoke) {
		/* It only has to show that every scenario works end to end. */
		if (!set_rounds)
			c->rounds = 1;
		if (!set_duration)
			c->duration_s = 0.05;
		if (!set_iters)
			c->rr_iters = 200;
		if (!set_conns)
			c->mc_conns = 8;
		if (!set_idle)
			c->idle_conns = 32;
		if (!set_mvm)
			c->multivm_vms = 4;
		/* A hang should fail the test quickly, not after minutes. */
		if (!set_timeout)
			c->timeout_ms = 3000;
	}
	return 0;
}

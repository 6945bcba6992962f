/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Tests of the configuration module's operations side: the process options
 * (--ready-fd, --exit-with-fd, --log-level, --sandbox, --check,
 * --print-config) in
 * every mode, "--config -", --print-config's YAML reading back unchanged,
 * and --check's look at the socket directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

#define MAX_ARGS 24

static enum config_result parse(const char *const *args, struct vdv_config *cfg, char *err,
				size_t errlen)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)"vhost-device-vsock";
	while (args[argc - 1] && argc <= MAX_ARGS) {
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	argv[argc] = NULL;
	return config_parse_args(argc, argv, cfg, err, errlen);
}

#define VM1 "--socket", "/tmp/a.sock", "--uds-path", "/tmp/a.vsock"

static void test_defaults(void **state)
{
	const char *const a[] = { VM1, NULL };
	struct vdv_config cfg;
	char err[512];
	(void)state;

	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.opts.ready_fd, -1);
	assert_int_equal(cfg.opts.exit_with_fd, -1);
	assert_false(cfg.opts.has_log_level);
	assert_false(cfg.opts.check);
	assert_false(cfg.opts.print_config);
	/* The sandbox is on unless turned off. */
	assert_int_equal(cfg.opts.sandbox, VDV_SANDBOX_SECCOMP);
	config_free(&cfg);
}

static void test_options_every_mode(void **state)
{
	const char *const single[] = { "--ready-fd", "5", VM1, "--exit-with-fd=0x7",
				       "--log-level", "Debug", "--check", "--print-config",
				       "--sandbox", "none", NULL };
	const char *const vm[] = { "--vm", "socket=/tmp/a.sock,uds-path=/tmp/a.vsock",
				   "--log_level=trace", "--ready_fd", "3", "--sandbox=seccomp",
				   "--metrics=[::1]:9100", NULL };
	const char *const file[] = { "--exit-with-fd", "0", "--sandbox", "none", "--config",
				     "/nonexistent.yaml", NULL };
	struct vdv_config cfg;
	char err[512];
	(void)state;

	assert_int_equal(parse(single, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_false(cfg.opts.has_metrics);
	assert_int_equal(cfg.opts.ready_fd, 5);
	assert_int_equal(cfg.opts.exit_with_fd, 7);
	assert_true(cfg.opts.has_log_level);
	assert_int_equal(cfg.opts.log_level, LOG_DEBUG);
	assert_true(cfg.opts.check);
	assert_true(cfg.opts.print_config);
	assert_int_equal(cfg.opts.sandbox, VDV_SANDBOX_NONE);
	assert_int_equal(cfg.n_vms, 1);
	config_free(&cfg);

	assert_int_equal(parse(vm, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_true(cfg.opts.has_metrics);
	assert_int_equal(cfg.opts.metrics.family, AF_INET6);
	assert_int_equal(cfg.opts.sandbox, VDV_SANDBOX_SECCOMP);
	assert_int_equal(cfg.opts.log_level, LOG_TRACE);
	assert_int_equal(cfg.opts.ready_fd, 3);
	assert_int_equal(cfg.n_vms, 1);
	config_free(&cfg);

	/* Not a mode conflict with --config: the file is what fails. */
	assert_int_equal(parse(file, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent.yaml"));
}

struct bad_row {
	const char *args[10];
	const char *want; /* part of the message */
};

static const struct bad_row bad_rows[] = {
	{ { "--ready-fd", "-1", VM1 }, "--ready-fd: '-1' is not a file descriptor number" },
	{ { "--ready-fd", "2147483648", VM1 }, "'2147483648' is not a file descriptor number" },
	{ { "--ready-fd", "3x", VM1 }, "--ready-fd: '3x'" },
	{ { "--ready-fd=", VM1 }, "--ready-fd: ''" },
	{ { VM1, "--ready-fd" }, "--ready-fd needs a value" },
	{ { "--exit-with-fd", "fd3", VM1 }, "--exit-with-fd: 'fd3'" },
	{ { "--ready-fd", "4", "--exit-with-fd", "4", VM1 }, "name the same fd 4" },
	{ { "--ready-fd", "4", "--ready-fd", "5", VM1 }, "--ready-fd given twice" },
	{ { "--log-level", "verbose", VM1 }, "--log-level: 'verbose' is not a log level" },
	{ { "--log-level", "off", VM1 }, "'off' is not a log level" },
	{ { "--sandbox", "off", VM1 }, "--sandbox: 'off' is not a sandbox mode (seccomp, none)" },
	{ { "--sandbox", "Seccomp", VM1 }, "--sandbox: 'Seccomp' is not a sandbox mode" },
	{ { "--sandbox=", VM1 }, "--sandbox: '' is not a sandbox mode" },
	{ { VM1, "--sandbox" }, "--sandbox needs a value" },
	{ { "--sandbox", "none", "--sandbox", "none", VM1 }, "--sandbox given twice" },
	{ { "--check=yes", VM1 }, "--check takes no value" },
	{ { "--print-config=1", VM1 }, "--print-config takes no value" },
	{ { "--check", "--check", VM1 }, "--check given twice" },
	{ { "--metrics", "9100", VM1 }, "--metrics: '9100' is not a listening address" },
	{ { "--metrics", "unix:", VM1 }, "--metrics: 'unix:' is not a listening address: the path" },
	{ { "--metrics", "127.0.0.1:0", VM1 }, "port must be a number from 1 to 65535" },
	{ { "--metrics", "example.org:9100", VM1 }, "'example.org:9100' is not a listening" },
	{ { "--metrics", "unix:/a", "--metrics", "unix:/b", VM1 }, "--metrics given twice" },
	{ { VM1, "--metrics" }, "--metrics needs a value" },
};

static void test_bad_option(void **state)
{
	const struct bad_row *row = *state;
	struct vdv_config cfg;
	char err[512];

	assert_int_equal(parse(row->args, &cfg, err, sizeof(err)), CONFIG_ERROR);
	if (!strstr(err, row->want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, row->want);
	assert_null(cfg.vms);
	assert_int_equal(cfg.n_vms, 0);
}

/* --check is known on failure, wherever it was: the exit status is 1. */
static void test_check_known_on_error(void **state)
{
	const char *const before[] = { "--bogus", "--check", NULL };
	const char *const plain[] = { "--bogus", NULL };
	const char *const value[] = { "--socket=--check", "--uds-path", "/x", "--guest-cid", "1",
				      NULL };
	struct vdv_config cfg;
	char err[512];
	(void)state;

	assert_int_equal(parse(before, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_true(cfg.opts.check);
	assert_int_equal(parse(plain, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_false(cfg.opts.check);
	/* A value that merely reads "--check" does not count. */
	assert_int_equal(parse(value, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_false(cfg.opts.check);
}

/* Prints cfg to a string (open_memstream). */
static char *print_to_string(const struct vdv_config *cfg, int *r, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*r = config_print_yaml(cfg, f, err, errlen);
	fclose(f);
	return buf;
}

/* print -> parse -> print gives the same text, and the same VMs. */
static void roundtrip(const char *const *args)
{
	struct vdv_config a, b;
	char err[512], *t1, *t2;
	int r;

	if (parse(args, &a, err, sizeof(err)) != CONFIG_OK)
		fail_msg("parse: %s", err);
	t1 = print_to_string(&a, &r, err, sizeof(err));
	if (r)
		fail_msg("print: %s", err);
	if (config_parse_yaml_string(t1, strlen(t1), &b, err, sizeof(err)) != CONFIG_OK)
		fail_msg("printed YAML does not parse: %s\n%s", err, t1);
	t2 = print_to_string(&b, &r, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_string_equal(t1, t2);
	assert_int_equal(a.n_vms, b.n_vms);
	for (size_t i = 0; i < a.n_vms; i++) {
		assert_int_equal(a.vms[i].guest_cid, b.vms[i].guest_cid);
		assert_int_equal(!!a.vms[i].socket, !!b.vms[i].socket);
		if (a.vms[i].socket)
			assert_string_equal(a.vms[i].socket, b.vms[i].socket);
		assert_int_equal(a.vms[i].has_socket_fd, b.vms[i].has_socket_fd);
		assert_int_equal(a.vms[i].socket_fd, b.vms[i].socket_fd);
		assert_int_equal(!!a.vms[i].uds_path, !!b.vms[i].uds_path);
		if (a.vms[i].uds_path)
			assert_string_equal(a.vms[i].uds_path, b.vms[i].uds_path);
		assert_int_equal(a.vms[i].has_forward_cid, b.vms[i].has_forward_cid);
		assert_int_equal(a.vms[i].forward_cid, b.vms[i].forward_cid);
		assert_int_equal(a.vms[i].n_forward_listen, b.vms[i].n_forward_listen);
		assert_int_equal(a.vms[i].n_forward_listen_seqpacket,
				 b.vms[i].n_forward_listen_seqpacket);
		for (size_t j = 0; j < a.vms[i].n_forward_listen_seqpacket; j++)
			assert_int_equal(a.vms[i].forward_listen_seqpacket[j],
					 b.vms[i].forward_listen_seqpacket[j]);
		assert_int_equal(a.vms[i].tx_buffer_size, b.vms[i].tx_buffer_size);
		assert_int_equal(a.vms[i].queue_size, b.vms[i].queue_size);
		assert_int_equal(a.vms[i].poll_us, b.vms[i].poll_us);
		assert_int_equal(a.vms[i].n_groups, b.vms[i].n_groups);
		assert_int_equal(a.vms[i].has_socket_mode, b.vms[i].has_socket_mode);
		assert_int_equal(a.vms[i].socket_mode, b.vms[i].socket_mode);
		assert_int_equal(!!a.vms[i].socket_group, !!b.vms[i].socket_group);
		if (a.vms[i].socket_group)
			assert_string_equal(a.vms[i].socket_group, b.vms[i].socket_group);
		assert_int_equal(a.vms[i].socket_gid, b.vms[i].socket_gid);
		assert_int_equal(a.vms[i].max_connections, b.vms[i].max_connections);
		assert_int_equal(a.vms[i].guest_reserved_connections,
				 b.vms[i].guest_reserved_connections);
		assert_int_equal(a.vms[i].max_host_handshakes, b.vms[i].max_host_handshakes);
		assert_int_equal(a.vms[i].max_sibling_connections,
				 b.vms[i].max_sibling_connections);
		assert_int_equal(a.vms[i].tx_buffer_budget, b.vms[i].tx_buffer_budget);
	}
	free(t1);
	free(t2);
	config_free(&a);
	config_free(&b);
}

static void test_print_roundtrip(void **state)
{
	const char *const single[] = { VM1, NULL };
	const char *const multi[] = {
		"--vm", "guest-cid=0x10,socket=/tmp/v4.sock,uds-path=/tmp/vm4.vsock,groups=g1+g2,"
			"tx-buffer-size=4096,queue-size=128,poll-us=0",
		"--vm", "guest-cid=5,socket=/tmp/v5.sock,forward-cid=1,forward-listen=9001+9002",
		"--vm", "guest-cid=6,socket=/tmp/v6.sock,forward-cid=1,forward-listen=9000,"
			"forward-listen-seqpacket=9003+0x10",
		"--vm", "guest-cid=12,socket=/tmp/v12.sock,forward-cid=1,socket-mode=660,"
			"socket-group=0",
		"--vm", "guest-cid=13,socket=/tmp/v13.sock,forward-cid=1,socket_mode=0",
		"--vm", "guest-cid=14,socket=/tmp/v14.sock,forward-cid=1,max-connections=40,"
			"guest-reserved-connections=0,max-host-handshakes=40,"
			"max_sibling_connections=3,tx-buffer-budget=0x30000000",
		"--vm", "guest-cid=15,socket=/tmp/v15.sock,forward-cid=1,max-connections=65536",
		NULL
	};
	/* Paths that YAML would read as something else if left plain. */
	const char *const odd[] = {
		"--vm", "guest-cid=7,socket=null,uds-path=~",
		"--vm", "guest-cid=8,socket=4,uds-path=/tmp/a: b #c",
		"--vm", "guest-cid=9,socket= lead'quote\"dq,uds-path=/tmp/\xc3\xa9t\xc3\xa9",
		"--vm", "guest-cid=10,socket=- item,uds-path=[x]{y}&z*w!|>%@`",
		"--vm", "guest-cid=11,socket=/tmp/tab\there,forward-cid=1,groups=null+true+1",
		NULL
	};
	/* socket-fd: an inherited listening socket (an unnamed one here). */
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	char fdvm[96];
	const char *const with_fd[] = { "--vm", fdvm, "--vm",
					"guest-cid=15,socket=/tmp/v15.sock,forward-cid=1", NULL };
	(void)state;
	roundtrip(single);
	roundtrip(multi);
	roundtrip(odd);
	assert_true(lfd >= 0);
	/* Autobound (an abstract name): a socket must be bound to listen. */
	assert_int_equal(bind(lfd, (struct sockaddr *)&(struct sockaddr_un){ .sun_family = AF_UNIX },
			      sizeof(sa_family_t)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	snprintf(fdvm, sizeof(fdvm), "guest-cid=14,socket-fd=%d,uds-path=/tmp/vm14.vsock", lfd);
	roundtrip(with_fd);
	close(lfd);
}

static void test_print_content(void **state)
{
	const char *const a[] = { "--guest-cid", "4", VM1, "--poll-us", "7", NULL };
	struct vdv_config cfg;
	char err[512], *t;
	int r;
	(void)state;

	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	t = print_to_string(&cfg, &r, err, sizeof(err));
	assert_int_equal(r, 0);
	/* Every key with its effective value, defaults included. */
	assert_string_equal(t, "# --sandbox seccomp\n"
			       "vms:\n"
			       "- guest_cid: 4\n"
			       "  socket: '/tmp/a.sock'\n"
			       "  uds_path: '/tmp/a.vsock'\n"
			       "  tx_buffer_size: 65536\n"
			       "  queue_size: 1024\n"
			       "  groups: 'default'\n"
			       "  poll_us: 7\n"
			       "  max_connections: 1024\n"
			       "  guest_reserved_connections: 128\n"
			       "  max_host_handshakes: 256\n"
			       "  max_sibling_connections: 256\n"
			       "  tx_buffer_budget: 67108864\n");
	free(t);
	config_free(&cfg);
}

/* Connection and tx-buffer budgets (issue #12 points 3, 5): defaults,
 * shares derived from max-connections, every form, and the errors. */
static void test_budget_keys(void **state)
{
	struct vdv_config cfg;
	char err[512];
	(void)state;

	{
		const char *const a[] = { VM1, NULL };

		assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
		assert_int_equal(cfg.vms[0].max_connections, 1024);
		assert_int_equal(cfg.vms[0].guest_reserved_connections, 128);
		assert_int_equal(cfg.vms[0].max_host_handshakes, 256);
		assert_int_equal(cfg.vms[0].max_sibling_connections, 256);
		assert_int_equal(cfg.vms[0].tx_buffer_budget, 64u << 20);
		assert_int_equal(cfg.opts.tx_buffer_budget_total, 256u << 20);
		config_free(&cfg);
	}
	{
		/* A smaller total needs no other key; a larger one raises the
		 * default budget to hold every connection's floor. */
		const char *const a[] = { "--vm", "socket=/tmp/a,uds-path=/tmp/u,max-connections=16",
					  "--vm", "guest-cid=4,socket=/tmp/b,uds-path=/tmp/v,"
						  "max-connections=32768",
					  "--tx-buffer-budget-total", "0x100000", NULL };

		assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
		assert_int_equal(cfg.vms[0].guest_reserved_connections, 2);
		assert_int_equal(cfg.vms[0].max_host_handshakes, 4);
		assert_int_equal(cfg.vms[0].max_sibling_connections, 4);
		assert_int_equal(cfg.vms[1].tx_buffer_budget, 32768u * 4096u);
		assert_int_equal(cfg.opts.tx_buffer_budget_total, 0x100000);
		config_free(&cfg);
	}
	{
		const char *yaml = "vms:\n  - socket: /tmp/y\n    uds_path: /tmp/u\n"
				   "    max_connections: 1\n    max-host-handshakes: 1\n"
				   "    guest_reserved_connections: 1\n"
				   "    tx_buffer_budget: 4096\n";

		assert_int_equal(config_parse_yaml_string(yaml, strlen(yaml), &cfg, err,
							  sizeof(err)),
				 CONFIG_OK);
		assert_int_equal(cfg.vms[0].max_connections, 1);
		assert_int_equal(cfg.vms[0].guest_reserved_connections, 1);
		assert_int_equal(cfg.vms[0].max_sibling_connections, 1);
		assert_int_equal(cfg.vms[0].tx_buffer_budget, 4096);
		config_free(&cfg);
	}
	static const struct {
		const char *args[7];
		const char *msg;
	} bad[] = {
		{ { VM1, "--max-connections", "0" }, "--max-connections 0 is out of range 1..65536" },
		{ { VM1, "--max-connections", "65537" }, "out of range 1..65536" },
		{ { VM1, "--guest-reserved-connections", "1025" },
		  "--guest-reserved-connections 1025 is out of range 0..1024 (max-connections is "
		  "1024)" },
		{ { VM1, "--max-host-handshakes", "0" }, "--max-host-handshakes 0 is out of range" },
		{ { VM1, "--max-sibling-connections", "2000" },
		  "--max-sibling-connections 2000 is out of range 1..1024" },
		{ { VM1, "--tx-buffer-budget", "4194303" },
		  "--tx-buffer-budget 4194303 is out of range 4194304..1099511627776 (at least "
		  "max-connections 1024 x 4096" },
		{ { VM1, "--tx-buffer-budget-total", "4095" },
		  "--tx-buffer-budget-total: '4095' is not a byte count in 4096..1099511627776" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].args, &cfg, err, sizeof(err)), CONFIG_ERROR);
		if (!strstr(err, bad[i].msg))
			fail_msg("case %zu: error '%s' lacks '%s'", i, err, bad[i].msg);
	}
}

/* socket-mode and socket-group: parsed from every form, printed only when
 * given (mode as a quoted 4-digit octal string, group as written). The
 * group named is this process' own, looked up by name and by number. */
static void test_socket_access_keys(void **state)
{
	struct group *g = getgrgid(getegid());
	char gid[16], vm[256], yaml[512], *t;
	struct vdv_config cfg;
	char err[512];
	int r;
	(void)state;

	assert_non_null(g);
	snprintf(gid, sizeof(gid), "%u", (unsigned)getegid());
	{
		const char *const a[] = { VM1, "--socket-mode", "0660", "--socket-group", gid,
					  NULL };

		assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
		assert_true(cfg.vms[0].has_socket_mode);
		assert_int_equal(cfg.vms[0].socket_mode, 0660);
		assert_string_equal(cfg.vms[0].socket_group, gid);
		assert_int_equal(cfg.vms[0].socket_gid, getegid());
		t = print_to_string(&cfg, &r, err, sizeof(err));
		assert_int_equal(r, 0);
		assert_non_null(strstr(t, "  poll_us: 50\n  socket_mode: '0660'\n"));
		assert_non_null(strstr(t, "  socket_group: '"));
		free(t);
		config_free(&cfg);
	}
	snprintf(vm, sizeof(vm), "socket=/tmp/a.sock,uds-path=/tmp/a.vsock,socket_mode=7,"
		 "socket-group=%s", g->gr_name);
	{
		const char *const a[] = { "--vm", vm, NULL };

		assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
		assert_int_equal(cfg.vms[0].socket_mode, 07);
		assert_int_equal(cfg.vms[0].socket_gid, getegid());
		config_free(&cfg);
	}
	snprintf(yaml, sizeof(yaml), "vms:\n  - socket: /tmp/y.sock\n    uds_path: /tmp/y.u\n"
		 "    socket_mode: 0640\n    socket_group: %s\n", g->gr_name);
	assert_int_equal(config_parse_yaml_string(yaml, strlen(yaml), &cfg, err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(cfg.vms[0].socket_mode, 0640);
	assert_int_equal(cfg.vms[0].socket_gid, getegid());
	config_free(&cfg);
	/* Not given: nothing printed, nothing applied. */
	{
		const char *const a[] = { VM1, NULL };

		assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
		assert_false(cfg.vms[0].has_socket_mode);
		assert_null(cfg.vms[0].socket_group);
		config_free(&cfg);
	}
}

/* The forward keys, both port lists in the order given. */
static void test_print_forward(void **state)
{
	const char *const a[] = { "--socket", "/tmp/f.sock", "--forward-cid", "1",
				  "--forward-listen", "9001+9000", "--forward_listen_seqpacket",
				  "9003+9002", NULL };
	struct vdv_config cfg;
	char err[512], *t;
	int r;
	(void)state;

	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	t = print_to_string(&cfg, &r, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_string_equal(t, "# --sandbox seccomp\n"
			       "vms:\n"
			       "- guest_cid: 3\n"
			       "  socket: '/tmp/f.sock'\n"
			       "  forward_cid: 1\n"
			       "  forward_listen: 9001+9000\n"
			       "  forward_listen_seqpacket: 9003+9002\n"
			       "  tx_buffer_size: 65536\n"
			       "  queue_size: 1024\n"
			       "  groups: 'default'\n"
			       "  poll_us: 50\n"
			       "  max_connections: 1024\n"
			       "  guest_reserved_connections: 128\n"
			       "  max_host_handshakes: 256\n"
			       "  max_sibling_connections: 256\n"
			       "  tx_buffer_budget: 67108864\n");
	free(t);
	config_free(&cfg);
}

/* The sandbox mode in force, as a comment the YAML reader skips. */
static void test_print_sandbox(void **state)
{
	const char *const a[] = { VM1, "--sandbox", "none", NULL };
	struct vdv_config cfg, back;
	char err[512], *t;
	int r;
	(void)state;

	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	t = print_to_string(&cfg, &r, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_non_null(t);
	assert_memory_equal(t, "# --sandbox none\nvms:\n", 22);
	assert_int_equal(config_parse_yaml_string(t, strlen(t), &back, err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(back.n_vms, 1);
	free(t);
	config_free(&back);
	config_free(&cfg);
}

static void test_print_not_utf8(void **state)
{
	const char *const a[] = { "--socket", "/tmp/\xff.sock", "--uds-path", "/tmp/u", NULL };
	struct vdv_config cfg;
	char err[512], *t;
	int r;
	(void)state;

	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	t = print_to_string(&cfg, &r, err, sizeof(err));
	assert_int_not_equal(r, 0);
	assert_non_null(strstr(err, "not UTF-8"));
	assert_null(strchr(err, '\n'));
	free(t);
	config_free(&cfg);
}

/* "--config -" reads standard input, and messages call it <stdin>. */
static void with_stdin(const char *text, enum config_result want, const char *want_err)
{
	const char *const a[] = { "--config", "-", NULL };
	char tmpl[] = "/tmp/test_config_ops_XXXXXX";
	int fd = mkstemp(tmpl), saved = dup(STDIN_FILENO);
	struct vdv_config cfg;
	char err[512];

	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_true(dup2(fd, STDIN_FILENO) >= 0);
	assert_int_equal(parse(a, &cfg, err, sizeof(err)), want);
	assert_true(dup2(saved, STDIN_FILENO) >= 0);
	close(saved);
	close(fd);
	unlink(tmpl);
	if (want == CONFIG_OK) {
		assert_int_equal(cfg.n_vms, 1);
		assert_string_equal(cfg.vms[0].socket, "/tmp/s.sock");
		config_free(&cfg);
	} else if (!strstr(err, want_err)) {
		fail_msg("error \"%s\" does not contain \"%s\"", err, want_err);
	}
}

static void test_config_stdin(void **state)
{
	(void)state;
	with_stdin("vms:\n  - socket: /tmp/s.sock\n    uds_path: /tmp/u\n", CONFIG_OK, NULL);
	with_stdin("vms:\n  - socket: /tmp/s.sock\n    guest_cid: 2\n    uds_path: /tmp/u\n",
		   CONFIG_ERROR, "<stdin>:3: vms[0]");
	with_stdin("", CONFIG_ERROR, "<stdin>: no YAML document");
}

/* --check's path part, in a private directory. */
static void test_check_paths(void **state)
{
	char dir[] = "/tmp/test_check_XXXXXX", sock[100], uds[100], file[64], sub[64];
	const char *const a[] = { "--socket", sock, "--uds-path", uds, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vdv_config cfg;
	char err[512];
	int fd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	snprintf(uds, sizeof(uds), "%s/u.vsock", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(sub, sizeof(sub), "%s/ro", dir);

	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(config_check_paths(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);

	/* A stale socket at the path is fine: the daemon replaces it. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(config_check_paths(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	unlink(sock);

	/* Missing directory. */
	snprintf(uds, sizeof(uds), "%s/missing/u.vsock", dir);
	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_not_equal(config_check_paths(&cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "uds-path"));
	assert_non_null(strstr(err, "/missing'"));
	assert_non_null(strstr(err, "No such file"));
	config_free(&cfg);

	/* A file where the directory should be. */
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(uds, sizeof(uds), "%s/file/u.vsock", dir);
	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_not_equal(config_check_paths(&cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "is not a directory"));
	config_free(&cfg);

	/* Something that is not a socket at the path itself. */
	snprintf(uds, sizeof(uds), "%s/u.vsock", dir);
	snprintf(sock, sizeof(sock), "%s", file);
	assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_not_equal(config_check_paths(&cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "exists and is not a socket"));
	assert_non_null(strstr(err, "vm cid 3: socket"));
	config_free(&cfg);

	/* A directory we may not write to (root may write anywhere). */
	if (geteuid() != 0) {
		assert_int_equal(mkdir(sub, 0500), 0);
		snprintf(sock, sizeof(sock), "%s/v.sock", sub);
		assert_int_equal(parse(a, &cfg, err, sizeof(err)), CONFIG_OK);
		assert_int_not_equal(config_check_paths(&cfg, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "cannot create a socket in"));
		config_free(&cfg);
		rmdir(sub);
	}
	/* Nothing was created. */
	assert_int_equal(access(uds, F_OK), -1);
	unlink(file);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	struct CMUnitTest tests[64];
	static char names[32][80];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_options_every_mode);
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		snprintf(names[i], sizeof(names[i]), "bad option: %s", bad_rows[i].want);
		tests[n++] = (struct CMUnitTest){ names[i], test_bad_option, NULL, NULL,
						  (void *)&bad_rows[i] };
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_check_known_on_error);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_print_roundtrip);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_budget_keys);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_print_content);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_print_forward);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_socket_access_keys);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_print_sandbox);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_print_not_utf8);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_config_stdin);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_check_paths);
	return _cmocka_run_group_tests("config_ops", tests, n, NULL, NULL);
}

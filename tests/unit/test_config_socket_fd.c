/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The per-VM socket-fd key (--socket-fd, --vm socket-fd=N, YAML socket_fd):
 * an inherited listening AF_UNIX stream socket served instead of binding
 * `socket`. Checked when parsed: open, a socket, Unix, stream, listening;
 * exactly one of socket / socket-fd; one fd per VM; no other VM binding the
 * path it is bound to; not also --ready-fd / --exit-with-fd; no
 * socket-mode/socket-group with it. --print-config prints it, --check
 * passes it without looking for a socket directory.
 */
#include <errno.h>
#include <fcntl.h>
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

#define MAX_ARGS 16

static char dir[] = "/tmp/test_socket_fd_XXXXXX";

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

/* An AF_UNIX socket of type at dir/name (autobound when name is NULL),
 * listening when listening. */
static int unix_sock(int type, const char *name, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type, 0);

	assert_true(fd >= 0);
	if (name) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
		unlink(sa.sun_path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	} else {
		/* Autobind: an abstract name the kernel picks (no path). */
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)), 0);
	}
	if (listening)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Parses args, which must fail with a message containing want. */
static void expect_error(const char *const *args, const char *want)
{
	struct vdv_config cfg;
	char err[512];

	assert_int_equal(parse(args, &cfg, err, sizeof(err)), CONFIG_ERROR);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_int_equal(cfg.n_vms, 0);
}

static void test_three_forms(void **state)
{
	int fd = unix_sock(SOCK_STREAM, "vhost.sock", true);
	char num[16], vm[128], yaml[256], path[128], err[512];
	const char *single[] = { "--socket-fd", num, "--uds-path", "/tmp/u", NULL };
	const char *vms[] = { "--vm", vm, NULL };
	struct vdv_config cfg;
	(void)state;

	snprintf(num, sizeof(num), "%d", fd);
	snprintf(path, sizeof(path), "%s/vhost.sock", dir);
	snprintf(vm, sizeof(vm), "guest-cid=4,socket_fd=%d,forward-cid=1", fd);
	snprintf(yaml, sizeof(yaml), "vms:\n  - guest_cid: 7\n    socket-fd: %d\n"
		 "    uds_path: /tmp/u7\n", fd);

	assert_int_equal(parse(single, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_true(cfg.vms[0].has_socket_fd);
	assert_int_equal(cfg.vms[0].socket_fd, fd);
	assert_null(cfg.vms[0].socket);
	assert_string_equal(cfg.vms[0].socket_fd_path, path);
	/* Nothing to look for on the file system. */
	assert_int_equal(config_check_paths(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);

	assert_int_equal(parse(vms, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.vms[0].guest_cid, 4);
	assert_int_equal(cfg.vms[0].socket_fd, fd);
	config_free(&cfg);

	if (config_parse_yaml_string(yaml, strlen(yaml), &cfg, err, sizeof(err)) != CONFIG_OK)
		fail_msg("%s", err);
	assert_int_equal(cfg.vms[0].guest_cid, 7);
	assert_int_equal(cfg.vms[0].socket_fd, fd);
	config_free(&cfg);
	close(fd);
	unlink(path);
}

/* A listening socket with an abstract name has no path: fine. */
static void test_unnamed_socket(void **state)
{
	int fd = unix_sock(SOCK_STREAM, NULL, true);
	char vm[128], err[512];
	const char *vms[] = { "--vm", vm, NULL };
	struct vdv_config cfg;
	(void)state;

	snprintf(vm, sizeof(vm), "socket-fd=%d,forward-cid=1", fd);
	assert_int_equal(parse(vms, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_null(cfg.vms[0].socket_fd_path);
	config_free(&cfg);
	close(fd);
}

/* Each wrong kind of descriptor is named with what is wrong with it. */
static void test_wrong_descriptors(void **state)
{
	int pfd[2], dgram, unlistened, inet, closed;
	char vm[128], want[160];
	const char *vms[] = { "--vm", vm, NULL };
	(void)state;

	assert_int_equal(pipe(pfd), 0);
	snprintf(vm, sizeof(vm), "socket-fd=%d,forward-cid=1", pfd[0]);
	snprintf(want, sizeof(want), "--vm #1 (guest-cid 3): socket-fd %d: descriptor %d is not "
		 "a socket", pfd[0], pfd[0]);
	expect_error(vms, want);

	unlistened = unix_sock(SOCK_STREAM, "bound.sock", false);
	snprintf(vm, sizeof(vm), "socket-fd=%d,forward-cid=1", unlistened);
	snprintf(want, sizeof(want), "socket-fd %d: descriptor %d is not listening", unlistened,
		 unlistened);
	expect_error(vms, want);

	dgram = unix_sock(SOCK_DGRAM, "dgram.sock", false);
	snprintf(vm, sizeof(vm), "socket-fd=%d,forward-cid=1", dgram);
	snprintf(want, sizeof(want), "socket-fd %d: descriptor %d is not a stream socket", dgram,
		 dgram);
	expect_error(vms, want);

	inet = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(inet >= 0);
	snprintf(vm, sizeof(vm), "socket-fd=%d,forward-cid=1", inet);
	snprintf(want, sizeof(want), "socket-fd %d: descriptor %d is not a Unix socket", inet, inet);
	expect_error(vms, want);

	closed = dup(pfd[1]);
	close(closed);
	snprintf(vm, sizeof(vm), "socket-fd=%d,forward-cid=1", closed);
	snprintf(want, sizeof(want), "socket-fd %d: descriptor %d is not open", closed, closed);
	expect_error(vms, want);

	snprintf(vm, sizeof(vm), "socket-fd=4294967296,forward-cid=1");
	expect_error(vms, "socket-fd 4294967296 is not a file descriptor number (0..2147483647)");
	snprintf(vm, sizeof(vm), "socket-fd=-1,forward-cid=1");
	expect_error(vms, "socket-fd: '-1' is not a number");

	close(pfd[0]);
	close(pfd[1]);
	close(unlistened);
	close(dgram);
	close(inet);
}

static void test_key_rules(void **state)
{
	int fd = unix_sock(SOCK_STREAM, "rules.sock", true);
	int other = unix_sock(SOCK_STREAM, "other.sock", true);
	char a[256], b[256], num[16], path[128];
	const char *one[] = { "--vm", a, NULL };
	const char *two[] = { "--vm", a, "--vm", b, NULL };
	const char *single[] = { "--socket-fd", num, "--socket", "/tmp/s", "--forward-cid", "1",
				 NULL };
	const char *ready[] = { "--vm", a, "--ready-fd", num, NULL };
	const char *exitfd[] = { "--vm", a, "--exit-with-fd", num, NULL };
	(void)state;

	snprintf(num, sizeof(num), "%d", fd);
	snprintf(path, sizeof(path), "%s/rules.sock", dir);

	/* Exactly one of socket and socket-fd, named both ways. */
	expect_error(single, "--socket and --socket-fd are mutually exclusive");
	snprintf(a, sizeof(a), "socket=/tmp/s,socket-fd=%d,forward-cid=1", fd);
	expect_error(one, "--vm #1 (guest-cid 3): socket and socket-fd are mutually exclusive");
	snprintf(a, sizeof(a), "forward-cid=1");
	expect_error(one, "socket is required (the vhost-user socket the VMM connects to; or "
			  "socket-fd, an inherited listening socket)");

	/* Its file is not ours to chmod/chown. */
	snprintf(a, sizeof(a), "socket-fd=%d,forward-cid=1,socket-mode=0660", fd);
	expect_error(one, "socket-mode applies to a socket the daemon binds, not to socket-fd");
	snprintf(a, sizeof(a), "socket-fd=%d,forward-cid=1,socket-group=0", fd);
	expect_error(one, "socket-group applies to a socket the daemon binds");

	/* One fd, one VM. */
	snprintf(a, sizeof(a), "guest-cid=4,socket-fd=%d,forward-cid=1", fd);
	snprintf(b, sizeof(b), "guest-cid=5,socket-fd=%d,forward-cid=1", fd);
	expect_error(two, "--vm #2 (guest-cid 5): socket-fd " );
	{
		char want[96];

		snprintf(want, sizeof(want), "socket-fd %d is already used by --vm #1", fd);
		expect_error(two, want);
	}
	/* Two fds are fine. */
	snprintf(b, sizeof(b), "guest-cid=5,socket-fd=%d,forward-cid=1", other);
	{
		struct vdv_config cfg;
		char err[512];

		assert_int_equal(parse(two, &cfg, err, sizeof(err)), CONFIG_OK);
		assert_int_equal(cfg.n_vms, 2);
		config_free(&cfg);
	}
	/* Another VM binding the path the fd is bound to would take it over. */
	snprintf(b, sizeof(b), "guest-cid=5,socket=%s,forward-cid=1", path);
	{
		char want[256];

		snprintf(want, sizeof(want), "--vm #2 (guest-cid 5): socket '%s' is the path "
			 "socket-fd %d of --vm #1 is bound to", path, fd);
		expect_error(two, want);
	}
	snprintf(a, sizeof(a), "guest-cid=4,socket=%s,forward-cid=1", path);
	snprintf(b, sizeof(b), "guest-cid=5,socket-fd=%d,forward-cid=1", fd);
	{
		char want[256];

		snprintf(want, sizeof(want), "--vm #2 (guest-cid 5): socket-fd %d is bound to '%s', "
			 "which is the socket of --vm #1", fd, path);
		expect_error(two, want);
	}

	/* Not also a process option's descriptor. */
	snprintf(a, sizeof(a), "socket-fd=%d,forward-cid=1", fd);
	expect_error(ready, "vm cid 3: socket-fd");
	expect_error(ready, "is also --ready-fd");
	expect_error(exitfd, "is also --exit-with-fd");

	close(fd);
	close(other);
	unlink(path);
}

/* --print-config writes socket_fd (and no socket); it reads back the same. */
static void test_print_reads_back(void **state)
{
	int fd = unix_sock(SOCK_STREAM, "print.sock", true);
	char a[160], want[64], err[512], *t1 = NULL, *t2 = NULL;
	const char *args[] = { "--vm", a, "--vm", "guest-cid=6,socket=/tmp/p6,forward-cid=1", NULL };
	struct vdv_config x, y;
	size_t l1 = 0, l2 = 0;
	FILE *f;
	(void)state;

	snprintf(a, sizeof(a), "guest-cid=4,socket-fd=%d,uds-path=/tmp/p4", fd);
	assert_int_equal(parse(args, &x, err, sizeof(err)), CONFIG_OK);
	f = open_memstream(&t1, &l1);
	assert_int_equal(config_print_yaml(&x, f, err, sizeof(err)), 0);
	fclose(f);
	snprintf(want, sizeof(want), "\n  socket_fd: %d\n", fd);
	assert_non_null(strstr(t1, want));
	/* Only the other VM has a socket path. */
	assert_non_null(strstr(t1, "socket: "));
	assert_null(strstr(strstr(t1, "socket: ") + 1, "socket: "));
	assert_true(strstr(t1, "socket: ") > strstr(t1, want));
	if (config_parse_yaml_string(t1, l1, &y, err, sizeof(err)) != CONFIG_OK)
		fail_msg("%s\n%s", err, t1);
	f = open_memstream(&t2, &l2);
	assert_int_equal(config_print_yaml(&y, f, err, sizeof(err)), 0);
	fclose(f);
	assert_string_equal(t1, t2);
	assert_int_equal(y.vms[0].socket_fd, fd);
	assert_true(y.vms[0].has_socket_fd);
	assert_false(y.vms[1].has_socket_fd);
	free(t1);
	free(t2);
	config_free(&x);
	config_free(&y);
	close(fd);
	snprintf(a, sizeof(a), "%s/print.sock", dir);
	unlink(a);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char p[160];
	static const char *const names[] = { "bound.sock", "dgram.sock", "other.sock",
					     "vhost.sock", "rules.sock", "print.sock" };
	(void)state;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_forms),
		cmocka_unit_test(test_unnamed_socket),
		cmocka_unit_test(test_wrong_descriptors),
		cmocka_unit_test(test_key_rules),
		cmocka_unit_test(test_print_reads_back),
	};

	return cmocka_run_group_tests_name("config_socket_fd", tests, setup, teardown);
}

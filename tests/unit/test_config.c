/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Tests of src/config: tables of valid command lines / YAML documents with
 * the fields they must produce, and of invalid ones with the parts of the
 * error message that must name the bad value and the rule. Each table row
 * runs as its own cmocka test so a failure names the row.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

#ifndef VDV_VERSION
#define VDV_VERSION "unknown"
#endif

#define MAX_ARGS 24
#define MAX_VMS 3
#define MAX_SUBSTR 3

/* ---------------------------------------------------------------------- */
/* helpers                                                                 */

/* Runs config_parse_args on {"vhost-device-vsock", args..., NULL}. */
static enum config_result parse_argv(const char *const *args, struct vdv_config *cfg, char *err,
				     size_t errlen)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)"vhost-device-vsock";
	while (args && args[argc - 1] && argc <= MAX_ARGS) {
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	argv[argc] = NULL;
	return config_parse_args(argc, argv, cfg, err, errlen);
}

static enum config_result parse_yaml(const char *text, struct vdv_config *cfg, char *err,
				     size_t errlen)
{
	return config_parse_yaml_string(text, strlen(text), cfg, err, errlen);
}

/* '+'-joins n ports, for comparison with a table. */
static void join_ports(const uint32_t *ports, size_t n, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%" PRIu32, i ? "+" : "",
					 ports[i]);
}

static void join_groups(const struct vm_config *vm, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < vm->n_groups; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "+" : "",
					 vm->groups[i]);
}

static void assert_error_contains(const char *what, const char *err, const char *want)
{
	if (!strstr(err, want))
		fail_msg("%s: error \"%s\" does not contain \"%s\"", what, err, want);
}

static void assert_one_line(const char *err)
{
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
}

static void assert_empty_config(const struct vdv_config *cfg)
{
	assert_null(cfg->vms);
	assert_int_equal(cfg->n_vms, 0);
}

/* Writes text to a new temporary file; returns its path (static buffer
 * owned by the caller's copy). */
static char *write_temp(const char *text, size_t len)
{
	char tmpl[] = "/tmp/test_config_XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return strdup(tmpl);
}

/* Runs fn with stdout redirected to a file, returns what it printed. */
static char *capture_stdout(enum config_result (*fn)(const char *const *), const char *const *args,
			    enum config_result *res)
{
	char tmpl[] = "/tmp/test_config_out_XXXXXX";
	int fd = mkstemp(tmpl), saved;
	char *buf;
	off_t size;

	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	*res = fn(args);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	size = lseek(fd, 0, SEEK_END);
	assert_true(size >= 0);
	buf = calloc(1, (size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
	close(fd);
	unlink(tmpl);
	return buf;
}

static enum config_result parse_discard(const char *const *args)
{
	struct vdv_config cfg;
	char err[256];
	enum config_result r = parse_argv(args, &cfg, err, sizeof(err));

	if (r == CONFIG_OK)
		config_free(&cfg);
	return r;
}

/* ---------------------------------------------------------------------- */
/* valid configurations                                                    */

struct exp_vm {
	uint64_t cid;
	const char *socket;
	const char *uds;    /* NULL: none */
	int64_t fwd;        /* -1: no forward-cid */
	const char *ports;  /* '+'-joined, "" for none */
	uint32_t tx;
	uint32_t q;
	const char *groups; /* '+'-joined */
	uint32_t poll;      /* poll_us */
	const char *seq;    /* forward-listen-seqpacket, '+'-joined; NULL: none */
};

struct valid_case {
	const char *name;
	const char *args[MAX_ARGS + 1]; /* used when yaml is NULL */
	const char *yaml;
	size_t n_vms;
	struct exp_vm vm[MAX_VMS];
};

#define TX 65536u
#define Q 1024u
#define P 50u /* poll-us default, as documented */
_Static_assert(VDV_DEFAULT_POLL_US == P && VDV_MAX_POLL_US == 1000u,
	       "poll-us default and limit are documented in --help and the man page");
#define UDS(c, s, u) { c, s, u, -1, "", TX, Q, "default", P }

static const struct valid_case valid_cases[] = {
	{ "single minimal, defaults",
	  { "--socket", "/tmp/s", "--uds-path", "/tmp/u" }, NULL, 1,
	  { UDS(3, "/tmp/s", "/tmp/u") } },
	{ "single, every option as --opt=v",
	  { "--guest-cid=4", "--socket=/tmp/s", "--uds-path=/tmp/u", "--tx-buffer-size=32768",
	    "--queue-size=256", "--groups=group1+group2" }, NULL, 1,
	  { { 4, "/tmp/s", "/tmp/u", -1, "", 32768, 256, "group1+group2", P } } },
	{ "single, underscores and --opt v, vsock backend",
	  { "--guest_cid", "5", "--socket", "/tmp/s", "--forward_cid", "1", "--forward_listen",
	    "9001+9002", "--tx_buffer_size", "4096", "--queue_size", "1", "--group", "g1" },
	  NULL, 1, { { 5, "/tmp/s", NULL, 1, "9001+9002", 4096, 1, "g1", P } } },
	{ "single, mixed --opt=v and --opt v",
	  { "--socket=/tmp/s", "--forward-cid", "2", "--forward-listen=0+4294967294",
	    "--guest-cid", "4294967294" }, NULL, 1,
	  { { 4294967294u, "/tmp/s", NULL, 2, "0+4294967294", TX, Q, "default", P } } },
	{ "hexadecimal numbers",
	  { "--guest-cid", "0x10", "--socket", "/tmp/s", "--forward-cid", "0XfffffffE",
	    "--tx-buffer-size", "0x1000", "--queue-size", "0x8000" }, NULL, 1,
	  { { 16, "/tmp/s", NULL, 0xfffffffe, "", 4096, 32768, "default", P } } },
	{ "upper bounds of sizes",
	  { "--socket", "/tmp/s", "--uds-path", "/tmp/u", "--tx-buffer-size", "1073741824",
	    "--queue-size", "32768" }, NULL, 1,
	  { { 3, "/tmp/s", "/tmp/u", -1, "", 1073741824u, 32768, "default", P } } },
	{ "group names with . _ - and digits",
	  { "--socket", "/tmp/s", "--uds-path", "/tmp/u", "--groups", "a.b+C_d+e-9+0" }, NULL, 1,
	  { { 3, "/tmp/s", "/tmp/u", -1, "", TX, Q, "a.b+C_d+e-9+0", P } } },
	{ "README --vm example (three VMs)",
	  { "--vm", "guest-cid=3,socket=/tmp/vhost3.socket,uds-path=/tmp/vm3.vsock,groups=group1+groupA",
	    "--vm", "guest-cid=4,socket=/tmp/vhost4.socket,uds-path=/tmp/vm4.vsock,"
		    "tx-buffer-size=32768,queue-size=256",
	    "--vm", "guest-cid=5,socket=/tmp/vhost5.socket,forward-cid=1,forward-listen=9001+9002,"
		    "tx-buffer-size=32768,queue-size=1024" },
	  NULL, 3,
	  { { 3, "/tmp/vhost3.socket", "/tmp/vm3.vsock", -1, "", TX, Q, "group1+groupA", P },
	    { 4, "/tmp/vhost4.socket", "/tmp/vm4.vsock", -1, "", 32768, 256, "default", P },
	    { 5, "/tmp/vhost5.socket", NULL, 1, "9001+9002", 32768, 1024, "default", P } } },
	{ "--vm=, underscore keys, group alias, any key order",
	  { "--vm=groups=x,uds_path=/tmp/u1,socket=/tmp/s1",
	    "--vm", "group=y+z,guest_cid=7,forward_cid=1,socket=/tmp/s2,tx_buffer_size=8192,"
		    "queue_size=64" },
	  NULL, 2,
	  { { 3, "/tmp/s1", "/tmp/u1", -1, "", TX, Q, "x", P },
	    { 7, "/tmp/s2", NULL, 1, "", 8192, 64, "y+z", P } } },
	{ "--vm path containing '='",
	  { "--vm", "socket=/tmp/a=b,uds-path=/tmp/c==d" }, NULL, 1,
	  { UDS(3, "/tmp/a=b", "/tmp/c==d") } },
	{ "--vm uds prefix without digits is no collision",
	  { "--vm", "socket=/tmp/s,uds-path=/tmp/v",
	    "--vm", "guest-cid=4,socket=/tmp/v_sock,uds-path=/tmp/v_x1" },
	  NULL, 2, { UDS(3, "/tmp/s", "/tmp/v"), UDS(4, "/tmp/v_sock", "/tmp/v_x1") } },
	{ "port path needs the exact uds-path as prefix",
	  { "--vm", "socket=/tmp/s,uds-path=/tmp/v_1",
	    "--vm", "guest-cid=4,socket=/tmp/v_12,uds-path=/tmp/v_1x" },
	  NULL, 2, { UDS(3, "/tmp/s", "/tmp/v_1"), UDS(4, "/tmp/v_12", "/tmp/v_1x") } },
	{ "YAML README example",
	  { 0 },
	  "vms:\n"
	  "    - guest_cid: 3\n"
	  "      socket: /tmp/vhost3.socket\n"
	  "      uds_path: /tmp/vm3.vsock\n"
	  "      tx_buffer_size: 65536\n"
	  "      queue_size: 1024\n"
	  "      groups: group1+groupA\n"
	  "    - guest_cid: 4\n"
	  "      socket: /tmp/vhost4.socket\n"
	  "      uds_path: /tmp/vm4.vsock\n"
	  "      tx_buffer_size: 32768\n"
	  "      queue_size: 256\n"
	  "      groups: group2+groupB\n"
	  "    - guest_cid: 5\n"
	  "      socket: /tmp/vhost5.socket\n"
	  "      forward-cid: 1\n"
	  "      forward-listen: 9001+9002\n"
	  "      tx_buffer_size: 32768\n"
	  "      queue_size: 1024\n",
	  3,
	  { { 3, "/tmp/vhost3.socket", "/tmp/vm3.vsock", -1, "", 65536, 1024, "group1+groupA", P },
	    { 4, "/tmp/vhost4.socket", "/tmp/vm4.vsock", -1, "", 32768, 256, "group2+groupB", P },
	    { 5, "/tmp/vhost5.socket", NULL, 1, "9001+9002", 32768, 1024, "default", P } } },
	{ "YAML numbers as strings",
	  { 0 },
	  "vms:\n"
	  "  - guest_cid: \"4\"\n"
	  "    socket: '/tmp/s'\n"
	  "    forward_cid: '1'\n"
	  "    forward_listen: \"9001+9002\"\n"
	  "    tx_buffer_size: \"0x1000\"\n"
	  "    queue_size: '8'\n",
	  1, { { 4, "/tmp/s", NULL, 1, "9001+9002", 4096, 8, "default", P } } },
	{ "YAML single integer port, defaults, group alias",
	  { 0 },
	  "vms:\n"
	  "  - socket: /tmp/s\n"
	  "    forward_cid: 1\n"
	  "    forward_listen: 9001\n"
	  "    group: solo\n",
	  1, { { 3, "/tmp/s", NULL, 1, "9001", TX, Q, "solo", P } } },
	{ "YAML flow style, comments, document markers",
	  { 0 },
	  "# VMs served by this daemon\n"
	  "---\n"
	  "vms: [ {guest-cid: 8, socket: /tmp/s8, uds-path: /tmp/u8},  # first\n"
	  "       {guest_cid: 9, socket: /tmp/s9, uds_path: /tmp/u9, groups: a+b} ]\n"
	  "...\n",
	  2, { UDS(8, "/tmp/s8", "/tmp/u8"), { 9, "/tmp/s9", "/tmp/u9", -1, "", TX, Q, "a+b", P } } },
	{ "YAML quoted 'null' is a path",
	  { 0 },
	  "vms:\n  - socket: 'null'\n    uds_path: \"~\"\n",
	  1, { UDS(3, "null", "~") } },

	/* poll-us (our extension): 0..1000, default 50 */
	{ "--poll-us 0 turns polling off",
	  { "--socket", "/tmp/s", "--uds-path", "/tmp/u", "--poll-us", "0" }, NULL, 1,
	  { { 3, "/tmp/s", "/tmp/u", -1, "", TX, Q, "default", 0 } } },
	{ "--poll-us=1000 upper bound",
	  { "--socket", "/tmp/s", "--uds-path", "/tmp/u", "--poll-us=1000" }, NULL, 1,
	  { { 3, "/tmp/s", "/tmp/u", -1, "", TX, Q, "default", 1000 } } },
	{ "--poll_us hexadecimal",
	  { "--socket", "/tmp/s", "--forward-cid", "1", "--poll_us", "0x3e8" }, NULL, 1,
	  { { 3, "/tmp/s", NULL, 1, "", TX, Q, "default", 1000 } } },
	{ "--vm poll_us and poll-us, default for the others",
	  { "--vm", "socket=/tmp/s1,uds-path=/tmp/u1,poll_us=7",
	    "--vm", "guest-cid=4,poll-us=0,socket=/tmp/s2,uds-path=/tmp/u2",
	    "--vm", "guest-cid=5,socket=/tmp/s3,uds-path=/tmp/u3" },
	  NULL, 3,
	  { { 3, "/tmp/s1", "/tmp/u1", -1, "", TX, Q, "default", 7 },
	    { 4, "/tmp/s2", "/tmp/u2", -1, "", TX, Q, "default", 0 },
	    UDS(5, "/tmp/s3", "/tmp/u3") } },
	{ "YAML poll_us and poll-us, default for the others",
	  { 0 },
	  "vms:\n"
	  "  - guest_cid: 4\n"
	  "    socket: /tmp/s4\n"
	  "    uds_path: /tmp/u4\n"
	  "    poll_us: 7\n"
	  "  - {guest_cid: 5, socket: /tmp/s5, uds_path: /tmp/u5, poll-us: \"1000\"}\n"
	  "  - {guest_cid: 6, socket: /tmp/s6, uds_path: /tmp/u6}\n",
	  3,
	  { { 4, "/tmp/s4", "/tmp/u4", -1, "", TX, Q, "default", 7 },
	    { 5, "/tmp/s5", "/tmp/u5", -1, "", TX, Q, "default", 1000 },
	    UDS(6, "/tmp/s6", "/tmp/u6") } },

	/* forward-listen-seqpacket: SOCK_SEQPACKET listeners next to the
	 * stream ones, on other ports */
	{ "single --forward-listen-seqpacket",
	  { "--socket", "/tmp/s", "--forward-cid", "1", "--forward-listen", "9000+9001",
	    "--forward-listen-seqpacket", "9002+9003" }, NULL, 1,
	  { { 3, "/tmp/s", NULL, 1, "9000+9001", TX, Q, "default", P, "9002+9003" } } },
	{ "single --forward_listen_seqpacket=, no stream ports, hex and bounds",
	  { "--socket", "/tmp/s", "--forward-cid", "2", "--forward_listen_seqpacket=0+0x10+4294967294" },
	  NULL, 1, { { 3, "/tmp/s", NULL, 2, "", TX, Q, "default", P, "0+16+4294967294" } } },
	{ "--vm forward-listen-seqpacket and forward_listen_seqpacket",
	  { "--vm", "socket=/tmp/s1,forward-cid=1,forward-listen-seqpacket=9002+9003",
	    "--vm", "guest-cid=4,socket=/tmp/s2,forward_cid=1,forward_listen=9002,"
		    "forward_listen_seqpacket=9003" },
	  NULL, 2,
	  { { 3, "/tmp/s1", NULL, 1, "", TX, Q, "default", P, "9002+9003" },
	    { 4, "/tmp/s2", NULL, 1, "9002", TX, Q, "default", P, "9003" } } },
	{ "YAML forward_listen_seqpacket and forward-listen-seqpacket",
	  { 0 },
	  "vms:\n"
	  "  - socket: /tmp/s1\n"
	  "    forward_cid: 1\n"
	  "    forward_listen: 9000\n"
	  "    forward_listen_seqpacket: 9002+9003\n"
	  "  - {guest_cid: 4, socket: /tmp/s2, forward-cid: 1, forward-listen-seqpacket: 9002}\n"
	  "  - {guest_cid: 5, socket: /tmp/s3, forward_cid: 1, forward_listen_seqpacket: \"7\"}\n",
	  3,
	  { { 3, "/tmp/s1", NULL, 1, "9000", TX, Q, "default", P, "9002+9003" },
	    { 4, "/tmp/s2", NULL, 1, "", TX, Q, "default", P, "9002" },
	    { 5, "/tmp/s3", NULL, 1, "", TX, Q, "default", P, "7" } } },
};

static void check_vm(const char *name, size_t i, const struct exp_vm *x, const struct vm_config *vm)
{
	char buf[256];

	if (vm->guest_cid != x->cid)
		fail_msg("%s: vm %zu: guest_cid %" PRIu64 ", want %" PRIu64, name, i, vm->guest_cid,
			 x->cid);
	assert_string_equal(vm->socket, x->socket);
	if (x->uds)
		assert_string_equal(vm->uds_path, x->uds);
	else
		assert_null(vm->uds_path);
	assert_int_equal(vm->has_forward_cid, x->fwd >= 0);
	if (x->fwd >= 0)
		assert_int_equal(vm->forward_cid, (uint32_t)x->fwd);
	join_ports(vm->forward_listen, vm->n_forward_listen, buf, sizeof(buf));
	assert_string_equal(buf, x->ports);
	join_ports(vm->forward_listen_seqpacket, vm->n_forward_listen_seqpacket, buf, sizeof(buf));
	assert_string_equal(buf, x->seq ? x->seq : "");
	assert_true(vm->n_forward_listen_seqpacket == 0 || vm->forward_listen_seqpacket);
	assert_int_equal(vm->tx_buffer_size, x->tx);
	assert_int_equal(vm->queue_size, x->q);
	join_groups(vm, buf, sizeof(buf));
	assert_string_equal(buf, x->groups);
	assert_true(vm->n_groups >= 1);
	if (vm->poll_us != x->poll)
		fail_msg("%s: vm %zu: poll_us %" PRIu32 ", want %" PRIu32, name, i, vm->poll_us,
			 x->poll);
}

static void run_valid(void **state)
{
	const struct valid_case *c = *state;
	struct vdv_config cfg;
	char err[512] = "unset";
	enum config_result r;
	size_t i;

	r = c->yaml ? parse_yaml(c->yaml, &cfg, err, sizeof(err))
		    : parse_argv(c->args, &cfg, err, sizeof(err));
	if (r != CONFIG_OK)
		fail_msg("%s: unexpected result %d: %s", c->name, r, err);
	assert_string_equal(err, "");
	assert_int_equal(cfg.n_vms, c->n_vms);
	for (i = 0; i < c->n_vms; i++)
		check_vm(c->name, i, &c->vm[i], &cfg.vms[i]);
	config_free(&cfg);
	assert_empty_config(&cfg);
}

/* ---------------------------------------------------------------------- */
/* invalid configurations                                                  */

struct invalid_case {
	const char *name;
	const char *args[MAX_ARGS + 1];
	const char *yaml;
	const char *want[MAX_SUBSTR]; /* all must appear in the message */
};

#define VM_OK "socket=/tmp/s,uds-path=/tmp/u"
#define ONE(...) { "--socket", "/tmp/s", __VA_ARGS__ }

static const struct invalid_case invalid_cases[] = {
	/* command line structure */
	{ "no arguments", { 0 }, NULL, { "no VM configured", "--socket", "try --help" } },
	{ "unknown long option", { "--bogus", "1" }, NULL, { "unknown option '--bogus'" } },
	{ "unknown long option with value", { "--sockets=/x" }, NULL, { "unknown option '--sockets'" } },
	{ "unknown short option", { "-x" }, NULL, { "unknown option '-x'" } },
	{ "bare --", { "--" }, NULL, { "unknown option '--'" } },
	{ "stray positional", ONE("--uds-path", "/tmp/u", "extra"), NULL,
	  { "unexpected argument 'extra'" } },
	{ "lone dash", { "-" }, NULL, { "unexpected argument '-'" } },
	{ "missing value at end", { "--uds-path", "/tmp/u", "--socket" }, NULL,
	  { "--socket needs a value" } },
	{ "option as value", { "--socket", "--uds-path", "/tmp/u" }, NULL,
	  { "--socket needs a value" } },
	{ "--help with a value", { "--help=yes" }, NULL, { "--help takes no value" } },
	{ "--version with a value", { "--version=1" }, NULL, { "--version takes no value" } },
	{ "single then --vm", { "--guest-cid", "4", "--vm", VM_OK }, NULL,
	  { "--guest-cid and --vm cannot be used together" } },
	{ "--vm then single (spelling kept)", { "--vm", VM_OK, "--uds_path", "/u" }, NULL,
	  { "--vm and --uds_path cannot be used together" } },
	{ "--vm then --config", { "--vm", VM_OK, "--config", "/nonexistent.yaml" }, NULL,
	  { "--vm and --config cannot be used together" } },
	{ "--config then single", { "--config=/nonexistent.yaml", "--socket", "/s" }, NULL,
	  { "--config and --socket cannot be used together" } },
	{ "--config twice", { "--config", "/a.yaml", "--config", "/b.yaml" }, NULL,
	  { "--config given twice", "'/a.yaml'", "'/b.yaml'" } },
	{ "--config empty", { "--config=" }, NULL, { "--config has an empty value" } },
	{ "single: no socket", { "--uds-path", "/tmp/u" }, NULL, { "--socket is required" } },
	{ "single: no backend", { "--socket", "/tmp/s", "--guest-cid", "4" }, NULL,
	  { "one of --uds-path", "or --forward-cid", "is required" } },
	{ "single: both backends", ONE("--uds-path", "/tmp/u", "--forward-cid", "1"), NULL,
	  { "--uds-path and --forward-cid are mutually exclusive" } },
	{ "single: forward-listen without forward-cid",
	  ONE("--uds-path", "/tmp/u", "--forward-listen", "9001"), NULL,
	  { "--forward-listen requires --forward-cid" } },
	{ "single: repeated option", ONE("--socket", "/tmp/t", "--uds-path", "/tmp/u"), NULL,
	  { "--socket given twice" } },
	{ "single: repeated via alias", ONE("--uds-path", "/tmp/u", "--group", "a", "--groups", "b"),
	  NULL, { "--groups given twice (as '--group' and '--groups')" } },
	{ "single: repeated via spelling",
	  ONE("--uds-path", "/tmp/u", "--queue-size", "8", "--queue_size=8"), NULL,
	  { "--queue-size given twice (as '--queue-size' and '--queue_size')" } },
	{ "single: empty value", ONE("--uds-path="), NULL, { "--uds-path has an empty value" } },
	{ "single: same socket and uds", ONE("--uds-path", "/tmp/s"), NULL,
	  { "--socket and --uds-path are the same path '/tmp/s'" } },

	/* --vm key=value syntax */
	{ "--vm empty", { "--vm", "" }, NULL, { "--vm #1: empty value" } },
	{ "--vm stray comma", { "--vm", "guest-cid=4,,socket=/s" }, NULL,
	  { "--vm #1: empty entry (stray ',') in 'guest-cid=4,,socket=/s'" } },
	{ "--vm trailing comma", { "--vm", VM_OK "," }, NULL, { "--vm #1: empty entry (stray ',')" } },
	{ "--vm leading comma", { "--vm", "," VM_OK }, NULL, { "--vm #1: empty entry" } },
	{ "--vm entry without =", { "--vm", "socket=/s,uds-path" }, NULL,
	  { "--vm #1: 'uds-path' is not key=value" } },
	{ "--vm empty key", { "--vm", VM_OK ",=4" }, NULL, { "--vm #1: '=4' has an empty key" } },
	{ "--vm empty value", { "--vm", "guest-cid=," VM_OK }, NULL,
	  { "--vm #1: guest-cid has an empty value" } },
	{ "--vm empty value at end", { "--vm", VM_OK ",groups=" }, NULL,
	  { "groups has an empty value" } },
	{ "--vm unknown key", { "--vm", VM_OK ",color=red" }, NULL,
	  { "--vm #1: unknown key 'color'", "valid keys: guest-cid, socket, uds-path, forward-cid, "
	    "forward-listen, forward-listen-seqpacket, tx-buffer-size, queue-size, groups, "
	    "poll-us, socket-mode, socket-group, socket-fd, max-connections, "
	    "guest-reserved-connections, max-host-handshakes, max-sibling-connections, "
	    "tx-buffer-budget;" } },
	{ "--vm key with space", { "--vm", VM_OK ", guest-cid=4" }, NULL,
	  { "unknown key ' guest-cid'" } },
	{ "--vm repeated key", { "--vm", VM_OK ",guest-cid=4,guest_cid=5" }, NULL,
	  { "--vm #1: guest-cid given twice (as 'guest-cid' and 'guest_cid')" } },
	{ "--vm repeated key same spelling", { "--vm", VM_OK ",socket=/t" }, NULL,
	  { "--vm #1: socket given twice" } },
	{ "--vm numbering", { "--vm", VM_OK, "--vm", "guest-cid=4,socket=/t", "--vm", "bad" }, NULL,
	  { "--vm #3: 'bad' is not key=value" } },
	{ "--vm missing socket", { "--vm", "guest-cid=4,uds-path=/u" }, NULL,
	  { "--vm #1 (guest-cid 4): socket is required" } },
	{ "--vm missing backend", { "--vm", "socket=/s" }, NULL,
	  { "--vm #1 (guest-cid 3): one of uds-path", "or forward-cid", "is required" } },

	/* numbers */
	{ "cid not a number", ONE("--uds-path", "/tmp/u", "--guest-cid", "abc"), NULL,
	  { "--guest-cid: 'abc' is not a number" } },
	{ "cid negative", ONE("--uds-path", "/tmp/u", "--guest-cid", "-1"), NULL,
	  { "--guest-cid: '-1' is not a number" } },
	{ "cid leading plus", { "--vm", VM_OK ",guest-cid=+4" }, NULL,
	  { "--vm #1: guest-cid: '+4' is not a number" } },
	{ "cid leading space", { "--vm", VM_OK ",guest-cid= 4" }, NULL,
	  { "guest-cid: ' 4' is not a number" } },
	{ "cid trailing junk", { "--vm", VM_OK ",guest-cid=4x" }, NULL,
	  { "guest-cid: '4x' is not a number" } },
	{ "cid float", { "--vm", VM_OK ",guest-cid=4.0" }, NULL, { "'4.0' is not a number" } },
	{ "bare 0x", { "--vm", VM_OK ",queue-size=0x" }, NULL,
	  { "(guest-cid 3): queue-size: '0x' is not a number" } },
	{ "bad hex digit", { "--vm", VM_OK ",queue-size=0x1g" }, NULL, { "'0x1g' is not a number" } },
	{ "64-bit overflow", { "--vm", VM_OK ",guest-cid=18446744073709551616" }, NULL,
	  { "guest-cid: '18446744073709551616' is too large" } },
	{ "hex overflow", { "--vm", VM_OK ",tx-buffer-size=0x10000000000000000" }, NULL,
	  { "tx-buffer-size: '0x10000000000000000' is too large" } },

	/* CIDs */
	{ "cid 0", { "--vm", VM_OK ",guest-cid=0" }, NULL,
	  { "--vm #1 (guest-cid 0): guest-cid 0 is reserved" } },
	{ "cid 1", { "--vm", VM_OK ",guest-cid=1" }, NULL, { "guest-cid 1 is reserved" } },
	{ "cid 2", ONE("--uds-path", "/tmp/u", "--guest-cid", "2"), NULL,
	  { "--guest-cid 2 is reserved", "2: host" } },
	{ "cid any", { "--vm", VM_OK ",guest-cid=0xffffffff" }, NULL,
	  { "guest-cid 4294967295 is out of range 3..4294967294", "VMADDR_CID_ANY" } },
	{ "cid above 32 bits", { "--vm", VM_OK ",guest-cid=4294967296" }, NULL,
	  { "guest-cid 4294967296 is out of range" } },
	{ "duplicate cid", { "--vm", "guest-cid=4,socket=/s1,uds-path=/u1", "--vm",
			     "guest-cid=4,socket=/s2,uds-path=/u2" }, NULL,
	  { "--vm #2 (guest-cid 4): guest-cid 4 is already used by --vm #1" } },
	{ "duplicate default cid",
	  { "--vm", "socket=/s1,uds-path=/u1", "--vm", "guest-cid=5,socket=/s2,uds-path=/u2",
	    "--vm", "socket=/s3,uds-path=/u3" }, NULL,
	  { "--vm #3 (guest-cid 3): guest-cid 3 is already used by --vm #1" } },
	{ "duplicate cid hex vs decimal", { "--vm", "guest-cid=16,socket=/s1,uds-path=/u1", "--vm",
					    "guest-cid=0x10,socket=/s2,uds-path=/u2" }, NULL,
	  { "--vm #2 (guest-cid 16): guest-cid 16 is already used by --vm #1" } },
	{ "forward-cid 0", { "--vm", "socket=/s,forward-cid=0" }, NULL,
	  { "(guest-cid 3): forward-cid 0 is the hypervisor's CID", "use 1 (host loopback)" } },
	{ "forward-cid any", { "--vm", "socket=/s,forward-cid=4294967295" }, NULL,
	  { "forward-cid 4294967295 is out of range 1..4294967294" } },
	{ "forward-cid above 32 bits", { "--vm", "socket=/s,forward-cid=0x100000001" }, NULL,
	  { "forward-cid 4294967297 is out of range" } },
	{ "forward-cid not a number", { "--socket", "/s", "--forward-cid", "host" }, NULL,
	  { "--forward-cid: 'host' is not a number" } },

	/* backends and ports */
	{ "--vm both backends", { "--vm", VM_OK ",forward-cid=1" }, NULL,
	  { "(guest-cid 3): uds-path and forward-cid are mutually exclusive" } },
	{ "--vm forward-listen with uds", { "--vm", VM_OK ",forward-listen=9001" }, NULL,
	  { "forward-listen requires forward-cid" } },
	{ "port any", { "--vm", "socket=/s,forward-cid=1,forward-listen=9001+4294967295" }, NULL,
	  { "forward-listen port 4294967295 is out of range 0..4294967294", "VMADDR_PORT_ANY" } },
	{ "port not a number", { "--vm", "socket=/s,forward-cid=1,forward-listen=9001+abc" }, NULL,
	  { "forward-listen: 'abc' is not a number" } },
	{ "port negative", { "--socket", "/s", "--forward-cid", "1", "--forward-listen", "-5" }, NULL,
	  { "--forward-listen: '-5' is not a number" } },
	{ "port empty item", { "--vm", "socket=/s,forward-cid=1,forward-listen=9001++9002" }, NULL,
	  { "forward-listen: empty item in '9001++9002'" } },
	{ "port trailing +", { "--vm", "socket=/s,forward-cid=1,forward-listen=9001+" }, NULL,
	  { "forward-listen: empty item in '9001+'" } },
	{ "port repeated", { "--vm", "socket=/s,forward-cid=1,forward-listen=9001+9002+9001" }, NULL,
	  { "forward-listen port 9001 is listed twice" } },

	/* forward-listen-seqpacket */
	{ "single: forward-listen-seqpacket without forward-cid",
	  ONE("--uds-path", "/tmp/u", "--forward-listen-seqpacket", "9002"), NULL,
	  { "--forward-listen-seqpacket requires --forward-cid" } },
	{ "--vm forward-listen-seqpacket with uds", { "--vm", VM_OK ",forward_listen_seqpacket=9002" },
	  NULL, { "--vm #1 (guest-cid 3): forward-listen-seqpacket requires forward-cid" } },
	{ "seqpacket port any",
	  { "--vm", "socket=/s,forward-cid=1,forward-listen-seqpacket=9002+0xffffffff" }, NULL,
	  { "forward-listen-seqpacket port 4294967295 is out of range 0..4294967294",
	    "VMADDR_PORT_ANY" } },
	{ "seqpacket port above 32 bits",
	  ONE("--forward-cid", "1", "--forward-listen-seqpacket", "4294967296"), NULL,
	  { "--forward-listen-seqpacket port 4294967296 is out of range" } },
	{ "seqpacket port not a number",
	  { "--vm", "socket=/s,forward-cid=1,forward-listen-seqpacket=9002+x" }, NULL,
	  { "forward-listen-seqpacket: 'x' is not a number" } },
	{ "seqpacket port negative", ONE("--forward-cid", "1", "--forward-listen-seqpacket", "-1"),
	  NULL, { "--forward-listen-seqpacket: '-1' is not a number" } },
	{ "seqpacket port empty item",
	  { "--vm", "socket=/s,forward-cid=1,forward-listen-seqpacket=+9002" }, NULL,
	  { "forward-listen-seqpacket: empty item in '+9002'" } },
	{ "seqpacket port empty", ONE("--forward-cid", "1", "--forward-listen-seqpacket="), NULL,
	  { "--forward-listen-seqpacket has an empty value" } },
	{ "seqpacket port repeated",
	  { "--vm", "socket=/s,forward-cid=1,forward-listen-seqpacket=9002+9003+9002" }, NULL,
	  { "forward-listen-seqpacket port 9002 is listed twice" } },
	{ "single: seqpacket port also stream",
	  ONE("--forward-cid", "1", "--forward-listen", "9000+9002",
	      "--forward-listen-seqpacket", "9003+9002"), NULL,
	  { "--forward-listen-seqpacket port 9002 is also in --forward-listen",
	    "an AF_VSOCK port is bound by one socket, stream or seqpacket, not both" } },
	{ "--vm seqpacket port also stream",
	  { "--vm", "socket=/s,forward-cid=1,forward-listen-seqpacket=9001,forward-listen=9001" },
	  NULL, { "--vm #1 (guest-cid 3): forward-listen-seqpacket port 9001 is also in "
		  "forward-listen: an AF_VSOCK port is bound by one socket" } },
	{ "single: forward-listen-seqpacket repeated via spelling",
	  ONE("--forward-cid", "1", "--forward-listen-seqpacket", "1", "--forward_listen_seqpacket=2"),
	  NULL, { "--forward-listen-seqpacket given twice (as '--forward-listen-seqpacket' and "
		  "'--forward_listen_seqpacket')" } },
	{ "--forward-listen-seq is no abbreviation",
	  ONE("--forward-cid", "1", "--forward-listen-seq", "1"), NULL, { "unknown option '--forward-listen-seq'" } },

	/* sizes */
	{ "queue-size not power of two", { "--vm", VM_OK ",queue-size=1000" }, NULL,
	  { "--vm #1 (guest-cid 3): queue-size 1000 is not a power of two in 1..32768" } },
	{ "queue-size 0", { "--vm", VM_OK ",queue-size=0" }, NULL,
	  { "queue-size 0 is not a power of two in 1..32768" } },
	{ "queue-size too big", ONE("--uds-path", "/tmp/u", "--queue-size", "65536"), NULL,
	  { "--queue-size 65536 is not a power of two in 1..32768" } },
	{ "queue-size wraps u32", { "--vm", VM_OK ",queue-size=0x100000400" }, NULL,
	  { "queue-size 4294968320 is not a power of two" } },
	{ "tx-buffer-size too small", { "--vm", VM_OK ",tx-buffer-size=4095" }, NULL,
	  { "tx-buffer-size 4095 is out of range 4096..1073741824" } },
	{ "tx-buffer-size too big", { "--vm", VM_OK ",tx-buffer-size=1073741825" }, NULL,
	  { "tx-buffer-size 1073741825 is out of range 4096..1073741824" } },
	{ "tx-buffer-size wraps u32", { "--vm", VM_OK ",tx-buffer-size=4294971392" }, NULL,
	  { "tx-buffer-size 4294971392 is out of range" } },
	{ "poll-us too big", { "--vm", VM_OK ",poll-us=1001" }, NULL,
	  { "--vm #1 (guest-cid 3): poll-us 1001 is out of range 0..1000" } },
	{ "single: poll-us too big", ONE("--uds-path", "/tmp/u", "--poll-us", "1001"), NULL,
	  { "--poll-us 1001 is out of range 0..1000" } },
	{ "poll-us wraps u32", { "--vm", VM_OK ",poll_us=4294967346" }, NULL,
	  { "poll-us 4294967346 is out of range 0..1000" } },
	{ "poll-us not a number", ONE("--uds-path", "/tmp/u", "--poll-us", "fast"), NULL,
	  { "--poll-us: 'fast' is not a number" } },
	{ "poll-us negative", { "--vm", VM_OK ",poll-us=-1" }, NULL,
	  { "--vm #1 (guest-cid 3): poll-us: '-1' is not a number" } },
	{ "poll-us with unit", { "--vm", VM_OK ",poll-us=50us" }, NULL,
	  { "poll-us: '50us' is not a number" } },
	{ "poll-us empty", { "--vm", VM_OK ",poll_us=" }, NULL,
	  { "--vm #1: poll-us has an empty value" } },
	{ "single: poll-us repeated via spelling",
	  ONE("--uds-path", "/tmp/u", "--poll-us", "5", "--poll_us=5"), NULL,
	  { "--poll-us given twice (as '--poll-us' and '--poll_us')" } },
	/* socket-mode: octal permission bits */
	{ "socket-mode not octal", { "--vm", VM_OK ",socket-mode=0689" }, NULL,
	  { "--vm #1 (guest-cid 3): socket-mode: '0689' is not an octal mode (e.g. 0660)" } },
	{ "single: socket-mode with letters", ONE("--uds-path", "/tmp/u", "--socket-mode", "rw"),
	  NULL, { "--socket-mode: 'rw' is not an octal mode" } },
	{ "socket-mode 0o prefix", { "--vm", VM_OK ",socket_mode=0o660" }, NULL,
	  { "socket-mode: '0o660' is not an octal mode" } },
	{ "socket-mode setuid bits", { "--vm", VM_OK ",socket-mode=04660" }, NULL,
	  { "socket-mode 04660 is out of range 0..0777" } },
	{ "socket-mode too long", { "--vm", VM_OK ",socket-mode=000000660" }, NULL,
	  { "socket-mode: '000000660' is not an octal mode" } },
	{ "socket-mode negative", { "--vm", VM_OK ",socket-mode=-660" }, NULL,
	  { "socket-mode: '-660' is not an octal mode" } },
	{ "YAML socket_mode not octal", { 0 },
	  "vms:\n  - {socket: /tmp/s, uds_path: /tmp/u, socket_mode: 'u+rw'}\n",
	  { "socket-mode: 'u+rw' is not an octal mode" } },
	/* socket-group: an existing group name or a gid */
	{ "socket-group unknown name", { "--vm", VM_OK ",socket-group=vdv-no-such-group" }, NULL,
	  { "--vm #1 (guest-cid 3): socket-group 'vdv-no-such-group': no such group" } },
	{ "single: socket-group unknown name",
	  ONE("--uds-path", "/tmp/u", "--socket-group", "vdv-no-such-group"), NULL,
	  { "--socket-group 'vdv-no-such-group': no such group" } },
	{ "socket-group gid too big", { "--vm", VM_OK ",socket_group=4294967295" }, NULL,
	  { "socket-group: '4294967295' is neither a group name nor a gid" } },
	{ "socket-group number with junk", { "--vm", VM_OK ",socket-group=12ab" }, NULL,
	  { "socket-group: '12ab' is neither a group name nor a gid" } },
	{ "socket-group repeated", { "--vm", VM_OK ",socket-group=0,socket_group=0" }, NULL,
	  { "socket-group given twice" } },
	{ "--vm poll-us repeated", { "--vm", VM_OK ",poll-us=5,poll-us=6" }, NULL,
	  { "--vm #1: poll-us given twice" } },
	{ "--vm poll-us repeated via spelling", { "--vm", VM_OK ",poll_us=5,poll-us=6" }, NULL,
	  { "--vm #1: poll-us given twice (as 'poll_us' and 'poll-us')" } },

	/* groups */
	{ "group bad char", { "--vm", VM_OK ",groups=a+b/c" }, NULL,
	  { "groups: group name 'b/c' contains '/'", "allowed: A-Z a-z 0-9 _ . -" } },
	{ "group with space", ONE("--uds-path", "/tmp/u", "--groups", "my group"), NULL,
	  { "--groups: group name 'my group' contains byte 0x20" } },
	{ "group non-ascii", { "--vm", VM_OK ",groups=caf\xc3\xa9" }, NULL,
	  { "contains byte 0xc3" } },
	{ "group empty item", { "--vm", VM_OK ",groups=a++b" }, NULL,
	  { "groups: empty item in 'a++b'" } },
	{ "group leading +", { "--vm", VM_OK ",groups=+a" }, NULL, { "groups: empty item in '+a'" } },
	{ "group repeated", { "--vm", VM_OK ",groups=a+b+a" }, NULL,
	  { "groups: group 'a' is listed twice" } },

	/* paths */
	{ "duplicate socket", { "--vm", "socket=/tmp/s,uds-path=/u1", "--vm",
				"guest-cid=4,socket=/tmp/s,uds-path=/u2" }, NULL,
	  { "--vm #2 (guest-cid 4): socket '/tmp/s' is already used as the socket of --vm #1" } },
	{ "duplicate uds", { "--vm", "socket=/s1,uds-path=/tmp/u", "--vm",
			     "guest-cid=4,socket=/s2,uds-path=/tmp/u" }, NULL,
	  { "--vm #2 (guest-cid 4): uds-path '/tmp/u' is already used as the uds-path of --vm #1" } },
	{ "socket equals other uds", { "--vm", "socket=/s1,uds-path=/tmp/x", "--vm",
				       "guest-cid=4,socket=/tmp/x,forward-cid=1" }, NULL,
	  { "socket '/tmp/x' is already used as the uds-path of --vm #1" } },
	{ "uds equals other socket", { "--vm", "socket=/tmp/x,forward-cid=1", "--vm",
				       "guest-cid=4,socket=/s2,uds-path=/tmp/x" }, NULL,
	  { "uds-path '/tmp/x' is already used as the socket of --vm #1" } },
	{ "socket collides with own uds port path", { "--vm", "socket=/tmp/v_5,uds-path=/tmp/v" }, NULL,
	  { "socket '/tmp/v_5' collides with the uds-path '/tmp/v' of this VM", "port 5" } },
	{ "socket collides with other uds port path",
	  { "--vm", "socket=/s1,uds-path=/tmp/v", "--vm", "guest-cid=4,socket=/tmp/v_1234,uds-path=/u2" },
	  NULL, { "--vm #2 (guest-cid 4): socket '/tmp/v_1234' collides with the uds-path '/tmp/v' "
		  "of --vm #1" } },
	{ "uds whose port path is another socket",
	  { "--vm", "socket=/tmp/v_9,forward-cid=1", "--vm", "guest-cid=4,socket=/s2,uds-path=/tmp/v" },
	  NULL, { "uds-path '/tmp/v' collides with the socket '/tmp/v_9' of --vm #1" } },

	{ "port path of a uds-path with digits",
	  { "--vm", "socket=/s1,uds-path=/tmp/v_1", "--vm", "guest-cid=4,socket=/tmp/v_1_2,uds-path=/u2" },
	  NULL, { "--vm #2 (guest-cid 4): socket '/tmp/v_1_2' collides with the uds-path '/tmp/v_1' "
		  "of --vm #1",
		  "port 2 go to '/tmp/v_1_2'" } },
	{ "port path among several VMs",
	  { "--vm", "socket=/s1,uds-path=/c", "--vm", "guest-cid=4,socket=/s2,uds-path=/a",
	    "--vm", "guest-cid=5,socket=/s3,uds-path=/b", "--vm", "guest-cid=6,socket=/b_7,uds-path=/d" },
	  NULL, { "--vm #4 (guest-cid 6): socket '/b_7' collides with the uds-path '/b' of --vm #3" } },
	{ "first clash by later VM",
	  { "--vm", "socket=/s1,uds-path=/u1", "--vm", "guest-cid=4,socket=/s2,uds-path=/u2",
	    "--vm", "guest-cid=5,socket=/s2,uds-path=/u3", "--vm", "guest-cid=6,socket=/s1,uds-path=/u4" },
	  NULL, { "--vm #3 (guest-cid 5): socket '/s2' is already used as the socket of --vm #2" } },
	{ "CID clash reported before path clash",
	  { "--vm", "socket=/s1,uds-path=/u1", "--vm", "guest-cid=4,socket=/s1,uds-path=/u2",
	    "--vm", "socket=/s3,uds-path=/u3" },
	  NULL, { "--vm #3 (guest-cid 3): guest-cid 3 is already used by --vm #1" } },

	/* YAML structure (positions are 0-based, lines 1-based) */
	{ "YAML empty", { 0 }, "", { "<yaml>: no YAML document", "'vms:'" } },
	{ "YAML only a comment", { 0 }, "# nothing\n", { "no YAML document" } },
	{ "YAML root scalar", { 0 }, "hello\n",
	  { "<yaml>:1: expected a mapping with a 'vms' list at the top, got a scalar" } },
	{ "YAML root list", { 0 }, "- a\n", { "got a list" } },
	{ "YAML no vms", { 0 }, "{}\n", { "<yaml>:1: no 'vms' list at the top" } },
	{ "YAML unknown top-level key", { 0 }, "vms:\n  - {socket: /s, uds_path: /u}\nextra: 1\n",
	  { "<yaml>:3: unknown top-level key 'extra' (only 'vms' is allowed)" } },
	{ "YAML vms twice", { 0 }, "vms: []\nvms: []\n",
	  { "<yaml>:2: 'vms' given twice (lines 1 and 2)" } },
	{ "YAML vms scalar", { 0 }, "vms: 3\n",
	  { "<yaml>:1: 'vms' must be a list of VMs, got a scalar" } },
	{ "YAML vms mapping", { 0 }, "vms:\n  socket: /s\n",
	  { "<yaml>:2: 'vms' must be a list of VMs, got a mapping" } },
	{ "YAML vms null", { 0 }, "vms:\n", { "<yaml>:1: 'vms' is empty" } },
	{ "YAML vms empty list", { 0 }, "vms: []\n", { "'vms' is an empty list" } },
	{ "YAML entry not a mapping", { 0 }, "vms:\n  - {socket: /s, uds_path: /u}\n  - just-a-string\n",
	  { "<yaml>:3: vms[1]: expected a mapping of key: value pairs, got a scalar" } },
	{ "YAML entry is a list", { 0 }, "vms:\n  - [a, b]\n",
	  { "vms[0]: expected a mapping", "got a list" } },
	{ "YAML nested list value", { 0 },
	  "vms:\n  - socket: /s\n    forward_cid: 1\n    forward_listen: [9001, 9002]\n",
	  { "<yaml>:4: vms[0]: forward-listen must be a single value, got a list",
	    "join items with '+'" } },
	{ "YAML nested mapping value", { 0 }, "vms:\n  - socket: /s\n    guest_cid:\n      value: 4\n",
	  { "<yaml>:4: vms[0]: guest-cid must be a single value, got a mapping" } },
	{ "YAML non-scalar key", { 0 }, "vms:\n  - ? [a]\n    : b\n",
	  { "vms[0]: keys must be names, got a list" } },
	{ "YAML unknown key with nested value", { 0 }, "vms:\n  - socket: /s\n    extra: [1]\n",
	  { "<yaml>:3: vms[0]: unknown key 'extra'" } },
	{ "YAML unknown key", { 0 }, "vms:\n  - socket: /s\n    uds_path: /u\n    uds: /v\n",
	  { "<yaml>:4: vms[0]: unknown key 'uds'", "valid keys: guest-cid" } },
	{ "YAML repeated key", { 0 }, "vms:\n  - guest_cid: 4\n    socket: /s\n    guest-cid: 5\n",
	  { "<yaml>:4: vms[0]: guest-cid given twice (lines 2 and 4)" } },
	{ "YAML null value", { 0 }, "vms:\n  - socket:\n    uds_path: /u\n",
	  { "<yaml>:2: vms[0]: socket has an empty value" } },
	{ "YAML ~ value", { 0 }, "vms:\n  - socket: ~\n", { "socket has an empty value" } },
	{ "YAML empty string value", { 0 }, "vms:\n  - socket: /s\n    uds_path: \"\"\n",
	  { "<yaml>:3: vms[0]: uds-path has an empty value" } },
	{ "YAML NUL in value", { 0 }, "vms:\n  - socket: \"/s\\0x\"\n", { "socket contains a NUL byte" } },
	{ "YAML newline in value stays one line", { 0 },
	  "vms:\n  - {socket: /s, uds_path: /u, groups: \"a\\nb\"}\n",
	  { "group name 'a?b' contains byte 0x0a" } },
	{ "YAML second document", { 0 }, "vms:\n  - {socket: /s, uds_path: /u}\n---\nvms: []\n",
	  { "<yaml>:4: a second YAML document" } },

	/* YAML syntax errors: file:line:column */
	{ "YAML unclosed flow list", { 0 }, "vms:\n    - guest_cid: 4\n      socket: [unclosed\n",
	  { "<yaml>:4:1: YAML syntax error", "did not find expected ',' or ']'", "at line 3" } },
	{ "YAML tab indentation", { 0 }, "vms:\n    - guest_cid: 4\n\tsocket: /s\n",
	  { "<yaml>:3:1: YAML syntax error", "tab character" } },
	{ "YAML bad indentation", { 0 }, "vms:\n  - guest_cid: 4\n   socket: /s\n",
	  { "<yaml>:3:4: YAML syntax error" } },
	{ "YAML unterminated quote", { 0 }, "vms:\n  - guest_cid: 4\n    socket: \"/s\n",
	  /* libyaml reports where the stream ended, and where the scalar began. */
	  { "<yaml>:4:1: YAML syntax error", "quoted scalar at line 3" } },
	{ "YAML error after first document", { 0 },
	  "vms:\n  - {socket: /s, uds_path: /u}\n...\n--- a: b: c\n",
	  { "<yaml>:4:", "YAML syntax error" } },
	{ "YAML invalid UTF-8", { 0 }, "vms:\n  - socket: \xff\n",
	  { "<yaml>: not valid YAML text", "UTF-8" } },

	/* YAML values: same rules, named vms[i] (guest-cid N) with the value's line */
	{ "YAML queue-size", { 0 },
	  "vms:\n  - guest_cid: 4\n    socket: /s4\n    uds_path: /u4\n"
	  "  - guest_cid: 5\n    socket: /s5\n    uds_path: /u5\n    queue_size: 1000\n",
	  { "<yaml>:8: vms[1] (guest-cid 5): queue-size 1000 is not a power of two in 1..32768" } },
	{ "YAML duplicate cid", { 0 },
	  "vms:\n  - guest_cid: 4\n    socket: /s4\n    uds_path: /u4\n"
	  "  - guest_cid: \"4\"\n    socket: /s5\n    uds_path: /u5\n",
	  { "<yaml>:5: vms[1] (guest-cid 4): guest-cid 4 is already used by vms[0] (line 2)" } },
	{ "YAML duplicate socket via alias", { 0 },
	  "vms: [&a {guest_cid: 4, socket: /s, uds_path: /u}, *a]\n",
	  { "vms[1] (guest-cid 4): guest-cid 4 is already used by vms[0]" } },
	{ "YAML cid not a number", { 0 }, "vms:\n  - socket: /s\n    uds_path: /u\n    guest_cid: four\n",
	  { "<yaml>:4: vms[0]: guest-cid: 'four' is not a number" } },
	{ "YAML cid negative", { 0 }, "vms:\n  - {socket: /s, uds_path: /u, guest_cid: -4}\n",
	  { "guest-cid: '-4' is not a number" } },
	{ "YAML cid boolean", { 0 }, "vms:\n  - {socket: /s, uds_path: /u, guest_cid: true}\n",
	  { "guest-cid: 'true' is not a number" } },
	{ "YAML reserved cid", { 0 }, "vms:\n  - {socket: /s, uds_path: /u, guest_cid: 2}\n",
	  { "<yaml>:2: vms[0] (guest-cid 2): guest-cid 2 is reserved" } },
	{ "YAML port string list", { 0 },
	  "vms:\n  - socket: /s\n    forward_cid: 1\n    forward_listen: \"9001+4294967295\"\n",
	  { "<yaml>:4: vms[0] (guest-cid 3): forward-listen port 4294967295 is out of range" } },
	{ "YAML missing backend names entry line", { 0 }, "vms:\n  - guest_cid: 6\n    socket: /s\n",
	  { "<yaml>:2: vms[0] (guest-cid 6): one of uds-path" } },
	{ "YAML both backends", { 0 },
	  "vms:\n  - guest_cid: 6\n    socket: /s\n    uds_path: /u\n    forward_cid: 1\n",
	  { "<yaml>:5: vms[0] (guest-cid 6): uds-path and forward-cid are mutually exclusive" } },
	{ "YAML duplicate path", { 0 },
	  "vms:\n  - {guest_cid: 4, socket: /tmp/a, uds_path: /tmp/b}\n"
	  "  - {guest_cid: 5, socket: /tmp/c, uds_path: /tmp/a}\n",
	  { "<yaml>:3: vms[1] (guest-cid 5): uds-path '/tmp/a' is already used as the socket "
	    "of vms[0] (line 2)" } },
	{ "YAML bad group", { 0 }, "vms:\n  - {socket: /s, uds_path: /u, groups: \"a+b c\"}\n",
	  { "vms[0] (guest-cid 3): groups: group name 'b c' contains byte 0x20" } },
	{ "YAML poll-us too big", { 0 },
	  "vms:\n  - guest_cid: 4\n    socket: /s4\n    uds_path: /u4\n"
	  "  - guest_cid: 5\n    socket: /s5\n    uds_path: /u5\n    poll_us: 1001\n",
	  { "<yaml>:8: vms[1] (guest-cid 5): poll-us 1001 is out of range 0..1000" } },
	{ "YAML poll-us not a number", { 0 },
	  "vms:\n  - {socket: /s, uds_path: /u, poll-us: fast}\n",
	  { "<yaml>:2: vms[0] (guest-cid 3): poll-us: 'fast' is not a number" } },
	{ "YAML poll-us null", { 0 }, "vms:\n  - socket: /s\n    uds_path: /u\n    poll_us:\n",
	  { "<yaml>:4: vms[0]: poll-us has an empty value" } },
	{ "YAML poll-us list", { 0 }, "vms:\n  - socket: /s\n    uds_path: /u\n    poll_us: [1]\n",
	  { "<yaml>:4: vms[0]: poll-us must be a single value, got a list" } },
	{ "YAML seqpacket port also stream", { 0 },
	  "vms:\n  - socket: /s\n    forward_cid: 1\n    forward_listen: 9000+9001\n"
	  "    forward_listen_seqpacket: 9001\n",
	  { "<yaml>:5: vms[0] (guest-cid 3): forward-listen-seqpacket port 9001 is also in "
	    "forward-listen", "stream or seqpacket, not both" } },
	{ "YAML seqpacket without forward-cid", { 0 },
	  "vms:\n  - socket: /s\n    uds_path: /u\n    forward-listen-seqpacket: 9001\n",
	  { "<yaml>:4: vms[0] (guest-cid 3): forward-listen-seqpacket requires forward-cid" } },
	{ "YAML seqpacket list", { 0 },
	  "vms:\n  - socket: /s\n    forward_cid: 1\n    forward_listen_seqpacket: [9002, 9003]\n",
	  { "<yaml>:4: vms[0]: forward-listen-seqpacket must be a single value, got a list",
	    "join items with '+'" } },
	{ "YAML seqpacket port out of range", { 0 },
	  "vms:\n  - socket: /s\n    forward_cid: 1\n    forward_listen_seqpacket: 4294967295\n",
	  { "<yaml>:4: vms[0] (guest-cid 3): forward-listen-seqpacket port 4294967295 is out of "
	    "range" } },
	{ "YAML seqpacket port repeated", { 0 },
	  "vms:\n  - socket: /s\n    forward_cid: 1\n    forward_listen_seqpacket: 5+6+5\n",
	  { "<yaml>:4: vms[0] (guest-cid 3): forward-listen-seqpacket port 5 is listed twice" } },
	{ "YAML seqpacket repeated key", { 0 },
	  "vms:\n  - socket: /s\n    forward_listen_seqpacket: 5\n    forward-listen-seqpacket: 6\n",
	  { "<yaml>:4: vms[0]: forward-listen-seqpacket given twice (lines 3 and 4)" } },
	{ "YAML poll-us repeated", { 0 },
	  "vms:\n  - poll_us: 5\n    socket: /s\n    poll-us: 6\n",
	  { "<yaml>:4: vms[0]: poll-us given twice (lines 2 and 4)" } },
};

static void run_invalid(void **state)
{
	const struct invalid_case *c = *state;
	struct vdv_config cfg;
	char err[1024] = "";
	enum config_result r;
	size_t i;

	/* Garbage in *out must not survive an error. */
	memset(&cfg, 0x5a, sizeof(cfg));
	r = c->yaml ? parse_yaml(c->yaml, &cfg, err, sizeof(err))
		    : parse_argv(c->args, &cfg, err, sizeof(err));
	if (r != CONFIG_ERROR) {
		if (r == CONFIG_OK)
			config_free(&cfg);
		fail_msg("%s: expected an error, got %d", c->name, r);
	}
	assert_empty_config(&cfg);
	assert_one_line(err);
	for (i = 0; i < MAX_SUBSTR && c->want[i]; i++)
		assert_error_contains(c->name, err, c->want[i]);
}

/* ---------------------------------------------------------------------- */
/* single tests                                                            */

static char *make_path(size_t len)
{
	char *p = malloc(len + 1);

	assert_non_null(p);
	memset(p, 'p', len);
	p[0] = '/';
	p[len] = '\0';
	return p;
}

/* sun_path is 108 bytes with the NUL; uds-path also needs room for
 * "_<port>" (11 bytes). */
static void test_path_lengths(void **state)
{
	char *s107 = make_path(107), *s108 = make_path(108);
	char *u96 = make_path(96), *u97 = make_path(97);
	struct vdv_config cfg;
	char err[1024];
	const char *ok[] = { "--socket", s107, "--uds-path", u96, NULL };
	const char *long_socket[] = { "--socket", s108, "--uds-path", u96, NULL };
	const char *long_uds[] = { "--socket", s107, "--uds-path", u97, NULL };

	(void)state;
	assert_int_equal(parse_argv(ok, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(strlen(cfg.vms[0].socket), 107);
	assert_int_equal(strlen(cfg.vms[0].uds_path), 96);
	config_free(&cfg);

	assert_int_equal(parse_argv(long_socket, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_error_contains("socket 108", err, "--socket '/ppp");
	assert_error_contains("socket 108", err,
			      "is too long (108 bytes; a Unix socket path holds at most 107)");
	assert_empty_config(&cfg);

	assert_int_equal(parse_argv(long_uds, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_error_contains("uds 97", err, "--uds-path '/ppp");
	assert_error_contains("uds 97", err, "is too long (97 bytes, at most 96");
	assert_error_contains("uds 97", err, "'_<port>'");
	assert_empty_config(&cfg);

	free(s107);
	free(s108);
	free(u96);
	free(u97);
}

static void test_help(void **state)
{
	const char *const help[] = { "--help", NULL };
	const char *const h_late[] = { "--bogus", "--vm", "x", "-h", NULL };
	enum config_result r;
	char *out;

	(void)state;
	out = capture_stdout(parse_discard, help, &r);
	assert_int_equal(r, CONFIG_EXIT_OK);
	assert_string_equal(out, config_usage_text);
	free(out);

	/* -h wins even after arguments that are errors. */
	out = capture_stdout(parse_discard, h_late, &r);
	assert_int_equal(r, CONFIG_EXIT_OK);
	assert_string_equal(out, config_usage_text);
	free(out);
}

static void test_version(void **state)
{
	const char *const v[] = { "--version", NULL };
	const char *const v_short[] = { "--socket", "/s", "-V", NULL };
	enum config_result r;
	char *out;

	(void)state;
	out = capture_stdout(parse_discard, v, &r);
	assert_int_equal(r, CONFIG_EXIT_OK);
	assert_string_equal(out, "vhost-device-vsock " VDV_VERSION "\n");
	free(out);
	out = capture_stdout(parse_discard, v_short, &r);
	assert_int_equal(r, CONFIG_EXIT_OK);
	assert_string_equal(out, "vhost-device-vsock " VDV_VERSION "\n");
	free(out);
}

/* The help text documents what the parser does. */
static void test_usage_text(void **state)
{
	static const char *const must[] = {
		"--guest-cid", "--socket", "--uds-path", "--forward-cid", "--forward-listen",
		"--forward-listen-seqpacket PORTS", "[--forward-listen-seqpacket PORTS]",
		"--tx-buffer-size", "--queue-size", "--groups", "--vm", "--config", "-h, --help",
		"-V, --version", "[default: 3]", "[default: 65536]", "[default: 1024]",
		"[default: default]", "guest-cid, socket, uds-path,",
		"forward-cid, forward-listen, forward-listen-seqpacket,",
		"queue-size, groups", "vms:", "guest_cid: 4", "uds_path: /tmp/vm4.vsock",
		"counting from 0", "'group'", "[--poll-us N]", "--poll-us N ", "[default: 50]",
		"0..1000", "groups, poll-us", "rust-vmm's daemon has no such option",
	};
	size_t i;
	const char *p;

	(void)state;
	for (i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		assert_error_contains("usage", config_usage_text, must[i]);
	/* Lines fit a terminal, except the example command's (which must be
	 * copyable as they are). */
	for (p = config_usage_text; *p;) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		if ((size_t)(nl - p) > 80 && !memmem(p, (size_t)(nl - p), "    --vm guest-cid=", 19))
			fail_msg("usage line longer than 80: %.*s", (int)(nl - p), p);
		p = nl + 1;
	}
}

/* The usage text's examples are valid input. */
static void test_usage_examples_parse(void **state)
{
	const char *yaml = strstr(config_usage_text, "  vms:\n");
	const char *end;
	struct vdv_config cfg;
	char err[512];
	char *doc;

	(void)state;
	assert_non_null(yaml);
	end = strstr(yaml, "\n  Numbers");
	assert_non_null(end);
	doc = strndup(yaml, (size_t)(end - yaml + 1));
	assert_non_null(doc);
	if (parse_yaml(doc, &cfg, err, sizeof(err)) != CONFIG_OK)
		fail_msg("usage YAML example: %s", err);
	assert_int_equal(cfg.n_vms, 2);
	assert_int_equal(cfg.vms[1].forward_cid, 1);
	config_free(&cfg);
	free(doc);
}

static void test_config_file(void **state)
{
	static const char text[] = "vms:\n"
				   "    - guest_cid: 4\n"
				   "      socket: /tmp/vhost4.socket\n"
				   "      uds_path: /tmp/vm4.vsock\n"
				   "      tx_buffer_size: 65536\n"
				   "      queue_size: 1024\n"
				   "      groups: group1+group2\n";
	char *path = write_temp(text, sizeof(text) - 1);
	char opt[256];
	const char *const spaced[] = { "--config", path, NULL };
	const char *const joined[] = { opt, NULL };
	struct vdv_config cfg;
	char err[512];

	(void)state;
	snprintf(opt, sizeof(opt), "--config=%s", path);
	assert_int_equal(parse_argv(spaced, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.n_vms, 1);
	assert_int_equal(cfg.vms[0].guest_cid, 4);
	assert_string_equal(cfg.vms[0].socket, "/tmp/vhost4.socket");
	assert_string_equal(cfg.vms[0].uds_path, "/tmp/vm4.vsock");
	assert_int_equal(cfg.vms[0].n_groups, 2);
	assert_string_equal(cfg.vms[0].groups[1], "group2");
	config_free(&cfg);

	assert_int_equal(parse_argv(joined, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.n_vms, 1);
	config_free(&cfg);
	unlink(path);
	free(path);
}

/* File errors carry the file name and the line. */
static void test_config_file_errors(void **state)
{
	static const char bad_syntax[] = "vms:\n  - guest_cid: 4\n   socket: /s\n";
	static const char bad_value[] = "vms:\n  - guest_cid: 4\n    socket: /s\n    uds_path: /u\n"
					"    tx_buffer_size: 100\n";
	char *p1 = write_temp(bad_syntax, sizeof(bad_syntax) - 1);
	char *p2 = write_temp(bad_value, sizeof(bad_value) - 1);
	const char *const a1[] = { "--config", p1, NULL };
	const char *const a2[] = { "--config", p2, NULL };
	struct vdv_config cfg;
	char err[512], want[256];

	(void)state;
	assert_int_equal(parse_argv(a1, &cfg, err, sizeof(err)), CONFIG_ERROR);
	snprintf(want, sizeof(want), "%s:3:4: YAML syntax error", p1);
	assert_error_contains("file syntax", err, want);
	assert_empty_config(&cfg);

	assert_int_equal(parse_argv(a2, &cfg, err, sizeof(err)), CONFIG_ERROR);
	snprintf(want, sizeof(want),
		 "%s:5: vms[0] (guest-cid 4): tx-buffer-size 100 is out of range 4096..1073741824", p2);
	assert_error_contains("file value", err, want);
	assert_empty_config(&cfg);

	unlink(p1);
	unlink(p2);
	free(p1);
	free(p2);
}

static void test_config_missing_file(void **state)
{
	const char *const args[] = { "--config", "/nonexistent/dir/vsock.yaml", NULL };
	struct vdv_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse_argv(args, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "--config: cannot open '/nonexistent/dir/vsock.yaml': "
				 "No such file or directory");
	assert_empty_config(&cfg);
}

static void test_config_directory(void **state)
{
	const char *const args[] = { "--config", "/tmp", NULL };
	struct vdv_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse_argv(args, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_error_contains("dir", err, "--config: cannot read '/tmp': Is a directory");
}

static void test_config_unreadable(void **state)
{
	static const char text[] = "vms: []\n";
	char *path = write_temp(text, sizeof(text) - 1);
	const char *const args[] = { "--config", path, NULL };
	struct vdv_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(chmod(path, 0), 0);
	/* root reads anything: then the file's content is what fails. */
	assert_int_equal(parse_argv(args, &cfg, err, sizeof(err)), CONFIG_ERROR);
	if (geteuid() != 0)
		assert_error_contains("unreadable", err, "Permission denied");
	else
		assert_error_contains("unreadable", err, "'vms' is an empty list");
	assert_error_contains("unreadable", err, path);
	unlink(path);
	free(path);
}

static void test_config_too_big(void **state)
{
	size_t len = (1u << 20) + 2;
	char *text = malloc(len);
	char *path;
	const char *args[3] = { "--config", NULL, NULL };
	struct vdv_config cfg;
	char err[512];

	(void)state;
	assert_non_null(text);
	memset(text, '#', len);
	path = write_temp(text, len);
	args[1] = path;
	assert_int_equal(parse_argv(args, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_error_contains("big", err, "is larger than 1048576 bytes");
	unlink(path);
	free(path);
	free(text);
}

/* Parsing creates and removes nothing. */
static void test_no_side_effects(void **state)
{
	char dir[] = "/tmp/test_config_dir_XXXXXX";
	char sock[128], uds[128], existing[128];
	char a1[300], a2[300];
	const char *args[] = { "--vm", a1, "--vm", a2, NULL };
	struct vdv_config cfg;
	struct stat st;
	char err[512];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/vhost.socket", dir);
	snprintf(uds, sizeof(uds), "%s/vm.vsock", dir);
	snprintf(existing, sizeof(existing), "%s/existing.socket", dir);
	fd = open(existing, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(a1, sizeof(a1), "socket=%s,uds-path=%s", sock, uds);
	snprintf(a2, sizeof(a2), "guest-cid=4,socket=%s,forward-cid=1,forward-listen=1234", existing);

	assert_int_equal(parse_argv(args, &cfg, err, sizeof(err)), CONFIG_OK);
	config_free(&cfg);
	assert_int_equal(stat(sock, &st), -1);
	assert_int_equal(stat(uds, &st), -1);
	assert_int_equal(stat(existing, &st), 0);

	unlink(existing);
	assert_int_equal(rmdir(dir), 0);
}

/* Small or absent error buffers are never overrun. */
static void test_error_buffer(void **state)
{
	const char *const bad[] = { "--vm", "guest-cid=abc", NULL };
	struct vdv_config cfg;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse_argv(bad, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, "--vm #1", 7);

	assert_int_equal(parse_argv(bad, &cfg, NULL, 0), CONFIG_ERROR);
	assert_int_equal(parse_argv(bad, &cfg, err, 0), CONFIG_ERROR);
	assert_int_equal(config_parse_yaml_string("vms: 3", 6, &cfg, err, 1), CONFIG_ERROR);
	assert_int_equal(err[0], '\0');
}

/* The YAML parser honours the length rather than a terminating NUL. */
static void test_yaml_length(void **state)
{
	static const char text[] = "vms: [{socket: /s, uds_path: /u}]\nGARBAGE: [";
	struct vdv_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(config_parse_yaml_string(text, 34, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.n_vms, 1);
	config_free(&cfg);
	assert_int_equal(config_parse_yaml_string(text, sizeof(text) - 1, &cfg, err, sizeof(err)),
			 CONFIG_ERROR);
}

static void test_free_empty(void **state)
{
	struct vdv_config cfg = { 0 };

	(void)state;
	config_free(&cfg);
	config_free(&cfg);
	config_free(NULL);
	assert_empty_config(&cfg);
}

/* Many VMs: the --vm array grows, positions keep counting. */
static void test_many_vms(void **state)
{
	enum { N = 40 };
	char bufs[N][96];
	char *argv[2 * N + 2];
	struct vdv_config cfg;
	char err[512];
	int i, argc = 0;

	(void)state;
	argv[argc++] = (char *)"vhost-device-vsock";
	for (i = 0; i < N; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "guest-cid=%d,socket=/tmp/s%d,uds-path=/tmp/u%d",
			 i + 3, i, i);
		argv[argc++] = (char *)"--vm";
		argv[argc++] = bufs[i];
	}
	argv[argc] = NULL;
	assert_int_equal(config_parse_args(argc, argv, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.n_vms, N);
	assert_int_equal(cfg.vms[N - 1].guest_cid, N + 2);
	config_free(&cfg);

	snprintf(bufs[N - 1], sizeof(bufs[N - 1]), "guest-cid=10,socket=/tmp/x,uds-path=/tmp/y");
	assert_int_equal(config_parse_args(argc, argv, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "--vm #40 (guest-cid 10): guest-cid 10 is already used by --vm #8");
}

/* The VM count is bounded (4096); the largest allowed set still parses. */
static void test_vm_limit(void **state)
{
	enum { MAX = 4096 };
	size_t cap = 64 + (MAX + 1) * 4, len;
	char **argv = calloc(2 * (MAX + 1) + 2, sizeof(*argv));
	char (*bufs)[80] = calloc(MAX + 1, sizeof(*bufs));
	char *yaml = malloc(cap);
	struct vdv_config cfg;
	char err[512];
	int i, argc = 0;

	(void)state;
	assert_non_null(argv);
	assert_non_null(bufs);
	assert_non_null(yaml);
	argv[argc++] = (char *)"vhost-device-vsock";
	for (i = 0; i < MAX + 1; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "guest-cid=%d,socket=/s%d,uds-path=/u%d", i + 3, i, i);
		argv[argc++] = (char *)"--vm";
		argv[argc++] = bufs[i];
	}
	assert_int_equal(config_parse_args(argc - 2, argv, &cfg, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.n_vms, MAX);
	config_free(&cfg);
	assert_int_equal(config_parse_args(argc, argv, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "too many --vm options: at most 4096 VMs are supported");

	len = (size_t)snprintf(yaml, cap, "vms: [&a {socket: /s, uds_path: /u}");
	for (i = 0; i < MAX; i++)
		len += (size_t)snprintf(yaml + len, cap - len, ",*a");
	len += (size_t)snprintf(yaml + len, cap - len, "]\n");
	assert_true(len < cap);
	assert_int_equal(config_parse_yaml_string(yaml, len, &cfg, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "<yaml>:1: 'vms' has 4097 entries; at most 4096 VMs are supported");
	free(yaml);
	free(bufs);
	free(argv);
}

#define N_VALID (sizeof(valid_cases) / sizeof(valid_cases[0]))
#define N_INVALID (sizeof(invalid_cases) / sizeof(invalid_cases[0]))

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_path_lengths),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_usage_text),
		cmocka_unit_test(test_usage_examples_parse),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_file_errors),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_config_directory),
		cmocka_unit_test(test_config_unreadable),
		cmocka_unit_test(test_config_too_big),
		cmocka_unit_test(test_no_side_effects),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_yaml_length),
		cmocka_unit_test(test_free_empty),
		cmocka_unit_test(test_many_vms),
		cmocka_unit_test(test_vm_limit),
	};
	size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
	size_t n = n_fixed + N_VALID + N_INVALID, i, k = 0;
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	int failed;

	if (!tests)
		return 1;
	for (i = 0; i < N_VALID; i++, k++) {
		tests[k].name = valid_cases[i].name;
		tests[k].test_func = run_valid;
		tests[k].initial_state = (void *)&valid_cases[i];
	}
	for (i = 0; i < N_INVALID; i++, k++) {
		tests[k].name = invalid_cases[i].name;
		tests[k].test_func = run_invalid;
		tests[k].initial_state = (void *)&invalid_cases[i];
	}
	for (i = 0; i < n_fixed; i++, k++)
		tests[k] = fixed[i];
	failed = _cmocka_run_group_tests("config", tests, n, NULL, NULL);
	free(tests);
	return failed;
}

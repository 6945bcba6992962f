/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The command line. getopt_long() is not used: it prints its own messages,
 * accepts abbreviations (--sock) that would make later options ambiguous,
 * and cannot take '_' for '-' in option names.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* The three ways to describe the VMs; they cannot be mixed. */
enum cli_mode {
	MODE_SINGLE, /* --guest-cid, --socket, ... */
	MODE_VM,     /* --vm key=value,... (repeatable) */
	MODE_CONFIG, /* --config FILE */
	MODE_COUNT,
};

/* Option ids: 0..VM_KEY_COUNT-1 are the single-VM options. */
enum {
	OPT_VM = VM_KEY_COUNT,
	OPT_CONFIG,
	OPT_HELP,
	OPT_VERSION,
	/* Process options (struct vdv_opts), allowed in every mode. */
	OPT_READY_FD,
	OPT_EXIT_WITH_FD,
	OPT_LOG_LEVEL,
	OPT_METRICS,
	OPT_SANDBOX,
	OPT_THREADS,
	OPT_TX_BUFFER_BUDGET_TOTAL,
	OPT_CHECK,
	OPT_PRINT_CONFIG,
};

static const struct {
	const char *name;
	int id;
} other_options[] = {
	{ "vm", OPT_VM },
	{ "config", OPT_CONFIG },
	{ "help", OPT_HELP },
	{ "version", OPT_VERSION },
	{ "ready-fd", OPT_READY_FD },
	{ "exit-with-fd", OPT_EXIT_WITH_FD },
	{ "log-level", OPT_LOG_LEVEL },
	{ "metrics", OPT_METRICS },
	{ "sandbox", OPT_SANDBOX },
	{ "threads", OPT_THREADS },
	{ "tx-buffer-budget-total", OPT_TX_BUFFER_BUDGET_TOTAL },
	{ "check", OPT_CHECK },
	{ "print-config", OPT_PRINT_CONFIG },
};

struct cli {
	struct vm_spec single;
	struct vm_spec *vms;
	size_t n_vms, cap_vms;
	const char *config_path;
	struct vdv_opts *opts;
	bool seen[OPT_PRINT_CONFIG + 1]; /* process options, for "given twice" */
	/* The first option of each mode as written, for conflict messages. */
	char first[MODE_COUNT][48];
	struct cfg_err *e;
};

static const char nothing_to_do[] =
	"no VM configured: give --socket with --uds-path or --forward-cid, "
	"one or more --vm key=value,..., or --config FILE (try --help)";

static int lookup_option(const char *name, size_t len)
{
	int k = vm_key_lookup(name, len);

	if (k >= 0)
		return k;
	for (size_t i = 0; i < sizeof(other_options) / sizeof(other_options[0]); i++)
		if (cfg_key_eq(name, len, other_options[i].name))
			return other_options[i].id;
	return -1;
}

/* "--socket --uds-path x" means a forgotten value, not a socket named
 * "--uds-path"; "-1" is still taken as a value so that the number check
 * can say what is wrong with it. */
static bool looks_like_option(const char *arg)
{
	return arg[0] == '-' && (arg[1] == '-' || isalpha((unsigned char)arg[1]));
}

/* -h/--help and -V/--version win wherever they appear, as users expect
 * "cmd <broken args> --help" to show the help. */
static enum config_result help_or_version(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(config_usage_text, stdout);
			return CONFIG_EXIT_OK;
		}
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("vhost-device-vsock %s\n", VDV_VERSION);
			return CONFIG_EXIT_OK;
		}
		/* QEMU's vhost-user.rst "Backend program conventions": what
		 * this backend is, as VHostUserBackendCapabilities JSON. */
		if (!strcmp(argv[i], "--print-capabilities")) {
			fputs("{\n  \"type\": \"vsock\"\n}\n", stdout);
			return CONFIG_EXIT_OK;
		}
	}
	return CONFIG_OK;
}

static int enter_mode(struct cli *c, enum cli_mode mode, const char *name, size_t len)
{
	int m;

	for (m = 0; m < MODE_COUNT; m++)
		if (m != (int)mode && c->first[m][0])
			return cfg_errf(c->e,
					"%s and --%.*s cannot be used together: describe the VMs "
					"with single-VM options, with --vm, or with --config",
					c->first[m], (int)len, name);
	if (!c->first[mode][0])
		snprintf(c->first[mode], sizeof(c->first[mode]), "--%.*s", (int)len, name);
	return 0;
}

static int add_vm(struct cli *c, const char *value)
{
	struct vm_spec *bigger;

	if (c->n_vms == CFG_MAX_VMS)
		return cfg_errf(c->e, "too many --vm options: at most %u VMs are supported",
				CFG_MAX_VMS);
	if (c->n_vms == c->cap_vms) {
		size_t cap = c->cap_vms ? 2 * c->cap_vms : 4;

		bigger = realloc(c->vms, cap * sizeof(*c->vms));
		if (!bigger) {
			cfg_errf(c->e, "out of memory");
			return -ENOMEM;
		}
		c->vms = bigger;
		c->cap_vms = cap;
	}
	vm_spec_init(&c->vms[c->n_vms], VM_ORIGIN_VM_ARG, c->n_vms + 1, NULL, 0);
	c->n_vms++;
	return vm_spec_parse_kv(&c->vms[c->n_vms - 1], value, c->e);
}

/* A file descriptor number: decimal (or 0x), 0..INT_MAX. */
static int parse_fd(struct cli *c, const char *name, size_t len, const char *value, int *out)
{
	uint64_t n;
	int r = cfg_parse_u64(value, &n);

	if (r == 0 && n <= INT_MAX) {
		*out = (int)n;
		return 0;
	}
	return cfg_errf(c->e, "--%.*s: '%s' is not a file descriptor number (0..%d)", (int)len,
			name, value, INT_MAX);
}

static int process_option(struct cli *c, int id, const char *name, size_t len, const char *value)
{
	struct vdv_opts *o = c->opts;

	if (c->seen[id])
		return cfg_errf(c->e, "--%.*s given twice", (int)len, name);
	c->seen[id] = true;
	switch (id) {
	case OPT_CHECK:
		o->check = true;
		return 0;
	case OPT_PRINT_CONFIG:
		o->print_config = true;
		return 0;
	case OPT_READY_FD:
		return parse_fd(c, name, len, value, &o->ready_fd);
	case OPT_EXIT_WITH_FD:
		return parse_fd(c, name, len, value, &o->exit_with_fd);
	case OPT_METRICS: {
		char why[256];

		if (net_addr_parse(value, &o->metrics, why, sizeof(why)) < 0)
			return cfg_errf(c->e, "--%.*s: %s", (int)len, name, why);
		o->has_metrics = true;
		return 0;
	}
	case OPT_THREADS: {
		uint64_t v;

		if (cfg_parse_u64(value, &v) != 0 || v < 1 || v > VDV_MAX_THREADS)
			return cfg_errf(c->e, "--%.*s: '%s' is not a thread count (1..%u)", (int)len,
					name, value, VDV_MAX_THREADS);
		o->threads = (unsigned)v;
		return 0;
	}
	case OPT_SANDBOX:
		if (config_sandbox_parse(value, &o->sandbox) != 0)
			return cfg_errf(c->e, "--%.*s: '%s' is not a sandbox mode (seccomp, none)",
					(int)len, name, value);
		return 0;
	case OPT_TX_BUFFER_BUDGET_TOTAL: {
		uint64_t n;

		/* At least one floor: a connection always gets that much. */
		if (cfg_parse_u64(value, &n) != 0 || n < VDV_TX_BUFFER_FLOOR ||
		    n > VDV_MAX_TX_BUFFER_BUDGET)
			return cfg_errf(c->e, "--%.*s: '%s' is not a byte count in %u..%llu",
					(int)len, name, value, VDV_TX_BUFFER_FLOOR,
					VDV_MAX_TX_BUFFER_BUDGET);
		o->tx_buffer_budget_total = n;
		return 0;
	}
	case OPT_LOG_LEVEL:
	default:
		if (config_log_level_parse(value, &o->log_level) != 0)
			return cfg_errf(c->e,
					"--%.*s: '%s' is not a log level "
					"(error, warn, info, debug, trace)",
					(int)len, name, value);
		o->has_log_level = true;
		return 0;
	}
}

static int parse_option(struct cli *c, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *name = arg + 2, *eq, *value;
	size_t len;
	int id, r;

	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	id = lookup_option(name, len);
	if (id < 0)
		return cfg_errf(c->e, "unknown option '--%.*s' (try --help)", (int)len, name);
	if (id == OPT_HELP || id == OPT_VERSION)
		/* Without a value it was handled by help_or_version(). */
		return cfg_errf(c->e, "--%.*s takes no value", (int)len, name);
	if (id == OPT_CHECK || id == OPT_PRINT_CONFIG) {
		if (eq)
			return cfg_errf(c->e, "--%.*s takes no value", (int)len, name);
		return process_option(c, id, name, len, NULL);
	}
	if (eq)
		value = eq + 1;
	else if (*i + 1 < argc && !looks_like_option(argv[*i + 1]))
		value = argv[++*i];
	else
		return cfg_errf(c->e, "--%.*s needs a value", (int)len, name);

	switch (id) {
	case OPT_VM:
		r = enter_mode(c, MODE_VM, name, len);
		return r ? r : add_vm(c, value);
	case OPT_CONFIG:
		r = enter_mode(c, MODE_CONFIG, name, len);
		if (r)
			return r;
		if (c->config_path)
			return cfg_errf(c->e, "--config given twice ('%s' and '%s')",
					c->config_path, value);
		if (*value == '\0')
			return cfg_errf(c->e, "--config has an empty value");
		c->config_path = value;
		if (strcmp(value, "-") != 0)
			c->opts->config_file = value;
		return 0;
	case OPT_READY_FD:
	case OPT_EXIT_WITH_FD:
	case OPT_LOG_LEVEL:
	case OPT_METRICS:
	case OPT_SANDBOX:
	case OPT_THREADS:
	case OPT_TX_BUFFER_BUDGET_TOTAL:
		return process_option(c, id, name, len, value);
	default:
		r = enter_mode(c, MODE_SINGLE, name, len);
		return r ? r : vm_spec_set(&c->single, name, len, value, strlen(value), 0, c->e);
	}
}

/* A VM's socket-fd is not also --ready-fd or --exit-with-fd: one
 * descriptor cannot be written "READY=1", watched and listened on. */
static int check_fd_roles(struct cli *c, const struct vdv_config *cfg)
{
	for (size_t i = 0; i < cfg->n_vms; i++) {
		const struct vm_config *vm = &cfg->vms[i];
		const char *opt = NULL;

		if (!vm->has_socket_fd)
			continue;
		if (vm->socket_fd == c->opts->ready_fd)
			opt = "--ready-fd";
		else if (vm->socket_fd == c->opts->exit_with_fd)
			opt = "--exit-with-fd";
		if (opt)
			return cfg_errf(c->e, "vm cid %llu: socket-fd %d is also %s; give two "
					"different descriptors",
					(unsigned long long)vm->guest_cid, vm->socket_fd, opt);
	}
	return 0;
}

static int parse_all(struct cli *c, int argc, char **argv, struct vdv_config *out)
{
	struct vdv_config built;
	int i, r;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (arg[0] != '-' || arg[1] == '\0')
			return cfg_errf(c->e, "unexpected argument '%s' (try --help)", arg);
		if (arg[1] != '-' || arg[2] == '\0')
			return cfg_errf(c->e, "unknown option '%s' (try --help)", arg);
		r = parse_option(c, argc, argv, &i);
		if (r)
			return r;
	}
	if (c->opts->ready_fd >= 0 && c->opts->ready_fd == c->opts->exit_with_fd)
		return cfg_errf(c->e, "--ready-fd and --exit-with-fd name the same fd %d; "
				"give two different descriptors", c->opts->ready_fd);
	/* The builders reset what they fill: build aside, keep out->opts. */
	if (c->first[MODE_SINGLE][0])
		r = cfg_build_all(&c->single, 1, &built, c->e);
	else if (c->n_vms)
		r = cfg_build_all(c->vms, c->n_vms, &built, c->e);
	else if (c->config_path)
		r = cfg_parse_yaml_file(c->config_path, &built, c->e);
	else
		return cfg_errf(c->e, "%s", nothing_to_do);
	if (!r)
		r = check_fd_roles(c, &built);
	if (r) {
		config_free(&built);
		return r;
	}
	out->vms = built.vms;
	out->n_vms = built.n_vms;
	return 0;
}

enum config_result config_parse_args(int argc, char **argv, struct vdv_config *out, char *err,
				     size_t errlen)
{
	struct cfg_err e = { err, errlen };
	struct cli c;
	enum config_result res;
	size_t i;
	int r;

	if (err && errlen)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	config_opts_init(&out->opts);
	res = help_or_version(argc, argv);
	if (res != CONFIG_OK)
		return res;
	/* Whatever goes wrong, the caller needs to know it ran as --check. */
	for (int a = 1; a < argc; a++)
		if (!strcmp(argv[a], "--check"))
			out->opts.check = true;

	memset(&c, 0, sizeof(c));
	c.e = &e;
	c.opts = &out->opts;
	vm_spec_init(&c.single, VM_ORIGIN_CLI, 0, NULL, 0);
	r = parse_all(&c, argc, argv, out);
	vm_spec_clear(&c.single);
	for (i = 0; i < c.n_vms; i++)
		vm_spec_clear(&c.vms[i]);
	free(c.vms);
	if (r) {
		config_free(out);
		return CONFIG_ERROR;
	}
	return CONFIG_OK;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vhost-device-vsock: parse the configuration, set up logging, answer the
 * dry runs (--check, --print-config), create one VM (a vsock device, its
 * backends and its thread: daemon/vm.c) per VM entry (daemon/vm_set.c),
 * report readiness (--ready-fd, NOTIFY_SOCKET), then wait for a stop
 * signal or the hang-up of --exit-with-fd and shut down cleanly, removing
 * the sockets we created. SIGHUP reloads --config FILE, SIGUSR1 logs the
 * metrics.
 *
 * Exit status: 0 normal stop, --help, --version, a passing --check;
 * 1 a runtime error, or any failure under --check; 2 a usage error (bad
 * option, configuration, log level or descriptor).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "util/log.h"
#include "daemon/activation.h"
#include "daemon/lifetime.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/sandbox.h"
#include "daemon/vm_set.h"
#include "util/clock.h"
#include "vsock/vsock.h"

/*
 * Every guest connection holds a host socket, so the default soft limit
 * (often 1024) is reached long before the hard one: raise it, as far as
 * we may. Nothing here uses select(), so fds above 1023 are fine.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("cannot raise RLIMIT_NOFILE from %llu to %llu: %s",
				 (unsigned long long)was, (unsigned long long)rl.rlim_max,
				 strerror(errno));
			return;
		}
	}
	log_debug("file descriptor limit (RLIMIT_NOFILE): %llu",
		  (unsigned long long)rl.rlim_cur);
}

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
/* The first log line names up to this many sockets, then counts the rest. */
#define STARTUP_PATHS 4

/* --check answers "valid or not" with 0 or 1, whatever the reason. */
static int usage_error(const struct vdv_config *cfg, const char *msg)
{
	fprintf(stderr, "vhost-device-vsock: error: %s\n", msg);
	return cfg->opts.check ? EXIT_RUNTIME : EXIT_USAGE;
}

/* Level from --log-level / VDV_LOG / RUST_LOG; journald or timestamps.
 * A RUST_LOG warning is left in msg, to be logged after the first line. */
static int setup_logging(const struct vdv_config *cfg, const char **source, char *msg,
			 size_t len)
{
	enum log_level level;
	struct stat st;

	if (config_log_level_resolve(&cfg->opts, getenv("VDV_LOG"), getenv("RUST_LOG"), &level,
				     source, msg, len) < 0)
		return -EINVAL;
	log_max_level = level;
	if (fstat(STDERR_FILENO, &st) == 0)
		log_set_journal(config_journal_stream_matches(getenv("JOURNAL_STREAM"), st.st_dev,
							      st.st_ino));
	return 0;
}

static void log_startup(const struct vdv_config *cfg)
{
	char list[1024];
	size_t used = 0, i, shown = cfg->n_vms < STARTUP_PATHS ? cfg->n_vms : STARTUP_PATHS;

	list[0] = '\0';
	for (i = 0; i < shown && used < sizeof(list); i++) {
		char label[160];

		vm_socket_label(&cfg->vms[i], label, sizeof(label));
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 label);
	}
	if (cfg->n_vms > shown && used < sizeof(list))
		snprintf(list + used, sizeof(list) - used, " and %zu more", cfg->n_vms - shown);
	log_info("vhost-device-vsock %s, pid %d, %zu VM%s: %s", VDV_VERSION, (int)getpid(),
		 cfg->n_vms, cfg->n_vms == 1 ? "" : "s", list);
}

/* --check and --print-config: nothing is created. */
static int dry_run(const struct vdv_config *cfg)
{
	char err[1024];

	if (cfg->opts.check && config_check_paths(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vhost-device-vsock: error: %s\n", err);
		return EXIT_RUNTIME;
	}
	if (cfg->opts.print_config && config_print_yaml(cfg, stdout, err, sizeof(err)) < 0) {
		fprintf(stderr, "vhost-device-vsock: error: %s\n", err);
		return EXIT_RUNTIME;
	}
	if (cfg->opts.check && !cfg->opts.print_config)
		printf("configuration OK: %zu VM%s\n", cfg->n_vms, cfg->n_vms == 1 ? "" : "s");
	return 0;
}

/* What the signal handlers of the main thread need. */
struct daemon {
	int argc;
	char **argv;
	struct vm_set vms;
	struct notify *nt;
};

/* SIGUSR1: the metrics snapshot in the log, with or without --metrics. */
static void on_usr1(void *opaque)
{
	struct daemon *dm = opaque;

	metrics_log(&dm->vms);
}

static void notify_serving(struct daemon *dm, const char *prefix)
{
	char status[96];
	int r;

	snprintf(status, sizeof(status), "%sREADY=1\nSTATUS=serving %zu VM%s", prefix,
		 dm->vms.n, dm->vms.n == 1 ? "" : "s");
	if ((r = notify_send(dm->nt, status)) < 0)
		log_warn("NOTIFY_SOCKET: %s", strerror(-r));
}

/*
 * SIGHUP: read --config FILE again and make the VMs what it says (see
 * daemon/vm_set.h). The command line is parsed again as a whole, so the
 * file is read exactly as at start; process options cannot change (they
 * come from the same argv). An invalid file changes nothing.
 */
static void on_hup(void *opaque)
{
	struct daemon *dm = opaque;
	struct vdv_config next = { 0 };
	struct vm_set_diff d;
	char err[1024], msg[64];
	uint64_t usec = (uint64_t)(vdv_now_ns() / 1000);

	if (config_parse_args(dm->argc, dm->argv, &next, err, sizeof(err)) != CONFIG_OK) {
		log_error("SIGHUP: configuration not reloaded, nothing changed: %s", err);
		config_free(&next);
		return;
	}
	if (!next.opts.config_file) {
		log_warn("SIGHUP ignored: only a configuration given as --config FILE can be "
			 "read again");
		config_free(&next);
		return;
	}
	if (config_check_paths(&next, err, sizeof(err)) < 0) {
		log_error("SIGHUP: %s: not reloaded, nothing changed: %s", next.opts.config_file,
			  err);
		config_free(&next);
		return;
	}
	/* systemd's reload protocol (Type=notify-reload): RELOADING=1 with
	 * the time, then READY=1 once done. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)usec);
	notify_send(dm->nt, msg);
	log_info("SIGHUP: reloading %s", next.opts.config_file);
	if (vm_set_reload(&dm->vms, &next, &d) < 0) {
		notify_serving(dm, "");
		config_free(&next);
		return;
	}
	log_info("reload done: %zu VMs added, %zu removed, %zu restarted, %zu unchanged, "
		 "%zu failed to start", d.added, d.removed, d.restarted, d.kept, d.failed);
	notify_serving(dm, "");
	config_free(&next);
}

/* Creates and starts every VM (and the --metrics server), then says so.
 * 0, or an exit status. */
static int serve(struct daemon *dm, struct vdv_config *cfg, struct activation *act,
		 struct metrics **metrics)
{
	char err[1024];
	int r;

	if (vm_set_create(&dm->vms, cfg, act, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_RUNTIME;
	}
	if (activation_check(act, err, sizeof(err)) < 0) {
		log_error("%s", err);
		vm_set_destroy(&dm->vms);
		return EXIT_RUNTIME;
	}
	/* Before the sandbox (a TCP address needs socket(AF_INET)) and before
	 * readiness (a supervisor told "ready" may scrape at once). */
	if (cfg->opts.has_metrics &&
	    metrics_start(metrics, &cfg->opts.metrics, &dm->vms, err, sizeof(err)) < 0) {
		log_error("%s", err);
		vm_set_destroy(&dm->vms);
		return EXIT_RUNTIME;
	}
	/* Every socket, the signalfd and NOTIFY_SOCKET are open and no VM
	 * thread runs yet: from here on the process needs no privilege. The
	 * threads inherit the filter; readiness is reported only under it. */
	r = sandbox_apply(cfg->opts.sandbox, err, sizeof(err));
	if (r == 0) {
		if (cfg->opts.sandbox != VDV_SANDBOX_NONE)
			log_debug("sandbox: seccomp allowlist loaded, no_new_privs set");
		sandbox_selftest_if_asked();
		r = vm_set_start(&dm->vms, err, sizeof(err));
	}
	if (r < 0) {
		log_error("%s", err);
		metrics_stop(*metrics);
		*metrics = NULL;
		vm_set_destroy(&dm->vms);
		return EXIT_RUNTIME;
	}
	if (cfg->opts.ready_fd >= 0 && (r = ready_fd_signal(cfg->opts.ready_fd)) < 0)
		log_warn("--ready-fd %d: %s", cfg->opts.ready_fd, strerror(-r));
	notify_serving(dm, "");
	return 0;
}

int main(int argc, char **argv)
{
	struct vdv_config cfg = { 0 };
	struct lifetime lt = { .sfd = -1, .exit_fd = -1 };
	struct notify nt = { .fd = -1 };
	struct metrics *metrics = NULL;
	struct activation act;
	struct daemon dm = { .argc = argc, .argv = argv, .nt = &nt };
	struct worker_pool pool;
	const char *level_source = "default";
	char err[1024], why[128];
	int status;

	switch (config_parse_args(argc, argv, &cfg, err, sizeof(err))) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_OK:
		return 0;
	default:
		return usage_error(&cfg, err);
	}
	if ((cfg.opts.ready_fd >= 0 && ready_fd_check(cfg.opts.ready_fd, err, sizeof(err)) < 0) ||
	    (cfg.opts.exit_with_fd >= 0 &&
	     lifetime_check_fd(cfg.opts.exit_with_fd, err, sizeof(err)) < 0) ||
	    setup_logging(&cfg, &level_source, err, sizeof(err)) < 0) {
		status = usage_error(&cfg, err);
		config_free(&cfg);
		return status;
	}
	if (!cfg.opts.check && !cfg.opts.print_config)
		log_startup(&cfg);
	if (err[0])
		log_warn("%s", err);
	log_debug("log level %s (from %s)", log_level_name(log_max_level), level_source);
	if (cfg.opts.check || cfg.opts.print_config) {
		status = dry_run(&cfg);
		config_free(&cfg);
		return status;
	}

	raise_nofile();
	/* Before any VM thread runs: they share it from their first connection. */
	vsock_tx_budget_total(cfg.opts.tx_buffer_budget_total);

	/* Read NOTIFY_SOCKET once, then drop it from the environment (as
	 * sd_notify(unset_environment=1) does): no thread runs yet, so
	 * unsetenv() is safe, and nothing we might start inherits it. */
	if (notify_init(&nt, getenv("NOTIFY_SOCKET"), err, sizeof(err)) < 0 || err[0])
		log_warn("%s", err);
	unsetenv("NOTIFY_SOCKET");
	/* LISTEN_FDS likewise, before any thread exists. */
	if (activation_init(&act, err, sizeof(err)) < 0) {
		log_error("%s", err);
		activation_free(&act);
		notify_close(&nt);
		config_free(&cfg);
		return EXIT_RUNTIME;
	}

	if (worker_pool_init(&pool, cfg.opts.threads, err, sizeof(err)) < 0 ||
	    lifetime_init(&lt, cfg.opts.exit_with_fd, err, sizeof(err)) < 0) {
		log_error("%s", err);
		worker_pool_free(&pool);
		activation_free(&act);
		notify_close(&nt);
		config_free(&cfg);
		return EXIT_RUNTIME;
	}
	log_debug("%u worker thread%s at most", pool.n, pool.n == 1 ? "" : "s");
	vm_set_init(&dm.vms, &pool);
	lt.on_usr1 = on_usr1;
	lt.usr1_opaque = &dm;
	lt.on_hup = on_hup;
	lt.hup_opaque = &dm;
	status = serve(&dm, &cfg, &act, &metrics);
	activation_free(&act); /* what no VM claimed, if serve failed */
	/* The VMs own their entries now: what is left is freed. */
	config_free(&cfg);
	if (status == 0) {
		if (lifetime_wait(&lt, why, sizeof(why)) < 0)
			log_error("waiting for a stop signal: %s", why);
		else
			log_info("%s: shutting down", why);
		notify_send(&nt, "STOPPING=1");
		metrics_stop(metrics);
		if (!vm_set_destroy(&dm.vms)) {
			/* A thread still runs on its VM: exit without freeing
			 * more, and say that the stop was not clean. */
			lifetime_close(&lt);
			notify_close(&nt);
			return EXIT_RUNTIME;
		}
	}
	lifetime_close(&lt);
	notify_close(&nt);
	worker_pool_free(&pool);
	return status;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Configuration: the command line (single-VM flags, repeated --vm, or
 * --config FILE.yaml) turned into a validated array of per-VM settings.
 * This module is the only place that parses text; everything downstream
 * trusts struct vdv_config to be valid.
 */
#ifndef VDV_CONFIG_CONFIG_H
#define VDV_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/log.h"
#include "util/net_addr.h"

#define VDV_DEFAULT_GUEST_CID 3
#define VDV_DEFAULT_TX_BUFFER_SIZE 65536u
#define VDV_DEFAULT_QUEUE_SIZE 1024u
#define VDV_DEFAULT_POLL_US 50u
#define VDV_DEFAULT_GROUP "default"
#define VDV_MIN_TX_BUFFER_SIZE 4096u
#define VDV_MAX_TX_BUFFER_SIZE (1u << 30)
#define VDV_MAX_QUEUE_SIZE 32768u
#define VDV_MAX_POLL_US 1000u
#define VDV_MAX_THREADS 1024u
/* Connection budgets (see README "Limits"): the total, and the shares
 * derived from it when not given. */
#define VDV_DEFAULT_MAX_CONNECTIONS 1024u
#define VDV_MAX_MAX_CONNECTIONS 65536u
#define VDV_DEFAULT_GUEST_RESERVED_DIV 8u   /* 1/8 of max-connections */
#define VDV_DEFAULT_HOST_HANDSHAKES_DIV 4u  /* 1/4 of max-connections */
#define VDV_DEFAULT_SIBLING_DIV 4u          /* 1/4 of max-connections */
/* Tx-buffer budgets: what a VM's connections, and all of the process',
 * may be promised (buf_alloc). A connection always gets the floor. */
#define VDV_TX_BUFFER_FLOOR 4096u
#define VDV_DEFAULT_TX_BUFFER_BUDGET (64ull << 20)
#define VDV_DEFAULT_TX_BUFFER_BUDGET_TOTAL (256ull << 20)
#define VDV_MAX_TX_BUFFER_BUDGET (1ull << 40)

struct vm_config {
	uint64_t guest_cid;
	char *socket;          /* vhost-user socket path (we listen) */
	char *uds_path;        /* hybrid vsock base path, or NULL */
	bool has_forward_cid;  /* exactly one of uds_path / forward_cid is set */
	uint32_t forward_cid;
	uint32_t *forward_listen; /* ports, may be empty */
	size_t n_forward_listen;
	/* Ports whose host connections are AF_VSOCK SOCK_SEQPACKET, offered
	 * to the guest as SEQPACKET; none is also in forward_listen (a vsock
	 * port is bound by one socket, whatever its type). May be empty. */
	uint32_t *forward_listen_seqpacket;
	size_t n_forward_listen_seqpacket;
	uint32_t tx_buffer_size;
	uint32_t queue_size;
	/* Busy-poll window in microseconds (our extension, not in rust-vmm):
	 * how long the VM's thread may spin on the guest's tx ring and its
	 * sockets before sleeping. Adaptive (grows while events follow soon
	 * after it closes, drops to 0 when idle); yields the CPU while
	 * spinning; 0 turns polling off. 0..VDV_MAX_POLL_US. */
	uint32_t poll_us;
	char **groups;         /* at least one group */
	size_t n_groups;
	/* The vhost-user socket's permissions and group, set right after it
	 * is bound; when not given, the umask and the process' group decide. */
	bool has_socket_mode;
	uint32_t socket_mode;  /* permission bits, 0..0777 */
	char *socket_group;    /* as given (name or number), or NULL */
	gid_t socket_gid;      /* resolved when socket_group is set */
	/* socket-fd: an inherited, listening AF_UNIX stream socket served
	 * instead of binding `socket` (exactly one of the two is given). The
	 * daemon did not create its file and never removes it. */
	bool has_socket_fd;
	int socket_fd;
	char *socket_fd_path;  /* the path it is bound to (messages), or NULL */
	/* Connection slots: the total; how many only the guest's own
	 * connections may use; pending host handshakes (uds-path and
	 * forward-listen connections the guest has not accepted yet; the
	 * oldest is evicted for a new one); connections each sibling VM
	 * may open to this guest. */
	uint32_t max_connections;
	uint32_t guest_reserved_connections;
	uint32_t max_host_handshakes;
	uint32_t max_sibling_connections;
	/* Bytes of tx buffer (buf_alloc) this VM's connections may be
	 * promised: at least max_connections x VDV_TX_BUFFER_FLOOR. */
	uint64_t tx_buffer_budget;
};

/* --sandbox: what the daemon gives up once its sockets are open. */
enum vdv_sandbox {
	VDV_SANDBOX_SECCOMP = 0, /* the default: seccomp allowlist + no_new_privs */
	VDV_SANDBOX_NONE,        /* nothing (to rule the sandbox out) */
};

/* Options of the process rather than of a VM; allowed with every way of
 * describing the VMs. */
struct vdv_opts {
	int ready_fd;          /* --ready-fd N, or -1 */
	int exit_with_fd;      /* --exit-with-fd N, or -1 */
	bool has_log_level;    /* --log-level given */
	enum log_level log_level;
	bool has_metrics;      /* --metrics ADDR given */
	struct net_addr metrics;
	bool check;            /* --check: validate, create nothing, exit 0/1 */
	bool print_config;     /* --print-config: print the VMs as YAML, exit */
	enum vdv_sandbox sandbox; /* --sandbox */
	unsigned threads;      /* --threads N: worker threads, 0 = online CPUs */
	/* --config FILE's path (points into argv), for SIGHUP to read again;
	 * NULL without --config and for "--config -" (standard input). */
	const char *config_file;
	/* --tx-buffer-budget-total: the tx buffer all VMs' connections may
	 * be promised (the floor of each is granted even beyond it). */
	uint64_t tx_buffer_budget_total;
};

struct vdv_config {
	struct vm_config *vms;
	size_t n_vms;
	struct vdv_opts opts;
};

enum config_result {
	CONFIG_OK = 0,       /* run the daemon with the parsed config */
	CONFIG_EXIT_OK = 1,  /* --help or --version was printed: exit 0 */
	CONFIG_ERROR = -1,   /* err holds a one-line message: exit non-zero */
};

/*
 * Parses argv (argv[0] is the program name). On CONFIG_OK, *out holds at
 * least one VM and must be released with config_free(). On CONFIG_EXIT_OK
 * the help or version text has been written to stdout. On CONFIG_ERROR,
 * err (NUL-terminated, at most errlen bytes) names the offending VM, key and
 * value, and *out holds no VM; out->opts.check still says whether --check
 * was on the command line (wherever it was), so that the caller can pick
 * the exit status. Does not create or remove any file. "--config -" reads
 * the YAML from standard input.
 */
enum config_result config_parse_args(int argc, char **argv, struct vdv_config *out,
				     char *err, size_t errlen);

/* Parses a YAML document held in memory (same rules as --config). */
enum config_result config_parse_yaml_string(const char *text, size_t len,
					    struct vdv_config *out, char *err, size_t errlen);

/* No process option given: no fds, no level, no dry run. */
void config_opts_init(struct vdv_opts *o);

/* Frees the VMs (opts are left as they are). */
void config_free(struct vdv_config *cfg);
/* Frees what one VM entry holds and zeroes it (safe on a zeroed entry:
 * an entry moved out of its array is zeroed, then freed with the rest). */
void vm_config_free(struct vm_config *vm);

/* --- print.c --- */

/* Writes the VMs as a YAML document that --config accepts, every key
 * spelled out with its effective value (defaults included). Returns 0, or
 * -errno with a message in err (a value that is not UTF-8 cannot be
 * written as YAML). */
int config_print_yaml(const struct vdv_config *cfg, FILE *out, char *err, size_t errlen);

/* --- check.c --- */

/* --check's file-system part: the directory of every socket path (the
 * vhost-user socket and uds-path) exists and this process may create a
 * file in it, and nothing that is not a socket sits at the path itself.
 * Creates nothing. Returns 0, or -errno with a message naming the VM and
 * the path in err. */
int config_check_paths(const struct vdv_config *cfg, char *err, size_t errlen);

/* --- log_level.c: which level the log runs at --- */

/* "error", "warn", "info", "debug" or "trace", in any case. 0 or -EINVAL. */
int config_log_level_parse(const char *text, enum log_level *out);

/*
 * RUST_LOG as rust's env_logger users write it: comma-separated directives,
 * each "LEVEL", "TARGET" or "TARGET=LEVEL" (a trailing "/REGEX" filter is
 * ignored). A bare LEVEL applies unless a directive names this daemon
 * (target vhost_device_vsock or vhost-device-vsock, or a module path under
 * it: vhost_device_vsock::...), which wins; among equals the last counts.
 * A bare TARGET naming the daemon means trace; "off" means error (errors
 * are always logged). Directives for other targets are ignored. Returns 1
 * with *out set, 0 when nothing applies to this daemon, -EINVAL when a
 * directive that would apply is malformed (warn says which; nothing is
 * taken from the value then).
 */
int config_rust_log_parse(const char *text, enum log_level *out, char *warn, size_t warnlen);

/*
 * The log level in force: --log-level, else VDV_LOG, else RUST_LOG, else
 * info. vdv_log and rust_log are the variables' values (NULL: unset). An
 * invalid --log-level is caught by config_parse_args; an invalid VDV_LOG
 * is an error (-EINVAL, message in msg); an unusable RUST_LOG is skipped
 * with a warning in msg (return 0, msg non-empty). *source names where the
 * level came from ("--log-level", "VDV_LOG", "RUST_LOG", "default").
 */
int config_log_level_resolve(const struct vdv_opts *opts, const char *vdv_log,
			     const char *rust_log, enum log_level *out, const char **source,
			     char *msg, size_t msglen);

/* True when JOURNAL_STREAM's value ("DEV:INODE", decimal) names the file
 * with this device and inode number (that of our stderr): stderr is then
 * connected to the journal, as systemd documents for that variable. */
bool config_journal_stream_matches(const char *value, dev_t dev, ino_t ino);

/* --sandbox's values: "seccomp" or "none" (exact). 0 or -EINVAL. */
int config_sandbox_parse(const char *text, enum vdv_sandbox *out);
const char *config_sandbox_name(enum vdv_sandbox mode);

/* The text printed by --help (also the source of the man page's options). */
extern const char config_usage_text[];

#endif

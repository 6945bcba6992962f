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

#define VDV_DEFAULT_GUEST_CID 3
#define VDV_DEFAULT_TX_BUFFER_SIZE 65536u
#define VDV_DEFAULT_QUEUE_SIZE 1024u
#define VDV_DEFAULT_POLL_US 50u
#define VDV_DEFAULT_GROUP "default"
#define VDV_MIN_TX_BUFFER_SIZE 4096u
#define VDV_MAX_TX_BUFFER_SIZE (1u << 30)
#define VDV_MAX_QUEUE_SIZE 32768u
#define VDV_MAX_POLL_US 1000u

struct vm_config {
	uint64_t guest_cid;
	char *socket;          /* vhost-user socket path (we listen) */
	char *uds_path;        /* hybrid vsock base path, or NULL */
	bool has_forward_cid;  /* exactly one of uds_path / forward_cid is set */
	uint32_t forward_cid;
	uint32_t *forward_listen; /* ports, may be empty */
	size_t n_forward_listen;
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
};

struct vdv_config {
	struct vm_config *vms;
	size_t n_vms;
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
 * value, and *out is left empty. Does not create or remove any file.
 */
enum config_result config_parse_args(int argc, char **argv, struct vdv_config *out,
				     char *err, size_t errlen);

/* Parses a YAML document held in memory (same rules as --config). */
enum config_result config_parse_yaml_string(const char *text, size_t len,
					    struct vdv_config *out, char *err, size_t errlen);

void config_free(struct vdv_config *cfg);

/* The text printed by --help (also the source of the man page's options). */
extern const char config_usage_text[];

#endif

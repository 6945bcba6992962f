/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Internals of the configuration module, shared by its .c files only.
 *
 * All three input forms (single-VM options, --vm key=value lists, YAML) are
 * first collected into a struct vm_spec: one raw text value per key plus
 * where it came from. vm_spec_build() then turns a spec into a validated
 * struct vm_config, so every form goes through the same conversions, rules
 * and error messages.
 */
#ifndef VDV_CONFIG_INTERNAL_H
#define VDV_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

#ifndef VDV_VERSION
#define VDV_VERSION "unknown"
#endif

/* sun_path holds 108 bytes including the terminating NUL. */
#define CFG_SUN_PATH_MAX 108u
/* The UDS backend appends "_<port>" to uds-path; a u32 port has up to 10
 * digits, so up to 11 bytes are added. */
#define CFG_UDS_SUFFIX_MAX 11u

/* One thread and a few sockets per VM: far beyond any real use, and it
 * bounds the pairwise uniqueness checks on hostile input. */
#define CFG_MAX_VMS 4096u

#define CFG_CID_ANY 0xFFFFFFFFull  /* VMADDR_CID_ANY */
#define CFG_PORT_ANY 0xFFFFFFFFull /* VMADDR_PORT_ANY */

enum vm_key {
	VM_KEY_GUEST_CID,
	VM_KEY_SOCKET,
	VM_KEY_UDS_PATH,
	VM_KEY_FORWARD_CID,
	VM_KEY_FORWARD_LISTEN,
	VM_KEY_FORWARD_LISTEN_SEQPACKET,
	VM_KEY_TX_BUFFER_SIZE,
	VM_KEY_QUEUE_SIZE,
	VM_KEY_GROUPS,
	VM_KEY_POLL_US,
	VM_KEY_SOCKET_MODE,
	VM_KEY_SOCKET_GROUP,
	VM_KEY_SOCKET_FD,
	/* Connection and memory budgets (issue #12 points 3 and 5). */
	VM_KEY_MAX_CONNECTIONS,
	VM_KEY_GUEST_RESERVED_CONNECTIONS,
	VM_KEY_MAX_HOST_HANDSHAKES,
	VM_KEY_MAX_SIBLING_CONNECTIONS,
	VM_KEY_TX_BUFFER_BUDGET,
	VM_KEY_COUNT,
};

/* Where a VM's settings came from; decides how errors name the VM. */
enum vm_origin {
	VM_ORIGIN_CLI,    /* single-VM options: --guest-cid ... */
	VM_ORIGIN_VM_ARG, /* one --vm key=value,... argument */
	VM_ORIGIN_YAML,   /* one entry of the YAML 'vms' list */
};

struct vm_spec_value {
	bool set;
	char *value;    /* owned, NUL-terminated, never contains NUL */
	char *spelling; /* owned: the key as the user wrote it */
	unsigned line;  /* YAML: 1-based line of the value, else 0 */
};

struct vm_spec {
	enum vm_origin origin;
	size_t index;     /* --vm #index (1-based) or vms[index] (0-based) */
	const char *file; /* YAML: name used in messages (borrowed) */
	unsigned line;    /* YAML: 1-based line where the entry starts */
	struct vm_spec_value v[VM_KEY_COUNT];
	/* Set by vm_spec_build() once guest-cid is known, so that later
	 * messages can name the VM by CID too. */
	bool cid_known;
	uint64_t cid;
};

/* A caller-provided buffer for the one-line error message. */
struct cfg_err {
	char *buf;
	size_t len;
};

/* --- report.c: error messages --- */

/* Formats a message into e (if not already holding one); returns -EINVAL. */
int cfg_errf(struct cfg_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, prefixed by the VM's name ("--vm #2 (guest-cid 4): ",
 * "file:LINE: vms[1] (guest-cid 5): "; nothing for single-VM options).
 * For YAML, LINE is the line of key's value when key >= 0 and set. */
int vm_errf(struct cfg_err *e, const struct vm_spec *s, int key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Same with an explicit YAML line (0: the entry's line). */
int vm_errf_at(struct cfg_err *e, const struct vm_spec *s, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Names another VM in a message: "--vm #1", "vms[0] (line 3)". */
void vm_spec_ref(const struct vm_spec *s, char *buf, size_t len);

/* --- vm_spec.c: keys and raw values --- */

/* Canonical name ("guest-cid"). */
const char *vm_key_name(enum vm_key k);
/* The key as messages for this spec name it: "--guest-cid" for
 * single-VM options, "guest-cid" otherwise. */
const char *vm_key_disp(const struct vm_spec *s, enum vm_key k);
/* True if name (len bytes) is canon, taking '_' as '-'. */
bool cfg_key_eq(const char *name, size_t len, const char *canon);
/* Looks a key up, accepting '_' for '-' and "group" for "groups";
 * returns the key or -1. */
int vm_key_lookup(const char *name, size_t len);
/* The list printed with "unknown key" messages. */
extern const char vm_key_list[];

void vm_spec_init(struct vm_spec *s, enum vm_origin origin, size_t index,
		  const char *file, unsigned line);
void vm_spec_clear(struct vm_spec *s);
/* Records key=value; rejects empty or unknown keys, repeated keys, empty
 * values and values containing NUL. Copies both strings. */
int vm_spec_set(struct vm_spec *s, const char *key, size_t klen, const char *val, size_t vlen,
		unsigned line, struct cfg_err *e);
/* Parses one --vm argument "key=value,key=value". */
int vm_spec_parse_kv(struct vm_spec *s, const char *arg, struct cfg_err *e);

/* --- number.c --- */

/* Decimal or 0x-prefixed hex, digits only: no sign, no spaces.
 * Returns 0, -EINVAL (not a number) or -ERANGE (above UINT64_MAX). */
int cfg_parse_u64(const char *str, uint64_t *out);

/* --- build.c: spec -> vm_config --- */

/* Converts and validates one spec. On error vm is left empty. */
int vm_spec_build(struct vm_spec *s, struct vm_config *vm, struct cfg_err *e);
/* Builds all specs and checks the rules between VMs; fills out on success
 * and leaves it empty on error. Specs stay owned by the caller. */
int cfg_build_all(struct vm_spec *specs, size_t n, struct vdv_config *out, struct cfg_err *e);

/* --- validate.c: the rules --- */

int cfg_check_guest_cid(const struct vm_spec *s, uint64_t cid, struct cfg_err *e);
int cfg_check_forward_cid(const struct vm_spec *s, uint64_t cid, struct cfg_err *e);
/* A port of forward-listen or forward-listen-seqpacket (k). */
int cfg_check_port(const struct vm_spec *s, enum vm_key k, uint64_t port, struct cfg_err *e);
int cfg_check_tx_buffer_size(const struct vm_spec *s, uint64_t size, struct cfg_err *e);
int cfg_check_queue_size(const struct vm_spec *s, uint64_t size, struct cfg_err *e);
int cfg_check_poll_us(const struct vm_spec *s, uint64_t us, struct cfg_err *e);
int cfg_check_group_name(const struct vm_spec *s, const char *name, struct cfg_err *e);
/* socket-mode: octal permission bits, "0660" or "660", 0..0777. */
int cfg_parse_socket_mode(const struct vm_spec *s, const char *text, uint32_t *mode,
			  struct cfg_err *e);
/* socket-group: a group name (looked up now: it must exist) or a numeric
 * gid. */
int cfg_parse_socket_group(const struct vm_spec *s, const char *text, gid_t *gid,
			   struct cfg_err *e);
int cfg_check_path(const struct vm_spec *s, enum vm_key k, const char *path, struct cfg_err *e);
/* socket-fd: fd is open and a listening AF_UNIX SOCK_STREAM socket; *path
 * gets the path it is bound to (malloc'd) or NULL. */
int cfg_check_socket_fd(const struct vm_spec *s, uint64_t fd, char **path, struct cfg_err *e);
/* The connection and tx-buffer budgets of vm (budget.c), after
 * tx-buffer-size: parsed, defaults derived from max-connections, checked
 * against each other. */
int cfg_build_budgets(struct vm_spec *s, struct vm_config *vm, struct cfg_err *e);
/* Reads key k as a number, or gives def when the key is absent (build.c). */
int cfg_build_number(struct vm_spec *s, enum vm_key k, uint64_t def, uint64_t *out,
		     struct cfg_err *e);
/* Rules across the keys of one VM (required keys, exclusive keys,
 * repeated list items). */
int cfg_check_vm(const struct vm_spec *s, const struct vm_config *vm, struct cfg_err *e);
/* Rules across VMs: unique CIDs, unique and non-colliding paths. */
int cfg_check_unique(const struct vm_spec *specs, const struct vm_config *vms, size_t n,
		     struct cfg_err *e);

/* --- yaml.c --- */

/* Parses a YAML document; name is used in messages ("file:line: ..."). */
int cfg_parse_yaml(const char *name, const char *text, size_t len, struct vdv_config *out,
		   struct cfg_err *e);
/* Reads path and parses it; a missing or unreadable file is an error. */
int cfg_parse_yaml_file(const char *path, struct vdv_config *out, struct cfg_err *e);

#endif

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The per-VM keys, their spellings, and the raw key=value collection shared
 * by the single-VM options, --vm and the YAML file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* Stored with the "--" so that single-VM messages can name the option. */
static const char *const key_opts[VM_KEY_COUNT] = {
	[VM_KEY_GUEST_CID] = "--guest-cid",
	[VM_KEY_SOCKET] = "--socket",
	[VM_KEY_UDS_PATH] = "--uds-path",
	[VM_KEY_FORWARD_CID] = "--forward-cid",
	[VM_KEY_FORWARD_LISTEN] = "--forward-listen",
	[VM_KEY_FORWARD_LISTEN_SEQPACKET] = "--forward-listen-seqpacket",
	[VM_KEY_TX_BUFFER_SIZE] = "--tx-buffer-size",
	[VM_KEY_QUEUE_SIZE] = "--queue-size",
	[VM_KEY_GROUPS] = "--groups",
	[VM_KEY_POLL_US] = "--poll-us",
	[VM_KEY_SOCKET_MODE] = "--socket-mode",
	[VM_KEY_SOCKET_GROUP] = "--socket-group",
	[VM_KEY_SOCKET_FD] = "--socket-fd",
	[VM_KEY_MAX_CONNECTIONS] = "--max-connections",
	[VM_KEY_GUEST_RESERVED_CONNECTIONS] = "--guest-reserved-connections",
	[VM_KEY_MAX_HOST_HANDSHAKES] = "--max-host-handshakes",
	[VM_KEY_MAX_SIBLING_CONNECTIONS] = "--max-sibling-connections",
	[VM_KEY_TX_BUFFER_BUDGET] = "--tx-buffer-budget",
};

const char vm_key_list[] = "guest-cid, socket, uds-path, forward-cid, forward-listen, "
			   "forward-listen-seqpacket, tx-buffer-size, queue-size, groups, "
			   "poll-us, socket-mode, socket-group, socket-fd, max-connections, "
			   "guest-reserved-connections, max-host-handshakes, "
			   "max-sibling-connections, tx-buffer-budget";

const char *vm_key_name(enum vm_key k)
{
	return key_opts[k] + 2;
}

const char *vm_key_disp(const struct vm_spec *s, enum vm_key k)
{
	return s->origin == VM_ORIGIN_CLI ? key_opts[k] : key_opts[k] + 2;
}

/* Compares a user-written key with a canonical one; '_' and '-' are the
 * same character because the published docs use both spellings. */
bool cfg_key_eq(const char *name, size_t len, const char *canon)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = name[i] == '_' ? '-' : name[i];

		if (canon[i] == '\0' || c != canon[i])
			return false;
	}
	return canon[len] == '\0';
}

int vm_key_lookup(const char *name, size_t len)
{
	int k;

	for (k = 0; k < VM_KEY_COUNT; k++)
		if (cfg_key_eq(name, len, vm_key_name(k)))
			return k;
	/* rust-vmm's man page lists "group" as a key while its code and
	 * README use "groups": accept both. */
	if (cfg_key_eq(name, len, "group"))
		return VM_KEY_GROUPS;
	return -1;
}

void vm_spec_init(struct vm_spec *s, enum vm_origin origin, size_t index, const char *file,
		  unsigned line)
{
	memset(s, 0, sizeof(*s));
	s->origin = origin;
	s->index = index;
	s->file = file;
	s->line = line;
}

void vm_spec_clear(struct vm_spec *s)
{
	int k;

	for (k = 0; k < VM_KEY_COUNT; k++) {
		free(s->v[k].value);
		free(s->v[k].spelling);
	}
	memset(s->v, 0, sizeof(s->v));
}

static int report_repeat(struct vm_spec *s, int k, const char *key, size_t klen, unsigned line,
			 struct cfg_err *e)
{
	const struct vm_spec_value *old = &s->v[k];
	/* Options are written with their dashes, keys without. */
	const char *dashes = s->origin == VM_ORIGIN_CLI ? "--" : "";

	if (s->origin == VM_ORIGIN_YAML)
		return vm_errf_at(e, s, line, "%s given twice (lines %u and %u)",
				  vm_key_disp(s, k), old->line, line);
	if (strlen(old->spelling) != klen || memcmp(old->spelling, key, klen) != 0)
		return vm_errf(e, s, -1, "%s given twice (as '%s%s' and '%s%.*s')",
			       vm_key_disp(s, k), dashes, old->spelling, dashes, (int)klen, key);
	return vm_errf(e, s, -1, "%s given twice", vm_key_disp(s, k));
}

int vm_spec_set(struct vm_spec *s, const char *key, size_t klen, const char *val, size_t vlen,
		unsigned line, struct cfg_err *e)
{
	struct vm_spec_value *v;
	int k;

	if (klen == 0)
		return vm_errf_at(e, s, line, "empty key (valid keys: %s)", vm_key_list);
	k = vm_key_lookup(key, klen);
	if (k < 0)
		return vm_errf_at(e, s, line,
				  "unknown key '%.*s' (valid keys: %s; '_' may replace '-')",
				  (int)klen, key, vm_key_list);
	if (s->v[k].set)
		return report_repeat(s, k, key, klen, line, e);
	if (vlen == 0)
		return vm_errf_at(e, s, line, "%s has an empty value", vm_key_disp(s, k));
	if (memchr(val, '\0', vlen))
		return vm_errf_at(e, s, line, "%s contains a NUL byte", vm_key_disp(s, k));

	v = &s->v[k];
	v->value = strndup(val, vlen);
	v->spelling = strndup(key, klen);
	if (!v->value || !v->spelling) {
		free(v->value);
		free(v->spelling);
		v->value = v->spelling = NULL;
		cfg_errf(e, "out of memory");
		return -ENOMEM;
	}
	v->line = line;
	v->set = true;
	return 0;
}

int vm_spec_parse_kv(struct vm_spec *s, const char *arg, struct cfg_err *e)
{
	const char *p = arg;
	int r;

	if (*arg == '\0')
		return vm_errf(e, s, -1, "empty value; expected key=value,... (keys: %s)",
			       vm_key_list);
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);

		if (len == 0)
			return vm_errf(e, s, -1, "empty entry (stray ',') in '%s'", arg);
		if (!eq)
			return vm_errf(e, s, -1, "'%.*s' is not key=value", (int)len, p);
		if (eq == p)
			return vm_errf(e, s, -1, "'%.*s' has an empty key", (int)len, p);
		/* Split at the first '=': a path may itself contain '='. */
		r = vm_spec_set(s, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1, 0, e);
		if (r)
			return r;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Turns the raw text values of a struct vm_spec into a struct vm_config:
 * numbers, '+'-joined lists and paths, applying defaults and calling the
 * rules of validate.c on each value as it is converted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static int oom(struct cfg_err *e)
{
	cfg_errf(e, "out of memory");
	return -ENOMEM;
}

static int parse_number(struct vm_spec *s, enum vm_key k, const char *text, uint64_t *out,
			struct cfg_err *e)
{
	int r = cfg_parse_u64(text, out);

	if (r == -ERANGE)
		return vm_errf(e, s, k, "%s: '%s' is too large (more than 64 bits)",
			       vm_key_disp(s, k), text);
	if (r)
		return vm_errf(e, s, k, "%s: '%s' is not a number", vm_key_disp(s, k), text);
	return 0;
}

/* Reads key k as a number, or gives def when the key is absent. */
static int build_number(struct vm_spec *s, enum vm_key k, uint64_t def, uint64_t *out,
			struct cfg_err *e)
{
	if (!s->v[k].set) {
		*out = def;
		return 0;
	}
	return parse_number(s, k, s->v[k].value, out, e);
}

int cfg_build_number(struct vm_spec *s, enum vm_key k, uint64_t def, uint64_t *out,
		     struct cfg_err *e)
{
	return build_number(s, k, def, out, e);
}

/* Splits key k's '+'-joined value into n items (pointers into a copy that
 * the caller frees with free(items[0])). Empty items are errors. */
static int split_list(struct vm_spec *s, enum vm_key k, char ***items_out, size_t *n_out,
		      struct cfg_err *e)
{
	const char *text = s->v[k].value;
	size_t n = 1, i;
	const char *q;
	char **items;
	char *copy, *p;

	for (q = text; *q; q++)
		n += *q == '+';
	copy = strdup(text);
	items = calloc(n, sizeof(*items));
	if (!copy || !items) {
		free(copy);
		free(items);
		return oom(e);
	}
	p = copy;
	for (i = 0; i < n; i++) {
		char *end = strchr(p, '+');

		if (end)
			*end = '\0';
		if (*p == '\0') {
			free(copy);
			free(items);
			return vm_errf(e, s, k, "%s: empty item in '%s' (items are joined by '+')",
				       vm_key_disp(s, k), text);
		}
		items[i] = p;
		p = end ? end + 1 : p;
	}
	*items_out = items;
	*n_out = n;
	return 0;
}

/* The '+'-joined ports of key k (forward-listen or
 * forward-listen-seqpacket) into *ports_out / *n_out. */
static int build_ports(struct vm_spec *s, enum vm_key k, uint32_t **ports_out, size_t *n_out,
		       struct cfg_err *e)
{
	uint32_t *ports;
	char **items;
	size_t n, i;
	int r;

	r = split_list(s, k, &items, &n, e);
	if (r)
		return r;
	ports = calloc(n, sizeof(*ports));
	*ports_out = ports;
	if (!ports) {
		r = oom(e);
		goto out;
	}
	for (i = 0; i < n; i++) {
		uint64_t port;

		r = parse_number(s, k, items[i], &port, e);
		if (!r)
			r = cfg_check_port(s, k, port, e);
		if (r)
			goto out;
		ports[i] = (uint32_t)port;
		*n_out = i + 1;
	}
out:
	free(items[0]);
	free(items);
	return r;
}

static int build_groups(struct vm_spec *s, struct vm_config *vm, struct cfg_err *e)
{
	char **items;
	size_t n, i;
	int r;

	if (!s->v[VM_KEY_GROUPS].set) {
		vm->groups = calloc(1, sizeof(*vm->groups));
		if (!vm->groups)
			return oom(e);
		vm->groups[0] = strdup(VDV_DEFAULT_GROUP);
		if (!vm->groups[0])
			return oom(e);
		vm->n_groups = 1;
		return 0;
	}
	r = split_list(s, VM_KEY_GROUPS, &items, &n, e);
	if (r)
		return r;
	vm->groups = calloc(n, sizeof(*vm->groups));
	if (!vm->groups) {
		r = oom(e);
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = cfg_check_group_name(s, items[i], e);
		if (r)
			goto out;
		vm->groups[i] = strdup(items[i]);
		if (!vm->groups[i]) {
			r = oom(e);
			goto out;
		}
		vm->n_groups = i + 1;
	}
out:
	free(items[0]);
	free(items);
	return r;
}

static int build_path(struct vm_spec *s, enum vm_key k, char **out, struct cfg_err *e)
{
	int r;

	if (!s->v[k].set)
		return 0;
	r = cfg_check_path(s, k, s->v[k].value, e);
	if (r)
		return r;
	*out = strdup(s->v[k].value);
	return *out ? 0 : oom(e);
}

static uint32_t *tx_buffer_size_of(struct vm_config *vm)
{
	return &vm->tx_buffer_size;
}

static uint32_t *queue_size_of(struct vm_config *vm)
{
	return &vm->queue_size;
}

static uint32_t *poll_us_of(struct vm_config *vm)
{
	return &vm->poll_us;
}

/* The plain numeric keys: parsed, checked by their rule, stored. */
static const struct {
	enum vm_key key;
	uint64_t def;
	int (*check)(const struct vm_spec *s, uint64_t v, struct cfg_err *e);
	uint32_t *(*field)(struct vm_config *vm);
} u32_keys[] = {
	{ VM_KEY_TX_BUFFER_SIZE, VDV_DEFAULT_TX_BUFFER_SIZE, cfg_check_tx_buffer_size,
	  tx_buffer_size_of },
	{ VM_KEY_QUEUE_SIZE, VDV_DEFAULT_QUEUE_SIZE, cfg_check_queue_size, queue_size_of },
	{ VM_KEY_POLL_US, VDV_DEFAULT_POLL_US, cfg_check_poll_us, poll_us_of },
};

int vm_spec_build(struct vm_spec *s, struct vm_config *vm, struct cfg_err *e)
{
	uint64_t n;
	int r;

	memset(vm, 0, sizeof(*vm));
	s->cid_known = false;

	/* guest-cid first, so that every later message names the VM by CID. */
	r = build_number(s, VM_KEY_GUEST_CID, VDV_DEFAULT_GUEST_CID, &n, e);
	if (r)
		goto fail;
	s->cid_known = true;
	s->cid = n;
	r = cfg_check_guest_cid(s, n, e);
	if (r)
		goto fail;
	vm->guest_cid = n;

	r = build_path(s, VM_KEY_SOCKET, &vm->socket, e);
	if (!r)
		r = build_path(s, VM_KEY_UDS_PATH, &vm->uds_path, e);
	if (r)
		goto fail;

	if (s->v[VM_KEY_FORWARD_CID].set) {
		r = build_number(s, VM_KEY_FORWARD_CID, 0, &n, e);
		if (!r)
			r = cfg_check_forward_cid(s, n, e);
		if (r)
			goto fail;
		vm->has_forward_cid = true;
		vm->forward_cid = (uint32_t)n;
	}
	if (s->v[VM_KEY_FORWARD_LISTEN].set) {
		r = build_ports(s, VM_KEY_FORWARD_LISTEN, &vm->forward_listen,
				&vm->n_forward_listen, e);
		if (r)
			goto fail;
	}
	if (s->v[VM_KEY_FORWARD_LISTEN_SEQPACKET].set) {
		r = build_ports(s, VM_KEY_FORWARD_LISTEN_SEQPACKET, &vm->forward_listen_seqpacket,
				&vm->n_forward_listen_seqpacket, e);
		if (r)
			goto fail;
	}

	for (size_t i = 0; i < sizeof(u32_keys) / sizeof(u32_keys[0]); i++) {
		r = build_number(s, u32_keys[i].key, u32_keys[i].def, &n, e);
		if (!r)
			r = u32_keys[i].check(s, n, e);
		if (r)
			goto fail;
		*u32_keys[i].field(vm) = (uint32_t)n;
	}

	if (s->v[VM_KEY_SOCKET_MODE].set) {
		r = cfg_parse_socket_mode(s, s->v[VM_KEY_SOCKET_MODE].value, &vm->socket_mode, e);
		if (r)
			goto fail;
		vm->has_socket_mode = true;
	}
	if (s->v[VM_KEY_SOCKET_GROUP].set) {
		r = cfg_parse_socket_group(s, s->v[VM_KEY_SOCKET_GROUP].value, &vm->socket_gid, e);
		if (r)
			goto fail;
		vm->socket_group = strdup(s->v[VM_KEY_SOCKET_GROUP].value);
		if (!vm->socket_group) {
			r = oom(e);
			goto fail;
		}
	}

	if (s->v[VM_KEY_SOCKET_FD].set) {
		r = build_number(s, VM_KEY_SOCKET_FD, 0, &n, e);
		if (!r)
			r = cfg_check_socket_fd(s, n, &vm->socket_fd_path, e);
		if (r)
			goto fail;
		vm->has_socket_fd = true;
		vm->socket_fd = (int)n;
	}

	r = build_groups(s, vm, e);
	if (!r)
		r = cfg_build_budgets(s, vm, e);
	if (!r)
		r = cfg_check_vm(s, vm, e);
	if (r)
		goto fail;
	return 0;
fail:
	vm_config_free(vm);
	return r;
}

int cfg_build_all(struct vm_spec *specs, size_t n, struct vdv_config *out, struct cfg_err *e)
{
	struct vm_config *vms;
	size_t i, built = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	config_opts_init(&out->opts);
	if (n == 0)
		return cfg_errf(e, "no VM configured");
	vms = calloc(n, sizeof(*vms));
	if (!vms)
		return oom(e);
	for (i = 0; i < n && !r; i++) {
		r = vm_spec_build(&specs[i], &vms[i], e);
		if (!r)
			built++;
	}
	if (!r)
		r = cfg_check_unique(specs, vms, n, e);
	if (r) {
		for (i = 0; i < built; i++)
			vm_config_free(&vms[i]);
		free(vms);
		return r;
	}
	out->vms = vms;
	out->n_vms = n;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The rules a configuration must follow, checked at parse time so that a
 * bad value is reported before any socket or file is created. Each message
 * names the value and the rule; vm_errf() adds which VM it is.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "config/config_internal.h"

/* CIDs are 32-bit on the wire of every transport but virtio's config space
 * (le64, upper half reserved), and 0xFFFFFFFF is VMADDR_CID_ANY. */
static int check_cid_below_any(const struct vm_spec *s, enum vm_key key, uint64_t cid,
			       unsigned lowest, struct cfg_err *e)
{
	if (cid < CFG_CID_ANY)
		return 0;
	return vm_errf(e, s, key,
		       "%s %" PRIu64 " is out of range %u..4294967294 "
		       "(CIDs are 32-bit and 4294967295 is VMADDR_CID_ANY)",
		       vm_key_disp(s, key), cid, lowest);
}

int cfg_check_guest_cid(const struct vm_spec *s, uint64_t cid, struct cfg_err *e)
{
	const char *k = vm_key_disp(s, VM_KEY_GUEST_CID);

	if (cid <= 2)
		return vm_errf(e, s, VM_KEY_GUEST_CID,
			       "%s %" PRIu64 " is reserved (0: hypervisor, 1: local loopback, "
			       "2: host); use 3..4294967294",
			       k, cid);
	return check_cid_below_any(s, VM_KEY_GUEST_CID, cid, 3, e);
}

int cfg_check_forward_cid(const struct vm_spec *s, uint64_t cid, struct cfg_err *e)
{
	const char *k = vm_key_disp(s, VM_KEY_FORWARD_CID);

	/* 1 (host loopback) is the usual target; 2 and others are allowed
	 * because nested setups forward to a parent host or another VM. */
	if (cid == 0)
		return vm_errf(e, s, VM_KEY_FORWARD_CID,
			       "%s 0 is the hypervisor's CID, which host sockets cannot reach; "
			       "use 1 (host loopback) or the CID of a vsock endpoint",
			       k);
	return check_cid_below_any(s, VM_KEY_FORWARD_CID, cid, 1, e);
}

int cfg_check_port(const struct vm_spec *s, enum vm_key k, uint64_t port, struct cfg_err *e)
{
	if (port >= CFG_PORT_ANY)
		return vm_errf(e, s, k,
			       "%s port %" PRIu64 " is out of range 0..4294967294 "
			       "(ports are 32-bit and 4294967295 is VMADDR_PORT_ANY)",
			       vm_key_disp(s, k), port);
	return 0;
}

int cfg_check_tx_buffer_size(const struct vm_spec *s, uint64_t size, struct cfg_err *e)
{
	if (size < VDV_MIN_TX_BUFFER_SIZE || size > VDV_MAX_TX_BUFFER_SIZE)
		return vm_errf(e, s, VM_KEY_TX_BUFFER_SIZE,
			       "%s %" PRIu64 " is out of range %u..%u",
			       vm_key_disp(s, VM_KEY_TX_BUFFER_SIZE), size,
			       VDV_MIN_TX_BUFFER_SIZE, VDV_MAX_TX_BUFFER_SIZE);
	return 0;
}

int cfg_check_queue_size(const struct vm_spec *s, uint64_t size, struct cfg_err *e)
{
	/* Split virtqueues must be a power of two no larger than 32768. */
	if (size == 0 || size > VDV_MAX_QUEUE_SIZE || (size & (size - 1)) != 0)
		return vm_errf(e, s, VM_KEY_QUEUE_SIZE,
			       "%s %" PRIu64 " is not a power of two in 1..%u",
			       vm_key_disp(s, VM_KEY_QUEUE_SIZE), size, VDV_MAX_QUEUE_SIZE);
	return 0;
}

int cfg_check_poll_us(const struct vm_spec *s, uint64_t us, struct cfg_err *e)
{
	if (us > VDV_MAX_POLL_US)
		return vm_errf(e, s, VM_KEY_POLL_US, "%s %" PRIu64 " is out of range 0..%u",
			       vm_key_disp(s, VM_KEY_POLL_US), us, VDV_MAX_POLL_US);
	return 0;
}

int cfg_check_group_name(const struct vm_spec *s, const char *name, struct cfg_err *e)
{
	const char *p;

	for (p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (isascii(c) && (isalnum(c) || c == '_' || c == '.' || c == '-'))
			continue;
		if (isascii(c) && isgraph(c))
			return vm_errf(e, s, VM_KEY_GROUPS,
				       "%s: group name '%s' contains '%c' "
				       "(allowed: A-Z a-z 0-9 _ . -)",
				       vm_key_disp(s, VM_KEY_GROUPS), name, c);
		return vm_errf(e, s, VM_KEY_GROUPS,
			       "%s: group name '%s' contains byte 0x%02x "
			       "(allowed: A-Z a-z 0-9 _ . -)",
			       vm_key_disp(s, VM_KEY_GROUPS), name, c);
	}
	return 0;
}

int cfg_check_path(const struct vm_spec *s, enum vm_key k, const char *path, struct cfg_err *e)
{
	size_t len = strlen(path);

	if (k == VM_KEY_UDS_PATH && len + CFG_UDS_SUFFIX_MAX >= CFG_SUN_PATH_MAX)
		return vm_errf(e, s, k,
			       "%s '%s' is too long (%zu bytes, at most %u: '_<port>', up to "
			       "%u bytes, is appended to it for guest-initiated connections "
			       "and a Unix socket path holds %u bytes)",
			       vm_key_disp(s, k), path, len,
			       CFG_SUN_PATH_MAX - 1 - CFG_UDS_SUFFIX_MAX, CFG_UDS_SUFFIX_MAX,
			       CFG_SUN_PATH_MAX - 1);
	if (len >= CFG_SUN_PATH_MAX)
		return vm_errf(e, s, k,
			       "%s '%s' is too long (%zu bytes; a Unix socket path holds at most %u)",
			       vm_key_disp(s, k), path, len, CFG_SUN_PATH_MAX - 1);
	return 0;
}

/* A port listed twice in key k's list: it would fail to bind. */
static int check_ports_unique(const struct vm_spec *s, enum vm_key k, const uint32_t *ports,
			      size_t n, struct cfg_err *e)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (ports[i] == ports[j])
				return vm_errf(e, s, k, "%s port %" PRIu32 " is listed twice",
					       vm_key_disp(s, k), ports[i]);
	return 0;
}

int cfg_check_vm(const struct vm_spec *s, const struct vm_config *vm, struct cfg_err *e)
{
	size_t i, j;
	int r;

	if (vm->socket && vm->has_socket_fd)
		return vm_errf(e, s, VM_KEY_SOCKET_FD,
			       "%s and %s are mutually exclusive: give the path to bind, or the "
			       "descriptor of a socket already listening",
			       vm_key_disp(s, VM_KEY_SOCKET), vm_key_disp(s, VM_KEY_SOCKET_FD));
	if (!vm->socket && !vm->has_socket_fd)
		return vm_errf(e, s, -1, "%s is required (the vhost-user socket the VMM connects to; "
			       "or %s, an inherited listening socket)",
			       vm_key_disp(s, VM_KEY_SOCKET), vm_key_disp(s, VM_KEY_SOCKET_FD));
	/* Its file is not ours: whoever bound it set its mode and group. */
	if (vm->has_socket_fd && (vm->has_socket_mode || vm->socket_group))
		return vm_errf(e, s, vm->has_socket_mode ? VM_KEY_SOCKET_MODE : VM_KEY_SOCKET_GROUP,
			       "%s applies to a socket the daemon binds, not to %s %d (set it "
			       "where that socket is created)",
			       vm_key_disp(s, vm->has_socket_mode ? VM_KEY_SOCKET_MODE
								   : VM_KEY_SOCKET_GROUP),
			       vm_key_disp(s, VM_KEY_SOCKET_FD), vm->socket_fd);
	if (vm->uds_path && vm->has_forward_cid)
		return vm_errf(e, s, VM_KEY_FORWARD_CID,
			       "%s and %s are mutually exclusive: give one backend",
			       vm_key_disp(s, VM_KEY_UDS_PATH), vm_key_disp(s, VM_KEY_FORWARD_CID));
	if (!vm->uds_path && !vm->has_forward_cid)
		return vm_errf(e, s, -1,
			       "one of %s (Unix socket backend) or %s (vsock backend) is required",
			       vm_key_disp(s, VM_KEY_UDS_PATH), vm_key_disp(s, VM_KEY_FORWARD_CID));
	if (vm->n_forward_listen && !vm->has_forward_cid)
		return vm_errf(e, s, VM_KEY_FORWARD_LISTEN,
			       "%s requires %s (the ports are listened on at the forward CID)",
			       vm_key_disp(s, VM_KEY_FORWARD_LISTEN),
			       vm_key_disp(s, VM_KEY_FORWARD_CID));
	if (vm->n_forward_listen_seqpacket && !vm->has_forward_cid)
		return vm_errf(e, s, VM_KEY_FORWARD_LISTEN_SEQPACKET,
			       "%s requires %s (the ports are listened on at the forward CID)",
			       vm_key_disp(s, VM_KEY_FORWARD_LISTEN_SEQPACKET),
			       vm_key_disp(s, VM_KEY_FORWARD_CID));
	if (vm->uds_path && vm->socket && strcmp(vm->socket, vm->uds_path) == 0)
		return vm_errf(e, s, VM_KEY_UDS_PATH, "%s and %s are the same path '%s'",
			       vm_key_disp(s, VM_KEY_SOCKET), vm_key_disp(s, VM_KEY_UDS_PATH),
			       vm->socket);

	/* A repeated port would fail to bind; a repeated group is a typo. */
	r = check_ports_unique(s, VM_KEY_FORWARD_LISTEN, vm->forward_listen,
			       vm->n_forward_listen, e);
	if (!r)
		r = check_ports_unique(s, VM_KEY_FORWARD_LISTEN_SEQPACKET,
				       vm->forward_listen_seqpacket,
				       vm->n_forward_listen_seqpacket, e);
	if (r)
		return r;
	/* The kernel binds an AF_VSOCK port to one socket whatever its type
	 * (__vsock_find_bound_socket looks at the address only). */
	for (i = 0; i < vm->n_forward_listen_seqpacket; i++)
		for (j = 0; j < vm->n_forward_listen; j++)
			if (vm->forward_listen_seqpacket[i] == vm->forward_listen[j])
				return vm_errf(e, s, VM_KEY_FORWARD_LISTEN_SEQPACKET,
					       "%s port %" PRIu32 " is also in %s: an AF_VSOCK "
					       "port is bound by one socket, stream or "
					       "seqpacket, not both",
					       vm_key_disp(s, VM_KEY_FORWARD_LISTEN_SEQPACKET),
					       vm->forward_listen_seqpacket[i],
					       vm_key_disp(s, VM_KEY_FORWARD_LISTEN));
	for (i = 0; i < vm->n_groups; i++)
		for (j = 0; j < i; j++)
			if (strcmp(vm->groups[i], vm->groups[j]) == 0)
				return vm_errf(e, s, VM_KEY_GROUPS,
					       "%s: group '%s' is listed twice",
					       vm_key_disp(s, VM_KEY_GROUPS), vm->groups[i]);
	return 0;
}

/*
 * Rules across VMs. Sorting keeps them O(n log n) for any number of VMs.
 * Clashes are looked for by kind (CIDs, then equal paths, then port paths);
 * within a kind the one whose later VM comes first is reported, so the
 * message does not depend on the sort.
 */
struct cid_ent {
	uint64_t cid;
	size_t vm;
};

struct path_ent {
	const char *path;
	size_t vm;
	enum vm_key key;
};

enum clash_kind {
	CLASH_CID,       /* same guest-cid */
	CLASH_PATH,      /* same socket/uds-path */
	CLASH_PORT_MINE, /* later's path is "<earlier's uds-path>_<port>" */
	CLASH_PORT_THEIRS, /* earlier's path is "<later's uds-path>_<port>" */
};

/* Two VMs (or one, for a port path) breaking a rule; the message names
 * 'later' and refers to 'earlier'. */
struct clash {
	bool found;
	enum clash_kind kind;
	size_t later, earlier;
	const struct path_ent *mine, *theirs; /* paths of later / earlier */
	const char *port;
};

static int cmp_cid(const void *a, const void *b)
{
	const struct cid_ent *x = a, *y = b;

	if (x->cid != y->cid)
		return x->cid < y->cid ? -1 : 1;
	return x->vm < y->vm ? -1 : x->vm > y->vm;
}

static int cmp_path(const void *a, const void *b)
{
	const struct path_ent *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	if (x->vm != y->vm)
		return x->vm < y->vm ? -1 : 1;
	return (int)x->key - (int)y->key;
}

static void keep_first(struct clash *best, const struct clash *c)
{
	if (!best->found || c->later < best->later)
		*best = *c;
}

static void find_cid_clash(const struct vm_config *vms, size_t n, struct cid_ent *ents,
			   struct clash *best)
{
	size_t i, first = 0;

	for (i = 0; i < n; i++)
		ents[i] = (struct cid_ent){ vms[i].guest_cid, i };
	qsort(ents, n, sizeof(*ents), cmp_cid);
	for (i = 1; i < n; i++) {
		if (ents[i].cid != ents[first].cid) {
			first = i;
			continue;
		}
		keep_first(best, &(struct clash){ .found = true, .kind = CLASH_CID,
						  .later = ents[i].vm, .earlier = ents[first].vm });
	}
}

static void find_path_clash(const struct path_ent *ents, size_t m, struct clash *best)
{
	size_t i, first = 0;

	for (i = 1; i < m; i++) {
		if (strcmp(ents[i].path, ents[first].path) != 0) {
			first = i;
			continue;
		}
		/* One VM's socket == uds-path is cfg_check_vm()'s to report. */
		if (ents[i].vm == ents[first].vm)
			continue;
		keep_first(best, &(struct clash){ .found = true, .kind = CLASH_PATH,
						  .later = ents[i].vm, .earlier = ents[first].vm,
						  .mine = &ents[i], .theirs = &ents[first] });
	}
}

/* Finds a uds-path entry equal to the first len bytes of path. */
static const struct path_ent *find_uds(const struct path_ent *const *uds, size_t n,
				       const char *path, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(path, uds[mid]->path, len);

		if (c == 0 && uds[mid]->path[len] != '\0')
			c = -1; /* uds is longer than the prefix: it sorts after */
		if (c == 0)
			return uds[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * The UDS backend connects to "<uds-path>_<port>" for a guest connection
 * to that port, so no socket the daemon listens on may have such a name.
 */
static void find_port_clash(const struct path_ent *ents, size_t m,
			    const struct path_ent **uds, struct clash *best)
{
	size_t i, n_uds = 0;

	for (i = 0; i < m; i++)
		if (ents[i].key == VM_KEY_UDS_PATH)
			uds[n_uds++] = &ents[i]; /* still sorted by path */
	for (i = 0; i < m; i++) {
		const char *p = ents[i].path, *us = strrchr(p, '_'), *d;
		const struct path_ent *u;

		if (!us || us[1] == '\0')
			continue;
		for (d = us + 1; *d >= '0' && *d <= '9'; d++)
			;
		if (*d != '\0')
			continue;
		u = find_uds(uds, n_uds, p, (size_t)(us - p));
		if (!u)
			continue;
		if (ents[i].vm >= u->vm)
			keep_first(best, &(struct clash){ .found = true, .kind = CLASH_PORT_MINE,
							  .later = ents[i].vm, .earlier = u->vm,
							  .mine = &ents[i], .theirs = u,
							  .port = us + 1 });
		else
			keep_first(best, &(struct clash){ .found = true, .kind = CLASH_PORT_THEIRS,
							  .later = u->vm, .earlier = ents[i].vm,
							  .mine = u, .theirs = &ents[i],
							  .port = us + 1 });
	}
}

static int report_clash(const struct vm_spec *specs, const struct clash *c, struct cfg_err *e)
{
	const struct vm_spec *s = &specs[c->later];
	char other[64];

	if (c->later == c->earlier)
		snprintf(other, sizeof(other), "this VM");
	else
		vm_spec_ref(&specs[c->earlier], other, sizeof(other));
	switch (c->kind) {
	case CLASH_CID:
		return vm_errf(e, s, VM_KEY_GUEST_CID, "guest-cid %" PRIu64 " is already used by %s",
			       s->cid, other);
	case CLASH_PATH:
		/* Binding a path replaces the socket an fd there listens on. */
		if (c->mine->key == VM_KEY_SOCKET_FD)
			return vm_errf(e, s, VM_KEY_SOCKET_FD,
				       "%s %s is bound to '%s', which is the %s of %s: one of them "
				       "would take the other's socket",
				       vm_key_disp(s, VM_KEY_SOCKET_FD),
				       s->v[VM_KEY_SOCKET_FD].value, c->mine->path,
				       vm_key_name(c->theirs->key), other);
		if (c->theirs->key == VM_KEY_SOCKET_FD)
			return vm_errf(e, s, c->mine->key,
				       "%s '%s' is the path socket-fd %s of %s is bound to: "
				       "binding it would take that VM's socket",
				       vm_key_disp(s, c->mine->key), c->mine->path,
				       specs[c->earlier].v[VM_KEY_SOCKET_FD].value, other);
		return vm_errf(e, s, c->mine->key, "%s '%s' is already used as the %s of %s",
			       vm_key_disp(s, c->mine->key), c->mine->path,
			       vm_key_name(c->theirs->key), other);
	case CLASH_PORT_MINE:
		return vm_errf(e, s, c->mine->key,
			       "%s '%s' collides with the uds-path '%s' of %s: "
			       "guest connections to port %s go to '%s'",
			       vm_key_disp(s, c->mine->key), c->mine->path, c->theirs->path, other,
			       c->port, c->mine->path);
	case CLASH_PORT_THEIRS:
	default:
		return vm_errf(e, s, VM_KEY_UDS_PATH,
			       "%s '%s' collides with the %s '%s' of %s: "
			       "guest connections to port %s would go to '%s'",
			       vm_key_disp(s, VM_KEY_UDS_PATH), c->mine->path,
			       vm_key_name(c->theirs->key), c->theirs->path, other, c->port,
			       c->theirs->path);
	}
}

/* One socket serves one VM: two VMs on one fd would fight over its
 * frontends. Pairwise, over the socket-fd VMs only (each holds a distinct
 * open descriptor, so there are few). */
static int check_socket_fds_unique(const struct vm_spec *specs, const struct vm_config *vms,
				   size_t n, struct cfg_err *e)
{
	char other[64];

	for (size_t i = 0; i < n; i++) {
		if (!vms[i].has_socket_fd)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!vms[j].has_socket_fd || vms[j].socket_fd != vms[i].socket_fd)
				continue;
			vm_spec_ref(&specs[j], other, sizeof(other));
			return vm_errf(e, &specs[i], VM_KEY_SOCKET_FD,
				       "%s %d is already used by %s (one socket per VM)",
				       vm_key_disp(&specs[i], VM_KEY_SOCKET_FD), vms[i].socket_fd,
				       other);
		}
	}
	return 0;
}

int cfg_check_unique(const struct vm_spec *specs, const struct vm_config *vms, size_t n,
		     struct cfg_err *e)
{
	struct clash best = { .found = false };
	struct cid_ent *cids = calloc(n ? n : 1, sizeof(*cids));
	struct path_ent *paths = calloc(3 * n + 1, sizeof(*paths));
	const struct path_ent **uds = calloc(n + 1, sizeof(*uds));
	size_t i, m = 0;
	int r = 0;

	if (!cids || !paths || !uds) {
		cfg_errf(e, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	/* CIDs first: a VM listed twice is then reported as such, not by
	 * its paths. */
	find_cid_clash(vms, n, cids, &best);
	/* Then one fd named twice, rather than by the path it is bound to. */
	if (!best.found && (r = check_socket_fds_unique(specs, vms, n, e)) != 0)
		goto out;
	if (!best.found) {
		for (i = 0; i < n; i++) {
			if (vms[i].socket)
				paths[m++] = (struct path_ent){ vms[i].socket, i, VM_KEY_SOCKET };
			if (vms[i].uds_path)
				paths[m++] = (struct path_ent){ vms[i].uds_path, i, VM_KEY_UDS_PATH };
			/* Another VM binding that path would replace the socket
			 * this one serves. */
			if (vms[i].socket_fd_path)
				paths[m++] = (struct path_ent){ vms[i].socket_fd_path, i,
								VM_KEY_SOCKET_FD };
		}
		qsort(paths, m, sizeof(*paths), cmp_path);
		find_path_clash(paths, m, &best);
	}
	if (!best.found)
		find_port_clash(paths, m, uds, &best);
	if (best.found)
		r = report_clash(specs, &best, e);
out:
	free(cids);
	free(paths);
	free(uds);
	return r;
}

int cfg_parse_socket_mode(const struct vm_spec *s, const char *text, uint32_t *mode,
			  struct cfg_err *e)
{
	const char *k = vm_key_disp(s, VM_KEY_SOCKET_MODE);
	size_t n = strlen(text);
	uint32_t v = 0;

	/* Octal digits only, as chmod(1) takes them: no sign, no "0o". */
	if (n == 0 || n > 5 || strspn(text, "01234567") != n)
		return vm_errf(e, s, VM_KEY_SOCKET_MODE,
			       "%s: '%s' is not an octal mode (e.g. 0660)", k, text);
	for (size_t i = 0; i < n; i++)
		v = v * 8 + (uint32_t)(text[i] - '0');
	/* setuid, setgid and sticky mean nothing on a socket. */
	if (v > 0777)
		return vm_errf(e, s, VM_KEY_SOCKET_MODE,
			       "%s %s is out of range 0..0777 (permission bits only)", k, text);
	*mode = v;
	return 0;
}

int cfg_parse_socket_group(const struct vm_spec *s, const char *text, gid_t *gid,
			   struct cfg_err *e)
{
	const char *k = vm_key_disp(s, VM_KEY_SOCKET_GROUP);
	struct group gr, *res = NULL;
	size_t cap = 4096;
	char *buf;
	uint64_t n;
	int r;

	if (text[0] >= '0' && text[0] <= '9') {
		/* A number is a gid, as chown(1) takes it; it need not be in
		 * the group database. (gid_t)-1 means "no change" to chown. */
		if (cfg_parse_u64(text, &n) < 0 || n >= (gid_t)-1)
			return vm_errf(e, s, VM_KEY_SOCKET_GROUP,
				       "%s: '%s' is neither a group name nor a gid "
				       "(0..4294967294)", k, text);
		*gid = (gid_t)n;
		return 0;
	}
	/* A group with many members needs a larger buffer (ERANGE). */
	for (;;) {
		buf = malloc(cap);
		if (!buf)
			return cfg_errf(e, "out of memory");
		r = getgrnam_r(text, &gr, buf, cap, &res);
		if (r == 0 && res)
			*gid = res->gr_gid;
		free(buf);
		if (r != ERANGE || cap >= (1u << 20))
			break;
		cap *= 2;
	}
	if (r != 0)
		return vm_errf(e, s, VM_KEY_SOCKET_GROUP, "%s '%s': cannot look the group up: %s",
			       k, text, strerror(r));
	if (!res)
		return vm_errf(e, s, VM_KEY_SOCKET_GROUP, "%s '%s': no such group", k, text);
	return 0;
}

int cfg_check_socket_fd(const struct vm_spec *s, uint64_t fd, char **path, struct cfg_err *e)
{
	const char *k = vm_key_disp(s, VM_KEY_SOCKET_FD);
	struct sockaddr_un sa;
	socklen_t len = sizeof(int);
	int v = 0, d;

	*path = NULL;
	if (fd > INT_MAX)
		return vm_errf(e, s, VM_KEY_SOCKET_FD,
			       "%s %" PRIu64 " is not a file descriptor number (0..%d)", k, fd,
			       INT_MAX);
	d = (int)fd;
	if (fcntl(d, F_GETFD) < 0)
		return vm_errf(e, s, VM_KEY_SOCKET_FD,
			       "%s %d: descriptor %d is not open (it must be inherited, without "
			       "close-on-exec)", k, d, d);
	if (getsockopt(d, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
		return vm_errf(e, s, VM_KEY_SOCKET_FD, "%s %d: descriptor %d is not a socket (%s)",
			       k, d, d, strerror(errno));
	if (v != AF_UNIX)
		return vm_errf(e, s, VM_KEY_SOCKET_FD,
			       "%s %d: descriptor %d is not a Unix socket (address family %d)", k,
			       d, d, v);
	len = sizeof(v);
	if (getsockopt(d, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM)
		return vm_errf(e, s, VM_KEY_SOCKET_FD,
			       "%s %d: descriptor %d is not a stream socket (SOCK_STREAM)", k, d, d);
	len = sizeof(v);
	if (getsockopt(d, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
		return vm_errf(e, s, VM_KEY_SOCKET_FD,
			       "%s %d: descriptor %d is not listening (call listen() on it first)",
			       k, d, d);
	memset(&sa, 0, sizeof(sa));
	len = sizeof(sa);
	/* An abstract or unnamed socket has no path to compare. */
	if (getsockname(d, (struct sockaddr *)&sa, &len) == 0 &&
	    len > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0]) {
		*path = strndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
		if (!*path)
			return cfg_errf(e, "out of memory");
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The set of VMs, created at start and changed by reloads; see vm_set.h. */
#include "daemon/vm_set.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

void vm_set_init(struct vm_set *s, struct worker_pool *pool)
{
	memset(s, 0, sizeof(*s));
	s->pool = pool;
	pthread_mutex_init(&s->lock, NULL);
}

void vm_set_lock(struct vm_set *s)
{
	pthread_mutex_lock(&s->lock);
}

void vm_set_unlock(struct vm_set *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* A slot owning entry's contents; entry is left zeroed (config_free then
 * frees nothing of it). */
static struct vm_slot *slot_new(struct vm_config *entry)
{
	struct vm_slot *sl = calloc(1, sizeof(*sl));

	if (!sl)
		return NULL;
	sl->cfg = *entry;
	memset(entry, 0, sizeof(*entry));
	return sl;
}

static void slot_free(struct vm_slot *sl)
{
	vm_config_free(&sl->cfg);
	free(sl);
}

static unsigned long long cid_of(const struct vm_slot *sl)
{
	return (unsigned long long)sl->cfg.guest_cid;
}

/* Destroys every VM of v, each on its worker while the others run (a
 * sibling is found and handed its request under the registry lock, so a
 * VM may go while others connect to it). A VM whose worker did not answer
 * keeps its memory, in s->stuck. */
static void stop_slots(struct vm_set *s, struct vm_slot **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct vm_slot **grown;

		vm_destroy(&v[i]->vm);
		if (!v[i]->vm.stuck) {
			slot_free(v[i]);
			continue;
		}
		grown = realloc(s->stuck, (s->n_stuck + 1) * sizeof(*grown));
		if (grown) {
			s->stuck = grown;
			s->stuck[s->n_stuck++] = v[i];
		}
		/* else: leaked on purpose, the worker may still use it. */
	}
}

/* A VM's socket-fd, served from now on: not inherited by anything we
 * might start (config/ checked that it is an open, listening socket). */
static int socket_fd_take(const struct vm_config *vm)
{
	int flags = fcntl(vm->socket_fd, F_GETFD);

	if (flags >= 0)
		(void)fcntl(vm->socket_fd, F_SETFD, flags | FD_CLOEXEC);
	return vm->socket_fd;
}

int vm_set_create(struct vm_set *s, struct vdv_config *cfg, struct activation *act, char *err,
		  size_t errlen)
{
	struct vm_slot **slots = calloc(cfg->n_vms ? cfg->n_vms : 1, sizeof(*slots));
	size_t i;
	int r;

	if (!slots) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* A socket-fd that was also passed by LISTEN_FDS is that VM's: taken
	 * first, so that no other VM claims it by name. */
	for (i = 0; i < cfg->n_vms; i++)
		if (cfg->vms[i].has_socket_fd)
			activation_take_fd(act, cfg->vms[i].socket_fd);
	/* Every socket before any VM is served: a bad path in the last VM
	 * must not leave the first ones half running. */
	for (i = 0; i < cfg->n_vms; i++) {
		struct vm_slot *sl = slot_new(&cfg->vms[i]);
		struct worker *w;
		int fd;

		if (!sl) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
			goto fail;
		}
		fd = sl->cfg.has_socket_fd ? socket_fd_take(&sl->cfg)
					   : activation_take(act, sl->cfg.socket);
		w = worker_pool_pick(s->pool);
		r = vm_init_fd(&sl->vm, &sl->cfg, fd, w, err, errlen);
		if (r < 0) {
			if (fd >= 0)
				close(fd);
			worker_put(w);
			slot_free(sl);
			goto fail;
		}
		slots[i] = sl;
	}
	s->slots = slots;
	s->n = cfg->n_vms;
	return 0;
fail:
	stop_slots(s, slots, i);
	free(slots);
	return r;
}

static void log_listening(const struct vm_slot *sl)
{
	log_info("vm cid %llu: listening on %s%s", cid_of(sl), sl->vm.socket_label,
		 sl->cfg.has_socket_fd	 ? " (inherited)"
		 : sl->vm.listen.adopted ? " (passed by the service manager)"
					 : "");
}

int vm_set_start(struct vm_set *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n; i++) {
		int r = vm_start(&s->slots[i]->vm);

		if (r < 0) {
			snprintf(err, errlen, "vm cid %llu: cannot start serving it: %s",
				 cid_of(s->slots[i]), strerror(-r));
			return r;
		}
		log_listening(s->slots[i]);
	}
	return 0;
}

/* The entry as --print-config writes it (every key, defaults included):
 * a field added to the configuration is compared without being listed
 * here. NULL when it cannot be written (then it counts as changed). */
static char *entry_text(const struct vm_config *vm)
{
	struct vdv_config one = { .vms = (struct vm_config *)vm, .n_vms = 1 };
	char err[256], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return NULL;
	r = config_print_yaml(&one, f, err, sizeof(err));
	if (fclose(f) != 0 || r < 0) {
		free(text);
		return NULL;
	}
	return text;
}

static bool same_entry(const struct vm_config *a, const struct vm_config *b)
{
	char *ta = entry_text(a), *tb = entry_text(b);
	bool same = ta && tb && strcmp(ta, tb) == 0;

	free(ta);
	free(tb);
	return same;
}

/* Creates and starts the VM of entry (moved into its slot) and adds it
 * to the set. false when it could not (logged). */
static bool add_vm(struct vm_set *s, struct vm_config *entry)
{
	unsigned long long cid = (unsigned long long)entry->guest_cid;
	struct vm_slot *sl = slot_new(entry), **grown;
	struct worker *w;
	char err[1024];
	int r;

	if (!sl) {
		log_error("vm cid %llu: not started: out of memory", cid);
		return false;
	}
	w = worker_pool_pick(s->pool);
	r = vm_init(&sl->vm, &sl->cfg, w, err, sizeof(err));
	if (r < 0) {
		log_error("%s; vm cid %llu not started", err, cid);
		if (sl->vm.stuck) {
			stop_slots(s, &sl, 1); /* kept: the worker may still use it */
		} else {
			worker_put(w);
			slot_free(sl);
		}
		return false;
	}
	r = vm_start(&sl->vm);
	vm_set_lock(s);
	grown = r < 0 ? NULL : realloc(s->slots, (s->n + 1) * sizeof(*grown));
	if (grown) {
		s->slots = grown;
		s->slots[s->n++] = sl;
	}
	vm_set_unlock(s);
	if (!grown) {
		log_error("vm cid %llu: not started: %s", cid,
			  r < 0 ? strerror(-r) : "out of memory");
		stop_slots(s, &sl, 1);
		return false;
	}
	log_listening(sl);
	return true;
}

int vm_set_reload(struct vm_set *s, struct vdv_config *next, struct vm_set_diff *diff)
{
	bool *keep = calloc(s->n ? s->n : 1, sizeof(*keep));
	bool *start = calloc(next->n_vms ? next->n_vms : 1, sizeof(*start));
	struct vm_slot **gone = calloc(s->n ? s->n : 1, sizeof(*gone));
	size_t n_gone = 0, n_keep = 0;
	int r = 0;

	memset(diff, 0, sizeof(*diff));
	if (!keep || !start || !gone) {
		log_error("SIGHUP: not reloaded, nothing changed: out of memory");
		r = -ENOMEM;
		goto out;
	}
	/* Match by CID: the configuration has each CID at most once. */
	for (size_t j = 0; j < next->n_vms; j++) {
		size_t i;

		for (i = 0; i < s->n; i++)
			if (s->slots[i]->cfg.guest_cid == next->vms[j].guest_cid)
				break;
		if (i == s->n) {
			start[j] = true;
			diff->added++;
		} else if (same_entry(&s->slots[i]->cfg, &next->vms[j])) {
			keep[i] = true;
			diff->kept++;
		} else {
			start[j] = true;
			diff->restarted++;
		}
	}
	diff->removed = s->n - diff->kept - diff->restarted;
	/* An inherited descriptor belongs to the VM that was started with it
	 * (its destroy closes it): it cannot serve a new or changed VM. */
	for (size_t j = 0; j < next->n_vms; j++)
		if (start[j] && next->vms[j].has_socket_fd) {
			log_error("SIGHUP: not reloaded, nothing changed: vm cid %llu has socket-fd "
				  "%d, which only a VM started with the daemon can use (a reload "
				  "may keep such a VM unchanged, not add or change it)",
				  (unsigned long long)next->vms[j].guest_cid, next->vms[j].socket_fd);
			memset(diff, 0, sizeof(*diff));
			r = -EINVAL;
			goto out;
		}

	/* Out of the set first (readers stop seeing them), then stopped
	 * without the lock: a stop may wait for a thread. */
	vm_set_lock(s);
	for (size_t i = 0; i < s->n; i++) {
		if (keep[i])
			s->slots[n_keep++] = s->slots[i];
		else
			gone[n_gone++] = s->slots[i];
	}
	s->n = n_keep;
	vm_set_unlock(s);
	for (size_t i = 0; i < n_gone; i++)
		log_info("vm cid %llu: stopping (reload)", cid_of(gone[i]));
	/* Their socket paths are free before a changed VM binds its own. */
	stop_slots(s, gone, n_gone);

	for (size_t j = 0; j < next->n_vms; j++)
		if (start[j] && !add_vm(s, &next->vms[j]))
			diff->failed++;
out:
	free(keep);
	free(start);
	free(gone);
	return r;
}

bool vm_set_destroy(struct vm_set *s)
{
	struct vm_slot **slots;
	size_t n;

	vm_set_lock(s);
	slots = s->slots;
	n = s->n;
	s->slots = NULL;
	s->n = 0;
	vm_set_unlock(s);
	/* The threads first: then no VM runs while any is destroyed. */
	worker_pool_stop(s->pool);
	stop_slots(s, slots, n);
	free(slots);
	return s->n_stuck == 0;
}

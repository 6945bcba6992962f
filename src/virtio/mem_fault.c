/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "virtio/mem_fault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

/* The calling thread's attached memories, linked through fault_next.
 * initial-exec: a TLS access in a signal handler must not allocate. The
 * list changes only in this thread, outside any guest memory access, so
 * the handler (which runs on the faulting thread) never sees it half
 * changed; the signal fences keep the compiler from reordering. */
static __thread struct guest_mem *tls_gms __attribute__((tls_model("initial-exec")));

/* Who had SIGBUS before us; written under install_lock before ours is
 * installed, read by the handler. */
static struct sigaction prev_action;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* Hands a SIGBUS that is not ours to whoever had it before. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	if (prev_action.sa_flags & SA_SIGINFO) {
		prev_action.sa_sigaction(sig, si, uc);
		return;
	}
	/* SIG_IGN is no answer to a fault (the access would repeat forever):
	 * treated as the default. */
	if (prev_action.sa_handler != SIG_DFL && prev_action.sa_handler != SIG_IGN) {
		prev_action.sa_handler(sig);
		return;
	}
	/* Default: returning repeats the access, which faults again and now
	 * kills the process with SIGBUS (and its core dump), as without us. */
	signal(SIGBUS, SIG_DFL);
}

/* Zero pages over the region of gm holding address a; true when it did. */
static bool rescue(struct guest_mem *gm, uintptr_t a)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		struct gm_region *r = &gm->regions[i];
		uintptr_t base = (uintptr_t)r->map_base;
		void *p;

		if (a < base || a - base >= r->map_len)
			continue;
		/* mmap is a plain system call (no lock, no allocation), safe
		 * here in practice (libwayland's shm does this). */
		p = mmap(r->map_base, r->map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return false;
		if (!gm->faulted) {
			gm->fault_gpa = a >= (uintptr_t)r->host ? r->gpa + (a - (uintptr_t)r->host)
								 : r->gpa;
			gm->fault_region_gpa = r->gpa;
			gm->fault_region_size = r->size;
			gm->faulted = 1;
		}
		return true;
	}
	return false;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	uintptr_t a = (uintptr_t)si->si_addr;

	/* si_code <= 0: sent by kill() or sigqueue(), not by a fault. */
	if (si->si_code > 0)
		for (struct guest_mem *gm = tls_gms; gm; gm = gm->fault_next)
			if (rescue(gm, a)) {
				errno = saved_errno;
				return;
			}
	chain(sig, si, uc);
	errno = saved_errno;
}

int gm_fault_attach(struct guest_mem *gm)
{
	struct sigaction sa, cur;
	int r = 0;

	/* (Re)installed whenever someone else holds SIGBUS (a test harness
	 * or library may have replaced ours): theirs becomes the one that
	 * faults outside guest memory go to. Never ours, or such a fault
	 * would loop. */
	pthread_mutex_lock(&install_lock);
	if (sigaction(SIGBUS, NULL, &cur) < 0) {
		r = -errno;
	} else if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != on_sigbus) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		/* SA_NODEFER: a fault in the handler itself (none expected)
		 * is not held pending forever. */
		sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		prev_action = cur;
		if (sigaction(SIGBUS, &sa, NULL) < 0)
			r = -errno;
	}
	pthread_mutex_unlock(&install_lock);
	if (r == 0 && gm && !gm->fault_attached) {
		gm->fault_next = tls_gms;
		atomic_signal_fence(memory_order_seq_cst);
		tls_gms = gm;
		gm->fault_attached = true;
	}
	return r;
}

void gm_fault_detach(struct guest_mem *gm)
{
	if (!gm || !gm->fault_attached)
		return;
	for (struct guest_mem **p = &tls_gms; *p; p = &(*p)->fault_next)
		if (*p == gm) {
			*p = gm->fault_next;
			break;
		}
	atomic_signal_fence(memory_order_seq_cst);
	gm->fault_next = NULL;
	gm->fault_attached = false;
}

bool gm_fault_take(struct guest_mem *gm, struct gm_fault *f)
{
	if (!gm->faulted)
		return false;
	f->gpa = gm->fault_gpa;
	f->region_gpa = gm->fault_region_gpa;
	f->region_size = gm->fault_region_size;
	gm->faulted = 0;
	return true;
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The seccomp allowlist; see sandbox.h.
 *
 * Why SECCOMP_RET_TRAP and a SIGSYS handler, not SECCOMP_RET_KILL_PROCESS:
 * a process killed by the kernel cannot say why, and the audit log that
 * records SECCOMP_RET_KILL_PROCESS is often out of a user's reach (no
 * auditd, a container). With TRAP the forbidden call does not run either,
 * so the protection is the same; the kernel sends SIGSYS to the calling
 * thread instead, and the handler writes one line with write(2) (async-
 * signal-safe; the name comes from a table filled before the filter is
 * loaded, as libseccomp's lookup allocates) and then makes the process die
 * by SIGSYS, which is what KILL_PROCESS would have done: the supervisor sees
 * the same signal (systemd: "status=31/SYS"), and a core dump if enabled.
 * The handler is installed with SA_RESETHAND, so the SIGSYS it raises on
 * itself takes the default action once it is unblocked.
 *
 * Kernel-level KILL_PROCESS remains for what the handler cannot cover: a
 * call made under another ABI (i386 int 0x80, x32) is a bad architecture
 * for the filter and kills at once. A thread that blocked SIGSYS would also
 * die (the kernel forces a blocked SIGSYS back to its default action); none
 * of ours does.
 */
#include "daemon/sandbox.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "util/log.h"

/*
 * Allowed with any arguments (found by running the unit, integration and
 * e2e suites, ASan build included, with VDV_SANDBOX_LOG=1, plus what the
 * code visibly calls). What needs each group:
 *  - I/O on the fds we hold: vhost-user messages with SCM_RIGHTS (recvmsg,
 *    sendmsg), kick/call eventfds, guest data to host sockets (readv,
 *    writev, recvfrom with MSG_PEEK for SEQPACKET sizes, sendto), the
 *    signalfd and --exit-with-fd of lifetime.c, NOTIFY_SOCKET (sendto).
 *  - Connections made at run time: accept4 (VMM, uds-path and forward-listen
 *    clients), connect (uds-path <path>_<port>, forward-cid), bind (the
 *    AF_VSOCK test shim binds before connect, as vsock does implicitly;
 *    binding an AF_UNIX or AF_VSOCK socket gives no privilege), the socket
 *    options and addresses, shutdown. socket() and socketpair() have their
 *    own rules below (address family).
 *  - The event loop: epoll, eventfd, timerfd and POSIX timers (for timers
 *    kept in the kernel rather than in the loop's heap), clocks and the
 *    sleeps of the polling window.
 *  - Memory: guest memory mapped from the VMM's fds and unmapped at reset
 *    (mmap, munmap), malloc (brk, mmap, mremap, madvise), thread stacks
 *    (mprotect for the guard page).
 *  - File metadata without opening for writing: fstat (and fstatfs, e.g.
 *    for hugetlbfs) on received fds (the memory regions), fcntl (F_GETFL/F_SETFL, F_DUPFD_CLOEXEC, F_GET_SEALS
 *    of memfds), lstat/unlink of our socket paths at shutdown (unix_socket.c
 *    unlinks a path only if it is still ours), readlink(at) for
 *    /proc/self/fd. openat is below (read-only or O_PATH).
 *  - Threads and signals: futex, sched_yield (polling), robust lists, rseq,
 *    signal masks and handlers, sigaltstack (the sanitizers' handlers),
 *    exit/exit_group, restart_syscall after a stop signal.
 *  - What glibc and the ASan/UBSan runtime call on their own: getpid,
 *    gettid, getrandom (malloc), sched_getaffinity, prctl (below: read-only
 *    options), getrlimit (prlimit64 without a new limit, below).
 */
static const char *const allowed[] = {
	/* I/O on fds we hold */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg", "close",
	"lseek", "dup", "dup2", "dup3", "pipe2", "close_range",
	/* sockets made at run time */
	"accept", "accept4", "connect", "bind", "listen", "shutdown", "getsockopt",
	"setsockopt", "getsockname", "getpeername",
	/* event loop, clocks */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll",
	"ppoll", "select", "pselect6", "eventfd2", "timerfd_create", "timerfd_settime",
	"timerfd_gettime", "timer_create", "timer_settime", "timer_gettime", "timer_delete",
	"timer_getoverrun", "signalfd4", "clock_gettime", "clock_getres", "clock_nanosleep",
	"nanosleep", "gettimeofday", "time",
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	/* metadata, no new file */
	"fstat", "newfstatat", "statx", "lstat", "stat", "fstatfs", "fcntl", "readlink",
	"readlinkat", "unlink", "unlinkat", "access", "faccessat", "faccessat2",
	/* socket-mode / socket-group of a VM a reload (SIGHUP) adds: only the
	 * metadata of files this user may change anyway */
	"chmod", "fchmodat", "lchown", "fchownat",
	/* threads, signals, exit */
	"futex", "sched_yield", "set_robust_list", "get_robust_list", "rseq",
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "rt_sigtimedwait", "rt_sigpending",
	"sigaltstack", "exit", "exit_group", "restart_syscall",
	/* libc and sanitizer runtime */
	"getpid", "gettid", "getrandom", "sched_getaffinity", "getuid", "geteuid",
	"getgid", "getegid", "uname",
};

/*
 * Sanitizer builds only (ASan's LeakSanitizer, at exit): the leak check
 * stops the world from a helper task made with clone() without
 * CLONE_THREAD, which attaches to every thread with ptrace, waits for
 * them and checks its parent with getppid; the helper blocks all signals,
 * so a trapped call there would kill without a message. Allowing these in
 * a sanitizer build keeps the filter on in the tests (they exercise it)
 * while the leak check still runs; a release build never allows them.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifdef SANDBOX_SANITIZER
static const char *const allowed_sanitizer[] = {
	"clone", "ptrace", "wait4", "waitid", "getppid", "prctl", "getdents", "getdents64",
	"kill", "tkill", "tgkill", "arch_prctl",
};
#endif

/* ioctls: the byte counts of a socket, non-blocking mode, and the terminal
 * query stdio makes on stderr/stdout (isatty). */
static const unsigned long allowed_ioctls[] = { FIONREAD, FIONBIO, SIOCOUTQ, TCGETS };

/* Names for the handler, resolved before the filter: seccomp_syscall_resolve_
 * num_arch() allocates, which a signal handler must not. Syscall numbers of
 * x86_64 and aarch64 stay below this; a larger one is printed as "?". */
#define SANDBOX_MAX_NR 512
#define SANDBOX_NAME_LEN 24
static char syscall_names[SANDBOX_MAX_NR][SANDBOX_NAME_LEN];
/* VDV_SANDBOX_LOG: report and carry on with ENOSYS instead of dying. */
static volatile sig_atomic_t log_only;

static void fill_names(void)
{
	for (int nr = 0; nr < SANDBOX_MAX_NR; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name) {
			snprintf(syscall_names[nr], SANDBOX_NAME_LEN, "%s", name);
			free(name);
		}
	}
}

/* Async-signal-safe appends (no snprintf in the handler). */
static size_t put_str(char *buf, size_t used, size_t cap, const char *s)
{
	while (*s && used + 1 < cap)
		buf[used++] = *s++;
	buf[used] = '\0';
	return used;
}

static size_t put_int(char *buf, size_t used, size_t cap, long v)
{
	char digits[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do
		digits[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < sizeof(digits));
	if (v < 0 && used + 1 < cap)
		buf[used++] = '-';
	while (n && used + 1 < cap)
		buf[used++] = digits[--n];
	buf[used] = '\0';
	return used;
}

/* Sets the trapped call's return value, for VDV_SANDBOX_LOG. */
static void set_return(void *uc_void, long value)
{
	ucontext_t *uc = uc_void;

#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = value;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)value;
#else
	(void)uc;
	(void)value;
#endif
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	int saved = errno, nr = si->si_syscall;
	char line[256];
	size_t n = 0;
	sigset_t set;

	n = put_str(line, n, sizeof(line), "vhost-device-vsock: sandbox: system call ");
	n = put_int(line, n, sizeof(line), nr);
	n = put_str(line, n, sizeof(line), " (");
	n = put_str(line, n, sizeof(line),
		    nr >= 0 && nr < SANDBOX_MAX_NR && syscall_names[nr][0] ? syscall_names[nr]
									   : "?");
	n = put_str(line, n, sizeof(line),
		    log_only ? ") is not allowed; VDV_SANDBOX_LOG is set: it fails with ENOSYS\n"
			     : ") is not allowed; run with --sandbox none and report this\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nothing else to tell it with. */
	}
	if (log_only) {
		set_return(uc, -ENOSYS);
		errno = saved;
		return;
	}
	/* SA_RESETHAND made SIGSYS's action the default again: send it to this
	 * thread (it stays pending while the handler blocks it), then unblock
	 * it. The process dies here, as with SECCOMP_RET_KILL_PROCESS. */
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	_exit(128 + sig); /* not reached */
}

static int install_handler(char *err, size_t errlen)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | (log_only ? 0 : SA_RESETHAND);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, errlen, "sandbox: cannot install the SIGSYS handler: %s",
			 strerror(errno));
		return -errno;
	}
	/* A thread inherits its creator's mask: make sure SIGSYS reaches the
	 * handler in every thread started from here on. */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

/* Adds one rule unless an earlier one failed (r keeps the first error). */
#define RULE(action, name, ...)                                                            \
	do {                                                                               \
		if (r == 0)                                                                \
			r = seccomp_rule_add(ctx, action, SCMP_SYS(name), __VA_ARGS__);    \
	} while (0)

/* The rules that look at arguments. */
static int add_arg_rules(scmp_filter_ctx ctx, pid_t self)
{
	/* Writable opens could create or change files; reading (the clock's
	 * zone file, /proc/self) and O_PATH (a socket path to connect to
	 * through /proc/self/fd) cannot. */
	const scmp_datum_t wr = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
	int r = 0;

	/* Host sockets: AF_UNIX (uds-path, NOTIFY_SOCKET) and AF_VSOCK
	 * (forward-cid); no network, no netlink, no raw sockets. */
	RULE(SCMP_ACT_ALLOW, socket, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	RULE(SCMP_ACT_ALLOW, socket, 1, SCMP_A0(SCMP_CMP_EQ, AF_VSOCK));
	/* Sibling connections. */
	RULE(SCMP_ACT_ALLOW, socketpair, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	RULE(SCMP_ACT_ALLOW, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wr, 0));
	/* open(2) exists on x86_64, not on aarch64. */
	if (seccomp_syscall_resolve_name("open") >= 0)
		RULE(SCMP_ACT_ALLOW, open, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, wr, 0));
	/* Threads only (pthread_create): nothing here forks or execs. clone3
	 * passes its flags in memory the filter cannot read: ENOSYS makes
	 * glibc fall back to clone. */
	RULE(SCMP_ACT_ALLOW, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	RULE(SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
	/* Signals to this process only: raise(), abort(), pthread_kill, and
	 * the SIGSYS handler's own death. */
	RULE(SCMP_ACT_ALLOW, tgkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	for (size_t i = 0; i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++)
		RULE(SCMP_ACT_ALLOW, ioctl, 1, SCMP_A1(SCMP_CMP_EQ, allowed_ioctls[i]));
	/* Queries and the thread's name only (the sanitizers read
	 * PR_GET_DUMPABLE; pthread_setname_np writes PR_SET_NAME). */
	RULE(SCMP_ACT_ALLOW, prctl, 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_DUMPABLE));
	RULE(SCMP_ACT_ALLOW, prctl, 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
	RULE(SCMP_ACT_ALLOW, prctl, 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	/* getrlimit as glibc makes it: prlimit64(0, res, NULL, old). Limits
	 * are set at start-up only, before the filter. */
	RULE(SCMP_ACT_ALLOW, prlimit64, 2, SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));
	return r;
}

static int build_and_load(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	const char *step = "seccomp_init";
	int r = -ENOMEM;

	if (!ctx)
		goto fail;
	step = "filter attributes";
	/* Another ABI's calls (int 0x80, x32) are not in the list: they kill at
	 * once, in every thread. TSYNC: every thread gets the filter, should
	 * one have started before us. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* VDV_SANDBOX_LOG: the kernel logs every trapped call too (dmesg, or
	 * the audit log: "type=1326 ... syscall=N"), which reaches even a task
	 * that blocks SIGSYS, such as LeakSanitizer's helper. */
	if (r == 0 && log_only)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (r < 0)
		goto fail;
	step = "a rule";
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		/* Not a system call of this architecture (lstat on aarch64). */
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			goto fail;
	}
#ifdef SANDBOX_SANITIZER
	for (size_t i = 0; i < sizeof(allowed_sanitizer) / sizeof(allowed_sanitizer[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed_sanitizer[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			goto fail;
	}
#endif
	r = add_arg_rules(ctx, getpid());
	if (r < 0)
		goto fail;
	step = "seccomp_load";
	r = seccomp_load(ctx);
	if (r < 0)
		goto fail;
	seccomp_release(ctx);
	/* Building the filter took ~150 KiB of heap that is free now: give
	 * it back rather than keep it resident for the daemon's life. */
	malloc_trim(0);
	return 0;
fail:
	snprintf(err, errlen, "sandbox: %s failed: %s (run with --sandbox none to go without)",
		 step, strerror(-r));
	seccomp_release(ctx);
	return r;
}

int sandbox_apply(enum vdv_sandbox mode, char *err, size_t errlen)
{
	const char *lg = getenv("VDV_SANDBOX_LOG");
	int r;

	if (mode == VDV_SANDBOX_NONE)
		return 0;
	log_only = lg && strcmp(lg, "1") == 0;
	fill_names();
	/* Explicit, though seccomp_load sets it too: it is part of the promise
	 * (no setuid binary can regain privilege), not a detail of the loader. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "sandbox: cannot set no_new_privs: %s", strerror(errno));
		return r;
	}
	r = install_handler(err, errlen);
	if (r < 0)
		return r;
	r = build_and_load(err, errlen);
	if (r < 0)
		return r;
	if (log_only)
		log_warn("sandbox: VDV_SANDBOX_LOG=1: forbidden system calls are logged and fail "
			 "with ENOSYS instead of stopping the daemon");
	return 0;
}

void sandbox_selftest_if_asked(void)
{
	const char *v = getenv("VDV_SANDBOX_SELFTEST");

	if (!v || strcmp(v, "1") != 0)
		return;
	/* syslog(SYSLOG_ACTION_SIZE_BUFFER) only reads a size, should the
	 * sandbox be off; no libc or sanitizer path makes it. */
	log_warn("sandbox: VDV_SANDBOX_SELFTEST=1: making a forbidden system call (syslog)");
	syscall(SYS_syslog, 10, NULL, 0);
}

/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * test-forward: the daemon's AF_VSOCK forwarding backend (--forward-cid,
 * --forward-listen), end to end. The simulator plays the VMM and the guest
 * driver over the daemon's vhost-user socket; AF_VSOCK peers on CID 1
 * (vsock_loopback) play the host's applications.
 *
 * It opens AF_VSOCK sockets, so it runs ONLY inside the e2e guest (a QEMU
 * guest whose kernel has vsock_loopback loaded) or under the AF_VSOCK shim:
 * on a real host, CID 2 may be a hypervisor and AF_VSOCK traffic would leave
 * the machine. main() refuses to run unless the kernel command line carries
 * the e2e harness's "vdv.scenario=" (tests/e2e/test-forward.sh boots such a
 * guest) or vsock_shim.c is preloaded into this process (run-shim.sh, meson
 * test 'forward_shim'). Under the shim, AF_VSOCK sockets are AF_UNIX ones in
 * $VDV_VSOCK_SHIM_DIR, the daemons get the same LD_PRELOAD, and the library
 * must load (dlopen) before each daemon starts, so that no daemon runs
 * without it; and, should one all the same, a seccomp filter this process
 * installs and every daemon inherits makes the kernel refuse
 * socket(AF_VSOCK) (the shim never passes AF_VSOCK on, so the filter does
 * not fire otherwise). The cases that unload kernel modules are skipped, and
 * peer_cid_refused runs only there (only the shim lets a peer have a CID
 * other than 1), as does seqpacket_no_peek (the shim plays a kernel whose
 * vsock cannot peek a SEQPACKET message; in the e2e guest the kernel
 * decides). The shim answers recv as AF_VSOCK does where AF_UNIX differs
 * (zero-length reads), but cannot carry MSG_EOR: the seqpacket cases check
 * it in the e2e guest only.
 *
 * Usage: test-forward DAEMON [--module-checks] [--only NAME[+NAME...]]
 *   --module-checks  also unload the vsock modules (rmmod) to check the
 *                    daemon's start-up errors, then load them again from
 *                    /lib/modules/vdv in /etc/vdv/modules order
 * Output: one line per case ("ok", "FAIL", "SKIP" with the reason), the
 * daemon's log (VDV_LOG=debug) after a failing case, and a last line
 * "forward: N passed, N failed, N skipped". Exit status 0 iff none failed.
 */
#include "fwd.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim_daemon.h"
#include "vsock_shim.h"

extern char **environ;

#define GUEST_CID 3
#define HOST_CID 2
#define ENCLAVE_CID 77            /* no VM of the daemon has it */
#define FL_A 9000                 /* the daemon's forward-listen ports */
#define FL_B 9001
#define SVC 7000                  /* a host service on CID 1 */
#define NO_SVC 7999               /* nobody listens there */
#define HOST_PORT_BASE (1u << 30) /* host ports of host-initiated conns */
#define FAST_MS 1000              /* a refusal must be this quick */
#define RUN_MS 20000              /* bound on one data exchange */

/* Sizes, small enough for TCG and one vCPU. */
#define SMALL (256u * 1024u)
#define BULK (8u * 1024u * 1024u)
#define CONC_EACH 100u            /* connections per direction */
#define CONC_BYTES (64u * 1024u)  /* per connection and direction */

static const char *daemon_exe;
static bool module_checks;
static const char *only;
/* Under the AF_VSOCK shim (a host run): the library, as the daemons
 * preload it, and the daemons' temp dirs to remove at the end. */
static bool shim;
static char shim_lib[PATH_MAX];
static char kept_dirs[64][sizeof(((struct sim_daemon *)0)->dir)];
static unsigned n_kept;
/* The README's socket path; in the shim's dir under the shim, so that
 * runs on a shared host cannot meet. */
static char readme_sock[SIM_DAEMON_PATH_MAX] = "/tmp/vhost3.socket";

/* ---- reporting ---- */

static unsigned n_pass, n_fail, n_skip;
static char why[1024];
/* The log of the daemon a case started last, shown when the case fails
 * (VDV_KEEP_TMP keeps it past sim_daemon_stop). */
static char cur_log[SIM_DAEMON_PATH_MAX];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

enum verdict { PASS, FAIL, SKIP };

static enum verdict failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static enum verdict failf(const char *fmt, ...)
{
	char tmp[sizeof(why)]; /* an argument may be why itself */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(why, tmp, sizeof(why));
	return FAIL;
}

static enum verdict skipf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static enum verdict skipf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return SKIP;
}

static bool selected(const char *name)
{
	const char *p = only;
	size_t n = strlen(name);

	if (!only)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == only || p[-1] == ',' || p[-1] == '+') &&
		    (p[n] == ',' || p[n] == '+' || p[n] == 0))
			return true;
		p += n;
	}
	return false;
}

static void dump_log(void)
{
	struct sim_daemon d = { 0 };

	if (!cur_log[0])
		return;
	snprintf(d.log_path, sizeof(d.log_path), "%s", cur_log);
	sim_daemon_dump_log(&d, stdout, 24 * 1024);
	fflush(stdout);
}

static void run_case(const char *name, enum verdict (*fn)(void))
{
	int64_t t0;
	enum verdict v;

	if (!selected(name))
		return;
	why[0] = 0;
	cur_log[0] = 0;
	say("# case %s", name);
	t0 = sim_now_ms();
	v = fn();
	switch (v) {
	case PASS:
		n_pass++;
		say("ok %s (%lld ms)%s%s", name, (long long)(sim_now_ms() - t0), why[0] ? ": " : "",
		    why);
		break;
	case SKIP:
		n_skip++;
		say("SKIP %s: %s", name, why);
		break;
	case FAIL:
		n_fail++;
		say("FAIL %s (%lld ms): %s", name, (long long)(sim_now_ms() - t0), why);
		dump_log();
		break;
	}
}

/* ---- the AF_VSOCK shim ---- */

static int (*shim_active_fn(void *handle))(void)
{
	int (*fn)(void);

	*(void **)&fn = dlsym(handle, VDV_VSOCK_SHIM_ACTIVE_SYM);
	return fn;
}

/* True when vsock_shim.c is preloaded into this process. */
static bool shim_loaded(void)
{
	int (*fn)(void) = shim_active_fn(RTLD_DEFAULT);

	return fn && fn() == 1;
}

/* True when the colon- or space-separated list has the entry e. */
static bool list_has(const char *list, const char *e)
{
	size_t n = strlen(e);

	for (const char *p = list; p && (p = strstr(p, e)); p += n)
		if ((p == list || p[-1] == ':' || p[-1] == ' ') &&
		    (p[n] == ':' || p[n] == ' ' || p[n] == 0))
			return true;
	return false;
}

/*
 * Before every daemon under the shim: the library the daemon will preload
 * must be in LD_PRELOAD and load, or the daemon would run without it (ld.so
 * only warns about a preload it cannot load). dlopen by name would just
 * find the copy this process runs with, even with the file gone: open the
 * file and load what was opened. 0, or -ENOEXEC with the reason printed.
 */
static int shim_check(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char fdpath[64];
	struct stat st;
	int (*fn)(void);
	void *h;
	bool ok;
	int fd;

	if (!list_has(pre, shim_lib)) {
		say("# vsock shim: LD_PRELOAD (%s) lacks %s: no daemon is started", pre ? pre : "unset",
		    shim_lib);
		return -ENOEXEC;
	}
	fd = open(shim_lib, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		say("# vsock shim: %s: %s: no daemon is started", shim_lib,
		    fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -ENOEXEC;
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (!h) {
		say("# vsock shim: %s does not load (%s): no daemon is started", shim_lib, dlerror());
		return -ENOEXEC;
	}
	fn = shim_active_fn(h);
	ok = fn && fn() == 1;
	dlclose(h);
	if (!ok) {
		say("# vsock shim: %s has no %s(): no daemon is started", shim_lib,
		    VDV_VSOCK_SHIM_ACTIVE_SYM);
		return -ENOEXEC;
	}
	return 0;
}

/* Under the shim, once: finds the library this process runs with and its
 * dir; the daemons inherit LD_PRELOAD (with that library) and the dir. */
static int shim_setup(const char *prog)
{
	const char *dir = getenv(VDV_VSOCK_SHIM_DIR_ENV), *pre = getenv("LD_PRELOAD");
	int (*fn)(void) = shim_active_fn(RTLD_DEFAULT);
	struct stat st;
	Dl_info info;

	if (!dladdr(*(void **)&fn, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, shim_lib)) {
		fprintf(stderr, "%s: cannot find the vsock shim's file\n", prog);
		return -1;
	}
	if (!dir || stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: the vsock shim is loaded but %s (%s) is no directory: "
			"use run-shim.sh\n", prog, VDV_VSOCK_SHIM_DIR_ENV, dir ? dir : "unset");
		return -1;
	}
	if (!list_has(pre, shim_lib) && !list_has(pre, info.dli_fname)) {
		char *v;

		if (asprintf(&v, "%s%s%s", shim_lib, pre && *pre ? ":" : "", pre ? pre : "") < 0)
			return -1;
		setenv("LD_PRELOAD", v, 1);
		free(v);
	} else if (!list_has(pre, shim_lib)) {
		snprintf(shim_lib, sizeof(shim_lib), "%s", info.dli_fname);
	}
	snprintf(readme_sock, sizeof(readme_sock), "%s/vhost3.socket", dir);
	if (strlen(dir) + sizeof("/vhost3.socket") > sizeof(readme_sock)) {
		fprintf(stderr, "%s: %s is too long a path\n", prog, dir);
		return -1;
	}
	say("# AF_VSOCK over AF_UNIX: vsock shim %s, sockets in %s", shim_lib, dir);
	return shim_check() ? -1 : 0;
}

/*
 * The kernel refuses socket(AF_VSOCK, ...) to this process and everything
 * it spawns from now on (EAFNOSUPPORT): a seccomp filter, which fork and
 * exec inherit, for all threads. 0 or -errno.
 */
static int forbid_af_vsock(void)
{
#if defined(__x86_64__)
#define FWD_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FWD_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif
#ifdef FWD_AUDIT_ARCH
	struct sock_filter f[] = {
		/* another ABI (i386, x32): no system calls at all */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FWD_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		/* socket(AF_VSOCK, ...) */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog))
		return -errno;
	return 0;
#else
	return -ENOSYS;
#endif
}

/* Removes the daemons' temp dirs kept for their logs (flat: files only). */
static void remove_kept_dirs(void)
{
	for (unsigned i = 0; i < n_kept; i++) {
		DIR *dp = opendir(kept_dirs[i]);
		struct dirent *de;

		while (dp && (de = readdir(dp))) {
			char path[sizeof(kept_dirs[i]) + 256 + 2];

			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				snprintf(path, sizeof(path), "%s/%s", kept_dirs[i], de->d_name);
				unlink(path);
			}
		}
		if (dp)
			closedir(dp);
		rmdir(kept_dirs[i]);
	}
	n_kept = 0;
}

/* ---- daemons ---- */

/* sim_daemon_spawn_argv with argv[0] the daemon under test; under the
 * shim only once the library is known to load. */
static int spawn_daemon(struct sim_daemon *d, const char **argv)
{
	int r;

	argv[0] = daemon_exe;
	if (shim && shim_check()) {
		memset(d, 0, sizeof(*d));
		return -ENOEXEC;
	}
	r = sim_daemon_spawn_argv(d, argv, NULL, 0);
	if (shim && d->dir[0] && n_kept < sizeof(kept_dirs) / sizeof(kept_dirs[0]))
		memcpy(kept_dirs[n_kept++], d->dir, sizeof(d->dir));
	return r;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = 0;
	fclose(f);
	return buf ? buf : strdup("");
}

/*
 * Starts the daemon with argv (argv[0] replaced by the daemon under test)
 * and waits until it is ready: the vhost-user socket wait_path (absolute,
 * or relative to the daemon's temp dir when it starts with '%D/') exists
 * AND the daemon logged "listening on <wait_path>", which it does once every
 * VM is set up. The socket alone is not enough: it is created before the
 * forward-listen ports are bound, so a host connecting as soon as it
 * appears may be refused (seen as ECONNRESET under TCG).
 */
static int daemon_start(struct sim_daemon *d, const char **argv, const char *wait_path)
{
	char path[SIM_DAEMON_PATH_MAX + 16], needle[SIM_DAEMON_PATH_MAX + 32];
	int64_t deadline = sim_now_ms() + 10000;
	int r;

	r = spawn_daemon(d, argv);
	snprintf(cur_log, sizeof(cur_log), "%s", d->log_path);
	if (r)
		return r;
	if (!strncmp(wait_path, "%D/", 3))
		snprintf(path, sizeof(path), "%s/%s", d->dir, wait_path + 3);
	else
		snprintf(path, sizeof(path), "%s", wait_path);
	snprintf(needle, sizeof(needle), "listening on %s\n", path);
	r = sim_daemon_wait_path(d, path, 10000);
	while (!r) {
		char *log = slurp(d->log_path);
		bool ready = strstr(log, needle) != NULL;

		free(log);
		if (ready)
			break;
		if (!sim_daemon_alive(d))
			r = -ECHILD;
		else if (sim_now_ms() >= deadline)
			r = -ETIMEDOUT;
		else
			usleep(5 * 1000);
	}
	if (r == -ETIMEDOUT) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->status, 0);
		d->pid = 0;
	}
	return r;
}

/* SIGTERM; 0 iff the daemon exited by itself with status 0. */
static int daemon_stop(struct sim_daemon *d)
{
	return sim_daemon_stop(d, 5000, NULL);
}

/*
 * Runs a daemon that must refuse to start: waits (bounded) for it to exit
 * and returns its output in *log (free it). 0 if it exited non-zero,
 * -EEXIST if it kept running (killed), -EINVAL if it exited 0.
 */
static int daemon_must_fail(const char **argv, char **log, int *status)
{
	struct sim_daemon d;
	int64_t deadline = sim_now_ms() + 5000;
	int r;

	*log = NULL;
	r = spawn_daemon(&d, argv);
	snprintf(cur_log, sizeof(cur_log), "%s", d.log_path);
	if (r) {
		*log = strdup(strerror(-r));
		return r;
	}
	while (sim_daemon_alive(&d) && sim_now_ms() < deadline)
		usleep(10 * 1000);
	*log = slurp(d.log_path);
	if (sim_daemon_alive(&d)) {
		kill(d.pid, SIGKILL);
		waitpid(d.pid, &d.status, 0);
		d.pid = 0;
		sim_daemon_stop(&d, 1000, NULL);
		return -EEXIST;
	}
	*status = d.status;
	sim_daemon_stop(&d, 1000, NULL);
	return WIFEXITED(*status) && WEXITSTATUS(*status) != 0 ? 0 : -EINVAL;
}

static void one_line(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\n')
			*p = (p[1] ? '|' : 0);
}

/* ---- the guest (simulator) ---- */

static void guest_opts(struct sim_opts *o)
{
	sim_opts_init(o);
	o->connect_timeout_ms = 5000;
	o->io_timeout_ms = 5000;
	o->rx_buf_size = SIM_PKT_MAX;
}

static int guest_start(const char *path, struct sim **out)
{
	struct sim_opts o;
	int r;

	guest_opts(&o);
	r = sim_connect(path, &o, out);
	if (r)
		return r;
	r = sim_start(*out);
	if (r) {
		sim_close(*out);
		*out = NULL;
	}
	return r;
}

static void guest_stop(struct sim *s)
{
	if (!s)
		return;
	sim_stop(s);
	sim_close(s);
}

/*
 * One exchange: the guest opens g_n connections to (g_cid, g_port) and
 * accepts h_n that the host opens to (1, h_port); the host accepts the
 * guest's on lfd. Every connection carries len bytes each way.
 */
struct xchg {
	struct sim *sim;
	uint64_t g_cid;
	uint32_t g_port, g_src;
	unsigned g_n;
	int lfd;
	uint32_t h_port;
	unsigned h_n;
	uint64_t len;
	int host_rx_delay_ms;     /* a host that is slow to read */
	uint32_t guest_buf_alloc; /* the guest's credit; 0 = 256 KiB */
	/* results */
	uint64_t req_src_cid;
	uint32_t req_src_port_min;
	int64_t ms;
};

static enum verdict exchange(struct xchg *x)
{
	struct fwd_host h = { 0 };
	struct fwd_guest g;
	int64_t t0 = sim_now_ms();
	int rg, rh;

	if (fwd_guest_init(&g, x->sim))
		return failf("out of memory");
	g.len_i2a = g.len_a2i = x->len;
	if (x->guest_buf_alloc)
		g.buf_alloc = x->guest_buf_alloc;
	g.accept_port = x->h_port;
	g.n_accept = x->h_n;
	h.lfd = x->lfd;
	h.n_accept = x->lfd >= 0 ? x->g_n : 0;
	h.connect_cid = VMADDR_CID_LOCAL;
	h.connect_port = x->h_port;
	h.n_connect = x->h_n;
	h.id_base = 100000;
	h.len_i2a = h.len_a2i = x->len;
	h.timeout_ms = RUN_MS;
	h.rx_delay_ms = x->host_rx_delay_ms;
	rg = fwd_guest_connect(&g, x->g_cid, x->g_port, x->g_n, x->g_src, 1);
	if (rg) {
		fwd_guest_fini(&g);
		return failf("guest REQUEST: %s", strerror(-rg));
	}
	rh = fwd_host_start(&h);
	if (rh) {
		fwd_guest_fini(&g);
		return failf("host thread: %s", strerror(-rh));
	}
	rg = fwd_guest_run(&g, RUN_MS);
	rh = fwd_host_join(&h);
	x->ms = sim_now_ms() - t0;
	x->req_src_cid = g.req_src_cid;
	x->req_src_port_min = g.req_src_port_min;
	if (rg || rh) {
		failf("%s%s%s", rg ? g.why : "", rg && rh ? " / " : "", rh ? h.why : "");
		fwd_host_fini(&h);
		fwd_guest_fini(&g);
		return FAIL;
	}
	if (g.credit_violations) {
		failf("the device sent beyond the guest's credit %llu times",
		      (unsigned long long)g.credit_violations);
		fwd_host_fini(&h);
		fwd_guest_fini(&g);
		return FAIL;
	}
	fwd_host_fini(&h);
	fwd_guest_fini(&g);
	return PASS;
}

/* Reads and drops what the device still sends (late packets of an
 * abruptly ended case) for ms; returns how many. */
static unsigned drain_guest(struct sim *s, int ms)
{
	struct sim_pkt *p = sim_pkt_new();
	int64_t deadline = sim_now_ms() + ms;
	unsigned n = 0;

	while (p && sim_now_ms() < deadline && sim_rx_poll(s, p, 20) == 0)
		n++;
	free(p);
	return n;
}

/* Accepts one connection on lfd within timeout_ms: fd or -errno. */
static int accept_one(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Sends a REQUEST to (cid, port) and expects RST from there within
 * FAST_MS; *ms gets the time it took. */
static enum verdict expect_refused(struct sim *s, uint64_t cid, uint32_t port, uint32_t src,
				   int64_t *ms)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), cid, src, port,
						  VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536, 0);
	struct sim_pkt *p = sim_pkt_new();
	int64_t t0 = sim_now_ms();
	int r;

	if (!p)
		return failf("out of memory");
	r = sim_tx_send(s, &h, NULL, 0, 0);
	if (r) {
		free(p);
		return failf("REQUEST: %s", strerror(-r));
	}
	for (;;) {
		r = sim_rx_poll(s, p, 3000);
		*ms = sim_now_ms() - t0;
		if (r) {
			free(p);
			return failf("REQUEST to %llu:%u: no answer within 3 s (%s)",
				     (unsigned long long)cid, port, strerror(-r));
		}
		if (p->src_cid == cid && p->src_port == port && p->dst_port == src)
			break;
	}
	r = p->op;
	free(p);
	if (r != VIRTIO_VSOCK_OP_RST)
		return failf("REQUEST to %llu:%u (nobody listens): got %s, want RST",
			     (unsigned long long)cid, port, sim_op_name((uint16_t)r));
	if (*ms > FAST_MS)
		return failf("REQUEST to %llu:%u: RST after %lld ms, want < %d ms",
			     (unsigned long long)cid, port, (long long)*ms, FAST_MS);
	return PASS;
}

/* Waits until the peer closed fd: 0 (EOF or ECONNRESET) or -ETIMEDOUT;
 * bytes that arrive first are counted in *junk. */
static int wait_closed(int fd, int timeout_ms, size_t *junk)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	char buf[4096];

	*junk = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - sim_now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -ETIMEDOUT;
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 0;
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (r > 0)
			*junk += (size_t)r;
	}
}

/* ---- kernel modules (--module-checks) ---- */

#define MODLIST "/etc/vdv/modules"
#define MODDIR "/lib/modules/vdv"

static int run_cmd(const char *a0, const char *a1)
{
	const char *argv[] = { a0, a1, NULL };
	pid_t pid;
	int st, r;

	r = posix_spawnp(&pid, a0, NULL, NULL, (char *const *)argv, environ);
	if (r)
		return -r;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool module_loaded(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%.100s", name);
	return stat(path, &st) == 0;
}

/* The vsock modules of the initramfs, in load order. */
static unsigned vsock_modules(char names[][64], unsigned max)
{
	FILE *f = fopen(MODLIST, "r");
	char line[64];
	unsigned n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strstr(line, "vsock"))
			snprintf(names[n++], 64, "%s", line);
	}
	fclose(f);
	return n;
}

/* Unloads the vsock modules from the last one down to (and including)
 * index keep (0: all of them). */
static int unload_from(char names[][64], unsigned n, unsigned keep)
{
	for (unsigned i = n; i-- > keep;) {
		int r;

		if (!module_loaded(names[i]))
			continue;
		r = run_cmd("rmmod", names[i]);
		if (r)
			return failf("rmmod %s: exit %d", names[i], r), -1;
	}
	return 0;
}

/* Loads the first upto modules of the list that are missing. */
static int load_upto(char names[][64], unsigned upto)
{
	for (unsigned i = 0; i < upto; i++) {
		char path[160];
		int r;

		if (module_loaded(names[i]))
			continue;
		snprintf(path, sizeof(path), MODDIR "/%.100s.ko", names[i]);
		r = run_cmd("insmod", path);
		if (r)
			return failf("insmod %s: exit %d", path, r), -1;
	}
	return 0;
}

static bool loopback_works(void)
{
	int fd = fwd_vsock_listen(VMADDR_CID_LOCAL, 6999, 1);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ---- cases ---- */

/* No AF_VSOCK at all: the daemon must refuse to start with the hint. */
static enum verdict c_startup_no_vsock(void)
{
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
			       "--forward-cid", "1", NULL };
	char names[8][64];
	unsigned n = vsock_modules(names, 8);
	enum verdict v = PASS;
	char *log = NULL;
	int st = 0, r;

	if (shim)
		return skipf("unloads kernel modules: e2e guest only, not under the vsock shim");
	if (!module_checks)
		return skipf("needs --module-checks (unloads the vsock modules)");
	if (n == 0)
		return skipf("no vsock modules listed in " MODLIST);
	if (unload_from(names, n, 0) < 0) {
		char w[sizeof(why)];

		snprintf(w, sizeof(w), "%s", why);
		load_upto(names, n);
		return skipf("cannot unload the vsock modules here (%s)", w);
	}
	r = daemon_must_fail(argv, &log, &st);
	one_line(log);
	if (r == -EEXIST)
		v = failf("daemon kept running without AF_VSOCK; log: %s", log);
	else if (r)
		v = failf("daemon exited %d without AF_VSOCK (want non-zero); log: %s",
			  WEXITSTATUS(st), log);
	else if (!strstr(log, "modprobe vsock_loopback") || !strstr(log, "forward-cid 1") ||
		 !strstr(log, strerror(EAFNOSUPPORT)))
		v = failf("message lacks the CID, the error or the hint: %s", log);
	else
		snprintf(why, sizeof(why), "exit %d: %s", WEXITSTATUS(st), log);
	free(log);
	if (load_upto(names, n) < 0)
		return failf("could not load the vsock modules again: %s", why);
	return v;
}

/*
 * vsock but no vsock_loopback: with forward-cid 1 the daemon must refuse
 * to start, naming CID 1 and the hint, with or without forward-listen
 * ports (it probes CID 1 itself).
 */
static enum verdict c_startup_no_loopback(void)
{
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
			       "--forward-cid", "1", "--forward-listen", "9000", NULL };
	const char *argv2[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
				"--forward-cid", "1", NULL };
	char names[8][64], note[768] = "";
	unsigned n = vsock_modules(names, 8), lb = n;
	enum verdict v = PASS;
	char *log = NULL;
	int st = 0, r;

	if (shim)
		return skipf("unloads kernel modules: e2e guest only, not under the vsock shim");
	if (!module_checks)
		return skipf("needs --module-checks (unloads vsock_loopback)");
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(names[i], "vsock_loopback"))
			lb = i;
	if (lb == n)
		return skipf("vsock_loopback is not in " MODLIST);
	if (load_upto(names, n) < 0 || unload_from(names, n, lb) < 0) {
		char w[sizeof(why)];

		snprintf(w, sizeof(w), "%s", why);
		load_upto(names, n);
		return skipf("cannot unload vsock_loopback here (%s)", w);
	}
	r = daemon_must_fail(argv, &log, &st);
	one_line(log);
	if (r == -EEXIST)
		v = failf("daemon kept running with forward-listen on CID 1 and no "
			  "vsock_loopback; log: %s", log);
	else if (r)
		v = failf("daemon exited %d (want non-zero); log: %s", WEXITSTATUS(st), log);
	else if (!strstr(log, "modprobe vsock_loopback") || !strstr(log, "forward-cid 1"))
		v = failf("message lacks the CID or the hint: %s", log);
	else
		snprintf(note, sizeof(note), "exit %d: %s", WEXITSTATUS(st), log);
	free(log);

	if (v == PASS) {
		/* Without forward-listen: a start is acceptable, but then every
		 * guest connection must get a quick RST. */
		struct sim_daemon d;

		r = daemon_start(&d, argv2, "%D/vhost.sock");
		if (r == -ECHILD) {
			log = slurp(d.log_path);
			one_line(log);
			snprintf(note + strlen(note), sizeof(note) - strlen(note),
				 "; without forward-listen it refuses to start too: %s", log);
			free(log);
			sim_daemon_stop(&d, 1000, NULL);
		} else {
			v = failf("daemon without forward-listen started without vsock_loopback: %s",
				  r ? strerror(-r) : "running");
			sim_daemon_stop(&d, 1000, NULL);
		}
	}
	if (load_upto(names, n) < 0)
		return failf("could not load the vsock modules again: %s", why);
	if (!loopback_works())
		return failf("vsock_loopback reloaded but CID 1 cannot be bound");
	if (v == PASS)
		snprintf(why, sizeof(why), "%s", note);
	return v;
}

static enum verdict port_in_use(uint32_t occupant_cid)
{
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
			       "--forward-cid", "1", "--forward-listen", "9011+9010", NULL };
	int fd = fwd_vsock_listen(occupant_cid, 9010, 4);
	enum verdict v = PASS;
	char *log = NULL;
	int st = 0, r;

	if (fd < 0)
		return failf("occupying (%u, 9010): %s", occupant_cid, strerror(-fd));
	r = daemon_must_fail(argv, &log, &st);
	close(fd);
	one_line(log);
	if (r == -EEXIST)
		v = failf("daemon started although port 9010 is taken; log: %s", log);
	else if (r)
		v = failf("daemon exited %d (want non-zero); log: %s", WEXITSTATUS(st), log);
	else if (!strstr(log, "9010") || !strstr(log, "in use"))
		v = failf("message lacks the port or 'in use': %s", log);
	else
		snprintf(why, sizeof(why), "exit %d: %s", WEXITSTATUS(st), log);
	free(log);
	return v;
}

static enum verdict c_port_in_use_any(void)
{
	return port_in_use(VMADDR_CID_ANY);
}

static enum verdict c_port_in_use_local(void)
{
	return port_in_use(VMADDR_CID_LOCAL);
}

/* A README example: the daemon as documented, one connection each way. */
static enum verdict readme(const char **argv)
{
	const char *sock = readme_sock;
	struct sim_daemon d;
	struct sim *s = NULL;
	struct xchg x = { 0 };
	enum verdict v;
	int r;

	unlink(sock);
	x.lfd = fwd_vsock_listen(VMADDR_CID_ANY, SVC + 1, 4);
	if (x.lfd < 0)
		return failf("host listener: %s", strerror(-x.lfd));
	r = daemon_start(&d, argv, sock);
	if (r) {
		close(x.lfd);
		sim_daemon_stop(&d, 1000, NULL);
		return failf("daemon did not create %s: %s", sock, strerror(-r));
	}
	r = guest_start(sock, &s);
	if (r) {
		v = failf("sim start: %s", strerror(-r));
		goto out;
	}
	if (sim_info(s)->config_guest_cid != GUEST_CID) {
		v = failf("config space guest_cid %llu, want 3",
			  (unsigned long long)sim_info(s)->config_guest_cid);
		goto out;
	}
	x.sim = s;
	x.g_cid = HOST_CID;
	x.g_port = SVC + 1;
	x.g_src = 42000;
	x.g_n = 1;
	x.h_port = FL_B;
	x.h_n = 1;
	x.len = 64 * 1024;
	v = exchange(&x);
	if (v == PASS && x.req_src_cid != HOST_CID)
		v = failf("host connection arrived from cid %llu, want 2",
			  (unsigned long long)x.req_src_cid);
	if (v == PASS) {
		/* the other forward-listen port reaches the guest too */
		struct xchg y = { .sim = s, .lfd = -1, .h_port = FL_A, .h_n = 1, .len = 4096 };

		v = exchange(&y);
		if (v != PASS)
			v = failf("port %u: %s", FL_A, why);
	}
	if (v == PASS)
		snprintf(why, sizeof(why), "guest cid 3; guest -> (2, %u) and host -> ports %u, %u "
			 "forwarded; exit 0 on SIGTERM", SVC + 1, FL_B, FL_A);
out:
	guest_stop(s);
	close(x.lfd);
	r = daemon_stop(&d);
	if (v == PASS && r)
		v = failf("daemon did not exit 0 on SIGTERM (%s)", strerror(-r));
	unlink(sock);
	return v;
}

static enum verdict c_readme_cli(void)
{
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", readme_sock,
			       "--forward-cid", "1", "--forward-listen", "9000+9001", NULL };

	return readme(argv);
}

static enum verdict c_readme_vm(void)
{
	char vm[64 + sizeof(readme_sock)];
	const char *argv[] = { NULL, "--vm", vm, NULL };

	snprintf(vm, sizeof(vm), "guest-cid=3,socket=%s,forward-cid=1,forward-listen=9000+9001",
		 readme_sock);
	return readme(argv);
}

/* ---- one daemon for the data cases ---- */

static struct sim_daemon main_d;
static bool main_up;
static struct sim *main_sim;
static int svc_fd = -1; /* the host service on (any, SVC) */

static enum verdict need_main(void)
{
	if (!main_up || !main_sim)
		return skipf("the shared daemon or its VMM did not start (see main_daemon, "
			     "vmm_restart)");
	snprintf(cur_log, sizeof(cur_log), "%s", main_d.log_path);
	if (!sim_daemon_alive(&main_d))
		return failf("the daemon is dead (status 0x%x)", main_d.status);
	return PASS;
}

/* An exchange on the shared daemon's VM, once that is known to be up. */
static enum verdict main_exchange(struct xchg *x)
{
	enum verdict v = need_main();

	return v == PASS ? exchange(x) : v;
}

/* Host connections before any VM runs are closed at once. */
static enum verdict c_main_daemon(void)
{
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
			       "--forward-cid", "1", "--forward-listen", "9000+9001", NULL };
	size_t junk;
	int r, fd;

	svc_fd = fwd_vsock_listen(VMADDR_CID_ANY, SVC, 256);
	if (svc_fd < 0)
		return failf("host service listener (any, %u): %s", SVC, strerror(-svc_fd));
	r = daemon_start(&main_d, argv, "%D/vhost.sock");
	if (r)
		return failf("daemon did not start: %s", strerror(-r));
	main_up = true;
	fd = fwd_vsock_connect(VMADDR_CID_LOCAL, FL_A, 2000);
	if (fd < 0)
		return failf("connect to (1, %u) with no VM running: %s (want accepted, then "
			     "closed)", FL_A, strerror(-fd));
	r = wait_closed(fd, 2000, &junk);
	close(fd);
	if (r)
		return failf("host connection with no VM running not closed within 2 s");
	r = guest_start(main_d.socket_path, &main_sim);
	if (r)
		return failf("sim start: %s", strerror(-r));
	snprintf(why, sizeof(why), "a host connection before the VM started was closed");
	return PASS;
}

static enum verdict c_guest_to_host(void)
{
	struct xchg x = { .sim = main_sim, .g_cid = HOST_CID, .g_port = SVC, .g_src = 43000,
			  .g_n = 1, .lfd = svc_fd, .len = SMALL };
	enum verdict v = main_exchange(&x);

	if (v == PASS)
		snprintf(why, sizeof(why), "%u KiB each way in %lld ms", SMALL / 1024,
			 (long long)x.ms);
	return v;
}

static enum verdict c_enclave_cid(void)
{
	struct xchg x = { .sim = main_sim, .g_cid = ENCLAVE_CID, .g_port = SVC, .g_src = 43100,
			  .g_n = 1, .lfd = svc_fd, .len = SMALL };
	/* The guest engine only takes the RESPONSE (and data) from cid 77. */
	enum verdict v = main_exchange(&x);

	if (v == PASS)
		snprintf(why, sizeof(why), "cid %u port %u answered from cid %u, %u KiB each way",
			 ENCLAVE_CID, SVC, ENCLAVE_CID, SMALL / 1024);
	return v;
}

static enum verdict c_host_to_guest(void)
{
	enum verdict v = need_main();
	uint32_t ports[2] = { FL_A, FL_B };

	if (v != PASS)
		return v;
	for (int i = 0; i < 2; i++) {
		struct xchg x = { .sim = main_sim, .lfd = -1, .h_port = ports[i], .h_n = 1,
				  .len = SMALL };

		v = exchange(&x);
		if (v != PASS)
			return failf("port %u: %s", ports[i], why);
		if (x.req_src_cid != HOST_CID || x.req_src_port_min < HOST_PORT_BASE)
			return failf("port %u: REQUEST from %llu:%u, want cid 2 and a port >= 2^30",
				     ports[i], (unsigned long long)x.req_src_cid,
				     x.req_src_port_min);
	}
	snprintf(why, sizeof(why), "ports %u and %u, REQUEST from cid 2, %u KiB each way", FL_A,
		 FL_B, SMALL / 1024);
	return PASS;
}

static enum verdict c_guest_refused(void)
{
	enum verdict v = need_main();
	int64_t ms1 = 0, ms2 = 0;

	if (v != PASS)
		return v;
	v = expect_refused(main_sim, HOST_CID, NO_SVC, 43200, &ms1);
	if (v != PASS)
		return v;
	v = expect_refused(main_sim, ENCLAVE_CID, NO_SVC, 43201, &ms2);
	if (v != PASS)
		return v;
	snprintf(why, sizeof(why), "RST after %lld ms (cid 2), %lld ms (cid %u)", (long long)ms1,
		 (long long)ms2, ENCLAVE_CID);
	return PASS;
}

static enum verdict c_host_refused(void)
{
	struct fwd_guest g;
	enum verdict v = need_main();
	int64_t t0;
	size_t junk = 0;
	int fd, r;

	if (v != PASS)
		return v;
	fd = fwd_vsock_connect(VMADDR_CID_LOCAL, FL_B, 2000);
	if (fd < 0)
		return failf("connect to (1, %u): %s", FL_B, strerror(-fd));
	if (fwd_guest_init(&g, main_sim)) {
		close(fd);
		return failf("out of memory");
	}
	g.accept_port = FL_B;
	g.n_accept = 1;
	g.refuse = true;
	r = fwd_guest_run(&g, 5000);
	t0 = sim_now_ms();
	if (r || g.refused_sent != 1) {
		v = failf("the guest saw no REQUEST for port %u: %s", FL_B, g.why);
	} else {
		r = wait_closed(fd, 2000, &junk);
		if (r)
			v = failf("host socket still open 2 s after the guest's RST");
		else if (junk)
			v = failf("host received %zu bytes on a refused connection", junk);
		else
			snprintf(why, sizeof(why), "host socket closed %lld ms after the guest's RST",
				 (long long)(sim_now_ms() - t0));
	}
	close(fd);
	fwd_guest_fini(&g);
	return v;
}

/*
 * A host peer whose CID is not forward-cid: the daemon accepts the
 * connection, closes it at once and logs why; the guest never hears of it.
 * Only the AF_VSOCK shim can give a peer another CID (it lets a socket bind
 * any CID): in the e2e guest every local socket is CID 1.
 */
static enum verdict c_peer_cid_refused(void)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = ENCLAVE_CID,
				  .svm_port = VMADDR_PORT_ANY };
	enum verdict v = need_main();
	struct sim_pkt *p;
	char want[64], *log;
	int64_t t0, ms, deadline;
	size_t junk = 0;
	int fd, r;

	if (v != PASS)
		return v;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return failf("socket(AF_VSOCK): %s", strerror(errno));
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	if (r && !shim)
		return skipf("no socket here can have cid %u (bind: %s); the vsock shim's can",
			     ENCLAVE_CID, strerror(-r));
	if (r)
		return failf("the vsock shim cannot bind cid %u: %s", ENCLAVE_CID, strerror(-r));
	t0 = sim_now_ms();
	fd = fwd_vsock_connect_from(ENCLAVE_CID, VMADDR_CID_LOCAL, FL_A, 2000);
	if (fd < 0)
		return failf("connect from cid %u to (1, %u): %s (want accepted, then closed)",
			     ENCLAVE_CID, FL_A, strerror(-fd));
	r = wait_closed(fd, 2000, &junk);
	ms = sim_now_ms() - t0;
	close(fd);
	if (r)
		return failf("the connection from cid %u was not closed within 2 s", ENCLAVE_CID);
	if (junk)
		return failf("the refused peer received %zu bytes", junk);
	/* The guest must not see it. */
	p = sim_pkt_new();
	if (!p)
		return failf("out of memory");
	deadline = sim_now_ms() + 300;
	while (v == PASS && sim_now_ms() < deadline &&
	       sim_rx_poll(main_sim, p, (int)(deadline - sim_now_ms())) == 0)
		if (p->op == VIRTIO_VSOCK_OP_REQUEST && p->dst_port == FL_A)
			v = failf("the guest got a REQUEST for port %u from the peer with cid %u",
				  FL_A, ENCLAVE_CID);
	free(p);
	if (v != PASS)
		return v;
	snprintf(want, sizeof(want), "refused a connection from cid %u", ENCLAVE_CID);
	log = slurp(main_d.log_path);
	r = strstr(log, want) != NULL;
	free(log);
	if (!r)
		return failf("the daemon's log lacks \"%s\"", want);
	snprintf(why, sizeof(why), "cid %u -> (1, %u) closed after %lld ms, not offered to the "
		 "guest; the daemon logged \"%s\"", ENCLAVE_CID, FL_A, (long long)ms, want);
	return PASS;
}

static enum verdict c_bulk(void)
{
	struct xchg x = { .sim = main_sim, .g_cid = HOST_CID, .g_port = SVC, .g_src = 43300,
			  .g_n = 1, .lfd = svc_fd, .h_port = FL_A, .h_n = 1, .len = BULK };
	enum verdict v = main_exchange(&x);

	if (v == PASS)
		snprintf(why, sizeof(why),
			 "guest->host and host->guest connections, %u MiB each way each, "
			 "concurrently: %lld ms (%.1f MiB/s total)",
			 BULK >> 20, (long long)x.ms,
			 4.0 * BULK / 1048576.0 / ((double)x.ms / 1000.0 + 1e-9));
	return v;
}

static enum verdict c_concurrent(void)
{
	struct xchg x = { .sim = main_sim, .g_cid = HOST_CID, .g_port = SVC, .g_src = 44000,
			  .g_n = CONC_EACH, .lfd = svc_fd, .h_port = FL_A, .h_n = CONC_EACH,
			  .len = CONC_BYTES };
	enum verdict v = main_exchange(&x);

	if (v == PASS)
		snprintf(why, sizeof(why),
			 "%u guest->host + %u host->guest connections at once, %u KiB each way "
			 "each: %lld ms", CONC_EACH, CONC_EACH, CONC_BYTES / 1024, (long long)x.ms);
	return v;
}

/* The host reads nothing for 1.5 s while the guest sends: the guest waits
 * for credit, nothing is lost or reset. */
static enum verdict c_slow_host_reader(void)
{
	struct xchg x = { .sim = main_sim, .g_cid = HOST_CID, .g_port = SVC, .g_src = 46000,
			  .g_n = 1, .lfd = svc_fd, .h_port = FL_A, .h_n = 1,
			  .len = 1024 * 1024, .host_rx_delay_ms = 1500 };
	enum verdict v = main_exchange(&x);

	if (v == PASS)
		snprintf(why, sizeof(why), "1 MiB each way, host idle for 1.5 s first: %lld ms",
			 (long long)x.ms);
	return v;
}

/* A guest with a small receive buffer: the device must keep within it. */
static enum verdict c_small_guest_credit(void)
{
	struct xchg x = { .sim = main_sim, .g_cid = HOST_CID, .g_port = SVC, .g_src = 46100,
			  .g_n = 2, .lfd = svc_fd, .h_port = FL_B, .h_n = 2,
			  .len = 512 * 1024, .guest_buf_alloc = 8192 };
	enum verdict v = main_exchange(&x);

	if (v == PASS)
		snprintf(why, sizeof(why), "buf_alloc 8 KiB, 4 connections, 512 KiB each way, "
			 "no credit violation: %lld ms", (long long)x.ms);
	return v;
}

/*
 * Hairpin: the guest dials CID 2 port 9000, which the daemon forwards to
 * (1, 9000), its own forward-listen port, which it relays back to the
 * guest's port 9000. Both ends of each stream are the guest's, both hops
 * run in the daemon's one VM thread.
 */
static enum verdict c_hairpin(void)
{
	struct fwd_guest g;
	enum verdict v = need_main();
	int64_t t0 = sim_now_ms();
	int r;

	if (v != PASS)
		return v;
	if (fwd_guest_init(&g, main_sim))
		return failf("out of memory");
	g.len_i2a = g.len_a2i = 256 * 1024;
	g.accept_port = FL_A;
	g.n_accept = 4;
	r = fwd_guest_connect(&g, HOST_CID, FL_A, 4, 46200, 500);
	if (!r)
		r = fwd_guest_run(&g, RUN_MS);
	if (r)
		v = failf("%s", r == -1 ? g.why : strerror(-r));
	else
		snprintf(why, sizeof(why), "4 streams guest -> (2, %u) -> (1, %u) -> guest port "
			 "%u, 256 KiB each way: %lld ms", FL_A, FL_A, FL_A,
			 (long long)(sim_now_ms() - t0));
	fwd_guest_fini(&g);
	return v;
}

/*
 * The host closed its end of st: the guest must hear of it at once, as a
 * SHUTDOWN(SEND) (the host sends no more; all a socket's EOF can say) or an
 * RST; after a SHUTDOWN, its next write must be answered by RST (the host
 * socket is gone). 0, or -ETIMEDOUT with *what set.
 */
static int wait_host_close_seen(struct sim_stream *st, int timeout_ms, int64_t *ms,
				const char **what)
{
	int64_t t0 = sim_now_ms(), deadline = t0 + timeout_ms;

	*what = "neither SHUTDOWN(SEND) nor RST";
	while (!st->c->reset && !st->c->peer_shut_send) {
		if (sim_stream_poll(st, (int)(deadline - sim_now_ms())) <= 0 ||
		    sim_now_ms() >= deadline)
			return -ETIMEDOUT;
	}
	*ms = sim_now_ms() - t0;
	if (st->c->reset) {
		*what = "RST";
		return 0;
	}
	/* A close, as a kernel peer's close() says it: both flags in one
	 * SHUTDOWN, so the guest's next send() fails (EPIPE) by itself. A
	 * SHUTDOWN(SEND) alone would be a half-close: the host still reads. */
	if (!st->c->peer_shut_rcv) {
		*what = "SHUTDOWN(SEND) only: a half-close, not a close";
		return -EPROTO;
	}
	*what = "SHUTDOWN(RCV|SEND)";
	if (sim_stream_send(st, "more", 4, timeout_ms) != -EPIPE) {
		*what = "SHUTDOWN(RCV|SEND), yet its send() did not fail";
		return -EPROTO;
	}
	return 0;
}

/*
 * Abrupt ends: the host closes its socket with the guest's data unread
 * (guest -> host and host -> guest connections), and the guest resets a
 * connection: the other side learns of it at once.
 */
static enum verdict c_abrupt_close(void)
{
	static const char msg[] = "unread by the host";
	struct sim_stream st;
	enum verdict v = need_main();
	int64_t t0, ms1 = 0, ms2 = 0, ms3;
	const char *what = "", *what1;
	size_t junk;
	int fd, r;

	if (v != PASS)
		return v;
	/* guest -> host; the host closes */
	r = sim_stream_connect(main_sim, &st, HOST_CID, SVC, 46300, 0, 3000);
	if (r)
		return failf("guest connect to (2, %u): %s", SVC, strerror(-r));
	fd = accept_one(svc_fd, 3000);
	if (fd < 0) {
		sim_stream_fini(&st);
		return failf("the host service saw no connection: %s", strerror(-fd));
	}
	r = sim_stream_send(&st, msg, sizeof(msg), 3000);
	usleep(100 * 1000);
	close(fd);
	if (!r)
		r = wait_host_close_seen(&st, 2000, &ms1, &what);
	if (!st.c->reset)
		sim_stream_rst(&st);
	sim_stream_fini(&st);
	if (r)
		return failf("host closed a guest-initiated connection: within 2 s the guest "
			     "got %s", what);
	what1 = what;

	/* host -> guest; the host closes */
	fd = fwd_vsock_connect(VMADDR_CID_LOCAL, FL_A, 3000);
	if (fd < 0)
		return failf("connect to (1, %u): %s", FL_A, strerror(-fd));
	r = sim_stream_accept(main_sim, &st, FL_A, 0, false, 3000);
	if (r) {
		close(fd);
		return failf("the guest saw no REQUEST for port %u: %s", FL_A, strerror(-r));
	}
	r = sim_stream_send(&st, msg, sizeof(msg), 3000);
	usleep(100 * 1000);
	close(fd);
	if (!r)
		r = wait_host_close_seen(&st, 2000, &ms2, &what);
	if (!st.c->reset)
		sim_stream_rst(&st);
	sim_stream_fini(&st);
	if (r)
		return failf("host closed a host-initiated connection: within 2 s the guest "
			     "got %s", what);

	/* guest -> host; the guest resets */
	r = sim_stream_connect(main_sim, &st, HOST_CID, SVC, 46301, 0, 3000);
	if (r)
		return failf("guest connect to (2, %u): %s", SVC, strerror(-r));
	fd = accept_one(svc_fd, 3000);
	if (fd < 0) {
		sim_stream_fini(&st);
		return failf("the host service saw no connection: %s", strerror(-fd));
	}
	t0 = sim_now_ms();
	sim_stream_rst(&st);
	sim_stream_fini(&st);
	r = wait_closed(fd, 3000, &junk);
	ms3 = sim_now_ms() - t0;
	close(fd);
	if (r)
		return failf("guest RST: the host socket stayed open for 3 s");
	drain_guest(main_sim, 100);
	snprintf(why, sizeof(why), "host closes: the guest got %s after %lld ms "
		 "(guest-initiated), %s after %lld ms (host-initiated); guest RST: host socket "
		 "closed after %lld ms", what1, (long long)ms1, what, (long long)ms2,
		 (long long)ms3);
	return PASS;
}

/*
 * The VMM goes away (killed: its socket just closes) with connections open
 * both ways: their host sockets close; the daemon keeps its vhost-user
 * socket and forward-listen ports, and a new VMM gets working forwarding.
 */
static enum verdict c_vmm_restart(void)
{
	struct sim_stream st;
	struct xchg x = { .g_cid = HOST_CID, .g_port = SVC, .g_src = 46400, .g_n = 1,
			  .lfd = svc_fd, .h_port = FL_A, .h_n = 1, .len = 64 * 1024 };
	enum verdict v = need_main();
	size_t junk;
	int fd1, fd2, r, r1, r2;
	int64_t t0, ms;

	if (v != PASS)
		return v;
	fd1 = fwd_vsock_connect(VMADDR_CID_LOCAL, FL_B, 3000);
	if (fd1 < 0)
		return failf("connect to (1, %u): %s", FL_B, strerror(-fd1));
	r = sim_stream_accept(main_sim, &st, FL_B, 0, false, 3000);
	sim_stream_fini(&st);
	if (r) {
		close(fd1);
		return failf("the guest saw no REQUEST for port %u: %s", FL_B, strerror(-r));
	}
	r = sim_stream_connect(main_sim, &st, HOST_CID, SVC, 46401, 0, 3000);
	sim_stream_fini(&st);
	fd2 = r ? -1 : accept_one(svc_fd, 3000);
	if (fd2 < 0) {
		close(fd1);
		return failf("guest -> host connection: %s", strerror(r ? -r : -fd2));
	}
	t0 = sim_now_ms();
	sim_close(main_sim); /* no GET_VRING_BASE: a killed VMM */
	main_sim = NULL;
	r1 = wait_closed(fd1, 3000, &junk);
	r2 = wait_closed(fd2, 3000, &junk);
	ms = sim_now_ms() - t0;
	close(fd1);
	close(fd2);
	if (r1 || r2)
		return failf("VMM gone: host sockets not closed within 3 s (host-initiated: %s, "
			     "guest-initiated: %s)", r1 ? "open" : "closed", r2 ? "open" : "closed");
	r = guest_start(main_d.socket_path, &main_sim);
	if (r)
		return failf("a new VMM cannot start: %s", strerror(-r));
	x.sim = main_sim;
	v = exchange(&x);
	if (v != PASS)
		return failf("after the VMM restart: %s", why);
	snprintf(why, sizeof(why), "host sockets closed %lld ms after the VMM died; a new VMM "
		 "forwards both ways", (long long)ms);
	return PASS;
}

/* Writes all of buf to a non-blocking socket within timeout_ms: 0 or
 * -errno. */
static int send_all(int fd, const uint8_t *buf, size_t n, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < n) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t r = send(fd, buf + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (sim_now_ms() >= deadline ||
		    poll(&p, 1, (int)(deadline - sim_now_ms())) <= 0)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Reads fd to EOF within timeout_ms, checking the pattern: the byte count
 * or -errno (-EBADMSG: wrong data). */
static ssize_t recv_check(int fd, uint32_t seed, size_t max, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	uint8_t buf[16384];
	size_t done = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r == 0)
			return (ssize_t)done;
		if (r > 0) {
			if (done + (size_t)r > max ||
			    fwd_pattern_check(buf, (size_t)r, seed, done) >= 0)
				return -EBADMSG;
			done += (size_t)r;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (sim_now_ms() >= deadline ||
		    poll(&p, 1, (int)(deadline - sim_now_ms())) <= 0)
			return -ETIMEDOUT;
	}
}

/* The guest side of recv_check, on a sim stream. */
static ssize_t stream_recv_check(struct sim_stream *st, uint32_t seed, size_t max,
				 int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	uint8_t buf[16384];
	size_t done = 0;

	for (;;) {
		ssize_t r = sim_stream_recv(st, buf, sizeof(buf),
					    (int)(deadline - sim_now_ms()));

		if (r == 0)
			return (ssize_t)done;
		if (r < 0)
			return r;
		if (done + (size_t)r > max || fwd_pattern_check(buf, (size_t)r, seed, done) >= 0)
			return -EBADMSG;
		done += (size_t)r;
		if (sim_now_ms() >= deadline)
			return -ETIMEDOUT;
	}
}

/*
 * Data written just before a close must still arrive: the host writes
 * 200 KiB and closes before the guest even answered the REQUEST; the guest
 * writes 200 KiB and closes (SHUTDOWN both ways) before the host read any.
 */
static enum verdict c_early_close(void)
{
	const size_t n = 200 * 1024;
	struct sim_stream st;
	enum verdict v = need_main();
	uint8_t *buf;
	ssize_t got;
	int fd, r;

	if (v != PASS)
		return v;
	buf = malloc(n);
	if (!buf)
		return failf("out of memory");
	/* host -> guest */
	fwd_pattern(buf, n, 4242, 0);
	fd = fwd_vsock_connect(VMADDR_CID_LOCAL, FL_B, 3000);
	if (fd < 0) {
		free(buf);
		return failf("connect to (1, %u): %s", FL_B, strerror(-fd));
	}
	r = send_all(fd, buf, n, 3000);
	close(fd);
	if (r) {
		free(buf);
		return failf("host send of %zu bytes before the guest answered: %s", n,
			     strerror(-r));
	}
	usleep(200 * 1000);
	r = sim_stream_accept(main_sim, &st, FL_B, 0, false, 3000);
	if (r) {
		free(buf);
		return failf("the guest saw no REQUEST for port %u: %s", FL_B, strerror(-r));
	}
	got = stream_recv_check(&st, 4242, n, 5000);
	if (!st.c->reset)
		sim_stream_rst(&st);
	sim_stream_fini(&st);
	if (got != (ssize_t)n) {
		free(buf);
		return failf("host wrote %zu bytes and closed before the guest accepted: the "
			     "guest read %s%zd bytes before EOF", n, got < 0 ? "error " : "",
			     got < 0 ? -got : got);
	}
	/* guest -> host */
	fwd_pattern(buf, n, 4243, 0);
	r = sim_stream_connect(main_sim, &st, HOST_CID, SVC, 46500, 0, 3000);
	fd = r ? r : accept_one(svc_fd, 3000);
	if (fd < 0) {
		sim_stream_fini(&st);
		free(buf);
		return failf("guest -> host connection: %s", strerror(-fd));
	}
	r = sim_stream_send(&st, buf, n, 5000);
	if (!r)
		r = sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	free(buf);
	if (r) {
		sim_stream_fini(&st);
		close(fd);
		return failf("guest send of %zu bytes: %s", n, strerror(-r));
	}
	usleep(200 * 1000);
	got = recv_check(fd, 4243, n, 5000);
	close(fd);
	while (!st.c->reset && sim_stream_poll(&st, 2000) > 0)
		;
	r = st.c->reset;
	sim_stream_fini(&st);
	if (got != (ssize_t)n)
		return failf("guest wrote %zu bytes and closed: the host read %s%zd bytes before "
			     "EOF", n, got < 0 ? "error " : "", got < 0 ? -got : got);
	if (!r)
		return failf("the guest closed (SHUTDOWN both ways) and got no RST within 2 s");
	drain_guest(main_sim, 50);
	snprintf(why, sizeof(why), "200 KiB written just before a close arrive both ways");
	return PASS;
}

/* A host connection the guest never answers: after the daemon's connect
 * timeout the guest gets RST and the host socket is closed. */
static enum verdict c_host_unanswered(void)
{
	struct sim_pkt *p;
	enum verdict v = need_main();
	uint32_t hport = 0;
	int64_t t0;
	size_t junk;
	int fd, r;

	if (v != PASS)
		return v;
	fd = fwd_vsock_connect(VMADDR_CID_LOCAL, FL_A, 3000);
	if (fd < 0)
		return failf("connect to (1, %u): %s", FL_A, strerror(-fd));
	p = sim_pkt_new();
	if (!p) {
		close(fd);
		return failf("out of memory");
	}
	r = sim_rx_poll(main_sim, p, 3000);
	if (r || p->op != VIRTIO_VSOCK_OP_REQUEST || p->dst_port != FL_A) {
		v = failf("no REQUEST for port %u (%s, got %s)", FL_A, strerror(-r),
			  sim_op_name(p->op));
		goto out;
	}
	hport = p->src_port;
	t0 = sim_now_ms();
	r = wait_closed(fd, 5000, &junk);
	if (r) {
		v = failf("host socket still open 5 s after an unanswered REQUEST");
		goto out;
	}
	snprintf(why, sizeof(why), "host socket closed after %lld ms",
		 (long long)(sim_now_ms() - t0));
	for (;;) {
		r = sim_rx_poll(main_sim, p, 2000);
		if (r) {
			v = failf("no RST for the unanswered REQUEST (%s)", strerror(-r));
			goto out;
		}
		if (p->src_port == hport && p->dst_port == FL_A)
			break;
	}
	if (p->op != VIRTIO_VSOCK_OP_RST)
		v = failf("after the timeout the guest got %s, want RST", sim_op_name(p->op));
	else
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ", guest got RST");
out:
	free(p);
	close(fd);
	return v;
}

/* SIGTERM with forwarded connections open both ways: the daemon exits 0
 * (sanitizer builds: no leak) and the host sockets close. */
static enum verdict c_main_daemon_stops(void)
{
	struct sim_stream st;
	enum verdict v = need_main();
	size_t junk;
	int fd1, fd2, r, r1, r2;

	if (v != PASS)
		return v;
	fd1 = fwd_vsock_connect(VMADDR_CID_LOCAL, FL_A, 3000);
	r = fd1 < 0 ? fd1 : sim_stream_accept(main_sim, &st, FL_A, 0, false, 3000);
	if (fd1 >= 0)
		sim_stream_fini(&st);
	if (!r)
		r = sim_stream_connect(main_sim, &st, HOST_CID, SVC, 46600, 0, 3000);
	if (fd1 >= 0)
		sim_stream_fini(&st);
	fd2 = r ? r : accept_one(svc_fd, 3000);
	if (fd1 < 0 || fd2 < 0) {
		if (fd1 >= 0)
			close(fd1);
		return failf("opening a connection each way: %s", strerror(-(fd1 < 0 ? fd1 : fd2)));
	}
	r = daemon_stop(&main_d);
	main_up = false;
	r1 = wait_closed(fd1, 2000, &junk);
	r2 = wait_closed(fd2, 2000, &junk);
	close(fd1);
	close(fd2);
	guest_stop(main_sim);
	main_sim = NULL;
	if (r)
		return failf("daemon did not exit 0 on SIGTERM with open connections: %s "
			     "(status 0x%x)", strerror(-r), main_d.status);
	if (r1 || r2)
		return failf("daemon exited but host sockets are still open");
	snprintf(why, sizeof(why), "exit 0 with a connection open each way; host sockets closed");
	return PASS;
}

/* ---- siblings ---- */

struct grun {
	struct fwd_guest g;
	int timeout_ms, result;
	pthread_t th;
};

static void *grun_thread(void *arg)
{
	struct grun *gr = arg;

	gr->result = fwd_guest_run(&gr->g, gr->timeout_ms);
	return NULL;
}

/* Accepted connections pending on a listener, without waiting. */
static unsigned drain_accepts(int lfd)
{
	unsigned n = 0;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		close(fd);
		n++;
	}
	return n;
}

/* ---- SOCK_SEQPACKET through forward-cid ---- */

#define CSEQ_PORT 7200
#define CSEQ_SRC 47200
#define CSEQ_GUEST_BUF (256u * 1024u)

/* One guest (simulator) packet of the SEQPACKET connection to 2:CSEQ_PORT. */
static int seq_send(struct sim *s, uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(GUEST_CID, HOST_CID, CSEQ_SRC, CSEQ_PORT, op,
						  flags, len, CSEQ_GUEST_BUF, 0);

	h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	return sim_tx_send(s, &h, data, len, 0);
}

/* The next packet of the connection that is not a credit message. */
static int seq_next(struct sim *s, struct sim_pkt *p)
{
	for (;;) {
		int r = sim_rx_poll(s, p, 5000);

		if (r)
			return r;
		if (p->op != VIRTIO_VSOCK_OP_CREDIT_UPDATE &&
		    p->op != VIRTIO_VSOCK_OP_CREDIT_REQUEST)
			return 0;
	}
}

/* An AF_VSOCK SOCK_SEQPACKET listener on (cid, port): fd or -errno. */
static int seq_listen(uint32_t cid, uint32_t port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Does this kernel's AF_VSOCK SOCK_SEQPACKET give a message's size to
 * recv(0 bytes, MSG_PEEK | MSG_TRUNC), as the daemon's conn_io_msg_size()
 * expects? Probed on a loopback pair (CID 1, port CSEQ_PORT + 1) with a
 * 1-byte message: 1 yes; 2 it said 0 bytes but left the message queued;
 * 0 it consumed the message; -errno if the probe failed.
 */
static int seq_peek_works(void)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = 1, .svm_port = CSEQ_PORT + 1 };
	int lfd = seq_listen(VMADDR_CID_ANY, CSEQ_PORT + 1), cfd = -1, afd = -1, r;
	char b[16];

	if (lfd < 0)
		return lfd;
	cfd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	afd = accept_one(lfd, 2000);
	if (afd < 0) {
		r = afd;
		goto out;
	}
	if (send(cfd, "x", 1, MSG_NOSIGNAL) != 1) {
		r = -errno;
		goto out;
	}
	if (poll(&(struct pollfd){ .fd = afd, .events = POLLIN }, 1, 2000) != 1) {
		r = -ETIMEDOUT;
		goto out;
	}
	r = (int)recv(afd, b, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	if (r < 0) {
		r = -errno;
		goto out;
	}
	/* 1: the size, and the message still there; 0: consumed; 2: the
	 * peek said 0 bytes (not the size) but left the message */
	r = r == 1 ? recv(afd, b, sizeof(b), MSG_DONTWAIT) == 1
		   : recv(afd, b, sizeof(b), MSG_DONTWAIT) == 1 ? 2 : 0;
out:
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return r;
}

static void seq_fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed);
}

/*
 * forward-cid with SOCK_SEQPACKET (guest-initiated only: forward-listen
 * ports are stream only): a VM that negotiated F_SEQPACKET connects
 * SEQPACKET to CID 2, the daemon connects AF_VSOCK SOCK_SEQPACKET to CID 1;
 * messages keep their boundaries both ways (a guest message in two
 * packets is one host message, a host message longer than one packet
 * reaches the guest as packets up to EOM), and MSG_EOR travels as
 * VIRTIO_VSOCK_SEQ_EOR (not under the shim: AF_UNIX does not carry it).
 * Host messages up to 100000 bytes: on Linux 6.1, which cannot peek a
 * SEQPACKET message, the daemon reads each one whole; a failure names what
 * this kernel's peek does (seq_peek_works()).
 */
static enum verdict c_seqpacket_cid(void)
{
	static const uint32_t gsz[] = { 1, 4096, 4097, 40000 }; /* < our 64 KiB credit */
	static const uint32_t hsz[] = { 1, 4096, 4097, 60000, 100000 };
	static uint8_t want[128 * 1024], got[128 * 1024];
	const char *argv[] = { NULL,	      "--guest-cid", "3", "--socket", "%D/seq.sock",
			       "--forward-cid", "1",	     NULL };
	struct sim_daemon d;
	struct sim_opts o;
	struct sim *s = NULL;
	struct sim_pkt *p = sim_pkt_new();
	enum verdict v = PASS;
	char path[SIM_DAEMON_PATH_MAX + 16];
	int lfd, hfd = -1, r;

	if (!p)
		return failf("out of memory");
	lfd = seq_listen(VMADDR_CID_ANY, CSEQ_PORT);
	if (lfd < 0) {
		free(p);
		return failf("SEQPACKET listener (any, %u): %s", CSEQ_PORT, strerror(-lfd));
	}
	r = daemon_start(&d, argv, "%D/seq.sock");
	if (r) {
		v = failf("daemon did not start: %s", strerror(-r));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/seq.sock", d.dir);
	guest_opts(&o);
	o.features |= 1ull << VIRTIO_VSOCK_F_SEQPACKET;
	r = sim_connect(path, &o, &s);
	if (!r)
		r = sim_start(s);
	if (r) {
		v = failf("sim start: %s", strerror(-r));
		goto out;
	}
	r = seq_send(s, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	if (!r)
		r = seq_next(s, p);
	if (r || p->op != VIRTIO_VSOCK_OP_RESPONSE || p->type != VIRTIO_VSOCK_TYPE_SEQPACKET) {
		v = failf("SEQPACKET REQUEST: %s, op %u type %u (want RESPONSE, SEQPACKET)",
			  strerror(-r), r ? 0 : p->op, r ? 0 : p->type);
		goto out;
	}
	hfd = accept_one(lfd, 5000);
	if (hfd < 0) {
		v = failf("the SEQPACKET listener accepted nothing: %s", strerror(-hfd));
		goto out;
	}
	/* Guest -> host: the 4097-byte message in two packets; EOR on odd ones. */
	for (unsigned i = 0; i < sizeof(gsz) / sizeof(gsz[0]); i++) {
		uint32_t eor = i % 2 ? VIRTIO_VSOCK_SEQ_EOR : 0, n = gsz[i], first = n > 4096 ? 4000 : 0;
		struct iovec iov = { got, sizeof(got) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t k;

		seq_fill(want, n, i);
		r = first ? seq_send(s, VIRTIO_VSOCK_OP_RW, 0, want, first) : 0;
		if (!r)
			r = seq_send(s, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_SEQ_EOM | eor, want + first,
				     n - first);
		if (r) {
			v = failf("guest message %u: send: %s", i + 1, strerror(-r));
			goto out;
		}
		if (poll(&(struct pollfd){ .fd = hfd, .events = POLLIN }, 1, 5000) <= 0) {
			v = failf("guest message %u (%u bytes) never reached the host", i + 1, n);
			goto out;
		}
		k = recvmsg(hfd, &mh, MSG_DONTWAIT);
		if (k != (ssize_t)n || memcmp(got, want, n) || (mh.msg_flags & MSG_TRUNC) ||
		    (!shim && !(mh.msg_flags & MSG_EOR) != !eor)) {
			v = failf("guest message %u: host got %zd bytes (want %u), %s, flags 0x%x "
				  "(EOR wanted: %s)",
				  i + 1, k, n, k == (ssize_t)n && !memcmp(got, want, n) ? "same" : "differ",
				  mh.msg_flags, eor ? "yes" : "no");
			goto out;
		}
	}
	/* Host -> guest: packets up to EOM make one message; EOR on even ones. */
	for (unsigned i = 0; i < sizeof(hsz) / sizeof(hsz[0]); i++) {
		bool eor = i % 2 == 0;
		uint32_t n = hsz[i], have = 0, flags = 0;

		seq_fill(want, n, 100 + i);
		if (send(hfd, want, n, MSG_NOSIGNAL | (eor ? MSG_EOR : 0)) != (ssize_t)n) {
			v = failf("host message %u: send: %s", i + 1, strerror(errno));
			goto out;
		}
		while (!(flags & VIRTIO_VSOCK_SEQ_EOM)) {
			r = seq_next(s, p);
			if (r || p->op != VIRTIO_VSOCK_OP_RW ||
			    p->type != VIRTIO_VSOCK_TYPE_SEQPACKET || have + p->len > n) {
				int peek = shim ? 1 : seq_peek_works();

				v = failf("host message %u: after %u of %u bytes: %s, op %u type %u "
					  "len %u; MSG_PEEK probe %d%s",
					  i + 1, have, n, strerror(-r), r ? 0 : p->op, r ? 0 : p->type,
					  r ? 0 : p->len, peek,
					  peek != 1 ? " (this kernel's AF_VSOCK SOCK_SEQPACKET "
						      "cannot peek a message's size: the daemon must "
						      "read it whole)"
						    : "");
				goto out;
			}
			memcpy(got + have, p->payload, p->len);
			have += p->len;
			flags = p->flags;
		}
		if (have != n || memcmp(got, want, n) ||
		    (!shim && !(flags & VIRTIO_VSOCK_SEQ_EOR) != !eor)) {
			v = failf("host message %u: guest got %u bytes (want %u), flags 0x%x (EOR "
				  "wanted: %s)",
				  i + 1, have, n, flags, eor ? "yes" : "no");
			goto out;
		}
	}
	snprintf(why, sizeof(why), "%zu guest and %zu host messages, boundaries%s kept",
		 sizeof(gsz) / sizeof(gsz[0]), sizeof(hsz) / sizeof(hsz[0]),
		 shim ? "" : " and MSG_EOR");
out:
	if (hfd >= 0)
		close(hfd);
	close(lfd);
	if (s) {
		seq_send(s, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
		sim_close(s);
	}
	free(p);
	if (d.pid && daemon_stop(&d) && v == PASS)
		v = failf("the daemon did not exit 0 on SIGTERM (status 0x%x)", d.status);
	return v;
}

static enum verdict c_siblings(void)
{
	/* "%D" works only as a prefix: the --vm values name a dir of ours. */
	char dir[] = "/tmp/fwd-sib-XXXXXX";
	char vm3[160], vm4[160], vm5[160], path[3][64];
	const char *argv[] = { NULL, "--vm", vm3, "--vm", vm4, "--vm", vm5, NULL };
	struct sim_daemon d;
	struct sim *s3 = NULL, *s4 = NULL, *s5 = NULL;
	struct grun b;
	struct fwd_guest a;
	enum verdict v = PASS;
	int lfd, r;
	int64_t ms = 0;
	unsigned leaked;

	if (!mkdtemp(dir))
		return failf("mkdtemp: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		snprintf(path[i], sizeof(path[i]), "%s/%c.sock", dir, 'a' + i);
	snprintf(vm3, sizeof(vm3), "guest-cid=3,socket=%s,forward-cid=1,forward-listen=9000",
		 path[0]);
	snprintf(vm4, sizeof(vm4), "guest-cid=4,socket=%s,forward-cid=1", path[1]);
	snprintf(vm5, sizeof(vm5), "guest-cid=5,socket=%s,forward-cid=1,groups=other", path[2]);
	memset(&b, 0, sizeof(b));
	memset(&a, 0, sizeof(a));
	lfd = fwd_vsock_listen(VMADDR_CID_ANY, 6000, 16);
	if (lfd < 0)
		return failf("host listener (any, 6000): %s", strerror(-lfd));
	r = daemon_start(&d, argv, path[2]);
	if (r) {
		close(lfd);
		sim_daemon_stop(&d, 1000, NULL);
		for (int i = 0; i < 3; i++)
			unlink(path[i]);
		rmdir(dir);
		return failf("daemon with 3 VMs did not start: %s", strerror(-r));
	}
	r = guest_start(path[0], &s3);
	if (!r)
		r = guest_start(path[1], &s4);
	if (!r)
		r = guest_start(path[2], &s5);
	if (r) {
		v = failf("sim start: %s", strerror(-r));
		goto out;
	}
	/* VM 3 -> VM 4 (same default group): a sibling connection, data both
	 * ways; nothing may reach the host listener on port 6000. */
	if (fwd_guest_init(&a, s3) || fwd_guest_init(&b.g, s4)) {
		v = failf("out of memory");
		goto out;
	}
	a.len_i2a = a.len_a2i = b.g.len_i2a = b.g.len_a2i = SMALL;
	b.g.accept_port = 6000;
	b.g.n_accept = 1;
	b.timeout_ms = 20000;
	r = fwd_guest_connect(&a, 4, 6000, 1, 45000, 7);
	if (!r)
		r = -pthread_create(&b.th, NULL, grun_thread, &b);
	if (r) {
		v = failf("start: %s", strerror(-r));
		goto out;
	}
	r = fwd_guest_run(&a, 20000);
	pthread_join(b.th, NULL);
	if (r || b.result) {
		v = failf("VM 3 -> VM 4: %s%s", r ? a.why : "", b.result ? b.g.why : "");
		goto out;
	}
	if (b.g.req_src_cid != GUEST_CID) {
		v = failf("VM 4 saw the REQUEST from cid %llu, want 3",
			  (unsigned long long)b.g.req_src_cid);
		goto out;
	}
	/* VM 3 -> VM 5 (another group): refused, and not forwarded. */
	v = expect_refused(s3, 5, 6000, 45100, &ms);
	if (v != PASS) {
		v = failf("VM 3 -> VM 5 (other group): %s", why);
		goto out;
	}
	leaked = drain_accepts(lfd);
	if (leaked) {
		v = failf("%u sibling connection(s) went to the host's (1, 6000) instead", leaked);
		goto out;
	}
	/* And the host backend still takes CID 2. */
	fwd_guest_fini(&a);
	{
		struct xchg x = { .sim = s3, .g_cid = HOST_CID, .g_port = 6000, .g_src = 45200,
				  .g_n = 1, .lfd = lfd, .h_port = FL_A, .h_n = 1, .len = SMALL };

		v = exchange(&x);
		if (v != PASS) {
			v = failf("VM 3 <-> host next to siblings: %s", why);
			goto out;
		}
	}
	snprintf(why, sizeof(why),
		 "3->4 sibling stream ok, 3->5 (other group) RST in %lld ms and not forwarded, "
		 "3<->host still forwarded", (long long)ms);
out:
	fwd_guest_fini(&a);
	fwd_guest_fini(&b.g);
	guest_stop(s3);
	guest_stop(s4);
	guest_stop(s5);
	close(lfd);
	r = daemon_stop(&d);
	if (v == PASS && r)
		v = failf("daemon did not exit 0 on SIGTERM");
	for (int i = 0; i < 3; i++)
		unlink(path[i]);
	rmdir(dir);
	return v;
}

/* ---- SOCK_SEQPACKET: forward-listen-seqpacket and forward-cid ---- */

#define SEQ_PORT 9100    /* the daemon's forward-listen-seqpacket port */
#define SEQ_SVC 7100     /* a host SOCK_SEQPACKET service on (any, SEQ_SVC) */
#define SEQ_GPORT 47000  /* the guest's port for its connection to SEQ_SVC */
#define SEQ_BUF 65536u   /* the guest's buf_alloc */
#define SEQ_MS 3000      /* bound on each step */

/* An AF_VSOCK SOCK_SEQPACKET listener on (any, port): fd or -errno. */
static int seq_vsock_listen(uint32_t port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* An AF_VSOCK SOCK_SEQPACKET socket connected to (cid, port) within
 * timeout_ms (non-blocking): fd or -errno. */
static int seq_vsock_connect(uint32_t cid, uint32_t port, int timeout_ms)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r, err = 0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	r = poll(&p, 1, timeout_ms);
	if (r <= 0) {
		r = r == 0 ? -ETIMEDOUT : -errno;
		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

/* One host message of len bytes (flags: MSG_EOR or 0): 0 or -errno. */
static int seq_host_send(int fd, const void *buf, size_t len, int flags, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	ssize_t r;

	for (;;) {
		r = send(fd, buf, len, flags | MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0)
			return (size_t)r == len ? 0 : -EMSGSIZE;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
	}
}

/* One host message into buf: its whole size, *eor whether MSG_EOR came
 * with it; -EMSGSIZE if larger than cap, or another -errno. */
static ssize_t seq_host_recv(int fd, void *buf, size_t cap, bool *eor, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct iovec v = { buf, cap };
	struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1 };
	ssize_t r;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
	if (r < 0)
		return -errno;
	*eor = (mh.msg_flags & MSG_EOR) != 0;
	return (mh.msg_flags & MSG_TRUNC) ? -EMSGSIZE : r;
}

/* A guest packet of type SEQPACKET from guest port gport to (2, hport). */
static int seq_guest_send(struct sim *s, uint32_t gport, uint32_t hport, uint16_t op,
			  uint32_t flags, const void *data, uint32_t len, uint32_t fwd_cnt)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), HOST_CID, gport, hport, op,
						  flags, len, SEQ_BUF, fwd_cnt);

	h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	return sim_tx_send(s, &h, data, len, 0);
}

/* The next packet to guest port gport from (2, hport; 0: any port) that
 * is no credit message, within timeout_ms: 0 or -errno. */
static int seq_guest_next(struct sim *s, struct sim_pkt *p, uint32_t gport, uint32_t hport,
			  int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	for (;;) {
		int left = (int)(deadline - sim_now_ms()), r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = sim_rx_poll(s, p, left);
		if (r)
			return r;
		if (p->dst_port != gport || p->src_cid != HOST_CID ||
		    (hport && p->src_port != hport))
			continue;
		if (p->op == VIRTIO_VSOCK_OP_CREDIT_UPDATE ||
		    p->op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
			continue;
		return 0;
	}
}

/*
 * One message as the guest gets it: the RW packets up to EOM joined in
 * buf. Returns its size with *flags those of the EOM packet, or fails the
 * case (what names the message).
 */
static ssize_t seq_guest_recv_msg(struct sim *s, struct sim_pkt *p, uint32_t gport,
				  uint32_t hport, uint8_t *buf, size_t cap, uint32_t *flags,
				  const char *what)
{
	size_t n = 0;
	int r;

	for (;;) {
		r = seq_guest_next(s, p, gport, hport, SEQ_MS);
		if (r) {
			failf("%s: no packet for the guest after %zu bytes: %s", what, n, strerror(-r));
			return -1;
		}
		if (p->op != VIRTIO_VSOCK_OP_RW || p->type != VIRTIO_VSOCK_TYPE_SEQPACKET) {
			failf("%s: got %s of type %u, want RW of type SEQPACKET", what,
			      sim_op_name(p->op), p->type);
			return -1;
		}
		if (n + p->payload_len > cap) {
			failf("%s: more than %zu bytes before EOM", what, cap);
			return -1;
		}
		memcpy(buf + n, p->payload, p->payload_len);
		n += p->payload_len;
		if (p->flags & VIRTIO_VSOCK_SEQ_EOM) {
			*flags = p->flags;
			return (ssize_t)n;
		}
	}
}

/* The host side of a connection closed: the guest hears SHUTDOWN or RST
 * and answers RST. 0, or fails the case. */
static int seq_guest_closed(struct sim *s, struct sim_pkt *p, uint32_t gport, uint32_t hport,
			    const char *what)
{
	int r = seq_guest_next(s, p, gport, hport, SEQ_MS);

	if (r) {
		failf("%s: the guest heard nothing of the host's close: %s", what, strerror(-r));
		return -1;
	}
	if (p->op != VIRTIO_VSOCK_OP_SHUTDOWN && p->op != VIRTIO_VSOCK_OP_RST) {
		failf("%s: after the host's close the guest got %s, want SHUTDOWN or RST", what,
		      sim_op_name(p->op));
		return -1;
	}
	if (p->op == VIRTIO_VSOCK_OP_SHUTDOWN)
		seq_guest_send(s, gport, hport, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, 0);
	return 0;
}

/*
 * SOCK_SEQPACKET both ways on a daemon of its own: a host AF_VSOCK
 * SOCK_SEQPACKET connection to a forward-listen-seqpacket port reaches the
 * guest as a SEQPACKET REQUEST, and a guest SEQPACKET connection to CID 2
 * reaches a host SOCK_SEQPACKET service at (forward-cid, port). Message
 * boundaries hold both ways: two host messages are two guest messages
 * (EOM on the last packet of each), a guest message sent in two RW packets
 * is one host message. MSG_EOR is checked only on real vsock: the shim's
 * AF_UNIX cannot carry it.
 */
static enum verdict seqpacket_both_ways(void)
{
	char port[16];
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
			       "--forward-cid", "1", "--forward-listen-seqpacket", port, NULL };
	static uint8_t m1[3000], m2[2500], m3[4000], got[65536];
	struct sim_daemon d;
	struct sim_opts o;
	struct sim *s = NULL;
	struct sim_pkt *p = sim_pkt_new();
	enum verdict v = FAIL;
	uint32_t hport, flags, fwd = 0;
	bool eor = false, started = false;
	int lfd, hfd = -1, afd = -1, r;
	ssize_t n;

	if (!p)
		return failf("out of memory");
	snprintf(port, sizeof(port), "%u", SEQ_PORT);
	lfd = seq_vsock_listen(SEQ_SVC);
	if (lfd < 0) {
		free(p);
		return failf("host SOCK_SEQPACKET listener (any, %u): %s", SEQ_SVC,
			     strerror(-lfd));
	}
	r = daemon_start(&d, argv, "%D/vhost.sock");
	started = true;
	if (r) {
		failf("daemon with --forward-listen-seqpacket %u did not start: %s", SEQ_PORT,
		      strerror(-r));
		goto out;
	}
	guest_opts(&o);
	o.features |= 1ull << VIRTIO_VSOCK_F_SEQPACKET;
	r = sim_connect(d.socket_path, &o, &s);
	if (!r && (r = sim_start(s)) != 0) {
		sim_close(s);
		s = NULL;
	}
	if (r) {
		s = NULL;
		failf("sim start (with VIRTIO_VSOCK_F_SEQPACKET): %s", strerror(-r));
		goto out;
	}

	/* Host -> guest on the forward-listen-seqpacket port. */
	hfd = seq_vsock_connect(VMADDR_CID_LOCAL, SEQ_PORT, SEQ_MS);
	if (hfd < 0) {
		failf("SOCK_SEQPACKET connect to (1, %u): %s", SEQ_PORT, strerror(-hfd));
		goto out;
	}
	r = seq_guest_next(s, p, SEQ_PORT, 0, SEQ_MS);
	if (r) {
		failf("the guest got no REQUEST for port %u: %s", SEQ_PORT, strerror(-r));
		goto out;
	}
	if (p->op != VIRTIO_VSOCK_OP_REQUEST || p->type != VIRTIO_VSOCK_TYPE_SEQPACKET) {
		failf("port %u: the guest got %s of type %u, want a REQUEST of type SEQPACKET (%u)",
		      SEQ_PORT, sim_op_name(p->op), p->type, VIRTIO_VSOCK_TYPE_SEQPACKET);
		goto out;
	}
	hport = p->src_port;
	r = seq_guest_send(s, SEQ_PORT, hport, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0, 0);
	fwd_pattern(m1, sizeof(m1), 1, 0);
	if (!r)
		r = seq_host_send(hfd, m1, sizeof(m1), MSG_EOR, SEQ_MS);
	if (!r)
		r = seq_host_send(hfd, "hello", 5, 0, SEQ_MS);
	if (r) {
		failf("RESPONSE, then two host messages: %s", strerror(-r));
		goto out;
	}
	n = seq_guest_recv_msg(s, p, SEQ_PORT, hport, got, sizeof(got), &flags,
			       "host message 1");
	if (n < 0)
		goto out;
	if (n != (ssize_t)sizeof(m1) || memcmp(got, m1, sizeof(m1))) {
		failf("host message 1 (%zu bytes) reached the guest as %zd bytes%s", sizeof(m1), n,
		      n == (ssize_t)sizeof(m1) ? " with other content" : "");
		goto out;
	}
	if (!shim && !(flags & VIRTIO_VSOCK_SEQ_EOR)) {
		failf("host message 1 was sent with MSG_EOR; the guest's EOM packet lacks EOR");
		goto out;
	}
	fwd += (uint32_t)n;
	n = seq_guest_recv_msg(s, p, SEQ_PORT, hport, got, sizeof(got), &flags,
			       "host message 2");
	if (n < 0)
		goto out;
	if (n != 5 || memcmp(got, "hello", 5)) {
		failf("host message 2 (5 bytes) reached the guest as %zd bytes", n);
		goto out;
	}
	if (flags & VIRTIO_VSOCK_SEQ_EOR) {
		failf("host message 2 was sent without MSG_EOR; the guest got EOR");
		goto out;
	}
	fwd += (uint32_t)n;

	/* Guest -> host: one message in two RW packets. */
	fwd_pattern(m2, sizeof(m2), 2, 0);
	r = seq_guest_send(s, SEQ_PORT, hport, VIRTIO_VSOCK_OP_RW, 0, m2, 1500, fwd);
	if (!r)
		r = seq_guest_send(s, SEQ_PORT, hport, VIRTIO_VSOCK_OP_RW,
				   VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR, m2 + 1500,
				   sizeof(m2) - 1500, fwd);
	if (r) {
		failf("guest RW: %s", strerror(-r));
		goto out;
	}
	n = seq_host_recv(hfd, got, sizeof(got), &eor, SEQ_MS);
	if (n != (ssize_t)sizeof(m2) || memcmp(got, m2, sizeof(m2))) {
		failf("a guest message of %zu bytes in 2 packets: the host's recv gave %zd%s",
		      sizeof(m2), n, n < 0 ? " (-errno)" : " bytes, or other content");
		goto out;
	}
	if (!shim && !eor) {
		failf("the guest's message had EOR; the host's recv has no MSG_EOR");
		goto out;
	}
	close(hfd);
	hfd = -1;
	if (seq_guest_closed(s, p, SEQ_PORT, hport, "host -> guest"))
		goto out;

	/* Guest -> a host SOCK_SEQPACKET service at (forward-cid, SEQ_SVC). */
	r = seq_guest_send(s, SEQ_GPORT, SEQ_SVC, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0, 0);
	if (!r)
		r = seq_guest_next(s, p, SEQ_GPORT, SEQ_SVC, SEQ_MS);
	if (r) {
		failf("guest SEQPACKET REQUEST to (2, %u): no answer: %s", SEQ_SVC, strerror(-r));
		goto out;
	}
	if (p->op != VIRTIO_VSOCK_OP_RESPONSE || p->type != VIRTIO_VSOCK_TYPE_SEQPACKET) {
		failf("guest SEQPACKET REQUEST to (2, %u): got %s of type %u, want a RESPONSE of "
		      "type SEQPACKET", SEQ_SVC, sim_op_name(p->op), p->type);
		goto out;
	}
	afd = accept_one(lfd, SEQ_MS);
	if (afd < 0) {
		failf("the host service (any, %u) accepted nothing: %s", SEQ_SVC, strerror(-afd));
		goto out;
	}
	r = seq_guest_send(s, SEQ_GPORT, SEQ_SVC, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_SEQ_EOM,
			   "ping", 4, 0);
	n = r ? r : seq_host_recv(afd, got, sizeof(got), &eor, SEQ_MS);
	if (n != 4 || memcmp(got, "ping", 4)) {
		failf("guest message \"ping\" to the service: the host's recv gave %zd", n);
		goto out;
	}
	fwd_pattern(m3, sizeof(m3), 3, 0);
	r = seq_host_send(afd, m3, sizeof(m3), 0, SEQ_MS);
	if (r) {
		failf("the service's message: %s", strerror(-r));
		goto out;
	}
	n = seq_guest_recv_msg(s, p, SEQ_GPORT, SEQ_SVC, got, sizeof(got), &flags,
			       "the service's message");
	if (n < 0)
		goto out;
	if (n != (ssize_t)sizeof(m3) || memcmp(got, m3, sizeof(m3))) {
		failf("the service's message (%zu bytes) reached the guest as %zd bytes",
		      sizeof(m3), n);
		goto out;
	}
	close(afd);
	afd = -1;
	if (seq_guest_closed(s, p, SEQ_GPORT, SEQ_SVC, "guest -> host"))
		goto out;
	v = PASS;
	snprintf(why, sizeof(why),
		 "host -> (1, %u): 2 messages (%zu, 5 bytes) = 2 guest EOMs, a guest message in "
		 "2 packets = 1 host recv of %zu; guest -> (2, %u): one message each way%s",
		 SEQ_PORT, sizeof(m1), sizeof(m2), SEQ_SVC,
		 shim ? " (MSG_EOR not checked: the shim's AF_UNIX drops it)" : "; MSG_EOR kept");
out:
	if (hfd >= 0)
		close(hfd);
	if (afd >= 0)
		close(afd);
	close(lfd);
	free(p);
	guest_stop(s);
	if (started) {
		r = daemon_stop(&d);
		if (v == PASS && r)
			v = failf("daemon did not exit 0 on SIGTERM (status 0x%x)", d.status);
	}
	return v;
}

static enum verdict c_seqpacket(void)
{
	return seqpacket_both_ways();
}

/*
 * The same where the daemon's vsock cannot peek a SEQPACKET message (Linux
 * before 6.3, which answers MSG_PEEK with ENOMEM): it reads each message
 * whole instead. Under the shim only, which plays that kernel for the
 * daemon; in the e2e guest the kernel decides (Debian 12's 6.1 cannot).
 */
static enum verdict c_seqpacket_no_peek(void)
{
	static const char pre[] = "the daemon's MSG_PEEK on SOCK_SEQPACKET gives ENOMEM: ";
	enum verdict v;

	if (!shim)
		return skipf("the kernel decides whether MSG_PEEK works on SOCK_SEQPACKET; "
			     "case seqpacket runs on whichever this one is");
	setenv(VDV_VSOCK_SHIM_NO_SEQ_PEEK_ENV, "1", 1);
	v = seqpacket_both_ways();
	unsetenv(VDV_VSOCK_SHIM_NO_SEQ_PEEK_ENV);
	if (v == PASS) {
		size_t n = sizeof(pre) - 1, len = strnlen(why, sizeof(why) - 1 - n);

		memmove(why + n, why, len);
		why[n + len] = 0;
		memcpy(why, pre, n);
	}
	return v;
}

/*
 * A guest whose driver did not take VIRTIO_VSOCK_F_SEQPACKET: a host
 * SOCK_SEQPACKET connection to a forward-listen-seqpacket port is closed,
 * the guest hears nothing of it, and the daemon says why.
 */
static enum verdict c_seqpacket_no_feature(void)
{
	char port[16];
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
			       "--forward-cid", "1", "--forward-listen-seqpacket", port, NULL };
	static const char want[] = "did not negotiate SEQPACKET";
	struct sim_daemon d;
	struct sim *s = NULL;
	struct sim_pkt *p = sim_pkt_new();
	enum verdict v = FAIL;
	int64_t deadline;
	size_t junk = 0;
	char *log;
	int fd = -1, r;

	if (!p)
		return failf("out of memory");
	snprintf(port, sizeof(port), "%u", SEQ_PORT);
	r = daemon_start(&d, argv, "%D/vhost.sock");
	if (r) {
		failf("daemon did not start: %s", strerror(-r));
		goto out;
	}
	r = guest_start(d.socket_path, &s); /* without F_SEQPACKET */
	if (r) {
		failf("sim start: %s", strerror(-r));
		goto out;
	}
	fd = seq_vsock_connect(VMADDR_CID_LOCAL, SEQ_PORT, SEQ_MS);
	if (fd < 0) {
		failf("SOCK_SEQPACKET connect to (1, %u): %s (want accepted, then closed)",
		      SEQ_PORT, strerror(-fd));
		goto out;
	}
	r = wait_closed(fd, 2000, &junk);
	if (r || junk) {
		failf("host SOCK_SEQPACKET connection %s", r ? "not closed within 2 s"
							  : "received data");
		goto out;
	}
	deadline = sim_now_ms() + 300;
	while (sim_now_ms() < deadline &&
	       sim_rx_poll(s, p, (int)(deadline - sim_now_ms())) == 0)
		if (p->op == VIRTIO_VSOCK_OP_REQUEST) {
			failf("a guest without SEQPACKET got a REQUEST of type %u for port %u",
			      p->type, p->dst_port);
			goto out;
		}
	log = slurp(d.log_path);
	r = strstr(log, want) != NULL;
	free(log);
	if (!r) {
		failf("the daemon's log lacks \"%s\"", want);
		goto out;
	}
	v = PASS;
	snprintf(why, sizeof(why), "host connection to (1, %u) closed, no REQUEST; logged \"%s\"",
		 SEQ_PORT, want);
out:
	if (fd >= 0)
		close(fd);
	free(p);
	guest_stop(s);
	r = daemon_stop(&d);
	if (v == PASS && r)
		v = failf("daemon did not exit 0 on SIGTERM (status 0x%x)", d.status);
	return v;
}

/* A port held by a stream socket cannot take a SOCK_SEQPACKET listener
 * (one vsock port, one socket): the daemon stops at start-up naming it. */
static enum verdict c_seqpacket_port_in_use(void)
{
	char port[16];
	const char *argv[] = { NULL, "--guest-cid", "3", "--socket", "%D/vhost.sock",
			       "--forward-cid", "1", "--forward-listen-seqpacket", port, NULL };
	int fd = fwd_vsock_listen(VMADDR_CID_LOCAL, SEQ_PORT + 1, 4);
	enum verdict v = PASS;
	char *log = NULL, want[64];
	int st = 0, r;

	if (fd < 0)
		return failf("stream listener on (1, %u): %s", SEQ_PORT + 1, strerror(-fd));
	snprintf(port, sizeof(port), "%u", SEQ_PORT + 1);
	snprintf(want, sizeof(want), "forward-listen-seqpacket port %u", SEQ_PORT + 1);
	r = daemon_must_fail(argv, &log, &st);
	close(fd);
	one_line(log);
	if (r == -EEXIST)
		v = failf("daemon started although a stream socket holds port %u; log: %s",
			  SEQ_PORT + 1, log);
	else if (r)
		v = failf("daemon exited %d (want non-zero); log: %s", WEXITSTATUS(st), log);
	else if (!strstr(log, want) || !strstr(log, "in use"))
		v = failf("message lacks \"%s\" or 'in use': %s", want, log);
	else
		snprintf(why, sizeof(why), "exit %d: %s", WEXITSTATUS(st), log);
	free(log);
	return v;
}

/* ---- main ---- */

static bool in_e2e_guest(void)
{
	char buf[4096] = "";
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, "vdv.scenario=") != NULL;
}

int main(int argc, char **argv)
{
	bool user_keep;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--module-checks"))
			module_checks = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (argv[i][0] != '-' && !daemon_exe)
			daemon_exe = argv[i];
		else
			break;
	}
	if (i < argc || !daemon_exe) {
		fprintf(stderr, "usage: %s DAEMON [--module-checks] [--only NAME,...]\n", argv[0]);
		return 2;
	}
	shim = shim_loaded();
	if (!shim && !in_e2e_guest()) {
		fprintf(stderr,
			"%s: refusing to run: this program opens AF_VSOCK sockets and runs only "
			"inside the e2e guest (kernel command line with vdv.scenario=) or under the "
			"vsock shim; use tests/e2e/test-forward.sh or tests/forward/run-shim.sh\n",
			argv[0]);
		return 2;
	}
	if (shim) {
		int r = forbid_af_vsock();

		if (r) {
			/* 77: meson's "skipped" */
			printf("%s: cannot make the kernel refuse AF_VSOCK (seccomp: %s): not running "
			       "under the vsock shim without that guard\nforward: 0 passed, 0 failed, "
			       "1 skipped\n", argv[0], strerror(-r));
			return 77;
		}
		if (shim_setup(argv[0]))
			return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setenv("VDV_LOG", "debug", 0);
	user_keep = getenv("VDV_KEEP_TMP") != NULL;
	setenv("VDV_KEEP_TMP", "1", 1); /* failing cases show the daemon's log */
	say("# test-forward: daemon %s", daemon_exe);

	/* Start-up errors first: they unload and reload modules. */
	run_case("startup_no_vsock", c_startup_no_vsock);
	run_case("startup_no_loopback", c_startup_no_loopback);
	run_case("port_in_use_any", c_port_in_use_any);
	run_case("port_in_use_local", c_port_in_use_local);
	run_case("readme_cli", c_readme_cli);
	run_case("readme_vm", c_readme_vm);
	run_case("main_daemon", c_main_daemon);
	run_case("guest_to_host", c_guest_to_host);
	run_case("enclave_cid", c_enclave_cid);
	run_case("host_to_guest", c_host_to_guest);
	run_case("guest_refused", c_guest_refused);
	run_case("host_refused", c_host_refused);
	run_case("peer_cid_refused", c_peer_cid_refused);
	run_case("bulk", c_bulk);
	run_case("concurrent", c_concurrent);
	run_case("slow_host_reader", c_slow_host_reader);
	run_case("small_guest_credit", c_small_guest_credit);
	run_case("hairpin", c_hairpin);
	run_case("abrupt_close", c_abrupt_close);
	run_case("early_close", c_early_close);
	run_case("host_unanswered", c_host_unanswered);
	run_case("vmm_restart", c_vmm_restart);
	run_case("main_daemon_stops", c_main_daemon_stops);
	run_case("siblings", c_siblings);
	run_case("seqpacket", c_seqpacket);
	run_case("seqpacket_no_peek", c_seqpacket_no_peek);
	run_case("seqpacket_no_feature", c_seqpacket_no_feature);
	run_case("seqpacket_port_in_use", c_seqpacket_port_in_use);
	run_case("seqpacket_cid", c_seqpacket_cid);

	if (main_up) {
		guest_stop(main_sim);
		sim_daemon_stop(&main_d, 2000, NULL);
	}
	if (svc_fd >= 0)
		close(svc_fd);
	if (shim && !user_keep)
		remove_kept_dirs(); /* failed cases showed their logs */
	say("forward: %u passed, %u failed, %u skipped", n_pass, n_fail, n_skip);
	return n_fail ? 1 : 0;
}

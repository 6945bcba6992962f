/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * AF_VSOCK over AF_UNIX: an LD_PRELOAD library that lets the forward-cid
 * tests (test-forward and the daemon it spawns) run on a host without ever
 * opening a real AF_VSOCK socket; this host's CID 2 may be its hypervisor.
 * It interposes the calls src/backend/vsock_fwd.c and tests/forward's
 * fwd_host.c make, and takes the real ones with dlsym(RTLD_NEXT):
 *
 *  - socket(AF_VSOCK, type, 0) becomes socket(AF_UNIX, type, 0): the real
 *    socket() never sees AF_VSOCK. The fd is remembered in a table (the
 *    daemon is multi-threaded: a mutex guards it). Without
 *    $VDV_VSOCK_SHIM_DIR, socket(AF_VSOCK) fails with EAFNOSUPPORT, as on
 *    a host without vsock.
 *  - The vsock address (cid, port) is the socket file "<dir>/<cid>.<port>".
 *    bind to VMADDR_CID_ANY binds the shim's local CID ($VDV_VSOCK_SHIM_CID,
 *    default 1, what vsock_loopback gives); VMADDR_PORT_ANY picks a free
 *    port. Any other CID may be bound as well, so that a test can pose as
 *    another VM (the kernel would say EADDRNOTAVAIL). A port is in use
 *    while some socket holds its file; a file left by a process that died
 *    is taken over (a datagram socket connecting to it gets ECONNREFUSED:
 *    nobody holds it), and close() unlinks what the process bound.
 *  - connect first binds the socket, as vsock does implicitly, so the
 *    accepting side learns the peer's CID and port from its path:
 *    accept/accept4/getpeername/getsockname give struct sockaddr_vm.
 *  - A non-blocking connect never completes at once, as with vsock: when
 *    AF_UNIX connected, it says EINPROGRESS (the socket polls writable,
 *    SO_ERROR is 0). A connect nobody accepts (no socket at the path, a
 *    stale file, a full backlog) fails as vsock_loopback's RST makes it
 *    fail, with ECONNRESET: a non-blocking one says EINPROGRESS and then
 *    reports ECONNRESET through getsockopt(SO_ERROR) (the unconnected
 *    AF_UNIX socket polls writable and hung up), so vsock_fwd.c's
 *    EPOLLOUT/SO_ERROR path sees the refusal; a blocking one fails at once.
 *  - open("/dev/vsock") opens /dev/null in its stead, and
 *    IOCTL_VM_SOCKETS_GET_LOCAL_CID on that fd gives the local CID.
 *  - recv, recvfrom and recvmsg answer as AF_VSOCK does where AF_UNIX
 *    differs: a zero-length read returns 0 at once without looking at the
 *    queue (af_vsock.c), even when a message waits; with
 *    $VDV_VSOCK_SHIM_NO_SEQ_PEEK, MSG_PEEK on a SOCK_SEQPACKET socket with a
 *    message waiting fails with ENOMEM, as Linux before 6.3 answers.
 *
 * Sockets get a 256 KiB send buffer, about what vsock lets a sender have
 * in flight. Not emulated: dup()ed vsock fds (not tracked), SOCK_DGRAM,
 * vsock-level socket options, and getsockname of a listener bound to
 * VMADDR_CID_ANY (gives the local CID). The library is built without
 * sanitizers: it is preloaded before libasan (see run-shim.sh).
 */
/* open() and open64() are both defined here: neither may be a macro or a
 * redirection to the other. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "forward/vsock_shim.h"

/* sys/socket.h declares address arguments as transparent unions under
 * _GNU_SOURCE: the plain pointer inside. */
#define SA(a) ((a).__sockaddr__)

#define SHIM_MAX_FD 65536
#define SHIM_SNDBUF (256 * 1024)
#define DIR_MAX 85 /* + "/4294967295.4294967295" fits sun_path */
#define EPHEMERAL_MIN 0x8000u
#define EPHEMERAL_SPAN (0x40000000u - EPHEMERAL_MIN)
#define EPHEMERAL_TRIES 4096

enum kind { K_NONE, K_SOCK, K_DEV };

struct ent {
	uint8_t kind;
	bool bound;        /* we bound its file, in process pid: close unlinks */
	bool seq;          /* SOCK_SEQPACKET */
	int err;           /* SO_ERROR still to report: a refused connect */
	pid_t pid;
	uint32_t cid, port;
};

static struct ent tab[SHIM_MAX_FD];
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*close)(int);
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
} real;

static char dir[DIR_MAX + 1]; /* "": AF_VSOCK is unavailable */
static uint32_t local_cid = VMADDR_CID_LOCAL;
static bool no_seq_peek;
static _Atomic uint32_t next_port;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static atomic_ulong st_sockets, st_binds, st_connects, st_inprogress, st_refused,
	st_accepts, st_ioctls;

int vdv_vsock_shim_active(void)
{
	return 1;
}

static void lock(void)
{
	pthread_mutex_lock(&tab_lock);
}

static void unlock(void)
{
	pthread_mutex_unlock(&tab_lock);
}

static void *sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		/* Never fall back to anything that might reach AF_VSOCK. */
		fprintf(stderr, "vdv-vsock-shim: dlsym(%s): %s\n", name, dlerror());
		abort();
	}
	return p;
}

static void do_init(void)
{
	const char *d = getenv(VDV_VSOCK_SHIM_DIR_ENV), *c = getenv(VDV_VSOCK_SHIM_CID_ENV);
	struct stat st;

	real.socket = sym("socket");
	real.bind = sym("bind");
	real.connect = sym("connect");
	real.listen = sym("listen");
	real.accept = sym("accept");
	real.accept4 = sym("accept4");
	real.getsockname = sym("getsockname");
	real.getpeername = sym("getpeername");
	real.getsockopt = sym("getsockopt");
	real.close = sym("close");
	real.open = sym("open");
	real.open64 = sym("open64");
	real.openat = sym("openat");
	real.openat64 = sym("openat64");
	real.ioctl = sym("ioctl");
	real.recv = sym("recv");
	real.recvfrom = sym("recvfrom");
	real.recvmsg = sym("recvmsg");
	no_seq_peek = getenv(VDV_VSOCK_SHIM_NO_SEQ_PEEK_ENV) &&
		      *getenv(VDV_VSOCK_SHIM_NO_SEQ_PEEK_ENV);
	if (c && *c) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(c, &end, 0);
		if (errno || *end || v == 0 || v >= VMADDR_CID_ANY)
			fprintf(stderr, "vdv-vsock-shim: %s=%s: not a CID; using %u\n",
				VDV_VSOCK_SHIM_CID_ENV, c, local_cid);
		else
			local_cid = (uint32_t)v;
	}
	if (d && *d) {
		if (d[0] != '/' || strlen(d) > DIR_MAX || stat(d, &st) || !S_ISDIR(st.st_mode))
			fprintf(stderr, "vdv-vsock-shim: %s=%s: not the absolute path of a directory "
				"(at most %d characters); AF_VSOCK is unavailable\n",
				VDV_VSOCK_SHIM_DIR_ENV, d, DIR_MAX);
		else
			memcpy(dir, d, strlen(d) + 1);
	}
	next_port = (uint32_t)getpid() * 40503u;
	/* A child forked while another thread held the lock must not hang. */
	pthread_atfork(lock, unlock, unlock);
}

static void init(void)
{
	pthread_once(&once, do_init);
}

__attribute__((constructor)) static void shim_ctor(void)
{
	init(); /* read the environment before the program changes it */
}

__attribute__((destructor)) static void shim_dtor(void)
{
	const char *s = getenv(VDV_VSOCK_SHIM_STATS_ENV);

	if (!s || !*s)
		return;
	fprintf(stderr, "vdv-vsock-shim[%d]: %lu sockets, %lu binds, %lu connects (%lu in "
		"progress, %lu refused), %lu accepts, %lu local-CID ioctls\n", (int)getpid(),
		st_sockets, st_binds, st_connects, st_inprogress, st_refused, st_accepts,
		st_ioctls);
}

/* ---- the fd table ---- */

static bool fd_ok(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD;
}

static enum kind kind_of(int fd)
{
	enum kind k;

	if (!fd_ok(fd))
		return K_NONE;
	lock();
	k = tab[fd].kind;
	unlock();
	return k;
}

/* Remembers fd as kind k: fd, or -1 with EMFILE (fd closed) when it does
 * not fit the table. */
static int track(int fd, enum kind k)
{
	if (!fd_ok(fd)) {
		real.close(fd);
		errno = EMFILE;
		return -1;
	}
	lock();
	tab[fd] = (struct ent){ .kind = (uint8_t)k };
	unlock();
	return fd;
}

static void set_seq(int fd, bool seq)
{
	lock();
	tab[fd].seq = seq;
	unlock();
}

static bool is_seq(int fd)
{
	bool s;

	lock();
	s = tab[fd].seq;
	unlock();
	return s;
}

static bool is_bound(int fd)
{
	bool b;

	lock();
	b = tab[fd].bound;
	unlock();
	return b;
}

/* The SO_ERROR a refused connect left, cleared: 0 if none. */
static int take_err(int fd)
{
	int e = 0;

	if (!fd_ok(fd))
		return 0;
	lock();
	if (tab[fd].kind == K_SOCK) {
		e = tab[fd].err;
		tab[fd].err = 0;
	}
	unlock();
	return e;
}

/* ---- addresses ---- */

static socklen_t vm_to_un(uint32_t cid, uint32_t port, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%u.%u", dir, cid, port);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1);
}

/* A decimal uint32_t at *p, digits only; advances *p. */
static bool parse_u32(const char **p, uint32_t *v)
{
	uint64_t x = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > UINT32_MAX)
			return false;
	}
	*p = s;
	*v = (uint32_t)x;
	return true;
}

/* The vsock address a kernel AF_UNIX address stands for. False when it is
 * not one of the shim's (the caller passes the real one on). An unnamed
 * socket is (VMADDR_CID_ANY, VMADDR_PORT_ANY), as an unbound vsock one. */
static bool un_to_vm(const struct sockaddr_un *sun, socklen_t len, struct sockaddr_vm *vm)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path), n = strlen(dir);
	char path[sizeof(sun->sun_path) + 1];
	const char *p;

	memset(vm, 0, sizeof(*vm));
	vm->svm_family = AF_VSOCK;
	vm->svm_cid = VMADDR_CID_ANY;
	vm->svm_port = VMADDR_PORT_ANY;
	if (sun->sun_family != AF_UNIX)
		return false;
	if (len <= off)
		return true;
	if (len > sizeof(*sun))
		len = sizeof(*sun);
	memcpy(path, sun->sun_path, len - off);
	path[len - off] = 0;
	if (strncmp(path, dir, n) || path[n] != '/')
		return false;
	p = path + n + 1;
	return parse_u32(&p, &vm->svm_cid) && *p++ == '.' && parse_u32(&p, &vm->svm_port) &&
	       !*p;
}

/* Gives the caller of accept/getsockname/getpeername its address: the vsock
 * one sun stands for, else sun itself; truncated to *alen, which gets the
 * full length. */
static void give_addr(const struct sockaddr_un *sun, socklen_t len, struct sockaddr *addr,
		      socklen_t *alen)
{
	struct sockaddr_vm vm;
	const void *src = &vm;
	socklen_t n = sizeof(vm);

	if (!addr || !alen)
		return;
	if (!un_to_vm(sun, len, &vm)) {
		src = sun;
		n = len;
	}
	memcpy(addr, src, *alen < n ? *alen : n);
	*alen = n;
}

/* True when nobody holds the socket file at sun: a dead process's. A
 * datagram socket cannot connect to a stream socket (EPROTOTYPE) and
 * finds no socket at all behind a stale file (ECONNREFUSED); the holder
 * sees nothing of it. */
static bool stale(const struct sockaddr_un *sun, socklen_t len)
{
	int p = real.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool r;

	if (p < 0)
		return false;
	r = real.connect(p, (const struct sockaddr *)sun, len) < 0 && errno == ECONNREFUSED;
	real.close(p);
	return r;
}

/* Binds vsock socket fd to (cid, port): 0 or -errno. */
static int shim_bind(int fd, uint32_t cid, uint32_t port)
{
	bool any = port == VMADDR_PORT_ANY;
	struct sockaddr_un sun;
	socklen_t len;

	if (cid == VMADDR_CID_ANY)
		cid = local_cid;
	if (is_bound(fd))
		return -EINVAL;
	for (unsigned i = 0; i < (any ? EPHEMERAL_TRIES : 2u); i++) {
		uint32_t p = any ? EPHEMERAL_MIN + atomic_fetch_add(&next_port, 1) % EPHEMERAL_SPAN
				 : port;

		len = vm_to_un(cid, p, &sun);
		if (!real.bind(fd, (const struct sockaddr *)&sun, len)) {
			lock();
			tab[fd].bound = true;
			tab[fd].pid = getpid();
			tab[fd].cid = cid;
			tab[fd].port = p;
			unlock();
			st_binds++;
			return 0;
		}
		if (errno != EADDRINUSE)
			return -errno;
		if (!any) {
			if (i > 0 || !stale(&sun, len))
				return -EADDRINUSE;
			unlink(sun.sun_path); /* a dead process's: take the port over */
		}
	}
	return -EADDRINUSE;
}

/* ---- the interposed calls ---- */

int socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), sz = SHIM_SNDBUF, fd;

	init();
	if (domain != AF_VSOCK)
		return real.socket(domain, type, protocol);
	if (!dir[0]) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (base != SOCK_STREAM && base != SOCK_SEQPACKET) {
		errno = ESOCKTNOSUPPORT;
		return -1;
	}
	if (protocol != 0 && protocol != PF_VSOCK) {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	fd = real.socket(AF_UNIX, type, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	st_sockets++;
	if (track(fd, K_SOCK) < 0)
		return -1;
	set_seq(fd, base == SOCK_SEQPACKET);
	return fd;
}

int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = SA(addr);
	struct sockaddr_vm vm;
	int r;

	init();
	if (!sa || len < sizeof(sa_family_t) || sa->sa_family != AF_VSOCK ||
	    kind_of(fd) != K_SOCK)
		return real.bind(fd, sa, len);
	if (len < sizeof(vm)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&vm, sa, sizeof(vm));
	r = shim_bind(fd, vm.svm_cid, vm.svm_port);
	if (r) {
		errno = -r;
		return -1;
	}
	return 0;
}

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = SA(addr);
	struct sockaddr_vm vm;
	struct sockaddr_un sun;
	socklen_t ulen;
	bool nonblock;
	int r, e, fl;

	init();
	if (!sa || len < sizeof(sa_family_t) || sa->sa_family != AF_VSOCK ||
	    kind_of(fd) != K_SOCK)
		return real.connect(fd, sa, len);
	if (len < sizeof(vm)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&vm, sa, sizeof(vm));
	st_connects++;
	if (!is_bound(fd)) {
		/* EINVAL: bound already (accepted); connect says what is wrong */
		r = shim_bind(fd, local_cid, VMADDR_PORT_ANY);
		if (r && r != -EINVAL) {
			errno = -r;
			return -1;
		}
	}
	fl = fcntl(fd, F_GETFL);
	nonblock = fl >= 0 && (fl & O_NONBLOCK);
	ulen = vm_to_un(vm.svm_cid == VMADDR_CID_ANY ? local_cid : vm.svm_cid, vm.svm_port, &sun);
	r = real.connect(fd, (const struct sockaddr *)&sun, ulen);
	e = errno;
	if (r == 0) {
		if (!nonblock)
			return 0;
		st_inprogress++;
		errno = EINPROGRESS;
		return -1;
	}
	if (e == ENOENT || e == ECONNREFUSED || e == EAGAIN) {
		/* nobody listens, or the backlog is full: vsock gets RST */
		st_refused++;
		if (!nonblock) {
			errno = ECONNRESET;
			return -1;
		}
		lock();
		tab[fd].err = ECONNRESET;
		unlock();
		st_inprogress++;
		errno = EINPROGRESS;
		return -1;
	}
	errno = e;
	return -1;
}

int listen(int fd, int backlog)
{
	init();
	if (kind_of(fd) == K_SOCK && !is_bound(fd)) {
		errno = EINVAL; /* vsock listens only on a bound socket */
		return -1;
	}
	return real.listen(fd, backlog);
}

static int shim_accept(int lfd, struct sockaddr *addr, socklen_t *alen, int flags, bool four)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	int fd, sz = SHIM_SNDBUF;

	init();
	if (kind_of(lfd) != K_SOCK)
		return four ? real.accept4(lfd, addr, alen, flags) : real.accept(lfd, addr, alen);
	memset(&sun, 0, sizeof(sun));
	fd = four ? real.accept4(lfd, (struct sockaddr *)&sun, &len, flags)
		  : real.accept(lfd, (struct sockaddr *)&sun, &len);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (track(fd, K_SOCK) < 0)
		return -1;
	set_seq(fd, is_seq(lfd));
	st_accepts++;
	give_addr(&sun, len, addr, alen);
	return fd;
}

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	return shim_accept(fd, SA(addr), len, 0, false);
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
	return shim_accept(fd, SA(addr), len, flags, true);
}

static int shim_name(int fd, struct sockaddr *addr, socklen_t *alen, bool peer)
{
	int (*fn)(int, struct sockaddr *, socklen_t *);
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	init();
	fn = peer ? real.getpeername : real.getsockname;
	if (!addr || !alen || kind_of(fd) != K_SOCK)
		return fn(fd, addr, alen);
	memset(&sun, 0, sizeof(sun));
	if (fn(fd, (struct sockaddr *)&sun, &len) < 0)
		return -1;
	give_addr(&sun, len, addr, alen);
	return 0;
}

int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	return shim_name(fd, SA(addr), len, false);
}

int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	return shim_name(fd, SA(addr), len, true);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	init();
	if (level == SOL_SOCKET && name == SO_ERROR && val && len && *len >= sizeof(int)) {
		int e = take_err(fd);

		if (e) {
			memcpy(val, &e, sizeof(e));
			*len = sizeof(e);
			return 0;
		}
	}
	return real.getsockopt(fd, level, name, val, len);
}

int close(int fd)
{
	struct ent e = { 0 };

	init();
	if (fd_ok(fd)) {
		lock();
		e = tab[fd];
		tab[fd] = (struct ent){ 0 };
		unlock();
	}
	if (e.kind == K_SOCK && e.bound && e.pid == getpid()) {
		struct sockaddr_un sun;

		/* before the close: then nobody else can hold the file yet */
		vm_to_un(e.cid, e.port, &sun);
		unlink(sun.sun_path);
	}
	return real.close(fd);
}

/*
 * AF_VSOCK's answer to a read of len bytes with flags on vsock socket fd,
 * where AF_UNIX's would differ: 1 with *ret (and errno) set, 0 when the
 * real call answers. A zero-length read is 0 at once (af_vsock.c: "It is
 * valid on Linux to pass in a zero-length receive buffer"); with
 * no_seq_peek, MSG_PEEK on SOCK_SEQPACKET with a message waiting is ENOMEM
 * (before 6.3, __vsock_seqpacket_recvmsg turns the transport's EOPNOTSUPP
 * into ENOMEM).
 */
static int vsock_recv_rule(int fd, size_t len, int flags, ssize_t *ret)
{
	char b;

	if (kind_of(fd) != K_SOCK)
		return 0;
	if (len == 0) {
		*ret = 0;
		return 1;
	}
	if (!no_seq_peek || !(flags & MSG_PEEK) || !is_seq(fd))
		return 0;
	*ret = real.recv(fd, &b, 1, MSG_PEEK | (flags & MSG_DONTWAIT));
	if (*ret > 0) {
		errno = ENOMEM;
		*ret = -1;
	}
	return 1;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t r;

	init();
	if (vsock_recv_rule(fd, len, flags, &r))
		return r;
	return real.recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, __SOCKADDR_ARG addr,
		 socklen_t *alen)
{
	ssize_t r;

	init();
	if (vsock_recv_rule(fd, len, flags, &r))
		return r;
	return real.recvfrom(fd, buf, len, flags, SA(addr), alen);
}

ssize_t recvmsg(int fd, struct msghdr *mh, int flags)
{
	size_t len = 0;
	ssize_t r;

	init();
	for (size_t i = 0; mh && i < mh->msg_iovlen; i++)
		len += mh->msg_iov[i].iov_len;
	if (mh && vsock_recv_rule(fd, len, flags, &r)) {
		if (r >= 0)
			mh->msg_flags = 0;
		return r;
	}
	return real.recvmsg(fd, mh, flags);
}

static bool is_dev_vsock(const char *path)
{
	return path && !strcmp(path, "/dev/vsock");
}

static int open_dev_vsock(int flags)
{
	int fd;

	if (!dir[0]) {
		errno = ENOENT;
		return -1;
	}
	fd = real.open("/dev/null", O_RDONLY | (flags & O_CLOEXEC));
	return fd < 0 ? -1 : track(fd, K_DEV);
}

static bool has_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

int open(const char *path, int flags, ...)
{
	unsigned mode = 0;
	va_list ap;

	init();
	if (has_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, unsigned);
		va_end(ap);
	}
	if (is_dev_vsock(path))
		return open_dev_vsock(flags);
	return real.open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	unsigned mode = 0;
	va_list ap;

	init();
	if (has_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, unsigned);
		va_end(ap);
	}
	if (is_dev_vsock(path))
		return open_dev_vsock(flags);
	return real.open64(path, flags, mode);
}

int openat(int dfd, const char *path, int flags, ...)
{
	unsigned mode = 0;
	va_list ap;

	init();
	if (has_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, unsigned);
		va_end(ap);
	}
	if (is_dev_vsock(path))
		return open_dev_vsock(flags);
	return real.openat(dfd, path, flags, mode);
}

int openat64(int dfd, const char *path, int flags, ...)
{
	unsigned mode = 0;
	va_list ap;

	init();
	if (has_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, unsigned);
		va_end(ap);
	}
	if (is_dev_vsock(path))
		return open_dev_vsock(flags);
	return real.openat64(dfd, path, flags, mode);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	init();
	if (kind_of(fd) == K_DEV) {
		if (req == (unsigned long)IOCTL_VM_SOCKETS_GET_LOCAL_CID && arg) {
			memcpy(arg, &local_cid, sizeof(local_cid));
			st_ioctls++;
			return 0;
		}
		errno = ENOTTY;
		return -1;
	}
	return real.ioctl(fd, req, arg);
}

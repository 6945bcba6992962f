/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * config_parse_args() on an argv made of the input split at NUL bytes
 * (argv[0] is fixed). --help/--version output goes to /dev/null.
 *
 * --config FILE reads a file: the harness runs in a private directory
 * holding "vm.yaml" (a valid config) and refuses arguments that could name
 * a device, FIFO or /proc file, which could block or be huge.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz_common.h"

#define MAX_ARGS 64

static const char vm_yaml[] =
	"vms:\n"
	"  - guest_cid: 4\n"
	"    socket: /tmp/vdv-fuzz-vm4.sock\n"
	"    uds_path: /tmp/vdv-fuzz-vm4.vsock\n"
	"    tx_buffer_size: 65536\n"
	"    queue_size: 256\n"
	"    groups: group1+group2\n"
	"  - guest_cid: 5\n"
	"    socket: /tmp/vdv-fuzz-vm5.sock\n"
	"    forward_cid: 1\n"
	"    forward_listen: 9001+9002\n";

static char dir[] = "/tmp/vdv-fuzz-args.XXXXXX";

static void remove_dir(void)
{
	unlink("vm.yaml");
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;
	int fd;
	(void)argc, (void)argv;

	fuzz_quiet_logs();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	if (!mkdtemp(dir) || chdir(dir) < 0) {
		perror("fuzz_config_args: private directory");
		abort();
	}
	f = fopen("vm.yaml", "w");
	if (!f || fputs(vm_yaml, f) < 0 || fclose(f) != 0) {
		perror("fuzz_config_args: vm.yaml");
		abort();
	}
	atexit(remove_dir);
	return 0;
}

/* Paths that could block (FIFOs, ttys), be endless or special. */
static int risky(const char *a)
{
	static const char *const bad[] = { "dev", "proc", "sys", "run", "fd", "..", "tmp" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(a, bad[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2];
	struct vdv_config cfg = { 0 };
	int argc = 0;
	char err[256];
	enum config_result r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = (char *)"vhost-device-vsock";
	for (size_t off = 0; off <= size && argc <= MAX_ARGS;) {
		char *a = buf + off;
		size_t len = strlen(a);

		if (risky(a)) {
			free(buf);
			return -1; /* not added to the corpus */
		}
		argv[argc++] = a;
		off += len + 1;
	}
	argv[argc] = NULL;

	err[0] = '\0';
	r = config_parse_args(argc, argv, &cfg, err, sizeof(err));
	switch (r) {
	case CONFIG_OK:
		FUZZ_ASSERT(cfg.n_vms >= 1 && cfg.vms);
		for (size_t i = 0; i < cfg.n_vms; i++) {
			/* exactly one of socket and socket-fd */
			FUZZ_ASSERT(!!cfg.vms[i].socket != cfg.vms[i].has_socket_fd);
			FUZZ_ASSERT(!!cfg.vms[i].uds_path != cfg.vms[i].has_forward_cid);
			FUZZ_ASSERT(cfg.vms[i].n_groups >= 1);
		}
		config_free(&cfg);
		break;
	case CONFIG_EXIT_OK:
		FUZZ_ASSERT(cfg.n_vms == 0 && !cfg.vms);
		break;
	case CONFIG_ERROR:
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) && err[0]);
		FUZZ_ASSERT(!strchr(err, '\n'));
		FUZZ_ASSERT(cfg.n_vms == 0 && !cfg.vms);
		break;
	default:
		FUZZ_ASSERT(!"unexpected config_result");
	}
	free(buf);
	return 0;
}

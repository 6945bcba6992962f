/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "procstat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "host_io.h"

static double proc_cpu_s(pid_t pid)
{
	unsigned long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name may contain spaces: fields count from its ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void cpu_mark(struct cpu_mark *m, pid_t daemon)
{
	m->pid = daemon;
	m->wall_ns = now_ns();
	m->daemon_s = daemon > 0 ? proc_cpu_s(daemon) : 0;
	m->self_s = self_cpu_s();
}

struct cpu_use cpu_since(const struct cpu_mark *m)
{
	double wall = (double)(now_ns() - m->wall_ns) / 1e9;
	struct cpu_use u = { 0, 0 };

	if (wall <= 0)
		return u;
	if (m->pid > 0)
		u.daemon = (proc_cpu_s(m->pid) - m->daemon_s) / wall;
	u.self = (self_cpu_s() - m->self_s) / wall;
	return u;
}

int mem_read(pid_t pid, struct mem_use *out)
{
	char path[64], line[256];
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", &out->rss_kib);
		sscanf(line, "RssAnon: %ld", &out->anon_kib);
		sscanf(line, "RssShmem: %ld", &out->shmem_kib);
	}
	fclose(f);
	return out->rss_kib ? 0 : -ENODATA;
}

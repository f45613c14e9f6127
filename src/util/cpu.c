/*
 * CPUs this process may use: the affinity mask (taskset, cpusets) and the
 * cgroup v2 CPU quota that containers and systemd's CPUQuota= set. A process
 * limited to 1.5 CPUs on a 16-core host that sized itself by the core count
 * would run 16 threads that the quota throttles in turn.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "tsso/cpu.h"

#define CGROUP_ROOT      "/sys/fs/cgroup"
#define CGROUP_PATH_MAX  1024 /* a cgroup path, from /proc/self/cgroup */
#define CGROUP_FILE_MAX  8192 /* /proc/self/cgroup: one line per v1 hierarchy too */
#define CGROUP_DEPTH_MAX 32   /* ancestors looked at */
#define THREADS_MAX      64   /* default event threads, at most */

/* A decimal number of at most 18 digits, the whole of [s, s+n). */
static bool parse_u64(const char *s, size_t n, uint64_t *v)
{
	if (n == 0 || n > 18)
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

int tsso_cpu_max_parse(const char *text, size_t len, unsigned *cpus)
{
	const char *sp = memchr(text, ' ', len);
	uint64_t quota, period;

	while (len > 0 && text[len - 1] == '\n')
		len--;
	if (sp == NULL || sp >= text + len)
		return -1;
	if (!parse_u64(sp + 1, (size_t)(text + len - sp - 1), &period) || period == 0)
		return -1;
	if ((size_t)(sp - text) == 3 && memcmp(text, "max", 3) == 0) {
		*cpus = 0;
		return 0;
	}
	if (!parse_u64(text, (size_t)(sp - text), &quota) || quota == 0)
		return -1;
	quota = (quota + period - 1) / period;
	*cpus = quota > 4096 ? 4096u : (unsigned)quota;
	return 0;
}

/* Up to CAP-1 bytes of a small file, NUL-terminated; its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The smallest cpu.max limit on this process's cgroup v2 path, 0 if none. */
static unsigned cgroup_cpus(void)
{
	char self[CGROUP_FILE_MAX], path[sizeof(CGROUP_ROOT) + CGROUP_PATH_MAX + 16], text[64];
	ssize_t n = read_small("/proc/self/cgroup", self, sizeof(self));
	unsigned best = 0;
	char *rel, *nl;
	size_t len;

	/* cgroup v2 only: the unified hierarchy's line is "0::/PATH". */
	if (n <= 0 || (rel = strstr(self, "0::/")) == NULL || (rel != self && rel[-1] != '\n'))
		return 0;
	rel += 3;
	if ((nl = strchr(rel, '\n')) != NULL)
		*nl = '\0';
	len = strlen(rel);
	if (len >= CGROUP_PATH_MAX || strstr(rel, "/..") != NULL)
		return 0;
	for (int depth = 0; depth < CGROUP_DEPTH_MAX; depth++) {
		unsigned c;

		memcpy(path, CGROUP_ROOT, sizeof(CGROUP_ROOT) - 1);
		memcpy(path + sizeof(CGROUP_ROOT) - 1, rel, len);
		memcpy(path + sizeof(CGROUP_ROOT) - 1 + len, "/cpu.max", sizeof("/cpu.max"));
		n = read_small(path, text, sizeof(text));
		if (n > 0 && tsso_cpu_max_parse(text, (size_t)n, &c) == 0 && c > 0 &&
		    (best == 0 || c < best))
			best = c;
		/* Up one level; the root cgroup has no cpu.max. */
		while (len > 0 && rel[len - 1] != '/')
			len--;
		if (len <= 1)
			break;
		len--;
	}
	return best;
}

unsigned tsso_cpus_usable(void)
{
	cpu_set_t set;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned cpus = online > 0 ? (unsigned)online : 1u, quota;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		cpus = (unsigned)CPU_COUNT(&set);
	quota = cgroup_cpus();
	if (quota > 0 && quota < cpus)
		cpus = quota;
	return cpus > 0 ? cpus : 1u;
}

/* One per usable CPU less one, at least one, at most THREADS_MAX: the daemon
 * always shares its CPUs with the proxy in front of it and the kernel's
 * network work; on two CPUs a second event thread mostly adds wake-ups
 * (docs/performance.md, finding 12). */
unsigned tsso_cpu_default_threads(unsigned cpus)
{
	if (cpus <= 2)
		return 1;
	return cpus - 1 > THREADS_MAX ? THREADS_MAX : cpus - 1;
}

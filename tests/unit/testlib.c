/* Helpers shared by the unit tests that start real peers: see testlib.h. */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORT_LOWEST   20000
#define PORT_TRIES    200
#define RESERVE_TTL_S (30 * 60) /* longer than any test runs */
#define MAX_HELD      16

/* Test-process state: the reservations to remove at exit. */
static int held[MAX_HELD];
static int n_held;

static const char *reserve_dir(void)
{
	static char dir[256];
	const char *t = getenv("TMPDIR");

	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), "%s/tsso-ports", t != NULL && t[0] != '\0' ? t : "/tmp");
	return dir;
}

static void release_all(void)
{
	char f[300];

	for (int i = 0; i < n_held; i++) {
		snprintf(f, sizeof(f), "%s/%d", reserve_dir(), held[i]);
		unlink(f);
	}
	n_held = 0;
}

static int ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int lo = 32768, v;

	if (f != NULL) {
		if (fscanf(f, "%d", &v) == 1 && v > PORT_LOWEST + 1000 && v <= 65535)
			lo = v;
		fclose(f);
	}
	return lo;
}

/* Take the reservation file for port, replacing one left stale. */
static int reserve(int port)
{
	char f[300];
	struct stat st;
	int fd;

	snprintf(f, sizeof(f), "%s/%d", reserve_dir(), port);
	fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 && errno == EEXIST && stat(f, &st) == 0 &&
	    time(NULL) - st.st_mtime >= RESERVE_TTL_S && unlink(f) == 0)
		fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	dprintf(fd, "%ld", (long)getpid());
	close(fd);
	return 0;
}

static int bindable(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                        .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

int tsso_test_free_port(void)
{
	static int registered;
	static unsigned seed;
	int span = ephemeral_low() - PORT_LOWEST;

	if (!registered) {
		atexit(release_all);
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
		registered = 1;
	}
	if (mkdir(reserve_dir(), 0777) < 0 && errno != EEXIST)
		return -1;
	for (int i = 0; i < PORT_TRIES && n_held < MAX_HELD; i++) {
		int port = PORT_LOWEST + (int)(rand_r(&seed) % (unsigned)span);

		if (reserve(port) < 0)
			continue;
		held[n_held++] = port;
		if (bindable(port))
			return port;
	}
	return -1;
}

void tsso_test_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int tsso_test_wait_listen(int port, long ms)
{
	for (long waited = 0; waited <= ms; waited += 50) {
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                        .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

		if (fd < 0)
			return -1;
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (rc == 0)
			return 0;
		tsso_test_sleep_ms(50);
	}
	return -1;
}

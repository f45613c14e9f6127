/* Test helper: start and stop the loopback HTTP(S) server of data/oidc/fetch_server.py. */
#ifndef TSSO_OIDC_TEST_SERVER_H
#define TSSO_OIDC_TEST_SERVER_H

/* Not every test uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct test_server {
	pid_t pid;
	int keepalive_fd; /* the server's stdin: it exits when this closes */
	int https_port;
	int http_port;
};

/* Start the server; root: folder served by /file (NULL: data/oidc). 0 on success. */
static int test_server_start(struct test_server *s, const char *root)
{
	int fds[2], in[2];
	FILE *fp;
	char line[128];

	if (pipe2(fds, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		close(fds[0]);
		close(in[1]);
		dup2(fds[1], STDOUT_FILENO);
		dup2(in[0], STDIN_FILENO);
		close(fds[1]);
		close(in[0]);
		if (root != NULL)
			setenv("FETCH_SERVER_ROOT", root, 1);
		execlp("python3", "python3", TSSO_TEST_DATA "/oidc/fetch_server.py",
		       TSSO_TEST_DATA "/oidc/server.pem", TSSO_TEST_DATA "/oidc/server.key",
		       (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	close(in[0]);
	s->keepalive_fd = in[1];
	fp = fdopen(fds[0], "r");
	if (fp == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, "PORTS %d %d", &s->https_port, &s->http_port) != 2) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

static void test_server_stop(struct test_server *s)
{
	if (s->pid > 0) {
		close(s->keepalive_fd);
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

#endif

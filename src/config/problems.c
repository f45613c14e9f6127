/* The list of configuration problems, each "FILE: KEY: what is wrong". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tsso/buf.h"
#include "tsso/config.h"

#define PROBLEMS_MAX    1000
#define PROBLEM_LEN_MAX 1024

void tsso_problems_add(struct tsso_problems *p, const char *file, const char *key, const char *fmt,
                       ...)
{
	struct tsso_buf b;
	char **v;
	va_list ap;
	int r;

	if (p == NULL || p->n >= PROBLEMS_MAX)
		return;
	tsso_buf_init(&b, PROBLEM_LEN_MAX);
	r = tsso_buf_addf(&b, "%s: %s: ", file ? file : "-", key && *key ? key : "-");
	va_start(ap, fmt);
	if (r == 0)
		r = tsso_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (v == NULL) {
		tsso_buf_free(&b);
		return;
	}
	p->v = v;
	p->v[p->n] = tsso_buf_take(&b);
	if (p->v[p->n] != NULL)
		p->n++;
}

void tsso_problems_free(struct tsso_problems *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

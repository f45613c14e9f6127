/* The audit line: one log record per minted embed token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed_int.h"
#include "tsso/buf.h"
#include "tsso/log.h"

#define AUDIT_ATTRS_MAX 4096 /* bytes of attribute names/values in one line */

/* Attribute names, comma-separated; with values (compact JSON) only when the
 * tenant opted in, since values are personal data (country, department). */
static char *attributes_field(const struct tsso_tenant_cfg *t, const struct tsso_identity *id)
{
	struct tsso_buf b;
	const char *name;
	json_t *v;
	int r = 0;

	if (id == NULL || !json_is_object(id->attributes))
		return NULL;
	if (t->embed.audit_values) {
		char *s = json_dumps(id->attributes, JSON_COMPACT | JSON_SORT_KEYS);
		if (s != NULL && strlen(s) > AUDIT_ATTRS_MAX) {
			free(s);
			return strdup("(too long)");
		}
		return s;
	}
	tsso_buf_init(&b, AUDIT_ATTRS_MAX);
	json_object_foreach(id->attributes, name, v)
	{
		(void)v;
		if (b.len > 0)
			r |= tsso_buf_adds(&b, ",");
		r |= tsso_buf_adds(&b, name);
	}
	if (r != 0) {
		tsso_buf_free(&b);
		return strdup("(too long)");
	}
	return tsso_buf_take(&b);
}

void tsso_embed_audit(const struct tsso_tenant_cfg *t, const char *scheme, const char *kid,
                      const struct tsso_identity *id, const struct tsso_embed_token *tok)
{
	char exp_iso[32] = "-", exp_num[24];
	time_t e = (time_t)tok->expires_at;
	struct tm tm;
	char *attrs = attributes_field(t, id);

	if (gmtime_r(&e, &tm) != NULL)
		strftime(exp_iso, sizeof(exp_iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(exp_num, sizeof(exp_num), "%lld", tok->expires_at);
	/* Never the token itself: jti (or a hash of an opaque token) identifies it. */
	tsso_log(TSSO_LOG_INFO, "embed.minted", "tenant", t->id, "subject",
	         id != NULL ? id->username : NULL, "jti", tok->jti, "expires_at", exp_iso, "exp",
	         exp_num, "scheme", scheme, "kid", kid, "attributes", attrs != NULL ? attrs : "",
	         NULL);
	free(attrs);
}

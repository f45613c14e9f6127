/* Finding tenants: by id (path routing) and by email domain. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsso/config.h"
#include "tsso/limits.h"

/* Path segments the routes use below the base path; never tenant ids. */
static const char *const reserved_ids[] = {"login",      "healthz", "readyz", "metrics",
                                           "well-known", "static",  "api",    NULL};

bool tsso_tenant_id_valid(const char *id)
{
	size_t n = 0;

	if (id == NULL || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9')))
		return false;
	for (const char *p = id; *p; p++, n++) {
		if (n >= TSSO_TENANT_ID_MAX)
			return false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			return false;
	}
	for (size_t i = 0; reserved_ids[i]; i++)
		if (strcmp(reserved_ids[i], id) == 0)
			return false;
	return true;
}

static int tenant_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tsso_tenant_cfg *)elem)->id);
}

const struct tsso_tenant_cfg *tsso_config_tenant(const struct tsso_config *cfg, const char *id)
{
	if (cfg == NULL || id == NULL || cfg->n_tenants == 0)
		return NULL;
	return bsearch(id, cfg->tenants, cfg->n_tenants, sizeof(*cfg->tenants), tenant_key_cmp);
}

const struct tsso_tenant_cfg *tsso_config_tenant_by_email(const struct tsso_config *cfg,
                                                          const char *email)
{
	const char *at;

	if (cfg == NULL || email == NULL || strlen(email) > 320)
		return NULL;
	at = strrchr(email, '@');
	if (at == NULL || at == email || at[1] == '\0')
		return NULL;
	for (size_t i = 0; i < cfg->n_tenants; i++)
		for (size_t j = 0; j < cfg->tenants[i].email_domains.n; j++)
			if (strcasecmp(cfg->tenants[i].email_domains.v[j], at + 1) == 0)
				return &cfg->tenants[i];
	return NULL;
}

/*
 * The embed identity: what one login gives Toucan, independent of the
 * Toucan scheme. Filled by the mapping module from verified claims, read by
 * the embed module, which serializes it in each scheme's shape.
 */
#ifndef TSSO_IDENTITY_H
#define TSSO_IDENTITY_H

#include <stdbool.h>

#include <jansson.h>

#include "tsso/common.h"

struct tsso_jsonw;

struct tsso_identity {
	char *username; /* Toucan 3.0 embed_context.username / Toucan AI distinctId */
	char
	    *workspace_id; /* Toucan 3.0 embed_context.workspace_id (may be NULL: tenant default) */
	bool admin;        /* Toucan 3.0 roles: ["ADMIN"] when true, else ["USER"] */
	char *ai_role;     /* Toucan AI role: "explorer" or "maker" */
	json_t *groups;    /* array of strings */
	json_t *privileges; /* object (Toucan 3.0 privileges / Toucan AI permissions) */
	json_t *attributes; /* object: name -> string | number | boolean | array of strings */
};

/* A new identity with the defaults of the product contract (roles USER,
 * role explorer, empty groups/privileges/attributes), username NULL. */
struct tsso_identity *tsso_identity_new(void) TSSO_WUR;
void tsso_identity_free(struct tsso_identity *id);
/* Round-trip through JSON, for session storage: new reference / new object. */
json_t *tsso_identity_to_json(const struct tsso_identity *id);
struct tsso_identity *tsso_identity_from_json(const json_t *j) TSSO_WUR;

/* Toucan 3.0 embed_context: {"username", "workspace_id", "roles": ["USER" |
 * "ADMIN"], "privileges", "groups", "attributes"}. workspace_id is the
 * identity's, else default_workspace. New reference, or NULL when the
 * identity has no username or no workspace id at all. */
json_t *tsso_identity_embed_context(const struct tsso_identity *id, const char *default_workspace);
/* The same embed_context written straight into w, without building a tree:
 * the bytes json_dumps(JSON_COMPACT) makes of tsso_identity_embed_context.
 * -1, with nothing written, when the identity has no username or no
 * workspace id at all; write failures are w's (see tsso_jsonw_finish). */
int tsso_identity_embed_context_write(const struct tsso_identity *id, const char *default_workspace,
                                      struct tsso_jsonw *w) TSSO_WUR;
/* Toucan AI generate-token "user" object: {"distinctId", "role",
 * "attributes"} plus "permissions" when the identity has privileges. New
 * reference, or NULL when the identity has no username. */
json_t *tsso_identity_ai_user(const struct tsso_identity *id);

#endif

/*
 * Claim mapping: from the verified claims of one login (ID token, UserInfo)
 * to the embed identity Toucan enforces (tsso/identity.h). Rules are the
 * tenant file's "mapping" value, compiled once when the configuration loads
 * (every problem reported as "FILE: mapping.KEY: what is wrong") and applied
 * per login. The rule language is documented in docs/mapping.md.
 *
 * The module does no I/O at login time: a distributed claim (OIDC Core
 * §5.6.2, e.g. Entra ID group overage) is fetched through a callback the
 * caller supplies. A compiled mapping is immutable and may be shared by
 * threads.
 *
 * Refusal reasons (stable, for logs and /metrics):
 *   mapping.claim_missing      a required claim is missing or empty
 *   mapping.empty              a required value ended up empty (transforms,
 *                              filters), or no workspace_id at all
 *   mapping.type_mismatch      a value does not fit the declared type, or a
 *                              transform got a value it cannot work on
 *   mapping.too_large          a claim value or the result is over a limit,
 *                              or embed_context over TSSO_EMBED_CONTEXT_MAX
 *   mapping.access_denied      an "access" condition failed (answer 403)
 *   mapping.groups_overage     the IdP left a claim out (group overage /
 *                              distributed claim) and the tenant refuses it
 *   mapping.claims_unavailable resolving a distributed claim failed (the
 *                              IdP's endpoint: answer 502/503)
 *   mapping.regex_limit        a regex hit its match/depth/heap limit on a
 *                              hostile value, or the login's regex time
 *                              budget (TSSO_MAPPING_REGEX_BUDGET_MS) is spent
 *   mapping.regex_failed       a regex or substitution failed otherwise
 *   mapping.internal           out of memory (answer 500)
 *
 * Presets are read from disk at compile time only (configuration load).
 */
#ifndef TSSO_MAPPING_H
#define TSSO_MAPPING_H

#include <jansson.h>

#include "tsso/common.h"
#include "tsso/config.h"
#include "tsso/err.h"
#include "tsso/identity.h"

#define TSSO_MAPPING_RULE_MAX 128 /* bytes of a rule name in a refusal */

struct tsso_mapping;

/* Why a login was refused. err.reason is one of the codes above, err.msg a
 * sentence naming the claim or attribute and the rule, never a claim value.
 * rule names the rule ("mapping.attributes.region", "mapping.access[1]"). */
struct tsso_mapping_refusal {
	struct tsso_err err;
	char rule[TSSO_MAPPING_RULE_MAX];
};

/*
 * Fetches a distributed claim (OIDC Core §5.6.2) the IdP left out of the ID
 * token or UserInfo, e.g. Entra ID "groups" on overage. claim is the claim
 * name, endpoint the "_claim_sources" endpoint (NULL when the IdP gave none,
 * e.g. Entra's "hasgroups": true; the callback may know where to ask, such
 * as Microsoft Graph). On success *ret_value is a new JSON value for the
 * claim (a string array for groups) and 0 is returned; on failure -1 with
 * err set (the mapping reports mapping.claims_unavailable with err's text).
 * The endpoint comes from the IdP (only https:// endpoints are passed on):
 * check it against an allow-list (e.g. the Microsoft Graph host) before any
 * request, or a hostile IdP makes the daemon fetch URLs of its choosing.
 * Aggregated claims (a JWT from another issuer) are refused, never passed.
 */
struct tsso_mapping_resolver {
	int (*resolve)(void *opaque, const char *claim, const char *endpoint, json_t **ret_value,
	               struct tsso_err *err);
	void *opaque;
};

/* What apply needs besides the claims; a NULL pointer means all defaults. */
struct tsso_mapping_opts {
	enum tsso_embed_scheme scheme; /* size check: embed_context or Toucan AI user */
	const char *default_workspace; /* the tenant's embed.workspace_id (may be NULL) */
	const struct tsso_mapping_resolver *resolver; /* may be NULL: overage refused */
};

/* Compile rules (the tenant's "mapping" value; NULL or {} means the product
 * defaults: username from email, else preferred_username, else sub; roles
 * USER / explorer; no groups or attributes). "preset": "NAME" loads
 * PRESETS_DIR/NAME.json first; the tenant's keys replace the preset's, and
 * "attributes" merge per name (null removes one). file names the tenant file
 * in problems. Returns a new mapping, or NULL with every problem added to
 * *problems. */
struct tsso_mapping *tsso_mapping_compile(const json_t *rules, const char *presets_dir,
                                          const char *file,
                                          struct tsso_problems *problems) TSSO_WUR;
void tsso_mapping_free(struct tsso_mapping *m);

/* Map verified claims (userinfo may be NULL) to a new identity in *ret.
 * Returns 0, or -1 with *why filled (first refusal) and *ret untouched.
 * An "access" failure is mapping.access_denied: answer 403 naming why->rule
 * and why->err.msg, create no session. */
int tsso_mapping_apply(const struct tsso_mapping *m, const json_t *id_token_claims,
                       const json_t *userinfo, const struct tsso_mapping_opts *opts,
                       struct tsso_identity **ret, struct tsso_mapping_refusal *why) TSSO_WUR;

/* Dry run for `toucan-sso map`: scheme is TSSO_EMBED_SIGNED_JWT or
 * TSSO_EMBED_API. Returns 0 with *ret_output the pretty JSON exactly as it
 * would be minted (the embed_context, or the Toucan AI {"user": ...} body),
 * 1 with *ret_output every refusal, one "REASON: text" per line, or -1 (out
 * of memory, *ret_output untouched). Distributed claims are not fetched: a
 * login that would need one is reported. *ret_output is a new string. */
int tsso_mapping_dry_run(const struct tsso_mapping *m, const json_t *claims, const json_t *userinfo,
                         int scheme, const char *default_workspace, char **ret_output) TSSO_WUR;

#endif

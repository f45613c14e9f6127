/* The embed identity: lifecycle, session round-trip, and each Toucan scheme's shape. */
#include <stdlib.h>
#include <string.h>

#include "map_int.h"
#include "tsso/identity.h"
#include "tsso/jsonw.h"

#define ROLE_USER   "USER"
#define ROLE_ADMIN  "ADMIN"
#define AI_EXPLORER "explorer"
#define AI_MAKER    "maker"

struct tsso_identity *tsso_identity_new(void)
{
	struct tsso_identity *id = calloc(1, sizeof(*id));

	if (id == NULL)
		return NULL;
	id->ai_role = strdup(AI_EXPLORER);
	id->groups = json_array();
	id->privileges = json_object();
	id->attributes = json_object();
	if (id->ai_role == NULL || id->groups == NULL || id->privileges == NULL ||
	    id->attributes == NULL) {
		tsso_identity_free(id);
		return NULL;
	}
	return id;
}

void tsso_identity_free(struct tsso_identity *id)
{
	if (id == NULL)
		return;
	free(id->username);
	free(id->workspace_id);
	free(id->ai_role);
	json_decref(id->groups);
	json_decref(id->privileges);
	json_decref(id->attributes);
	free(id);
}

/* A borrowed member, or an empty container when the identity has none. */
static json_t *copy_or(const json_t *v, json_t *(*make)(void))
{
	return v != NULL ? json_deep_copy(v) : make();
}

json_t *tsso_identity_to_json(const struct tsso_identity *id)
{
	json_t *j;

	if (id == NULL || id->username == NULL)
		return NULL;
	j = json_pack("{s:s, s:b, s:s, s:o, s:o, s:o}", "username", id->username, "admin",
	              id->admin, "ai_role", id->ai_role != NULL ? id->ai_role : AI_EXPLORER,
	              "groups", copy_or(id->groups, json_array), "privileges",
	              copy_or(id->privileges, json_object), "attributes",
	              copy_or(id->attributes, json_object));
	if (j != NULL && id->workspace_id != NULL &&
	    json_object_set_new(j, "workspace_id", json_string(id->workspace_id)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Strict: exactly the members to_json writes, with their types. The JSON
 * comes back from a session store, which an attacker may have touched only
 * when sessions are not sealed; refuse anything unexpected anyway. */
struct tsso_identity *tsso_identity_from_json(const json_t *j)
{
	struct tsso_identity *id = NULL;
	const json_t *u, *w, *a, *r, *g, *p, *at, *v;
	const char *k;
	size_t expect = 6;

	if (!json_is_object(j))
		return NULL;
	u = json_object_get(j, "username");
	w = json_object_get(j, "workspace_id");
	a = json_object_get(j, "admin");
	r = json_object_get(j, "ai_role");
	g = json_object_get(j, "groups");
	p = json_object_get(j, "privileges");
	at = json_object_get(j, "attributes");
	if (w != NULL)
		expect++;
	if (json_object_size(j) != expect || !json_is_string(u) ||
	    (w != NULL && !json_is_string(w)) || !json_is_boolean(a) || !json_is_string(r) ||
	    !map_type_fits(MAP_T_STRING_LIST, g) || !json_is_object(p) || !json_is_object(at))
		return NULL;
	if (strcmp(json_string_value(r), AI_EXPLORER) != 0 &&
	    strcmp(json_string_value(r), AI_MAKER) != 0)
		return NULL;
	json_object_foreach ((json_t *)at, k, v) {
		if (!map_type_fits(MAP_T_ANY, v))
			return NULL;
	}
	if ((id = tsso_identity_new()) == NULL)
		return NULL;
	free(id->ai_role);
	id->ai_role = strdup(json_string_value(r));
	id->username = strdup(json_string_value(u));
	id->workspace_id = w != NULL ? strdup(json_string_value(w)) : NULL;
	id->admin = json_is_true(a);
	json_decref(id->groups);
	json_decref(id->privileges);
	json_decref(id->attributes);
	id->groups = json_deep_copy(g);
	id->privileges = json_deep_copy(p);
	id->attributes = json_deep_copy(at);
	if (id->ai_role == NULL || id->username == NULL ||
	    (w != NULL && id->workspace_id == NULL) || id->groups == NULL ||
	    id->privileges == NULL || id->attributes == NULL) {
		tsso_identity_free(id);
		return NULL;
	}
	return id;
}

json_t *tsso_identity_embed_context(const struct tsso_identity *id, const char *default_workspace)
{
	const char *ws;

	if (id == NULL || id->username == NULL)
		return NULL;
	ws = id->workspace_id != NULL ? id->workspace_id : default_workspace;
	if (ws == NULL || *ws == '\0')
		return NULL;
	/* Key order as in Toucan's documentation, for readable dry runs. */
	return json_pack("{s:s, s:s, s:[s], s:o, s:o, s:o}", "username", id->username,
	                 "workspace_id", ws, "roles", id->admin ? ROLE_ADMIN : ROLE_USER,
	                 "privileges", copy_or(id->privileges, json_object), "groups",
	                 copy_or(id->groups, json_array), "attributes",
	                 copy_or(id->attributes, json_object));
}

/* key: v, or an empty object / array when v is NULL (as copy_or above). */
static void member_or_empty(struct tsso_jsonw *w, const char *key, const json_t *v, bool object)
{
	tsso_jsonw_key(w, key);
	if (v != NULL)
		tsso_jsonw_value(w, v);
	else if (object) {
		tsso_jsonw_obj_begin(w);
		tsso_jsonw_obj_end(w);
	} else {
		tsso_jsonw_arr_begin(w);
		tsso_jsonw_arr_end(w);
	}
}

int tsso_identity_embed_context_write(const struct tsso_identity *id, const char *default_workspace,
                                      struct tsso_jsonw *w)
{
	const char *ws;

	if (id == NULL || id->username == NULL)
		return -1;
	ws = id->workspace_id != NULL ? id->workspace_id : default_workspace;
	if (ws == NULL || *ws == '\0')
		return -1;
	/* Same members, order and types as tsso_identity_embed_context. */
	tsso_jsonw_obj_begin(w);
	tsso_jsonw_key(w, "username");
	tsso_jsonw_str(w, id->username);
	tsso_jsonw_key(w, "workspace_id");
	tsso_jsonw_str(w, ws);
	tsso_jsonw_key(w, "roles");
	tsso_jsonw_arr_begin(w);
	tsso_jsonw_str(w, id->admin ? ROLE_ADMIN : ROLE_USER);
	tsso_jsonw_arr_end(w);
	member_or_empty(w, "privileges", id->privileges, true);
	member_or_empty(w, "groups", id->groups, false);
	member_or_empty(w, "attributes", id->attributes, true);
	tsso_jsonw_obj_end(w);
	return 0;
}

json_t *tsso_identity_ai_user(const struct tsso_identity *id)
{
	json_t *j;

	if (id == NULL || id->username == NULL)
		return NULL;
	j = json_pack("{s:s, s:s, s:o}", "distinctId", id->username, "role",
	              id->ai_role != NULL ? id->ai_role : AI_EXPLORER, "attributes",
	              copy_or(id->attributes, json_object));
	/* permissions is optional in Toucan AI's API: send it only when set. */
	if (j != NULL && json_object_size(id->privileges) > 0 &&
	    json_object_set_new(j, "permissions", json_deep_copy(id->privileges)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Presets: per-IdP starting rules (conf/presets/NAME.json) the tenant's rules override. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"

/* A preset name is a file name under presets_dir: no path tricks. */
static bool preset_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static json_t *preset_load(struct map_cc *cc, const char *path)
{
	FILE *f = fopen(path, "rb");
	json_t *j = NULL;
	json_error_t jerr;
	char *data = NULL;
	size_t n;

	if (f == NULL) {
		map_problem(cc, "mapping.preset", "cannot open %s", path);
		return NULL;
	}
	data = malloc(TSSO_CFG_MAX_FILE + 1);
	if (data == NULL)
		goto out;
	n = fread(data, 1, TSSO_CFG_MAX_FILE + 1, f);
	if (n > TSSO_CFG_MAX_FILE) {
		map_problem(cc, "mapping.preset", "%s is over %d bytes", path, TSSO_CFG_MAX_FILE);
		goto out;
	}
	j = json_loadb(data, n, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		map_problem(cc, "mapping.preset", "%s: line %d: %s", path, jerr.line, jerr.text);
	else if (!json_is_object(j)) {
		map_problem(cc, "mapping.preset", "%s: want an object of rules", path);
		json_decref(j);
		j = NULL;
	}
out:
	free(data);
	fclose(f);
	return j;
}

/* Check the preset on its own, so its problems name its own file. */
static int preset_check(struct map_cc *cc, const char *path, const json_t *preset)
{
	struct map_cc pc = *cc;
	struct tsso_mapping tmp = {.ccx = cc->ccx, .mcx = cc->mcx};
	int rc;

	pc.file = path;
	pc.failed = 0;
	pc.n_conditions = 0;
	if (json_object_get(preset, "preset") != NULL) {
		map_problem(&pc, "mapping.preset", "a preset cannot start from another preset");
		cc->failed = 1;
		return -1;
	}
	rc = map_compile_object(&pc, preset, &tmp);
	map_mapping_clear(&tmp);
	if (rc < 0)
		cc->failed = 1;
	return rc;
}

json_t *map_preset_merge(struct map_cc *cc, const json_t *rules, const char *presets_dir)
{
	const json_t *name = json_object_get(rules, "preset");
	json_t *preset = NULL, *attrs, *v;
	const char *k;
	char path[4096];

	if (name == NULL)
		return json_incref((json_t *)rules);
	if (!json_is_string(name) || !preset_name_ok(json_string_value(name))) {
		map_problem(cc, "mapping.preset", "want a preset name such as \"entra-id\"");
		return NULL;
	}
	if (presets_dir == NULL) {
		map_problem(cc, "mapping.preset", "no presets directory is configured");
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.json", presets_dir,
	                     json_string_value(name)) >= sizeof(path)) {
		map_problem(cc, "mapping.preset", "presets directory path too long");
		return NULL;
	}
	if ((preset = preset_load(cc, path)) == NULL)
		return NULL;
	if (preset_check(cc, path, preset) < 0)
		goto fail;
	/* The tenant's keys replace the preset's; attributes merge per name and
	 * null removes one of the preset's. */
	json_object_foreach((json_t *)rules, k, v)
	{
		if (strcmp(k, "preset") == 0)
			continue;
		if (strcmp(k, "attributes") == 0 && json_is_object(v) &&
		    json_is_object(attrs = json_object_get(preset, "attributes"))) {
			const char *an;
			json_t *av;

			json_object_foreach(v, an, av)
			{
				if (json_is_null(av))
					json_object_del(attrs, an);
				else if (json_object_set(attrs, an, av) < 0)
					goto oom;
			}
			continue;
		}
		if (json_object_set(preset, k, v) < 0)
			goto oom;
	}
	return preset;
oom:
	map_problem(cc, "mapping.preset", "out of memory");
fail:
	json_decref(preset);
	return NULL;
}

/* Pushed Authorization Requests (RFC 9126): the request goes server to server, the browser carries
 * only a request_uri. */
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"
#include "tsso/crypto.h"
#include "tsso/limits.h"

int oidc_par_push(struct tsso_idp *idp, const struct oidc_meta *meta, const char *params,
                  long long now, char **ret_request_uri, struct tsso_err *err)
{
	struct tsso_buf form;
	char *extra[2] = {NULL, NULL};
	size_t n_extra = 0, nh = 0;
	const char *hdrs[5];
	struct tsso_fetch_req req = {.method = "POST", .url = meta->par_endpoint};
	struct tsso_fetch_resp resp = {0};
	struct tsso_err ferr = {0};
	json_t *j = NULL;
	const char *uri;
	char safe[72];
	char *out = NULL;
	int rc = -1;

	tsso_buf_init(&form, TSSO_OUT_MAX_RESPONSE);
	if (tsso_buf_adds(&form, params) != 0) {
		tsso_err_set(err, "oidc.internal", "request too large");
		goto out;
	}
	/* The authorization request carries client_id already; the client
	 * authenticates as at the token endpoint (RFC 9126 §2). For JWT
	 * assertions the issuer is an audience the AS must accept (§2). */
	if (oidc_client_auth(idp, meta->issuer, now, false, &form, extra, &n_extra, err) != 0)
		goto out;
	hdrs[nh++] = OIDC_FORM_CONTENT_TYPE;
	hdrs[nh++] = OIDC_ACCEPT_JSON;
	for (size_t i = 0; i < n_extra; i++)
		hdrs[nh++] = extra[i];
	hdrs[nh] = NULL;
	req.headers = hdrs;
	req.body = form.ptr;
	req.body_len = form.len;
	if (tsso_fetch(idp->fetcher, &req, &resp, &ferr) != 0) {
		tsso_err_set(err, "par.failed", "pushed authorization request failed (%s): %s",
		             tsso_err_reason(&ferr), ferr.msg);
		goto out;
	}
	j = oidc_json_object(resp.body, resp.body_len);
	/* RFC 9126 §2.2: 201 with request_uri and expires_in; §2.3 errors. */
	if (resp.status != 201 && resp.status != 200) {
		const char *code = oidc_json_str(j, "error");

		tsso_err_set(
		    err, "par.failed", "the PAR endpoint answered HTTP %ld (%s)", resp.status,
		    code != NULL ? oidc_safe_code(code, safe, sizeof(safe)) : "no error code");
		goto out;
	}
	uri = oidc_json_str(j, "request_uri");
	if (uri == NULL || uri[0] == '\0' || strlen(uri) > TSSO_HTTP_MAX_URL / 2 ||
	    !json_is_integer(json_object_get(j, "expires_in"))) {
		tsso_err_set(err, "par.failed", "the PAR response is malformed");
		goto out;
	}
	out = strdup(uri);
	if (out == NULL) {
		tsso_err_set(err, "oidc.internal", "out of memory");
		goto out;
	}
	*ret_request_uri = out;
	rc = 0;
out:
	for (size_t i = 0; i < n_extra; i++)
		tsso_free_secret(extra[i]);
	json_decref(j);
	tsso_fetch_resp_free(&resp);
	tsso_buf_free_secure(&form);
	return rc;
}

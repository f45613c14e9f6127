/* The sealed login-state cookie: naming, sealing and opening. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle_int.h"
#include "login_state.h"
#include "tsso/aead.h"
#include "tsso/buf.h"
#include "tsso/crypto.h"
#include "tsso/jose.h"
#include "tsso/limits.h"
#include "tsso/oidc.h"

#define STATE_KEY_LEN 16

static int aad_for(const struct tsso_req *req, char *buf, size_t n)
{
	int w = snprintf(buf, n, "login-state:%s", req->tenant_id);

	return w > 0 && (size_t)w < n ? 0 : -1;
}

char *hdl_login_state_cookie_name(const struct tsso_req *req, const char *state)
{
	char *h = tsso_jose_half_hash("RS256", state);
	struct tsso_buf b;

	if (h == NULL || strlen(h) < STATE_KEY_LEN) {
		free(h);
		return NULL;
	}
	tsso_buf_init(&b, 256);
	if (tsso_buf_adds(&b, req->rt->cfg->session.cookie_name) < 0 ||
	    tsso_buf_adds(&b, TSSO_LOGIN_STATE_COOKIE_INFIX) < 0 ||
	    tsso_buf_add(&b, h, STATE_KEY_LEN) < 0) {
		free(h);
		tsso_buf_free(&b);
		return NULL;
	}
	free(h);
	return tsso_buf_take(&b);
}

int hdl_login_state_seal(const struct tsso_req *req, const struct tsso_login_state *ls,
                         char **ret_name, char **ret_value, struct tsso_err *err)
{
	char *plain = NULL, *name = NULL, *value = NULL;
	struct tsso_buf b;
	char aad[128];
	int r = -1;

	/* Holds the PKCE verifier and nonce: wiped with the buffer below. */
	tsso_buf_init(&b, TSSO_AEAD_TOKEN_MAX);
	if (tsso_login_state_write(&b, ls) == 0)
		plain = b.ptr;
	if (plain == NULL || aad_for(req, aad, sizeof(aad)) < 0) {
		tsso_err_set(err, "login.internal", "cannot serialize the login state");
		goto out;
	}
	name = hdl_login_state_cookie_name(req, ls->state);
	if (name == NULL) {
		tsso_err_set(err, "login.internal", "cannot name the login-state cookie");
		goto out;
	}
	if (tsso_aead_seal(req->rt->keyring, aad, plain, b.len, &value, err) < 0)
		goto out;
	*ret_name = name;
	*ret_value = value;
	name = value = NULL;
	r = 0;
out:
	tsso_buf_free_secure(&b);
	free(name);
	free(value);
	return r;
}

struct tsso_login_state *hdl_login_state_open(const struct tsso_req *req, const char *value,
                                              struct tsso_err *err)
{
	unsigned char *plain = NULL;
	size_t n = 0;
	char aad[128];
	struct tsso_login_state *ls;
	struct tsso_err inner = {0};

	if (aad_for(req, aad, sizeof(aad)) < 0 ||
	    tsso_aead_open(req->rt->keyring, aad, value, &plain, &n, &inner) < 0) {
		tsso_err_set(err, "state.forged",
		             "the login-state cookie does not open with our keys (%s)",
		             tsso_err_reason(&inner));
		return NULL;
	}
	ls = tsso_login_state_parse((const char *)plain, n, err);
	tsso_wipe(plain, n);
	free(plain);
	if (ls != NULL && (ls->tenant == NULL || strcmp(ls->tenant, req->tenant_id) != 0)) {
		tsso_login_state_free(ls);
		tsso_err_set(err, "state.wrong_tenant",
		             "the login state belongs to another tenant");
		return NULL;
	}
	return ls;
}

/* Private to src/handle: the sealed login-state cookie (one per login in flight). */
#ifndef TSSO_LOGIN_STATE_H
#define TSSO_LOGIN_STATE_H

#include "tsso/err.h"
#include "tsso/http.h"

struct tsso_login_state;

/* Cookie names are {session.cookie_name}-ls-{first 16 chars of the base64url
 * SHA-256 of the state}: the callback finds its cookie from the state alone. */
#define TSSO_LOGIN_STATE_COOKIE_INFIX "-ls-"

/* The cookie name for a state value (new string) or NULL. */
char *hdl_login_state_cookie_name(const struct tsso_req *req, const char *state);
/* Seal ls (AES-256-GCM, AAD "login-state:{tenant}"): new name and value. */
int hdl_login_state_seal(const struct tsso_req *req, const struct tsso_login_state *ls,
                         char **ret_name, char **ret_value, struct tsso_err *err);
/* Open a sealed value for this request's tenant; NULL with state.forged or
 * state.malformed. */
struct tsso_login_state *hdl_login_state_open(const struct tsso_req *req, const char *value,
                                              struct tsso_err *err);

#endif

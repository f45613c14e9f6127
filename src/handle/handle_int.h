/* Private to src/handle: cookies, sessions and refusal pages shared by handlers. */
#ifndef TSSO_HANDLE_INT_H
#define TSSO_HANDLE_INT_H

#include <stdbool.h>

#include "tsso/app.h"
#include "tsso/err.h"
#include "tsso/http.h"

struct tsso_session;

/* Unix seconds. */
long long hdl_now(void);

/* A login start or callback runs on an event thread only when the IdP's
 * metadata is not due for refresh within this many seconds (the request's
 * own time); else a worker runs it, which may fetch the metadata. */
#define HDL_LOCAL_MARGIN_S 5

/* Set-Cookie for a cookie scoped to the tenant ({base}/{tenant}): HttpOnly,
 * Secure when public_url is https, SameSite=Lax unless cross_site_post
 * (form_post responses need SameSite=None, which needs Secure).
 * max_age < 0: session cookie; remove: delete it. -1 when it cannot be built. */
int hdl_set_cookie(const struct tsso_req *req, struct tsso_resp *resp, const char *name,
                   const char *value, long max_age, bool remove, bool cross_site_post);

/* The session of this request, or -1 with a session.* reason (no session,
 * expired, forged...) or store.unavailable. Sets a re-sealed cookie when the
 * store hands one out. */
int hdl_session_get(const struct tsso_req *req, struct tsso_resp *resp, struct tsso_session **ret,
                    struct tsso_err *err);
/* Refresh the session's tokens when the tenant asks for it and the access
 * token is about to expire (one instance at a time). *sp may be replaced by
 * a fresher copy. -1 when the session must end (the IdP refused). */
int hdl_session_refresh(const struct tsso_req *req, struct tsso_resp *resp,
                        struct tsso_session **sp, struct tsso_err *err);
/* Delete the session cookie. */
void hdl_session_cookie_clear(const struct tsso_req *req, struct tsso_resp *resp);

/* End a login on a refusal: log "login.refused" with the request id and
 * reason, and answer an error page whose status and words fit the reason. */
void hdl_login_refused(const struct tsso_req *req, struct tsso_resp *resp,
                       const struct tsso_err *err);

/* Check a return_to / target_link_uri (same origin path, or an origin the
 * tenant lists) and give back the absolute location. */
int hdl_return_to(const struct tsso_req *req, const char *candidate, char **ret_location,
                  struct tsso_err *err);

#endif

/* Request accessors and response builders used by every handler. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsso/http.h"
#include "tsso/jsonw.h"
#include "tsso/log.h"

static const char *kv_get(const struct tsso_kvlist *l, const char *name, bool icase)
{
	for (size_t i = 0; i < l->n; i++)
		if ((icase ? strcasecmp(l->v[i].key, name) : strcmp(l->v[i].key, name)) == 0)
			return l->v[i].value;
	return NULL;
}

static size_t kv_count(const struct tsso_kvlist *l, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += strcmp(l->v[i].key, name) == 0;
	return n;
}

void tsso_req_defer(struct tsso_req *req, struct tsso_fetch_op *op, tsso_cont_fn cont, void *ctx,
                    void (*ctx_free)(void *ctx))
{
	req->defer.op = op;
	req->defer.cont = cont;
	req->defer.ctx = ctx;
	req->defer.ctx_free = ctx_free;
}

const char *tsso_req_query(const struct tsso_req *req, const char *name)
{
	return kv_get(&req->query, name, false);
}

const char *tsso_req_form(const struct tsso_req *req, const char *name)
{
	return kv_get(&req->form, name, false);
}

const char *tsso_req_header(const struct tsso_req *req, const char *name)
{
	return kv_get(&req->headers, name, true);
}

const char *tsso_req_cookie(const struct tsso_req *req, const char *name)
{
	return kv_get(&req->cookies, name, false);
}

static bool is_form_post(const struct tsso_req *req)
{
	return strcmp(req->method, "POST") == 0 && req->form.n > 0;
}

const char *tsso_req_param(const struct tsso_req *req, const char *name)
{
	return is_form_post(req) ? tsso_req_form(req, name) : tsso_req_query(req, name);
}

size_t tsso_req_param_count(const struct tsso_req *req, const char *name)
{
	return is_form_post(req) ? kv_count(&req->form, name) : kv_count(&req->query, name);
}

int tsso_resp_header(struct tsso_resp *resp, const char *name, const char *value)
{
	struct tsso_kv *kv;

	if (resp->n_headers >= TSSO_RESP_MAX_HEADERS)
		return -1;
	kv = &resp->headers[resp->n_headers];
	kv->key = strdup(name);
	kv->value = strdup(value);
	if (kv->key == NULL || kv->value == NULL) {
		free(kv->key);
		free(kv->value);
		return -1;
	}
	resp->n_headers++;
	return 0;
}

int tsso_resp_cookie(struct tsso_resp *resp, const char *set_cookie)
{
	if (resp->n_cookies >= TSSO_RESP_MAX_COOKIES)
		return -1;
	resp->cookies[resp->n_cookies] = strdup(set_cookie);
	if (resp->cookies[resp->n_cookies] == NULL)
		return -1;
	resp->n_cookies++;
	return 0;
}

void tsso_resp_text(struct tsso_resp *resp, int status, const char *content_type, const char *text)
{
	resp->status = status;
	resp->content_type = content_type;
	tsso_buf_reset(&resp->body);
	if (tsso_buf_adds(&resp->body, text) < 0) {
		resp->status = 500;
		resp->content_type = "text/plain; charset=utf-8";
		tsso_buf_reset(&resp->body);
	}
}

struct tsso_buf *tsso_resp_json_body(struct tsso_resp *resp, int status)
{
	resp->status = status;
	resp->content_type = "application/json";
	tsso_buf_reset(&resp->body);
	return &resp->body;
}

void tsso_resp_json_failed(struct tsso_resp *resp)
{
	tsso_resp_text(resp, 500, "application/json", "{\"error\":\"oom\"}");
}

void tsso_resp_json(struct tsso_resp *resp, int status, json_t *body)
{
	/* Straight into the body: no intermediate string (tsso/jsonw.h). */
	struct tsso_buf *b = tsso_resp_json_body(resp, status);

	if (body == NULL || tsso_jsonw_dump(b, body, NULL) < 0)
		tsso_resp_json_failed(resp);
	json_decref(body);
}

void tsso_resp_redirect(struct tsso_resp *resp, int status, const char *location)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	tsso_buf_reset(&resp->body);
	if (tsso_resp_header(resp, "Location", location) < 0)
		resp->status = 500;
}

static bool wants_json(const struct tsso_req *req)
{
	const char *accept = tsso_req_header(req, "Accept");

	if (accept != NULL && strstr(accept, "application/json") != NULL &&
	    strstr(accept, "text/html") == NULL)
		return true;
	/* API routes answer JSON to scripts (embed-token) and IdPs (back-channel). */
	return req->route_path != NULL && (strstr(req->route_path, "/embed-token") != NULL ||
	                                   strstr(req->route_path, "/backchannel-logout") != NULL);
}

void tsso_resp_error(const struct tsso_req *req, struct tsso_resp *resp, int status,
                     const char *reason, const char *title, const char *detail)
{
	int r = 0;

	resp->status = status;
	resp->reason = reason;
	tsso_buf_reset(&resp->body);
	if (wants_json(req)) {
		json_t *j =
		    json_pack("{s:s, s:s, s:s?, s:s}", "error", reason, "message", title, "detail",
		              detail, "request_id", req->request_id ? req->request_id : "-");

		tsso_resp_json(resp, status, j);
		resp->reason = reason;
		return;
	}
	resp->content_type = "text/html; charset=utf-8";
	r |= tsso_buf_adds(&resp->body, "<!doctype html>\n<html lang=\"en\"><head><meta "
	                                "charset=\"utf-8\"><title>");
	r |= tsso_buf_add_html_escaped(&resp->body, title);
	r |= tsso_buf_adds(&resp->body,
	                   "</title><meta name=\"viewport\" content=\"width=device-width\">"
	                   "<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:"
	                   "4em auto;padding:0 1em;color:#222}code{background:#eee;padding:"
	                   "0 .3em}</style></head>\n<body><h1>");
	r |= tsso_buf_add_html_escaped(&resp->body, title);
	r |= tsso_buf_adds(&resp->body, "</h1>\n<p>");
	r |= tsso_buf_add_html_escaped(&resp->body, detail ? detail : "");
	r |= tsso_buf_adds(&resp->body, "</p>\n<p>If you contact support, give them this "
	                                "reference: <code>");
	r |= tsso_buf_add_html_escaped(&resp->body, req->request_id ? req->request_id : "-");
	r |= tsso_buf_adds(&resp->body, "</code> (<code>");
	r |= tsso_buf_add_html_escaped(&resp->body, reason);
	r |= tsso_buf_adds(&resp->body, "</code>)</p>\n</body></html>\n");
	if (r != 0)
		tsso_resp_text(resp, 500, "text/plain; charset=utf-8", "internal error\n");
}

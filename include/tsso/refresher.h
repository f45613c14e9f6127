/* The background thread that keeps every tenant's IdP metadata fresh. */
#ifndef TSSO_REFRESHER_H
#define TSSO_REFRESHER_H

struct tsso_app;
struct tsso_refresher;

/* Start refreshing the app's current runtime (re-read at every pass, so a
 * reload is picked up). NULL when the thread cannot start. */
struct tsso_refresher *tsso_refresher_start(struct tsso_app *app);
/* Stop and join; a refresh in progress finishes first (bounded by the
 * outbound timeouts). Accepts NULL. */
void tsso_refresher_stop(struct tsso_refresher *r);

#endif

/*
 * The fis plugin: XEP-0329 File Information Sharing (urn:xmpp:fis:0) and
 * the XEP-0055 jabber:iq:search form, both with XEP-0059 RSM. This file is
 * the glue to the host: settings, registration, and each IQ handed to the
 * request handlers (fis_query.c, search_form.c) with a fis_env. The host
 * routes IQs sent to the bot's full JID and to its occupant JIDs, and
 * applies the per-requester rate limit before they get here. Both
 * namespaces are registered with FB_IQ_QUERY: the handlers run on the
 * host's query workers, with the worker's catalogue connection and
 * libstrophe context; the plugin's state is read-only after init.
 *
 * Settings ([plugin "fis"]):
 *   page_limit = 100   items in one reply without RSM, and the most an RSM
 *                      <max/> gets (1 to 1000)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fis.h"
#include "fisbot_plugin.h"

FISBOT_PLUGIN("fis");

/* The host's API, kept for fini, which gets only the plugin handle. */
static const struct fb_api *fis_api;

/* The plugin's state. */
struct fis_plugin {
	struct fb_plugin *p;
	const struct fb_api *api;
	unsigned page_limit;
};

/* Makes a download URL through the host (fis_env.file_url). */
static char *make_url(void *arg, const struct cat_file *f)
{
	struct fis_plugin *fp = arg;

	return fp->api->file_url(fp->p, f);
}

/* Runs one IQ through answer and sends what it says. */
static void handle(struct fis_plugin *fp, struct fb_iq *iq,
                   int (*answer)(const struct fis_env *, xmpp_stanza_t *,
                                 struct fis_reply *))
{
	const struct fb_api *api = fp->api;
	xmpp_stanza_t *st = api->iq_stanza(iq);
	struct fis_env env = {
	    .ctx = api->iq_ctx(iq),
	    .cat = api->catalogue(fp->p),
	    .page_limit = fp->page_limit,
	    .max_payload = fis_reply_budget(st),
	    .file_url = make_url,
	    .url_arg = fp,
	};
	struct fis_reply r;

	if (env.cat == NULL) {
		api->iq_error(iq, "wait", "service-unavailable",
		              "the catalogue is not ready");
		return;
	}
	if (answer(&env, st, &r) == 0) {
		api->iq_result(iq, r.payload);
		r.payload = NULL; /* the host releases it */
	} else {
		api->iq_error(iq, r.type, r.condition, r.text);
	}
	fis_reply_clear(&r);
}

/* Handles urn:xmpp:fis:0. */
static void on_fis(struct fb_iq *iq, void *arg)
{
	handle(arg, iq, fis_query_answer);
}

/* Handles jabber:iq:search. */
static void on_search(struct fb_iq *iq, void *arg)
{
	handle(arg, iq, search_form_answer);
}

/* Reads the [plugin "fis"] settings into fp. Returns 0, or -1 with
 * *cause. */
static int read_settings(struct fis_plugin *fp, char **cause)
{
	const struct plugin_config *pc =
	    config_plugin(fp->api->config(fp->p), "fis");
	unsigned long v;
	char *end;

	fp->page_limit = FIS_PAGE_LIMIT;
	if (pc == NULL)
		return 0;
	for (size_t i = 0; i < pc->keys.n; i++) {
		const char *key = pc->keys.v[i], *value = pc->values.v[i];
		const char *where = pc->lines.v[i];

		if (strcmp(key, "page_limit") != 0) {
			*cause = xasprintf("%s: [plugin \"fis\"] %s: unknown "
			                   "setting (known: page_limit)",
			                   where, key);
			return -1;
		}
		errno = 0;
		v = strtoul(value, &end, 10);
		if (value[0] < '0' || value[0] > '9' || *end != '\0' ||
		    errno != 0 || v < 1 || v > FIS_PAGE_LIMIT_MAX) {
			*cause =
			    xasprintf("%s: [plugin \"fis\"] page_limit: "
			              "\"%s\" is not a number from 1 to %d",
			              where, value, FIS_PAGE_LIMIT_MAX);
			return -1;
		}
		fp->page_limit = (unsigned)v;
	}
	return 0;
}

int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *api,
                       char **cause)
{
	static const char *const features[] = {
	    FIS_NS,
	    SEARCH_NS,
	    "http://jabber.org/protocol/rsm",
	    "urn:xmpp:hashes:2",
	    "urn:xmpp:hash-function-text-names:sha-256",
	};
	struct fis_plugin *fp = xcalloc(1, sizeof(*fp));

	fp->p = p;
	fp->api = api;
	if (read_settings(fp, cause) == -1)
		goto fail;
	if (api->register_iq(p, FIS_NS, on_fis, fp, FB_IQ_QUERY) == -1 ||
	    api->register_iq(p, SEARCH_NS, on_search, fp, FB_IQ_QUERY) == -1) {
		*cause = xstrdup("fis: another plugin already answers " FIS_NS
		                 " or " SEARCH_NS);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		api->add_feature(p, features[i]);
	api->set_data(p, fp);
	fis_api = api;
	return 0;
fail:
	free(fp);
	return -1;
}

void fisbot_plugin_fini(struct fb_plugin *p)
{
	if (fis_api != NULL)
		free(fis_api->data(p));
}

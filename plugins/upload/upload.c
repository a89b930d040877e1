/*
 * The upload plugin (SPEC §6 "upload"): "upload NAME SIZE" gives an
 * [upload] allow user a one-time HTTP PUT URL, valid 5 minutes, for a new
 * file in [upload] folder.
 *
 * The URL is a bearer secret, so it is only handed out in a direct chat or
 * a MUC private message, never in a room's groupchat; and the uploader is
 * the requester's real bare JID, so a room that hides it (anonymous) gets
 * a refusal. The checks (enabled, allowed, name, size, quota) and the URL
 * itself come from the core's upload_offer (upload.h), which the HTTP side
 * checks again when the file arrives; the URL is signed with the link key
 * ([http] secret_file), loaded on first use.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fisbot_plugin.h"
#include "token.h"
#include "units.h"
#include "upload.h"

FISBOT_PLUGIN("upload");

static const struct fb_api *api;

/* The plugin's state. */
struct upload_plugin {
	struct token_key *key; /* NULL until first needed */
};

/* Returns the signing key, loading it on first use; NULL with *cause. */
static struct token_key *signing_key(struct fb_plugin *p, char **cause)
{
	struct upload_plugin *up = api->data(p);
	const struct config *cfg = api->config(p);

	if (up->key == NULL)
		up->key = token_key_load(cfg->http.secret_file, cause);
	return up->key;
}

/* Returns the NAME argument (the caller frees it): one argument as parsed
 * (quotes removed), or, for a name with spaces typed without quotes,
 * everything before the last word of the raw argument text. */
static char *name_argument(struct fb_request *r, int argc, char **argv)
{
	const char *raw = api->req_args(r);
	size_t end = strlen(raw);

	if (argc == 3)
		return xstrdup(argv[1]);
	while (end > 0 && strchr(" \t\r\n", raw[end - 1]) != NULL)
		end--;
	while (end > 0 && strchr(" \t\r\n", raw[end - 1]) == NULL)
		end--;
	while (end > 0 && strchr(" \t\r\n", raw[end - 1]) != NULL)
		end--;
	raw += strspn(raw, " \t\r\n");
	return xstrndup(raw, end - (size_t)(raw - api->req_args(r)));
}

/* upload NAME SIZE */
static void cmd_upload(struct fb_request *r, int argc, char **argv)
{
	struct fb_plugin *p = api->req_plugin(r);
	const struct config *cfg = api->config(p);
	char *name = NULL, *clean = NULL, *url = NULL, *cause = NULL;
	char *jid = NULL, human[TEXT_SIZE_LEN];
	const char *real, *size_arg = argv[argc - 1];
	struct token_key *key;
	uint64_t size;

	if (!cfg->upload.enabled) {
		api->reply_error(r, "uploads are disabled");
		return;
	}
	if (api->req_place(r) == FB_ROOM) {
		api->reply_error(r,
		                 "ask for an upload URL in a private message "
		                 "or a direct chat, not in the room");
		return;
	}
	real = api->req_real_jid(r);
	if (real == NULL) {
		api->reply_error(r,
		                 "this room hides your real JID, and uploads "
		                 "need it; ask in a direct chat");
		return;
	}
	jid = xstrndup(real, strcspn(real, "/"));
	if (units_parse_size(size_arg, &size) == -1) {
		api->reply_error(r, "not a size: %s (write 512, 10K, 5M, 2G)",
		                 size_arg);
		goto out;
	}
	if ((key = signing_key(p, &cause)) == NULL) {
		log_warnx("upload: %s", cause);
		api->reply_error(r, "uploads are not available now");
		goto out;
	}
	name = name_argument(r, argc, argv);
	url = upload_offer(cfg, key, api->catalogue(p), jid, name, size,
	                   time(NULL), &clean, &cause);
	if (url == NULL) {
		api->reply_error(r, "%s", cause);
		goto out;
	}
	api->reply(r,
	           "PUT exactly %s (%llu bytes) to this URL within %d minutes; "
	           "it works once, and the file will be %s/%s:",
	           text_human_size(size, human), (unsigned long long)size,
	           UPLOAD_URL_LIFETIME / 60, cfg->upload.folder, clean);
	api->reply(r, "%s", url);
out:
	free(cause);
	free(name);
	free(clean);
	free(url);
	free(jid);
}

static const struct fb_command commands[] = {
    {
        .name = "upload",
        .usage = "upload NAME SIZE",
        .min_args = 2,
        .max_args = -1,
        .perm = FB_ANYONE,
        .help = "get a one-time HTTP PUT URL to upload a file",
        .handler = cmd_upload,
    },
};

/* Registers the upload command. */
int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *a,
                       char **cause)
{
	api = a;
	api->set_data(p, xcalloc(1, sizeof(struct upload_plugin)));
	if (api->register_commands(
	        p, commands, sizeof(commands) / sizeof(commands[0])) != 0) {
		*cause = xasprintf("cannot register its commands");
		return -1;
	}
	return 0;
}

/* Frees the plugin's state. */
void fisbot_plugin_fini(struct fb_plugin *p)
{
	struct upload_plugin *up = api->data(p);

	if (up == NULL)
		return;
	token_key_free(up->key);
	free(up);
}

/*
 * The upload plugin: "upload NAME SIZE" gives an
 * [upload] allow user a one-time HTTP PUT URL, valid 5 minutes, for a new
 * file in [upload] folder.
 *
 * The URL is a bearer secret, so it is only handed out in a direct chat or
 * a MUC private message, never in a room's groupchat; and the uploader is
 * the requester's real bare JID, so a room that hides it (anonymous) gets
 * a refusal. The checks (enabled, allowed, name, size, quota) and the URL
 * itself come from the host (api->upload_url: the HTTP side's checks, which
 * it makes again when the file arrives, and its link key); this plugin only
 * reads the arguments and words the answer.
 */
#include <stdlib.h>
#include <string.h>

#include "fisbot_plugin.h"

/* The host's API, set by the host before any handler runs. */
static const struct fb_api *api;

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
	char *name = NULL, *cause = NULL, *jid = NULL, human[TEXT_SIZE_LEN];
	const char *real, *size_arg = argv[argc - 1];
	struct fb_upload up = {0};
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
	name = name_argument(r, argc, argv);
	if (api->upload_url(p, jid, name, size, &up, &cause) != 0) {
		api->reply_error(
		    r, "%s",
		    cause != NULL ? cause : "uploads are not available now");
		goto out;
	}
	api->reply(r,
	           "PUT exactly %s (%llu bytes) to this URL within %u minutes; "
	           "it works once, and the file will be %s/%s:",
	           text_human_size(size, human), (unsigned long long)size,
	           up.lifetime_s / 60, cfg->upload.folder, up.name);
	api->reply(r, "%s", up.url);
out:
	free(cause);
	free(name);
	free(up.name);
	free(up.url);
	free(jid);
}

/* Whether r may run upload where it asked (fb_command.available): uploads
 * on, not in a groupchat, and a real JID on the [upload] allow list. */
static bool upload_available(struct fb_request *r)
{
	const struct config *cfg = api->config(api->req_plugin(r));
	const char *real = api->req_real_jid(r);
	char *jid;
	bool ok;

	if (!cfg->upload.enabled || api->req_place(r) == FB_ROOM ||
	    real == NULL)
		return false;
	jid = xstrndup(real, strcspn(real, "/"));
	ok = config_jid_matches(&cfg->upload.allow, jid);
	free(jid);
	return ok;
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
        .available = upload_available,
    },
};

FISBOT_PLUGIN("upload", commands);

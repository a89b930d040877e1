/*
 * Presence subscriptions ([xmpp] subscriptions): so that the bot shows as
 * online in its users' rosters. A subscription request from a JID that may
 * use the bot is approved ("subscribed") and returned ("subscribe"); one
 * from anybody else is refused ("unsubscribed"). A presence probe from a
 * JID that may use the bot gets the bot's presence.
 *
 * Who may use the bot: everyone with "anyone"; with "allowlist" the
 * [admins], the [invites] allow list and the [upload] allow list; nobody
 * with "none". The answers go in the requester's lane of the send queue,
 * so a flood of requests from one JID costs only its own lane.
 */
#include <stdlib.h>
#include <string.h>

#include "fisbot/alloc.h"
#include "fisbot/log.h"
#include "session.h"
#include "session_int.h"

/* Returns true if the [xmpp] subscriptions policy approves bare. */
static bool roster_allowed(const struct config *cfg, const char *bare)
{
	switch (cfg->xmpp.subscriptions) {
	case SUBS_ANYONE:
		return true;
	case SUBS_ALLOWLIST:
		return config_jid_matches(&cfg->admins.jids, bare) ||
		       config_jid_matches(&cfg->invites.allow, bare) ||
		       config_jid_matches(&cfg->upload.allow, bare);
	case SUBS_NONE:
		break;
	}
	return false;
}

/* Sends a presence of type (NULL: available, with caps) to bare, in its
 * lane. */
static void roster_send(struct session *s, const char *bare, const char *type)
{
	xmpp_stanza_t *p;

	if (type == NULL) {
		p = muc_presence_stanza(s, bare);
	} else {
		p = xmpp_presence_new(s->ctx);
		xmpp_stanza_set_to(p, bare);
		xmpp_stanza_set_type(p, type);
	}
	session_send_to(s, p, bare);
}

bool roster_presence(struct session *s, xmpp_stanza_t *st)
{
	const char *type = xmpp_stanza_get_type(st);
	const char *from = xmpp_stanza_get_from(st);
	char *bare;
	bool subscribe;

	if (type == NULL || from == NULL)
		return false;
	subscribe = strcmp(type, "subscribe") == 0;
	if (!subscribe && strcmp(type, "probe") != 0)
		/* subscribed, unsubscribe, unsubscribed: the server keeps
		 * the roster; nothing to answer. */
		return strcmp(type, "subscribed") == 0 ||
		       strcmp(type, "unsubscribe") == 0 ||
		       strcmp(type, "unsubscribed") == 0;
	bare = jid_fold(jid_bare(from));
	if (*bare == '\0' || strchr(bare, '@') == NULL || strlen(bare) > 3071 ||
	    muc_find(s, bare) != NULL) {
		free(bare);
		return true;
	}
	if (!roster_allowed(s->cfg, bare)) {
		if (subscribe) {
			log_info("refusing the presence subscription of %s "
			         "([xmpp] subscriptions)",
			         bare);
			roster_send(s, bare, "unsubscribed");
		}
		free(bare);
		return true;
	}
	if (subscribe) {
		log_info("approving the presence subscription of %s", bare);
		roster_send(s, bare, "subscribed");
		roster_send(s, bare, "subscribe");
	} else {
		roster_send(s, bare, NULL);
	}
	free(bare);
	return true;
}

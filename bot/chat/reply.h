/*
 * Replies to chat commands: the text of one reply, gathered line by line,
 * sanitised and bounded, and the message stanzas it goes out in (a plain
 * text message, or a download link with jabber:x:oob and XEP-0447
 * stateless file sharing).
 *
 * Bounds: the XML-escaped body of a reply stays under REPLY_MAX_BODY bytes,
 * so that no stanza the bot sends exceeds 64 KiB (FB_MAX_STANZA) whatever
 * the recipient's JID. Lines past the bound are dropped and the reply ends
 * with the line REPLY_TRUNCATED.
 *
 * No line of a reply starts with the command prefix or '@' (another bot
 * could take it for a command): such a line gets a ZERO WIDTH SPACE
 * (U+200B) in front.
 */
#ifndef FISBOT_REPLY_H
#define FISBOT_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <strophe.h>

#include "fisbot/catalogue.h"
#include "fisbot/fisbot_limits.h"

#define REPLY_MAX_BODY  60000 /* bytes of the XML-escaped body */
#define REPLY_TRUNCATED "\xe2\x80\xa6 (truncated)"
#define REPLY_GUARD     "\xe2\x80\x8b" /* U+200B */

/* The text of one reply. Zero-initialise it; free with reply_text_clear. */
struct reply_text {
	char *buf;
	size_t len, cap;
	size_t xml_len; /* escaped size of buf */
	size_t lines;
	bool truncated;
};

/* Appends text (one line, or several separated by '\n') to t: sanitised,
 * guarded against prefix (and '@'), cut at the bound. */
void reply_text_add(struct reply_text *t, const char *text, const char *prefix);
/* Empties t (keeps nothing). */
void reply_text_clear(struct reply_text *t);
/* Returns the body: the lines joined by '\n', with REPLY_TRUNCATED last if
 * lines were dropped; "" if there is none. Valid until the next change. */
const char *reply_text_body(struct reply_text *t);

/* Returns a message stanza of type ("chat" or "groupchat") to to, with
 * body. muc_user adds <x xmlns='http://jabber.org/protocol/muc#user'/>, as
 * XEP-0045 asks of private messages to occupants. */
xmpp_stanza_t *reply_message(xmpp_ctx_t *ctx, const char *type, const char *to,
                             const char *body, bool muc_user);
/* Returns a message whose body is exactly url, with a jabber:x:oob element
 * (url, desc "NAME (SIZE)"), a XEP-0447 <file-sharing/> element carrying
 * f's XEP-0446 metadata (name, size, media-type, date, desc, sha-256) and a
 * url-data source, and a XEP-0428 fallback marker for the body. */
xmpp_stanza_t *reply_link_message(xmpp_ctx_t *ctx, const char *type,
                                  const char *to, const char *url,
                                  const struct cat_file *f, bool muc_user);

#endif

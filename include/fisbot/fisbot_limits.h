/*
 * The limits the core and the plugins share: the largest stanza the bot
 * sends, and the largest IQ it queues for a query worker.
 */
#ifndef FISBOT_LIMITS_H
#define FISBOT_LIMITS_H

/* No stanza the bot sends exceeds this many bytes (64 KiB), whatever the
 * recipient's JID; an IQ request bigger than this is refused. */
#define FB_MAX_STANZA 65536

#endif

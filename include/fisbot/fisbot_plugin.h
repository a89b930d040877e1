/*
 * fisbot_plugin.h: the one API between fisbot and its plugins, and the only
 * header a plugin needs (it includes the core's public headers of this
 * folder, whose FB_EXPORT functions the fisbot executable exports).
 *
 * A plugin is a shared object "<name>.so" that declares itself with
 *
 *     static const struct fb_api *api;
 *     ...its handlers and a const command table...
 *     FISBOT_PLUGIN("name", commands);
 *
 * and, if it has more to set up than its commands (settings, state, IQ
 * handlers, hooks, timers),
 *
 *     int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *api,
 *                            char **cause);
 *
 * and optionally void fisbot_plugin_fini(struct fb_plugin *p). A plugin
 * without commands says FISBOT_PLUGIN("name") and has an init. The host
 * checks the API version the plugin was built against (FB_API_VERSION),
 * sets the plugin's api, registers its command table, then calls init if
 * there is one; a plugin that is missing, has another version, declares
 * neither commands nor init, or whose table or init fails is refused and
 * the bot does not start (exit 2). Plugins are built with
 * -fvisibility=hidden: they export only these entry points (FB_EXPORT).
 *
 * Handlers never build message stanzas: they answer through the request
 * (reply, reply_error, reply_link) and the host sends at most one message
 * per command, paced, sanitised and split so that no stanza exceeds
FB_MAX_STANZA (64 KiB, fisbot_limits.h).
 * IQ handlers do build their payload (with libstrophe, in api->iq_ctx())
 * and hand it to iq_result.
 *
 * Threads. The main thread owns the XMPP connection and runs everything
 * here (init, timers, hooks, commands, IQ handlers) except the handlers a
 * plugin marks as queries: commands with FB_CMD_QUERY and IQ handlers
 * registered with FB_IQ_QUERY run on one of a small pool of query workers,
 * each with its own read-only catalogue connection, so that one user's
 * slow search never holds up another user's reply. For those:
 *  - rate limits, arity and permission are checked on the main thread
 *    before the handler is queued; a full queue answers "busy: try again in
 *    a moment" (an IQ: wait/resource-constraint) without running it, and
 *    an IQ of more than 64 KiB gets modify/policy-violation;
 *  - the handler only records its answer (reply, reply_error, reply_link,
 *    set_more; iq_result, iq_error); the main thread sends it when the
 *    handler has returned, exactly as for any other handler;
 *  - a requester's commands and IQs are answered in the order they came: a
 *    request waits until the requester's earlier ones are answered (so
 *    "more" sees the continuation the search before it left), and a
 *    continuation belongs to one thread at a time. "more" runs a
 *    continuation on the kind of thread its handler ran on;
 *  - the handler may call only the functions marked [any thread] below.
 *    The others belong to the main thread: on a worker they log a warning
 *    and do nothing (or fail). On a worker, catalogue() is the worker's
 *    own connection, config() the configuration in force when the request
 *    came, and iq_ctx() a libstrophe context private to the worker;
 *  - a plugin's own state (api->data()) is shared by the main thread and
 *    every worker: keep it read-only after init, or lock it.
 * A handler that does not query the catalogue should stay on the main
 * thread (no flag): it runs as soon as it is its requester's turn.
 *
 * Plugins may also call the core's functions marked FB_EXPORT in the
 * headers included here (catalogue.h and catalogue_tree.h: reading;
 * query.h, text.h, units.h, log.h, alloc.h, clock.h, and config.h's lookups):
the
 * fisbot executable exports those and nothing else. They are safe on any
 * thread, each catalogue connection being used by one thread at a time.
 * FB_API_VERSION changes whenever any of these headers changes
 * incompatibly.
 */
#ifndef FISBOT_PLUGIN_H
#define FISBOT_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

#include "alloc.h"
#include "catalogue.h"
#include "catalogue_tree.h"
#include "clock.h"
#include "config.h"
#include "fisbot_export.h"
#include "fisbot_limits.h"
#include "log.h"
#include "query.h"
#include "text.h"
#include "units.h"

/* 3: FISBOT_PLUGIN(name, commands), fb_command.arg and req_file,
 * upload_url, FB_EXPORT. 4: queue_info, queue_cancel, transfers, web_url,
 * fb_command.available, fb_event_data.first_build, indexing. */
#define FB_API_VERSION 4

struct fb_plugin;  /* the host's handle for one loaded plugin */
struct fb_request; /* one chat command being answered */
struct fb_iq;      /* one IQ request being answered */

/* Who may run a command. FB_ADMIN: only an [admins] JID, in a direct chat. */
enum fb_perm { FB_ANYONE, FB_ADMIN };

/* Where a command came from. */
enum fb_place {
	FB_ROOM,         /* a groupchat message in a room */
	FB_ROOM_PRIVATE, /* a MUC private message from an occupant */
	FB_DIRECT,       /* a chat with the bot's own JID */
};

/* What the dispatcher resolves before a command's handler runs
 * (fb_command.arg). */
enum fb_arg {
	FB_ARG_NONE, /* nothing: the handler reads argv */
	/* The arguments name one file of the catalogue by ID or PATH ("42",
	 * "#42", "music/a.ogg", "/music/a.ogg"): the only argument as parsed
	 * (quotes removed), or the whole argument text if there are several
	 * (so "get my song.ogg" needs no quotes). */
	FB_ARG_FILE,
	/* The first argument (argv[1]) names one file by ID or PATH; the
	 * others are the handler's. */
	FB_ARG_FILE_FIRST,
};

/* Command flags. */
enum {
	/* The command is a room-wide search: "@NAME ..." in a room also runs
	 * it, its answer always goes by private message, and a handler that
	 * replies nothing stays silent. */
	FB_CMD_ROOM_WIDE = 1 << 0,
	/* The handler queries the catalogue (a search, a listing, a count):
	 * it runs on a query worker (see "Threads" above). */
	FB_CMD_QUERY = 1 << 1,
	/* The command is about the download queue: help lists it only
	 * where [transfers] limits the downloads (slots or
	 * slots_per_user). */
	FB_CMD_TRANSFERS = 1 << 2,
};

/* IQ handler flags (register_iq). */
enum {
	/* The handler queries the catalogue: it runs on a query worker. */
	FB_IQ_QUERY = 1 << 0,
};

/* Handles one command. argv[0] is the command's name as typed; argv[1..]
 * are its arguments, split on white space with "double quotes" kept
 * together (quotes removed). The raw argument text is api->req_args().
 * Names and aliases are matched exactly, ignoring case: 1 to 32 of a-z,
 * 0-9, '-' and '_'. The handler's reply is sent after it returns; a
 * handler that replies nothing sends nothing. */
typedef void (*fb_command_fn)(struct fb_request *req, int argc, char **argv);

/* One entry of a plugin's const command table. The dispatcher checks arity
 * and permission and applies rate limits before it calls the handler, and
 * generates "usage: ..." errors and help from these fields.
 *
 * With .arg = FB_ARG_FILE or FB_ARG_FILE_FIRST the dispatcher also looks
 * the file up, on the handler's thread and through its catalogue
 * connection, just before the handler runs: a missing or empty name is
 * answered "usage: ...", an unknown one "no such file: NAME" (sanitised),
 * a catalogue failure "cannot read the catalogue", and the handler is not
 * called; otherwise req_file() is the file. min_args must be at least 1. */
struct fb_command {
	const char *name;
	const char *const *aliases; /* NULL-terminated, or NULL */
	/* The name and its arguments, e.g. "get ID|PATH": shown as
	 * "usage: get ID|PATH" and in help. */
	const char *usage;
	int min_args, max_args; /* argument counts; max -1 = no limit */
	enum fb_perm perm;
	const char *help; /* one line */
	fb_command_fn handler;
	unsigned flags;  /* FB_CMD_* */
	enum fb_arg arg; /* FB_ARG_NONE unless set */
	/* Whether this requester may run the command where it asked, beyond
	 * perm (e.g. upload: uploads on, the requester allowed, not in a
	 * groupchat); NULL: always. help lists only the commands it allows.
	 * Called on the main thread, with no file looked up. */
	bool (*available)(struct fb_request *req);
};

/* Handles one IQ of a registered namespace (get or set; the host answers
 * errors and results of its own). The handler must answer exactly once,
 * with iq_result or iq_error, before it returns. */
typedef void (*fb_iq_fn)(struct fb_iq *iq, void *arg);

/* Events a plugin can hook. */
enum fb_event {
	FB_EVENT_FILE_ADDED,   /* a new file was hashed and catalogued */
	FB_EVENT_FILE_REMOVED, /* a file left the catalogue */
	FB_EVENT_ROOM_JOINED,  /* the bot is in a room */
	FB_EVENT_ROOM_LEFT,    /* the bot left a room, or was removed */
};

struct fb_event_data {
	int64_t file_id;  /* FILE_* events */
	const char *room; /* ROOM_* events: the bare room JID */
	/* FILE_ADDED: the file came with the first build of an empty
	 * catalogue (the announce plugin keeps quiet about those). */
	bool first_build;
};

typedef void (*fb_event_fn)(struct fb_plugin *p, enum fb_event ev,
                            const struct fb_event_data *data, void *arg);

/* Called every period; return true to stay registered. */
typedef bool (*fb_timer_fn)(struct fb_plugin *p, void *arg);

/* Continues a paginated answer when the same requester says "more". The
 * host keeps one continuation per requester (the newest list or search),
 * expires it after a while, and frees state with free_state. */
typedef void (*fb_more_fn)(struct fb_request *req, void *state);

/* An upload URL made by upload_url; the caller frees url and name. */
struct fb_upload {
	char *url;           /* {base_url}/u/{token}/{name}: PUT, once */
	char *name;          /* the name the file will have in [upload]
	                      * folder (made safe; " (1)" may still be added
	                      * if it is taken when the file arrives) */
	unsigned lifetime_s; /* how long the URL may be used */
};

/* A requester's place in the download queue (queue_info). */
struct fb_queue_info {
	bool enabled;      /* [transfers] slots or slots_per_user are set */
	unsigned position; /* of the requester's first request; 0: none */
	unsigned mine;     /* the requester's requests waiting */
	unsigned waiting;  /* requests waiting in all */
	unsigned eta_s;    /* estimated wait of the first, in seconds */
	const char *first; /* path of the requester's first file, or NULL */
};

/* The transfers now (transfers). */
struct fb_transfers {
	uint64_t rate;       /* bytes/s sent, over the last seconds */
	unsigned slots_used; /* downloads in progress and held slots */
	unsigned slots;      /* [transfers] slots; 0 = unlimited */
	unsigned queued;     /* requests waiting in the queue */
};

/* The host's API, set in the plugin before anything else runs (see
 * FISBOT_PLUGIN) and handed to fisbot_plugin_init. Each function says on
 * which thread it may be called (see "Threads" above). */
struct fb_api {
	unsigned version; /* FB_API_VERSION */

	/* --- registration (during init; main thread) --------------------- */

	/* Registers a const table of n commands (besides the one
	 * FISBOT_PLUGIN declares); the table must outlive the plugin.
	 * Returns 0, or -1 if a name is already taken or an entry is wrong
	 * (logged). */
	int (*register_commands)(struct fb_plugin *p,
	                         const struct fb_command *cmds, size_t n);
	/* Routes IQs whose first child has namespace xmlns to fn; flags are
	 * FB_IQ_* (FB_IQ_QUERY: fn runs on a query worker). */
	int (*register_iq)(struct fb_plugin *p, const char *xmlns, fb_iq_fn fn,
	                   void *arg, unsigned flags);
	/* Adds a feature to the bot's disco#info (and so to its caps). */
	void (*add_feature)(struct fb_plugin *p, const char *feature);
	void (*hook)(struct fb_plugin *p, enum fb_event ev, fb_event_fn fn,
	             void *arg);
	void (*add_timer)(struct fb_plugin *p, unsigned long period_ms,
	                  fb_timer_fn fn, void *arg);
	/* Stores the plugin's own state pointer (main thread). */
	void (*set_data)(struct fb_plugin *p, void *data);
	/* Returns it [any thread]. */
	void *(*data)(struct fb_plugin *p);

	/* --- context [any thread] ---------------------------------------- */

	/* The configuration in force (on a worker: when the request came). */
	const struct config *(*config)(struct fb_plugin *p);
	/* The value of key in the plugin's [plugin "NAME"] section, or NULL. */
	const char *(*setting)(struct fb_plugin *p, const char *key);
	/* A read-only catalogue connection for this thread: the main
	 * thread's, or the query worker's own. */
	struct catalogue *(*catalogue)(struct fb_plugin *p);
	/* Returns a download URL for f ({base_url}/f/{token}/{name}); the
	 * caller frees it. */
	char *(*file_url)(struct fb_plugin *p, const struct cat_file *f);
	/* Makes a one-time upload URL for uploader (a bare JID) to PUT
	 * exactly size bytes as name into [upload] folder, after the checks
	 * the HTTP side makes again when the file arrives: uploads enabled,
	 * uploader allowed, name, size limit, quota (read through this
	 * thread's catalogue connection). Returns 0 and fills *out, or -1
	 * with *cause, a one-line message for the user (caller frees). */
	int (*upload_url)(struct fb_plugin *p, const char *uploader,
	                  const char *name, uint64_t size,
	                  struct fb_upload *out, char **cause);

	/* --- the request being answered [any thread] --------------------- */

	struct fb_plugin *(*req_plugin)(struct fb_request *r);
	enum fb_place (*req_place)(struct fb_request *r);
	/* A stable key for this requester: the bare JID for a direct chat;
	 * for a room occupant, "room@conf#..." followed by its occupant-id
	 * (XEP-0421), its real JID or its occupancy, which survive nick
	 * changes ("room@conf/nick" if the room never showed it). */
	const char *(*req_sender)(struct fb_request *r);
	/* The requester's real bare JID, or NULL if it is unknown (an
	 * anonymous room). */
	const char *(*req_real_jid)(struct fb_request *r);
	/* The bare room JID, or NULL for a direct chat. */
	const char *(*req_room)(struct fb_request *r);
	/* The raw argument text after the command name (may be ""). */
	const char *(*req_args)(struct fb_request *r);
	/* The file the command's argument names (fb_command.arg), looked up
	 * by the dispatcher; NULL for a command without one (and in a "more"
	 * continuation). Valid until the handler returns. */
	const struct cat_file *(*req_file)(struct fb_request *r);
	/* True if the requester may run FB_ADMIN commands here: an [admins]
	 * JID in a direct chat (false in rooms, even for admins). */
	bool (*req_is_admin)(struct fb_request *r);
	/* Appends one line to the reply (the host sanitises it). */
	void (*reply)(struct fb_request *r, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	/* Makes the reply this one-line error ("no such file: 99"). */
	void (*reply_error)(struct fb_request *r, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	/* Makes the reply a download link for f: a body that is exactly the
	 * URL, a jabber:x:oob element and a XEP-0447 file-sharing element.
	 * It replaces reply() lines; reply_error() wins over it. Without an
	 * HTTP server the reply becomes an error. */
	void (*reply_link)(struct fb_request *r, const struct cat_file *f);
	/* Remembers how to continue this answer when the requester says
	 * "more" (replacing and freeing the requester's older one once this
	 * answer is sent). fn may call set_more again with the same state to
	 * go on; otherwise the host frees state after fn returns. fn runs on
	 * the kind of thread this handler runs on; free_state on any thread.
	 * Kept for 10 minutes. */
	void (*set_more)(struct fb_request *r, fb_more_fn fn, void *state,
	                 void (*free_state)(void *state));

	/* --- the IQ being answered [any thread] -------------------------- */

	xmpp_stanza_t *(*iq_stanza)(struct fb_iq *iq); /* the whole <iq/> */
	/* The libstrophe context to build the payload in (on a worker, the
	 * worker's own). */
	xmpp_ctx_t *(*iq_ctx)(struct fb_iq *iq);
	const char *(*iq_from)(struct fb_iq *iq); /* full JID of the sender */
	/* Answers with a result holding payload (which the host releases;
	 * NULL for an empty result). */
	void (*iq_result)(struct fb_iq *iq, xmpp_stanza_t *payload);
	/* Answers with an error: type "cancel", "modify", "wait", ...;
	 * condition "item-not-found", "bad-request", ...; text may be NULL. */
	void (*iq_error)(struct fb_iq *iq, const char *type,
	                 const char *condition, const char *text);

	/* --- rooms and the bot (main thread) ----------------------------- */

	/* Calls fn for every room the bot is in now. */
	void (*rooms_foreach)(struct fb_plugin *p,
	                      void (*fn)(const char *room, void *arg),
	                      void *arg);
	/* Whether room wants announcements ([announce] and [room] announce). */
	bool (*room_announces)(struct fb_plugin *p, const char *room);
	/* Sends text to a room as one groupchat message (paced, sanitised). */
	void (*send_room)(struct fb_plugin *p, const char *room,
	                  const char *text);
	/* Admin actions; each returns 0, or -1 with *cause (caller frees).
	 * Run by an admin's command, join_room and rescan also tell that
	 * admin the outcome later, in a message of their own: "joined ROOM"
	 * or "cannot join ROOM: why" (join_room fails at once for a room the
	 * bot is in: "already in ROOM"), and the rescan's counts. */
	int (*join_room)(struct fb_plugin *p, const char *room,
	                 const char *nick, char **cause);
	int (*leave_room)(struct fb_plugin *p, const char *room, char **cause);
	int (*rescan)(struct fb_plugin *p, char **cause);
	int (*describe)(struct fb_plugin *p, int64_t id, const char *text,
	                char **cause);
	int (*reload)(struct fb_plugin *p, char **cause);
	/* --- the download queue --------------------------------------- */
	/* The requester's place in the queue [main thread]. */
	void (*queue_info)(struct fb_request *r, struct fb_queue_info *out);
	/* Takes the requester's requests out of the queue; returns how many
	 * [main thread]. */
	unsigned (*queue_cancel)(struct fb_request *r);
	/* The current rate, slots in use and the queue's length [any
	 * thread]. */
	void (*transfers)(struct fb_plugin *p, struct fb_transfers *out);
	/* Calls fn for every command of every plugin (for help) [any
	 * thread]. */
	void (*commands_foreach)(struct fb_plugin *p,
	                         void (*fn)(const struct fb_command *cmd,
	                                    void *arg),
	                         void *arg);

	/* --- appended (older plugins of this version never read it) ------ */

	/* Returns the URL of the web index ([web], SPEC §11) for requester
	 * (req_sender): {base_url}/ with access = public, else a personal
	 * signed {base_url}/w/{token}/ valid [web] link_lifetime. Returns
	 * NULL with *cause for the user (e.g. the web index is disabled);
	 * the caller frees both [any thread]. */
	char *(*web_url)(struct fb_plugin *p, const char *requester,
	                 char **cause);
	/* True while the first build of an empty catalogue runs, with the
	 * number of files catalogued so far in *files [any thread]. */
	bool (*indexing)(struct fb_plugin *p, uint64_t *files);
};

/* What FISBOT_PLUGIN(name, commands) declares besides the name and the
 * version, for the host (plugins do not use it). */
struct fb_plugin_table {
	const struct fb_api **api; /* the plugin's api, set by the host */
	const struct fb_command *commands;
	size_t n_commands;
};

/*
 * Declares the plugin: its name (its file is NAME.so), the API version it
 * was built against and, optionally, its const command table, which the
 * host registers before init (so a plugin whose init would only register
 * its commands needs none). The table form takes the address of the
 * plugin's `static const struct fb_api *api;`, which must be declared
 * before it: the host sets it before it registers the table, calls init or
 * runs any handler. commands must be an array (not a pointer). Use once,
 * at file scope (after the table).
 */
#define FISBOT_PLUGIN(...)                                                     \
	FB_PLUGIN_PICK_(__VA_ARGS__, FB_PLUGIN_TABLE_, FB_PLUGIN_NAME_, ~)     \
	(__VA_ARGS__)
#define FB_PLUGIN_PICK_(a, b, macro, ...) macro
#define FB_PLUGIN_NAME_(name)                                                  \
	FB_EXPORT const unsigned fisbot_plugin_api_version = FB_API_VERSION;   \
	FB_EXPORT const char fisbot_plugin_name[] = name
#define FB_PLUGIN_TABLE_(name, commands)                                       \
	FB_PLUGIN_NAME_(name);                                                 \
	_Static_assert(!__builtin_types_compatible_p(                          \
	                   __typeof__(commands), __typeof__(&(commands)[0])),  \
	               "FISBOT_PLUGIN: the command table must be an array");   \
	FB_EXPORT const struct fb_plugin_table fisbot_plugin_table = {         \
	    &api, commands, sizeof(commands) / sizeof((commands)[0])}

/* The entry points a plugin may define (besides what FISBOT_PLUGIN
 * declares): init is optional when FISBOT_PLUGIN has the command table and
 * there is nothing else to set up; fini is always optional. */
FB_EXPORT int fisbot_plugin_init(struct fb_plugin *p, const struct fb_api *api,
                                 char **cause);
FB_EXPORT void fisbot_plugin_fini(struct fb_plugin *p);

#endif

/*
 * The configuration (fisbot.conf): an INI file parsed with inih into one plain
 * struct. Every key is parsed and validated at load; every problem is
 * reported with file:line, and unknown sections or keys get a "did you
 * mean". Relative paths are made absolute against the file's folder.
 *
 * A public header (include/fisbot): plugins read the struct
 * (api->config()) and may call the lookups marked FB_EXPORT; loading is the
 * core's (not exported).
 */
#ifndef FISBOT_CONFIG_H
#define FISBOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fisbot_export.h"
#include "log.h"
#include "strlist.h"

enum tls_mode { TLS_REQUIRED, TLS_DIRECT, TLS_DISABLED };
enum invite_policy { INVITES_NONE, INVITES_ALLOWLIST, INVITES_ANYONE };
enum room_replies { REPLIES_PRIVATE, REPLIES_ROOM };
enum subscriptions_policy { SUBS_ANYONE, SUBS_ALLOWLIST, SUBS_NONE };
enum offload_mode { OFFLOAD_NONE, OFFLOAD_XACCEL };
enum web_access { WEB_LINK, WEB_PUBLIC };

/* [room "JID"]: per-room settings; NULL or -1 means "not set". */
struct room_config {
	char *jid;      /* bare room JID, as written */
	char *nick;     /* NULL: [xmpp] nick */
	char *password; /* NULL: none */
	int announce;   /* -1 unset, else 0/1 */
};

/* [plugin "NAME"]: free-form settings for one plugin, checked by it. */
struct plugin_config {
	char *name;
	struct strlist keys;
	struct strlist values;
	struct strlist lines; /* "file:line" of each key, for messages */
};

struct config {
	char *file; /* absolute path of the configuration file */
	char *dir;  /* its folder; relative paths are resolved against it */

	struct {
		char *jid;            /* required */
		char *password;       /* password, or password_file's line 1 */
		char *server_host;    /* NULL: DNS SRV of the JID's domain */
		uint16_t server_port; /* 0: default */
		enum tls_mode tls;    /* default TLS_REQUIRED */
		char *ca_file;        /* NULL: the system store */
		char *resource;       /* default "fisbot" */
		char *nick;           /* default "fisbot" */
		struct strlist rooms; /* bare room JIDs */
		/* presence subscriptions approved: default SUBS_ANYONE */
		enum subscriptions_policy subscriptions;
	} xmpp;

	struct room_config *rooms; /* [room "..."] sections */
	size_t n_rooms;

	struct {
		enum invite_policy accept; /* default INVITES_ALLOWLIST */
		struct strlist allow;      /* bare JIDs or domains */
		unsigned max_rooms;        /* default 50 */
	} invites;

	struct {
		struct strlist jids;
	} admins;

	struct {
		char *path;             /* required, absolute */
		char *database;         /* default <dir>/fisbot.db */
		struct strlist exclude; /* default .*, *.part, *.tmp, *~ */
		unsigned hash_threads;  /* 0 = one per core */
		uint64_t settle_ms;     /* default 1000 */
	} share;

	struct {
		/* default 127.0.0.1:8080; "::1" without brackets; port 0
		 * asks the system for a free port */
		char *listen_host;
		uint16_t listen_port;
		/* no trailing slash; default http://LISTEN_HOST:PORT */
		char *base_url;
		uint64_t url_lifetime_ms; /* 0 = never expire; default 24h */
		char *secret_file;        /* default <dir>/fisbot.key */
		unsigned max_connections; /* default 512 */
		unsigned max_per_ip;      /* default 16 */
		uint64_t timeout_ms;      /* default 30s */
		/* a request's headers must be complete this long after
		 * accept, however slowly they come; default 10s */
		uint64_t header_timeout_ms;
		/* addresses or CIDR blocks ("10.0.0.0/8", "::1") whose
		 * X-Forwarded-For names the client; empty: none */
		struct strlist trusted_proxies;
		enum offload_mode offload; /* default OFFLOAD_NONE */
		/* the internal nginx location for x-accel: starts with '/',
		 * no trailing slash; default "/fisbot-files" */
		char *offload_prefix;
		char *tls_cert; /* NULL: plain HTTP; else with tls_key */
		char *tls_key;
	} http;

	struct {
		char *prefix;                   /* default "!" */
		unsigned page_size;             /* default 10 */
		unsigned find_min_length;       /* default 3 */
		unsigned find_max_results;      /* default 50 */
		enum room_replies room_replies; /* default REPLIES_PRIVATE */
	} commands;

	struct {
		unsigned burst;     /* default 5 */
		unsigned rate;      /* default 20 ... ("N/s", "N/h", "N/10m") */
		uint64_t per_ms;    /* ... per 60000 ms ("20/m") */
		unsigned iq_burst;  /* default 50: IQ requests at once */
		unsigned iq_rate;   /* default 10 ... */
		uint64_t iq_per_ms; /* ... per 1000 ms ("10/s") */
	} limits;

	struct {
		bool enabled;      /* default yes */
		uint64_t batch_ms; /* default 30s */
	} announce;

	struct {
		bool enabled; /* default no */
		struct strlist allow;
		uint64_t max_file_size; /* default 100M */
		uint64_t quota;         /* default 1G */
		char *folder; /* relative to the share, default "incoming" */
	} upload;

	struct {
		uint64_t max_rate;      /* bytes/s, all downloads; 0 = no cap */
		uint64_t download_rate; /* bytes/s, one connection; 0 = none */
		unsigned slots;         /* downloads at once; 0 = unlimited */
		unsigned slots_per_user; /* per requester; 0 = unlimited */
		unsigned queue;          /* waiting requests; default 100 */
		unsigned queue_per_user; /* default 3 */
		uint64_t slot_hold_ms;   /* default 2m */
	} transfers;

	struct {
		bool enabled;              /* default no */
		enum web_access access;    /* default WEB_LINK */
		uint64_t link_lifetime_ms; /* default 7d; 0 = never expire */
		char *title;               /* default "fisbot" */
	} web;

	struct {
		char *path; /* NULL: the default plugin folder */
		/* default help, browse, search, get, stats, announce, fis,
		 * admin, upload, web */
		struct strlist load;
	} plugins;

	struct plugin_config *plugin_settings;
	size_t n_plugin_settings;

	struct {
		enum log_level level;
	} log;
};

/*
 * Loads and validates the configuration file at path. Returns a new config,
 * or NULL if there was any problem; each problem is appended to *problems as
 * one line ("fisbot.conf:12: [http] listen: \"foo\" is not HOST:PORT").
 */
struct config *config_load(const char *path, struct strlist *problems);

/* Frees a config returned by config_load (NULL is fine). */
void config_free(struct config *cfg);

/* Returns the settings of room jid, or NULL if it has no [room] section. */
FB_EXPORT const struct room_config *config_room(const struct config *cfg,
                                                const char *jid);

/* Returns the [plugin "name"] settings, or NULL. */
FB_EXPORT const struct plugin_config *config_plugin(const struct config *cfg,
                                                    const char *name);

/* Returns true if bare JID jid matches an entry of list: the same bare JID
 * (case-insensitive), or a bare domain entry equal to jid's domain. */
FB_EXPORT bool config_jid_matches(const struct strlist *list, const char *jid);

#endif

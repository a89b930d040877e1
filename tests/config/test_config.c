/* Unit tests for the configuration loader: every kind of value, defaults,
 * the exact messages, line numbers and the collection of all problems. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/exclude.h"
#include "fisbot/alloc.h"
#include "fisbot/config.h"

/* The minimal valid configuration (5 lines); tests append to it. */
#define MINIMAL                                                                \
	"[xmpp]\n"                                                             \
	"jid = bot@example.org\n"                                              \
	"password = secret\n"                                                  \
	"[share]\n"                                                            \
	"path = share\n"

/* The same, without jid or password, for tests that set them. */
#define NO_JID                                                                 \
	"[share]\n"                                                            \
	"path = share\n"                                                       \
	"[xmpp]\n"                                                             \
	"password = secret\n"                                                  \
	"\n"
#define NO_PASSWORD                                                            \
	"[share]\n"                                                            \
	"path = share\n"                                                       \
	"[xmpp]\n"                                                             \
	"jid = bot@example.org\n"                                              \
	"\n"

/* Each test runs in its own temporary folder (the current directory). */
static char tmpdir[PATH_MAX];
static char olddir[PATH_MAX];

static int setup(void **state)
{
	char tmpl[] = "/tmp/fisbot-test-config-XXXXXX";

	if (getcwd(olddir, sizeof(olddir)) == NULL || mkdtemp(tmpl) == NULL ||
	    realpath(tmpl, tmpdir) == NULL || chdir(tmpdir) == -1)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int rc = system(cmd);

	free(cmd);
	return chdir(olddir) == -1 || rc != 0 ? -1 : 0;
}

/* Writes text to the file name. */
static void write_file(const char *name, const char *text)
{
	FILE *fp = fopen(name, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* Writes text as fisbot.conf and loads it. */
static struct config *load(const char *text, struct strlist *problems)
{
	write_file("fisbot.conf", text);
	return config_load("fisbot.conf", problems);
}

/* Loads text, which must be valid. */
static struct config *load_ok(const char *text)
{
	struct strlist problems = {0};
	struct config *cfg = load(text, &problems);

	for (size_t i = 0; i < problems.n; i++)
		print_error("unexpected problem: %s\n", problems.v[i]);
	assert_int_equal(problems.n, 0);
	assert_non_null(cfg);
	strlist_free(&problems);
	return cfg;
}

/* Loads text, which must give exactly the one problem want. */
static void load_one_problem(const char *text, const char *want)
{
	struct strlist problems = {0};
	struct config *cfg = load(text, &problems);

	for (size_t i = 0; i < problems.n; i++)
		if (problems.n != 1 || strcmp(problems.v[i], want) != 0)
			print_error("problem: %s\n", problems.v[i]);
	assert_null(cfg);
	assert_int_equal(problems.n, 1);
	assert_string_equal(problems.v[0], want);
	strlist_free(&problems);
}

/* Asserts that s is tmpdir followed by rest. */
static void assert_in_tmp(const char *s, const char *rest)
{
	char *want = xasprintf("%s%s", tmpdir, rest);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(want);
}

static void test_defaults(void **state)
{
	struct config *cfg = load_ok(MINIMAL);

	assert_string_equal(cfg->xmpp.jid, "bot@example.org");
	assert_string_equal(cfg->xmpp.password, "secret");
	assert_null(cfg->xmpp.server_host);
	assert_int_equal(cfg->xmpp.server_port, 0);
	assert_int_equal(cfg->xmpp.tls, TLS_REQUIRED);
	assert_null(cfg->xmpp.ca_file);
	assert_string_equal(cfg->xmpp.resource, "fisbot");
	assert_string_equal(cfg->xmpp.nick, "fisbot");
	assert_int_equal(cfg->xmpp.rooms.n, 0);
	assert_int_equal(cfg->n_rooms, 0);
	assert_int_equal(cfg->invites.accept, INVITES_ALLOWLIST);
	assert_int_equal(cfg->invites.allow.n, 0);
	assert_int_equal(cfg->invites.max_rooms, 50);
	assert_int_equal(cfg->admins.jids.n, 0);

	assert_in_tmp(cfg->share.path, "/share");
	assert_in_tmp(cfg->share.database, "/fisbot.db");
	assert_int_equal(cfg->share.exclude.n, 4);
	assert_string_equal(cfg->share.exclude.v[0], ".*");
	assert_string_equal(cfg->share.exclude.v[1], "*.part");
	assert_string_equal(cfg->share.exclude.v[2], "*.tmp");
	assert_string_equal(cfg->share.exclude.v[3], "*~");
	assert_int_equal(cfg->share.hash_threads, 0);
	assert_int_equal(cfg->share.settle_ms, 1000);

	assert_string_equal(cfg->http.listen_host, "127.0.0.1");
	assert_int_equal(cfg->http.listen_port, 8080);
	assert_string_equal(cfg->http.base_url, "http://127.0.0.1:8080");
	assert_int_equal(cfg->http.url_lifetime_ms, 24 * 3600 * 1000ULL);
	assert_in_tmp(cfg->http.secret_file, "/fisbot.key");
	assert_int_equal(cfg->http.max_connections, 512);
	assert_int_equal(cfg->http.max_per_ip, 16);
	assert_int_equal(cfg->http.timeout_ms, 30000);
	assert_int_equal(cfg->http.header_timeout_ms, 10000);
	assert_int_equal(cfg->http.trusted_proxies.n, 0);
	assert_int_equal(cfg->http.offload, OFFLOAD_NONE);
	assert_string_equal(cfg->http.offload_prefix, "/fisbot-files");
	assert_null(cfg->http.tls_cert);
	assert_null(cfg->http.tls_key);
	assert_int_equal(cfg->xmpp.subscriptions, SUBS_ANYONE);

	assert_string_equal(cfg->commands.prefix, "!");
	assert_int_equal(cfg->commands.page_size, 10);
	assert_int_equal(cfg->commands.find_min_length, 3);
	assert_int_equal(cfg->commands.find_max_results, 50);
	assert_int_equal(cfg->commands.room_replies, REPLIES_PRIVATE);
	assert_int_equal(cfg->limits.burst, 5);
	assert_int_equal(cfg->limits.rate, 20);
	assert_int_equal(cfg->limits.per_ms, 60000);
	assert_int_equal(cfg->limits.iq_burst, 50);
	assert_int_equal(cfg->limits.iq_rate, 10);
	assert_int_equal(cfg->limits.iq_per_ms, 1000);
	assert_true(cfg->announce.enabled);
	assert_int_equal(cfg->announce.batch_ms, 30000);
	assert_false(cfg->upload.enabled);
	assert_int_equal(cfg->upload.allow.n, 0);
	assert_int_equal(cfg->upload.max_file_size, 100 << 20);
	assert_int_equal(cfg->upload.quota, 1ULL << 30);
	assert_string_equal(cfg->upload.folder, "incoming");
	assert_int_equal(cfg->transfers.max_rate, 0);
	assert_int_equal(cfg->transfers.download_rate, 0);
	assert_int_equal(cfg->transfers.slots, 0);
	assert_int_equal(cfg->transfers.slots_per_user, 0);
	assert_int_equal(cfg->transfers.queue, 100);
	assert_int_equal(cfg->transfers.queue_per_user, 3);
	assert_int_equal(cfg->transfers.slot_hold_ms, 120000);
	assert_false(cfg->web.enabled);
	assert_int_equal(cfg->web.access, WEB_LINK);
	assert_int_equal(cfg->web.link_lifetime_ms, 7 * 24 * 3600 * 1000ULL);
	assert_string_equal(cfg->web.title, "fisbot");
	assert_null(cfg->plugins.path);
	assert_int_equal(cfg->plugins.load.n, 10);
	assert_string_equal(cfg->plugins.load.v[0], "help");
	assert_string_equal(cfg->plugins.load.v[8], "upload");
	assert_string_equal(cfg->plugins.load.v[9], "web");
	assert_int_equal(cfg->n_plugin_settings, 0);
	assert_int_equal(cfg->log.level, LOG_INFO);

	assert_in_tmp(cfg->file, "/fisbot.conf");
	assert_string_equal(cfg->dir, tmpdir);
	config_free(cfg);
}

/* Every key with a valid, non-default value. */
static void test_every_key(void **state)
{
	struct config *cfg;

	cfg = load_ok("; a comment\n"
	              "# another\n"
	              "[xmpp]\n"
	              "jid = Bot@Example.org\n"
	              "password = s3cret ; inline comment\n"
	              "server = [::1]:5223\n"
	              "tls = direct\n"
	              "ca_file = certs/ca.pem\n"
	              "resource = res\n"
	              "nick = Bot Nick\n"
	              "rooms = a@conf.example.org , b@conf.example.org\n"
	              "subscriptions = allowlist\n"
	              "  [invites]  \n"
	              "accept = anyone\n"
	              "allow = alice@example.org, example.net\n"
	              "max_rooms = 0\n"
	              "[admins]\n"
	              "jids = admin@example.org\n"
	              "[share]\n"
	              "path = /srv/files/\n"
	              "database = ./db/../cat.db\n"
	              "exclude = *.bak, [abc]*\n"
	              "hash_threads = 4\n"
	              "settle = 250ms\n"
	              "[http]\n"
	              "listen = [::1]:0\n"
	              "base_url = https://files.example.org/bot///\n"
	              "url_lifetime = 0\n"
	              "secret_file = /etc/fisbot.key\n"
	              "max_connections = 100\n"
	              "max_per_ip = 100\n"
	              "timeout = 1m\n"
	              "header_timeout = 5s\n"
	              "trusted_proxies = 127.0.0.1, 10.0.0.0/8, ::1\n"
	              "offload = x-accel\n"
	              "offload_prefix = /internal/files/\n"
	              "tls_cert = tls/cert.pem\n"
	              "tls_key = tls/key.pem\n"
	              "[commands]\n"
	              "prefix = .\n"
	              "page_size = 25\n"
	              "find_min_length = 2\n"
	              "find_max_results = 1000\n"
	              "room_replies = room\n"
	              "[limits]\n"
	              "burst = 1\n"
	              "rate = 5/s\n"
	              "iq_burst = 200\n"
	              "iq_rate = 30/m\n"
	              "[announce]\n"
	              "enabled = off\n"
	              "batch = 0\n"
	              "[upload]\n"
	              "enabled = TRUE\n"
	              "allow = example.org\n"
	              "max_file_size = 5M\n"
	              "quota = 2G\n"
	              "folder = up//loads/\n"
	              "[transfers]\n"
	              "max_rate = 20M\n"
	              "download_rate = 512K\n"
	              "slots = 4\n"
	              "slots_per_user = 1\n"
	              "queue = 10\n"
	              "queue_per_user = 2\n"
	              "slot_hold = 30s\n"
	              "[web]\n"
	              "enabled = yes\n"
	              "access = public\n"
	              "link_lifetime = 1d\n"
	              "title = My files\n"
	              "[plugins]\n"
	              "path = plugins\n"
	              "load = help, get\n"
	              "[log]\n"
	              "level = debug\n");
	assert_string_equal(cfg->xmpp.jid, "Bot@Example.org");
	assert_string_equal(cfg->xmpp.password, "s3cret");
	assert_string_equal(cfg->xmpp.server_host, "::1");
	assert_int_equal(cfg->xmpp.server_port, 5223);
	assert_int_equal(cfg->xmpp.tls, TLS_DIRECT);
	assert_in_tmp(cfg->xmpp.ca_file, "/certs/ca.pem");
	assert_string_equal(cfg->xmpp.resource, "res");
	assert_string_equal(cfg->xmpp.nick, "Bot Nick");
	assert_int_equal(cfg->xmpp.rooms.n, 2);
	assert_string_equal(cfg->xmpp.rooms.v[0], "a@conf.example.org");
	assert_string_equal(cfg->xmpp.rooms.v[1], "b@conf.example.org");
	assert_int_equal(cfg->invites.accept, INVITES_ANYONE);
	assert_int_equal(cfg->invites.allow.n, 2);
	assert_string_equal(cfg->invites.allow.v[1], "example.net");
	assert_int_equal(cfg->invites.max_rooms, 0);
	assert_int_equal(cfg->admins.jids.n, 1);
	assert_string_equal(cfg->share.path, "/srv/files");
	assert_in_tmp(cfg->share.database, "/db/../cat.db");
	assert_int_equal(cfg->share.exclude.n, 2);
	assert_string_equal(cfg->share.exclude.v[1], "[abc]*");
	assert_int_equal(cfg->share.hash_threads, 4);
	assert_int_equal(cfg->share.settle_ms, 250);
	assert_string_equal(cfg->http.listen_host, "::1");
	assert_int_equal(cfg->http.listen_port, 0);
	assert_string_equal(cfg->http.base_url,
	                    "https://files.example.org/bot");
	assert_int_equal(cfg->http.url_lifetime_ms, 0);
	assert_string_equal(cfg->http.secret_file, "/etc/fisbot.key");
	assert_int_equal(cfg->http.max_connections, 100);
	assert_int_equal(cfg->http.max_per_ip, 100);
	assert_int_equal(cfg->http.timeout_ms, 60000);
	assert_int_equal(cfg->http.header_timeout_ms, 5000);
	assert_int_equal(cfg->http.trusted_proxies.n, 3);
	assert_string_equal(cfg->http.trusted_proxies.v[1], "10.0.0.0/8");
	assert_int_equal(cfg->http.offload, OFFLOAD_XACCEL);
	assert_string_equal(cfg->http.offload_prefix, "/internal/files");
	assert_in_tmp(cfg->http.tls_cert, "/tls/cert.pem");
	assert_in_tmp(cfg->http.tls_key, "/tls/key.pem");
	assert_int_equal(cfg->xmpp.subscriptions, SUBS_ALLOWLIST);
	assert_int_equal(cfg->transfers.max_rate, 20 << 20);
	assert_int_equal(cfg->transfers.download_rate, 512 << 10);
	assert_int_equal(cfg->transfers.slots, 4);
	assert_int_equal(cfg->transfers.slots_per_user, 1);
	assert_int_equal(cfg->transfers.queue, 10);
	assert_int_equal(cfg->transfers.queue_per_user, 2);
	assert_int_equal(cfg->transfers.slot_hold_ms, 30000);
	assert_true(cfg->web.enabled);
	assert_int_equal(cfg->web.access, WEB_PUBLIC);
	assert_int_equal(cfg->web.link_lifetime_ms, 24 * 3600 * 1000ULL);
	assert_string_equal(cfg->web.title, "My files");
	assert_string_equal(cfg->commands.prefix, ".");
	assert_int_equal(cfg->commands.page_size, 25);
	assert_int_equal(cfg->commands.find_min_length, 2);
	assert_int_equal(cfg->commands.find_max_results, 1000);
	assert_int_equal(cfg->commands.room_replies, REPLIES_ROOM);
	assert_int_equal(cfg->limits.burst, 1);
	assert_int_equal(cfg->limits.rate, 5);
	assert_int_equal(cfg->limits.per_ms, 1000);
	assert_int_equal(cfg->limits.iq_burst, 200);
	assert_int_equal(cfg->limits.iq_rate, 30);
	assert_int_equal(cfg->limits.iq_per_ms, 60000);
	assert_false(cfg->announce.enabled);
	assert_int_equal(cfg->announce.batch_ms, 0);
	assert_true(cfg->upload.enabled);
	assert_true(config_jid_matches(&cfg->upload.allow, "x@example.org"));
	assert_int_equal(cfg->upload.max_file_size, 5 << 20);
	assert_int_equal(cfg->upload.quota, 2ULL << 30);
	assert_string_equal(cfg->upload.folder, "up/loads");
	assert_in_tmp(cfg->plugins.path, "/plugins");
	assert_int_equal(cfg->plugins.load.n, 2);
	assert_string_equal(cfg->plugins.load.v[1], "get");
	assert_int_equal(cfg->log.level, LOG_DEBUG);
	config_free(cfg);
}

/* Values that are fine, key by key; each is loaded on its own. A section
 * given again continues the first one. */
static void test_valid_values(void **state)
{
	static const char *const ok[] = {
	    "[xmpp]\nserver = xmpp.example.org\n",
	    "[xmpp]\nserver = 10.0.0.1:5222\n",
	    "[xmpp]\nserver = [2001:db8::1]\n",
	    "[xmpp]\ntls = disabled\n",
	    "[xmpp]\nrooms =\n",
	    "[xmpp]\nca_file =\n",
	    "[invites]\naccept = none\n",
	    "[invites]\nallow = [::1], localhost, a.b-c.example\n",
	    "[http]\nlisten = localhost:80\n",
	    "[http]\nlisten = 0.0.0.0:65535\n",
	    "[http]\nbase_url = HTTP://h:1\n",
	    "[share]\nexclude =\n",
	    "[share]\nsettle = 1h\n",
	    "[limits]\nrate = 100/h\n",
	    "[limits]\nrate = 3/10s\n",
	    "[limits]\nrate = 1/d\n",
	    "[limits]\niq_burst = 1\n",
	    "[limits]\niq_burst = 10000\n",
	    "[limits]\niq_rate = 10/s\n",
	    "[limits]\niq_rate = 100/5s\n",
	    "[limits]\niq_rate = 600/m\n",
	    "[announce]\nenabled = 1\n",
	    "[announce]\nenabled = No\n",
	    "[upload]\nmax_file_size = 1T\n",
	    "[plugins]\nload =\n",
	    "[plugins]\npath =\n",
	    "[log]\nlevel = error\n",
	    "[log]\nlevel = warn\n",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *text = xasprintf(MINIMAL "%s", ok[i]);

		config_free(load_ok(text));
		free(text);
	}
}

/* Invalid values: each gives exactly one problem, on line 7 (after the
 * five lines of MINIMAL and a section header). */
static void test_invalid_values(void **state)
{
	static const struct {
		const char *base, *text, *want;
	} bad[] = {
	    {NO_JID, "[xmpp]\njid = bot\n",
	     "[xmpp] jid: \"bot\" is not a bare JID (node@domain)"},
	    {NO_JID, "[xmpp]\njid = bot@example.org/res\n",
	     "[xmpp] jid: \"bot@example.org/res\" has a resource (a bare JID "
	     "is needed here)"},
	    {NO_JID, "[xmpp]\njid = @example.org\n",
	     "[xmpp] jid: \"@example.org\" has an empty node before '@'"},
	    {NO_JID, "[xmpp]\njid = a b@example.org\n",
	     "[xmpp] jid: \"a b@example.org\" has a character not allowed in "
	     "a JID node"},
	    {NO_JID, "[xmpp]\njid = a@exa..mple\n",
	     "[xmpp] jid: \"a@exa..mple\" has an empty domain label"},
	    {NO_JID, "[xmpp]\njid = a@-x.org\n",
	     "[xmpp] jid: \"a@-x.org\" has a domain label that starts or ends "
	     "with '-'"},
	    {NO_PASSWORD, "[xmpp]\npassword =\n",
	     "[xmpp] password: must not be empty"},
	    {NULL, "[xmpp]\nserver = host:0\n",
	     "[xmpp] server: \"host:0\" is not HOST or HOST:PORT"},
	    {NULL, "[xmpp]\nserver = host:99999\n",
	     "[xmpp] server: \"host:99999\" is not HOST or HOST:PORT"},
	    {NULL, "[xmpp]\nserver = ::1\n",
	     "[xmpp] server: \"::1\" is not HOST or HOST:PORT"},
	    {NULL, "[xmpp]\ntls = maybe\n",
	     "[xmpp] tls: \"maybe\" is not one of required, direct or "
	     "disabled"},
	    {NULL, "[xmpp]\nresource =\n",
	     "[xmpp] resource: must not be empty"},
	    {NULL, "[xmpp]\nnick = a\x01z\n",
	     "[xmpp] nick: has control characters or invalid UTF-8"},
	    {NULL, "[xmpp]\nrooms = a@conf.example.org,,b@conf.example.org\n",
	     "[xmpp] rooms: empty item in the list"},
	    {NULL, "[xmpp]\nrooms = conf.example.org\n",
	     "[xmpp] rooms: \"conf.example.org\" is not a bare JID "
	     "(node@domain)"},
	    {NULL, "[xmpp]\nrooms = a@c.org, A@c.org\n",
	     "[xmpp] rooms: \"A@c.org\" is listed twice"},
	    {NULL, "[invites]\naccept = all\n",
	     "[invites] accept: \"all\" is not one of none, allowlist or "
	     "anyone"},
	    {NULL, "[invites]\nallow = alice@example.org/phone\n",
	     "[invites] allow: \"alice@example.org/phone\" has a resource (a "
	     "bare JID is needed here)"},
	    {NULL, "[invites]\nmax_rooms = -1\n",
	     "[invites] max_rooms: \"-1\" is not a whole number"},
	    {NULL, "[invites]\nmax_rooms = 10001\n",
	     "[invites] max_rooms: \"10001\" is out of range (0 to 10000)"},
	    {NULL, "[admins]\njids = example.org\n",
	     "[admins] jids: \"example.org\" is not a bare JID (node@domain)"},
	    {NULL, "[share]\ndatabase =\n",
	     "[share] database: must not be empty"},
	    {NULL, "[share]\nexclude = a/b\n",
	     "[share] exclude: \"a/b\" contains '/' (each glob matches one "
	     "path component)"},
	    {NULL, "[share]\nhash_threads = 4x\n",
	     "[share] hash_threads: \"4x\" is not a whole number"},
	    {NULL, "[share]\nsettle = soon\n",
	     "[share] settle: \"soon\" is not a duration (like 30s, 5m, 24h, "
	     "7d)"},
	    {NULL, "[share]\nsettle = 2h\n",
	     "[share] settle: \"2h\" is out of range (0ms to 3600000ms)"},
	    {NULL, "[http]\nlisten = foo\n",
	     "[http] listen: \"foo\" is not HOST:PORT"},
	    {NULL, "[http]\nlisten = 127.0.0.1:http\n",
	     "[http] listen: \"127.0.0.1:http\" is not HOST:PORT"},
	    {NULL, "[http]\nlisten = [::1\n",
	     "[http] listen: \"[::1\" is not HOST:PORT"},
	    {NULL, "[http]\nlisten = [zz]:80\n",
	     "[http] listen: \"[zz]:80\" is not HOST:PORT"},
	    {NULL, "[http]\nbase_url = ftp://x\n",
	     "[http] base_url: \"ftp://x\" does not start with http:// or "
	     "https://"},
	    {NULL, "[http]\nbase_url = http://\n",
	     "[http] base_url: \"http://\" has no host"},
	    {NULL, "[http]\nbase_url = http://x/?a\n",
	     "[http] base_url: \"http://x/?a\" must not contain spaces, '?', "
	     "'#' or control characters"},
	    {NULL, "[http]\nmax_connections = 0\n",
	     "[http] max_connections: \"0\" is out of range (1 to 100000)"},
	    {NULL, "[http]\ntimeout = 0\n",
	     "[http] timeout: \"0\" is out of range (1000ms to 86400000ms)"},
	    {NULL, "[http]\nheader_timeout = 500ms\n",
	     "[http] header_timeout: \"500ms\" is out of range (1000ms to "
	     "3600000ms)"},
	    {NULL, "[http]\nheader_timeout = soon\n",
	     "[http] header_timeout: \"soon\" is not a duration (like 30s, "
	     "5m, 24h, 7d)"},
	    {NULL, "[http]\nmax_per_ip = 600\n",
	     "[http] max_per_ip: 600 is more than max_connections (512)"},
	    {NULL, "[commands]\nprefix = a b\n",
	     "[commands] prefix: \"a b\" must not contain spaces"},
	    {NULL, "[commands]\nprefix = !!!!!!!!!\n",
	     "[commands] prefix: is longer than 8 bytes"},
	    {NULL, "[commands]\npage_size = 0\n",
	     "[commands] page_size: \"0\" is out of range (1 to 100)"},
	    {NULL, "[commands]\nroom_replies = public\n",
	     "[commands] room_replies: \"public\" is not one of private or "
	     "room"},
	    {NULL, "[limits]\nrate = 20\n",
	     "[limits] rate: \"20\" is not a rate like 20/m, 5/s or 100/h"},
	    {NULL, "[limits]\nrate = 0/m\n",
	     "[limits] rate: \"0/m\" is not a rate like 20/m, 5/s or 100/h"},
	    {NULL, "[limits]\nrate = 20/x\n",
	     "[limits] rate: \"20/x\" is not a rate like 20/m, 5/s or 100/h"},
	    {NULL, "[limits]\niq_burst = 0\n",
	     "[limits] iq_burst: \"0\" is out of range (1 to 10000)"},
	    {NULL, "[limits]\niq_burst = 10001\n",
	     "[limits] iq_burst: \"10001\" is out of range (1 to 10000)"},
	    {NULL, "[limits]\niq_burst = many\n",
	     "[limits] iq_burst: \"many\" is not a whole number"},
	    {NULL, "[limits]\niq_rate = 10\n",
	     "[limits] iq_rate: \"10\" is not a rate like 20/m, 5/s or 100/h"},
	    {NULL, "[limits]\niq_rate = 0/s\n",
	     "[limits] iq_rate: \"0/s\" is not a rate like 20/m, 5/s or "
	     "100/h"},
	    {NULL, "[limits]\niq_rate = 10/x\n",
	     "[limits] iq_rate: \"10/x\" is not a rate like 20/m, 5/s or "
	     "100/h"},
	    {NULL, "[limits]\niq_rate = 10/0s\n",
	     "[limits] iq_rate: \"10/0s\" is not a rate like 20/m, 5/s or "
	     "100/h"},
	    {NULL, "[announce]\nenabled = maybe\n",
	     "[announce] enabled: \"maybe\" is not yes or no"},
	    {NULL, "[upload]\nmax_file_size = 5Q\n",
	     "[upload] max_file_size: \"5Q\" is not a size (like 512, 10K, "
	     "5M, 2G)"},
	    {NULL, "[upload]\nquota = 0\n",
	     "[upload] quota: \"0\" is out of range (1 to "
	     "18446744073709551615 bytes)"},
	    {NULL, "[upload]\nfolder = ../out\n",
	     "[upload] folder: \"../out\": a hidden or \"..\" component is "
	     "not allowed"},
	    {NULL, "[upload]\nfolder = /abs\n",
	     "[upload] folder: \"/abs\" must be relative to the share"},
	    {NULL, "[upload]\nfolder = a//\n", NULL},
	    {NULL, "[upload]\nfolder = in/x.part\n",
	     "[upload] folder: \"in/x.part\" is excluded by [share] exclude, "
	     "uploads would never be catalogued"},
	    {NULL, "[plugins]\nload = help, Get\n",
	     "[plugins] load: \"Get\" is not a plugin name (a-z, 0-9, _ and "
	     "-)"},
	    {NULL, "[plugins]\nload = help, help\n",
	     "[plugins] load: \"help\" is listed twice"},
	    {NULL, "[xmpp]\nsubscriptions = some\n",
	     "[xmpp] subscriptions: \"some\" is not one of anyone, allowlist "
	     "or none"},
	    {NULL, "[http]\ntrusted_proxies = 10.0.0.0/8, ::1, fd00::/8\n",
	     NULL},
	    {NULL, "[http]\ntrusted_proxies = 10.0.0.1, proxy.lan\n",
	     "[http] trusted_proxies: \"proxy.lan\" is not an IPv4 or IPv6 "
	     "address"},
	    {NULL, "[http]\ntrusted_proxies = 10.0.0.0/33\n",
	     "[http] trusted_proxies: \"10.0.0.0/33\" has a prefix length not "
	     "within 0 to 32"},
	    {NULL, "[http]\noffload = sendfile\n",
	     "[http] offload: \"sendfile\" is not one of none or x-accel"},
	    {NULL, "[http]\noffload_prefix = files\n",
	     "[http] offload_prefix: \"files\" is not a path starting with "
	     "'/' (no spaces, '?', '#', '%', '\\\\', \"//\" or \"..\")"},
	    {NULL, "[http]\ntls_cert = cert.pem\n",
	     "[http] tls_cert: given without tls_key (both or neither)"},
	    {NULL, "[transfers]\nmax_rate = fast\n",
	     "[transfers] max_rate: \"fast\" is not a size (like 512, 10K, "
	     "5M, 2G)"},
	    {NULL, "[transfers]\nslots_per_user = 3\nslots = 2\n",
	     "[transfers] slots_per_user: 3 is more than slots (2)"},
	    {NULL, "[transfers]\nqueue = 2\n",
	     "[transfers] queue_per_user: 3 is more than queue (2)"},
	    {NULL, "[web]\naccess = open\n",
	     "[web] access: \"open\" is not one of link or public"},
	    {NULL, "[log]\nlevel = verbose\n",
	     "[log] level: \"verbose\" is not one of error, warn, info or "
	     "debug"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = xasprintf(
		    "%s%s", bad[i].base ? bad[i].base : MINIMAL, bad[i].text);
		char *want;

		if (bad[i].want == NULL) { /* a control: this one is fine */
			config_free(load_ok(text));
			free(text);
			continue;
		}
		want = xasprintf("fisbot.conf:7: %s", bad[i].want);
		load_one_problem(text, want);
		free(want);
		free(text);
	}
}

static void test_unknown(void **state)
{
	load_one_problem(MINIMAL "[http]\nlistn = 127.0.0.1:80\n",
	                 "fisbot.conf:7: [http] listn: unknown key (did you "
	                 "mean \"listen\"?)");
	load_one_problem(MINIMAL "[http]\nfrobnicate = 1\n",
	                 "fisbot.conf:7: [http] frobnicate: unknown key");
	load_one_problem(MINIMAL "[http]\nsettle = 1s\n",
	                 "fisbot.conf:7: [http] settle: unknown key (it "
	                 "belongs in [share])");
	load_one_problem(MINIMAL "[htpp]\nlisten = 1\n",
	                 "fisbot.conf:6: [htpp]: unknown section (did you mean "
	                 "\"http\"?)");
	load_one_problem(MINIMAL "[frobnicate]\n",
	                 "fisbot.conf:6: [frobnicate]: unknown section");
	load_one_problem(MINIMAL "[room]\nnick = x\n",
	                 "fisbot.conf:6: [room]: needs a name: [room "
	                 "\"room@conference.example.org\"]");
	load_one_problem(MINIMAL "[http \"x\"]\n",
	                 "fisbot.conf:6: [http \"x\"]: [http] takes no name");
	load_one_problem(MINIMAL "[xmpp extra]\n",
	                 "fisbot.conf:6: [xmpp extra]: [xmpp] takes no name");
	load_one_problem(MINIMAL "[ http ]\nlistn = 1\n",
	                 "fisbot.conf:7: [http] listn: unknown key (did you "
	                 "mean \"listen\"?)");
	load_one_problem(MINIMAL "[http]\n= 1\n",
	                 "fisbot.conf:7: a value without a key");
	load_one_problem("jid = a@b\n" MINIMAL,
	                 "fisbot.conf:1: jid: key outside any section");
}

static void test_syntax(void **state)
{
	load_one_problem(MINIMAL "[http\n",
	                 "fisbot.conf:6: section header without ']'");
	load_one_problem(MINIMAL "[http]\njust words\n",
	                 "fisbot.conf:7: \"just words\" is not KEY = VALUE");
	load_one_problem(MINIMAL "[share]\npath = other\n",
	                 "fisbot.conf:7: [share] path: given twice (first at "
	                 "line 5)");
	load_one_problem(MINIMAL "[xmpp]\nnick = a\nnick = b\n",
	                 "fisbot.conf:8: [xmpp] nick: given twice (first at "
	                 "line 7)");
}

/* A line longer than the loader accepts is reported, not cut. */
static void test_long_line(void **state)
{
	size_t n = 20000;
	char *nick = xmalloc(n + 1), *text;

	memset(nick, 'x', n);
	nick[n] = '\0';
	text = xasprintf(MINIMAL "[xmpp]\nnick = %s\nresource = r\n", nick);
	load_one_problem(text, "fisbot.conf:7: line longer than 16384 bytes");
	free(text);
	free(nick);
}

static void test_required(void **state)
{
	struct strlist problems = {0};
	struct config *cfg = load("[http]\nlisten = 127.0.0.1:1\n", &problems);

	assert_null(cfg);
	assert_int_equal(problems.n, 3);
	assert_string_equal(problems.v[0],
	                    "fisbot.conf: [xmpp] jid: required, not given");
	assert_string_equal(problems.v[1], "fisbot.conf: [xmpp] password: "
	                                   "required (or password_file), not "
	                                   "given");
	assert_string_equal(problems.v[2],
	                    "fisbot.conf: [share] path: required, not given");
	strlist_free(&problems);

	load_one_problem("[xmpp]\npassword = x\n[share]\npath = s\n",
	                 "fisbot.conf:1: [xmpp] jid: required, not given");
}

static void test_password_file(void **state)
{
	struct config *cfg;
	char *want;

	assert_int_equal(mkdir("secrets", 0700), 0);
	write_file("secrets/pw", "first line\r\nsecond line\n");
	cfg = load_ok("[xmpp]\njid = a@b.org\npassword_file = secrets/pw\n"
	              "[share]\npath = s\n");
	assert_string_equal(cfg->xmpp.password, "first line");
	config_free(cfg);

	write_file("nonl", "nonewline");
	cfg = load_ok("[xmpp]\njid = a@b.org\npassword_file = nonl\n"
	              "[share]\npath = s\n");
	assert_string_equal(cfg->xmpp.password, "nonewline");
	config_free(cfg);

	write_file("empty", "\nsecond\n");
	want = xasprintf("fisbot.conf:3: [xmpp] password_file: \"%s/empty\": "
	                 "the first line is empty",
	                 tmpdir);
	load_one_problem("[xmpp]\njid = a@b.org\npassword_file = empty\n"
	                 "[share]\npath = s\n",
	                 want);
	free(want);

	want = xasprintf("fisbot.conf:3: [xmpp] password_file: cannot read "
	                 "\"%s/missing\": No such file or directory",
	                 tmpdir);
	load_one_problem("[xmpp]\njid = a@b.org\npassword_file = missing\n"
	                 "[share]\npath = s\n",
	                 want);
	free(want);

	load_one_problem("[xmpp]\njid = a@b.org\npassword = x\n"
	                 "password_file = secrets/pw\n[share]\npath = s\n",
	                 "fisbot.conf:4: [xmpp] password: give password or "
	                 "password_file, not both");
	/* The password file must not be served. */
	load_one_problem("[xmpp]\njid = a@b.org\npassword_file = secrets/pw\n"
	                 "[share]\npath = secrets\n",
	                 "fisbot.conf:3: [xmpp] password_file: this file is "
	                 "inside the share and would be served");
}

/* Relative paths are resolved against the file's folder, not the current
 * directory. */
static void test_paths(void **state)
{
	struct strlist problems = {0};
	struct config *cfg;

	assert_int_equal(mkdir("sub", 0700), 0);
	write_file("sub/pw", "pw\n");
	write_file("sub/fisbot.conf", "[xmpp]\njid = a@b.org\n"
	                              "password_file = ./pw\n"
	                              "ca_file = ../ca.pem\n"
	                              "[share]\npath = a/./b//\n"
	                              "database = /var/lib/f.db\n"
	                              "[http]\nsecret_file = k\n"
	                              "[plugins]\npath = p/\n");
	cfg = config_load("sub/fisbot.conf", &problems);
	assert_int_equal(problems.n, 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->xmpp.password, "pw");
	assert_in_tmp(cfg->xmpp.ca_file, "/sub/../ca.pem");
	assert_in_tmp(cfg->share.path, "/sub/a/b");
	assert_string_equal(cfg->share.database, "/var/lib/f.db");
	assert_in_tmp(cfg->http.secret_file, "/sub/k");
	assert_in_tmp(cfg->plugins.path, "/sub/p");
	assert_in_tmp(cfg->dir, "/sub");
	assert_in_tmp(cfg->file, "/sub/fisbot.conf");
	config_free(cfg);
	strlist_free(&problems);
}

/* Secrets and the catalogue must not be inside the share, unless
 * excluded. */
static void test_served_files(void **state)
{
	struct strlist problems = {0};
	struct config *cfg;

	cfg = load("[xmpp]\njid = a@b.org\npassword = x\n"
	           "[share]\npath = .\nexclude = *.tmp\n",
	           &problems);
	assert_null(cfg);
	assert_int_equal(problems.n, 3);
	assert_string_equal(problems.v[0],
	                    "fisbot.conf:5: [share] database: the default file "
	                    "is inside the share and would be served");
	assert_string_equal(problems.v[1],
	                    "fisbot.conf:5: [http] secret_file: the default "
	                    "file is inside the share and would be served");
	assert_string_equal(problems.v[2],
	                    "fisbot.conf:5: [share] path: the configuration "
	                    "file is inside the share and would be served");
	strlist_free(&problems);

	load_one_problem("[xmpp]\njid = a@b.org\npassword = x\n"
	                 "[share]\npath = .\ndatabase = .hidden/f.db\n"
	                 "exclude = .*, *.conf\n"
	                 "[http]\nsecret_file = k.key\n",
	                 "fisbot.conf:9: [http] secret_file: this file is "
	                 "inside the share and would be served");

	/* Served or not is judged by the indexer's own matcher: a glob
	 * matches a leading dot like any other character, so these files are
	 * excluded (never catalogued) and nothing is reported. */
	cfg = load("[xmpp]\njid = a@b.org\npassword = x\n"
	           "[share]\npath = .\ndatabase = .state/f.db\n"
	           "exclude = *state, *.conf, *.key\n"
	           "[http]\nsecret_file = .k.key\n",
	           &problems);
	assert_non_null(cfg);
	assert_int_equal(problems.n, 0);
	assert_true(exclude_path(&cfg->share.exclude, ".state/f.db"));
	assert_true(exclude_path(&cfg->share.exclude, ".k.key"));
	config_free(cfg);
	/* Without those globs they would be served, and are reported. */
	load_one_problem("[xmpp]\njid = a@b.org\npassword = x\n"
	                 "[share]\npath = .\ndatabase = .state/f.db\n"
	                 "exclude = *.conf, *.key\n",
	                 "fisbot.conf:6: [share] database: this file is "
	                 "inside the share and would be served");
}

/* [room "JID"] and [plugin "NAME"] sections. */
static void test_rooms_plugins(void **state)
{
	const struct room_config *r;
	const struct plugin_config *p;
	struct config *cfg;

	cfg = load_ok(MINIMAL "[room \"a@conf.example.org\"] ; comment\n"
	                      "nick = filebot\n"
	                      "password = roompass\n"
	                      "announce = no\n"
	                      "[room \"b@conf.example.org\"]\n"
	                      "[plugin \"stats\"]\n"
	                      "zeta = 1\n"
	                      "alpha = two words\n"
	                      "[plugin \"empty\"]\n");
	assert_int_equal(cfg->n_rooms, 2);
	r = config_room(cfg, "A@conf.example.org");
	assert_non_null(r);
	assert_string_equal(r->nick, "filebot");
	assert_string_equal(r->password, "roompass");
	assert_int_equal(r->announce, 0);
	r = config_room(cfg, "b@conf.example.org");
	assert_non_null(r);
	assert_null(r->nick);
	assert_null(r->password);
	assert_int_equal(r->announce, -1);
	assert_null(config_room(cfg, "c@conf.example.org"));

	p = config_plugin(cfg, "stats");
	assert_non_null(p);
	assert_int_equal(p->keys.n, 2);
	assert_string_equal(p->keys.v[0], "zeta");
	assert_string_equal(p->values.v[0], "1");
	assert_string_equal(p->lines.v[0], "fisbot.conf:12");
	assert_string_equal(p->keys.v[1], "alpha");
	assert_string_equal(p->values.v[1], "two words");
	assert_string_equal(p->lines.v[1], "fisbot.conf:13");
	p = config_plugin(cfg, "empty");
	assert_non_null(p);
	assert_int_equal(p->keys.n, 0);
	assert_null(config_plugin(cfg, "other"));
	config_free(cfg);

	load_one_problem(
	    MINIMAL "[room \"conf.example.org\"]\nnick = x\n",
	    "fisbot.conf:6: [room \"conf.example.org\"]: room "
	    "\"conf.example.org\" is not a bare JID (node@domain)");
	load_one_problem(MINIMAL "[room \"a@c.org\"]\nnick = x\nnick = y\n",
	                 "fisbot.conf:8: [room \"a@c.org\"] nick: given twice "
	                 "(first at line 7)");
	load_one_problem(MINIMAL "[room \"a@c.org\"]\nannounce = loud\n",
	                 "fisbot.conf:7: [room \"a@c.org\"] announce: \"loud\" "
	                 "is not yes or no");
	load_one_problem(MINIMAL "[limits]\niq_rat = 10/s\n",
	                 "fisbot.conf:7: [limits] iq_rat: unknown key (did you "
	                 "mean \"iq_rate\"?)");
	load_one_problem(
	    MINIMAL "[limits]\niqburst = 10\n",
	    "fisbot.conf:7: [limits] iqburst: unknown key (did you "
	    "mean \"iq_burst\"?)");
	load_one_problem(MINIMAL "[room \"a@c.org\"]\nnik = x\n",
	                 "fisbot.conf:7: [room \"a@c.org\"] nik: unknown key "
	                 "(did you mean \"nick\"?)");
	load_one_problem(MINIMAL "[room a@c.org]\n",
	                 "fisbot.conf:6: [room a@c.org]: not a section header "
	                 "(write [room \"NAME\"])");
	load_one_problem(MINIMAL "[plugin \"x\"]\nk = 1\n[plugin \"x\"]\n"
	                         "k = 2\n",
	                 "fisbot.conf:9: [plugin \"x\"] k: given twice (first "
	                 "at line 7)");
	load_one_problem(MINIMAL "[plugin \"X Y\"]\n",
	                 "fisbot.conf:6: [plugin \"X Y\"]: not a plugin name "
	                 "(a-z, 0-9, _ and -)");
}

/* Every problem is reported, not only the first, each at its line. */
static void test_all_problems(void **state)
{
	struct strlist problems = {0};
	struct config *cfg;

	cfg = load("[xmpp]\n"
	           "jid = bot@example.org\n"
	           "password = secret\n"
	           "tls = sometimes\n"
	           "[share]\n"
	           "path = share\n"
	           "[http]\n"
	           "listen = foo\n"
	           "\n"
	           "[log]\n"
	           "levl = info\n",
	           &problems);
	assert_null(cfg);
	assert_int_equal(problems.n, 3);
	assert_string_equal(
	    problems.v[0],
	    "fisbot.conf:4: [xmpp] tls: \"sometimes\" is not one "
	    "of required, direct or disabled");
	assert_string_equal(problems.v[1], "fisbot.conf:8: [http] listen: "
	                                   "\"foo\" is not HOST:PORT");
	assert_string_equal(problems.v[2],
	                    "fisbot.conf:11: [log] levl: unknown key (did you "
	                    "mean \"level\"?)");
	strlist_free(&problems);
}

static void test_missing_file(void **state)
{
	struct strlist problems = {0};

	assert_null(config_load("nothere.conf", &problems));
	assert_int_equal(problems.n, 1);
	assert_string_equal(problems.v[0], "nothere.conf: cannot open: No such "
	                                   "file or directory");
	strlist_free(&problems);
}

/* Values are quoted safely: no control character reaches a message. */
static void test_hostile_values(void **state)
{
	load_one_problem(MINIMAL "[http]\nlisten = a\x1b[2Jb\n",
	                 "fisbot.conf:7: [http] listen: \"a\\x1B[2Jb\" is not "
	                 "HOST:PORT");
	load_one_problem(MINIMAL "[http]\nli\xffsten = 1\n",
	                 "fisbot.conf:7: [http] li\\xFFsten: unknown key (did "
	                 "you mean \"listen\"?)");
}

static void test_jid_matches(void **state)
{
	struct strlist l = {0};

	strlist_add(&l, "Alice@Example.org");
	strlist_add(&l, "friends.net");
	assert_true(strlist_contains(&l, "friends.net"));
	assert_false(strlist_contains(&l, "friends"));
	assert_true(config_jid_matches(&l, "alice@example.org"));
	assert_true(config_jid_matches(&l, "alice@example.org/phone"));
	assert_false(config_jid_matches(&l, "bob@example.org"));
	assert_false(config_jid_matches(&l, "alice@example.org.evil"));
	assert_true(config_jid_matches(&l, "bob@FRIENDS.net"));
	assert_true(config_jid_matches(&l, "friends.net"));
	assert_false(config_jid_matches(&l, "bob@sub.friends.net"));
	assert_false(config_jid_matches(&l, "friends.net@evil.org"));
	strlist_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	assert_false(config_jid_matches(&l, "a@b"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_defaults),       T(test_every_key),
	    T(test_valid_values),   T(test_invalid_values),
	    T(test_unknown),        T(test_syntax),
	    T(test_long_line),      T(test_required),
	    T(test_password_file),  T(test_paths),
	    T(test_served_files),   T(test_rooms_plugins),
	    T(test_all_problems),   T(test_missing_file),
	    T(test_hostile_values), cmocka_unit_test(test_jid_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

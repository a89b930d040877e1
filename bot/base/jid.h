/*
 * JIDs: the bare part, the resource, the domain (lower case, for the
 * per-service origin checks), and validation: what is wrong with a string
 * as a bare JID (the configuration's lists, admin commands) and whether
 * one is usable as a room's bare JID (invitations, joins). No stringprep:
 * JIDs are compared as the server wrote them, rooms case-insensitively.
 */
#ifndef FISBOT_JID_H
#define FISBOT_JID_H

#include <stdbool.h>

/* Lower-cases the ASCII letters of jid in place and returns it, so that
 * JIDs compare as the server treats them (jid_fold(jid_bare(from))). */
char *jid_fold(char *jid);
/* Returns a new string: the bare part of jid. */
char *jid_bare(const char *jid);
/* Returns the resource of jid (inside jid), or NULL. */
const char *jid_resource(const char *jid);
/* Returns a new lower-case string: the domain part of jid. */
char *jid_domain(const char *jid);
/* Returns true if jid is a usable bare JID (node@domain, clean). */
bool jid_is_bare_room(const char *jid);
/* Returns a description of what is wrong with jid as a bare JID (node
 * required unless domain_ok), or NULL if it is fine. */
const char *jid_problem(const char *jid, bool domain_ok);
/* Returns a description of what is wrong with domain d, or NULL. */
const char *jid_domain_problem(const char *d);

#endif

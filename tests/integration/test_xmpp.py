"""fisbot as an XMPP citizen: joining rooms, invitations,
kicks, bans, destruction, history, restarts of the bot and of the server,
disco/ping/version, TLS and authentication failures, SIGTERM.

One Prosody serves the whole module (each test uses its own rooms and, where
it matters, its own bot account); the tests that need another server start
their own.
"""
import base64
import ctypes
import hashlib
import os
import socket
import time

import pytest

from fisbot_proc import FisbotProc
from prosody import Prosody, make_cert
from xmpp_client import Client

MUC = "conference.localhost"
BOTS = [f"bot{i}" for i in range(1, 9)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"))
    for user in BOTS:
        p.register(user, "secret")
    for user in ("alice", "mallory", "carol"):
        p.register(user, "pw")
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def alice(server):
    c = Client(server, "alice", "pw")
    yield c
    c.close()


@pytest.fixture(scope="module")
def mallory(server):
    c = Client(server, "mallory", "pw")
    yield c
    c.close()


@pytest.fixture
def bots(server, tmp_path):
    """Makes FisbotProcs and stops them after the test."""
    made = []

    def make(user, rooms=(), extra="", **kw):
        b = FisbotProc(server, tmp_path / user, rooms=rooms, user=user,
                       extra=extra, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()


INVITES = """
    [invites]
    accept = allowlist
    allow = alice@localhost
    """


def room(name):
    return f"{name}@{MUC}"


def from_bot(r, nick="fisbot"):
    """A predicate: a message from the bot's occupant JID in room r."""
    return lambda m: m.frm == f"{r}/{nick}"


def bot_in_room(client, r, since, nick="fisbot", timeout=15):
    """Waits until client sees the bot (nick) enter room r."""
    return client.occupant_presence(r, nick, since=since, timeout=timeout)


def test_join_disco_ping_version(server, alice, bots):
    r = room("basics")
    alice.join(r, "alice")
    mark = alice.mark()
    bot = bots("bot1", rooms=[r]).start()
    pres = bot_in_room(alice, r, mark)
    caps = pres.find("{http://jabber.org/protocol/caps}c")
    assert caps is not None and caps.get("hash") == "sha-1"
    bot.wait_log(f"joined {r} as fisbot")
    jid = "bot1@localhost/fisbot"

    info = alice.iq(jid, "get",
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>")
    assert info.type == "result"
    ns = "{http://jabber.org/protocol/disco#info}"
    ident = info.find(f"{ns}query/{ns}identity")
    assert (ident.get("category"), ident.get("type")) == ("client", "bot")
    feats = {f.get("var") for f in info.findall(f"{ns}query/{ns}feature")}
    for f in ("http://jabber.org/protocol/disco#info", "jabber:x:conference",
              "jabber:x:oob", "urn:xmpp:hashes:2", "urn:xmpp:ping",
              "jabber:iq:version"):
        assert f in feats

    # The XEP-0115 verification string matches what disco#info says.
    s = "client/bot//fisbot<" + "".join(f + "<" for f in sorted(feats))
    assert caps.get("ver") == base64.b64encode(
        hashlib.sha1(s.encode()).digest()).decode()

    # The caps node answers with the same features.
    node = f"{caps.get('node')}#{caps.get('ver')}"
    info2 = alice.iq(jid, "get", "<query xmlns='http://jabber.org/protocol/"
                     f"disco#info' node='{node}'/>")
    assert info2.type == "result"
    assert {f.get("var") for f in
            info2.findall(f"{ns}query/{ns}feature")} == feats

    assert alice.iq(jid, "get", "<ping xmlns='urn:xmpp:ping'/>").type == \
        "result"
    ver = alice.iq(jid, "get", "<query xmlns='jabber:iq:version'/>")
    assert ver.find("{jabber:iq:version}query/{jabber:iq:version}name") \
        .text == "fisbot"

    # Unknown IQ: service-unavailable.
    err = alice.iq(jid, "get", "<query xmlns='urn:example:nothing'/>")
    assert err.type == "error"
    assert err.find("{jabber:client}error/"
                    "{urn:ietf:params:xml:ns:xmpp-stanzas}"
                    "service-unavailable") is not None

    # IQs to the bot's occupant JID reach it through the room.
    occ = alice.iq(f"{r}/fisbot", "get", "<ping xmlns='urn:xmpp:ping'/>")
    assert occ.type == "result"
    occ = alice.iq(f"{r}/fisbot", "get",
                   "<query xmlns='http://jabber.org/protocol/disco#info'/>")
    assert occ.type == "result"

    # Never an error in answer to an error.
    mark = alice.mark()
    alice.send_raw(f"<iq xmlns='jabber:client' to='{jid}' type='error' "
                   "id='e1'><error type='cancel'><bad-request xmlns="
                   "'urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
    alice.none(lambda s: s.kind == "iq" and s.id == "e1", 1.0, mark)

    # SIGTERM: the bot leaves the room politely and exits 0.
    mark = alice.mark()
    assert bot.stop() == 0
    alice.occupant_presence(r, "fisbot", since=mark, ptype="unavailable")


def test_nick_conflict(server, alice, bots):
    r = room("nicks")
    alice.join(r, "alice")
    carol = Client(server, "carol", "pw")
    try:
        carol.join(r, "fisbot")
        mark = alice.mark()
        bot = bots("bot2", rooms=[r]).start()
        bot_in_room(alice, r, mark, nick="fisbot_")
        bot.wait_log(f"joined {r} as fisbot_")
    finally:
        carol.close()


def test_invitations(server, alice, mallory, bots):
    bot = bots("bot3", extra=INVITES).start()
    bot.wait_log("online as bot3@localhost")
    jid = "bot3@localhost"

    # Mediated (XEP-0045), from an allowed inviter.
    r1 = room("mediated")
    alice.join(r1, "alice")
    # In a semi-anonymous room the inviter's real JID is hidden: refused.
    alice.invite_mediated(r1, jid)
    bot.wait_log(f"refusing a mediated invitation to {r1} from an "
                 "occupant whose real JID is hidden")
    assert alice.configure(r1, {"muc#roomconfig_whois": "anyone"}
                           ).type == "result"
    mark = alice.mark()
    alice.invite_mediated(r1, jid)
    bot_in_room(alice, r1, mark)

    # Direct (XEP-0249).
    r2 = room("direct")
    alice.join(r2, "alice")
    mark = alice.mark()
    alice.invite_direct(r2, jid)
    bot_in_room(alice, r2, mark)

    # A duplicate invitation changes nothing.
    mark = alice.mark()
    alice.invite_direct(r2, jid)
    alice.none(lambda s: s.kind == "presence" and s.frm == f"{r2}/fisbot",
               1.0, mark)

    # A stranger's invitation is refused.
    r3 = room("strangers")
    mallory.join(r3, "mallory")
    assert mallory.configure(r3, {"muc#roomconfig_whois": "anyone"}
                             ).type == "result"
    mark = mallory.mark()
    mallory.invite_direct(r3, jid)
    bot.wait_log(f"refusing a direct invitation to {r3} from "
                 "mallory@localhost")
    mallory.invite_mediated(r3, jid)
    bot.wait_log(f"refusing a mediated invitation to {r3} from "
                 "mallory@localhost")
    mallory.none(lambda s: s.kind == "presence" and
                 s.frm == f"{r3}/fisbot", 0.5, mark)

    # A restart rejoins the invited rooms; SIGTERM leaves both politely.
    mark = alice.mark()
    assert bot.stop() == 0
    alice.occupant_presence(r1, "fisbot", since=mark, ptype="unavailable")
    alice.occupant_presence(r2, "fisbot", since=mark, ptype="unavailable")
    mark = alice.mark()
    bot.start()
    bot_in_room(alice, r1, mark)
    bot_in_room(alice, r2, mark)


def test_invitation_limits(server, alice, bots):
    """max_rooms, then the rate limit (5 a minute) of invitations."""
    bot = bots("bot5", extra=INVITES + "max_rooms = 3\n").start()
    bot.wait_log("online as bot5@localhost")
    for i in range(4):
        alice.invite_direct(room(f"limit{i}"), "bot5@localhost")
    bot.wait_log(f"refusing an invitation to {room('limit3')} from "
                 "alice@localhost: already in 3 rooms (max_rooms)")
    assert bot.stop() == 0

    bot = bots("bot6", extra=INVITES).start()
    bot.wait_log("online as bot6@localhost")
    for i in range(6):
        alice.invite_direct(room(f"rate{i}"), "bot6@localhost")
    bot.wait_log(f"refusing an invitation to {room('rate5')} from "
                 "alice@localhost: too many invitations")


def test_kick_rejoins_ban_and_destroy_forget(server, alice, bots):
    rk, rb, rd = room("kick"), room("ban"), room("destroy")
    for r in (rk, rb, rd):
        alice.join(r, "alice")
    bot = bots("bot4", extra=INVITES).start()
    bot.wait_log("online as bot4@localhost")
    mark = alice.mark()
    for r in (rk, rb, rd):
        alice.invite_direct(r, "bot4@localhost")
    for r in (rk, rb, rd):
        bot_in_room(alice, r, mark)

    # Kick: back after a delay.
    mark = alice.mark()
    assert alice.set_role(rk, "fisbot", "none").type == "result"
    alice.occupant_presence(rk, "fisbot", since=mark, ptype="unavailable")
    bot.wait_log(f"out of {rk} (kicked)")
    bot_in_room(alice, rk, mark, timeout=20)

    # Ban: gone for good.
    assert alice.set_affiliation(rb, "bot4@localhost",
                                 "outcast").type == "result"
    bot.wait_log(f"leaving {rb} for good: banned")

    # Destruction: gone for good.
    assert alice.destroy(rd).type == "result"
    bot.wait_log(f"leaving {rd} for good: the room was destroyed")

    # After a restart only the kicked room is rejoined.
    assert bot.stop() == 0
    assert alice.set_affiliation(rb, "bot4@localhost",
                                 "none").type == "result"
    alice.join(rd, "alice")
    mark = alice.mark()
    bot.start()
    bot_in_room(alice, rk, mark)
    log = bot.wait_log(f"joined {rk}")
    time.sleep(1)
    log = bot.log()
    assert f"joining {rb}" not in log and f"joining {rd}" not in log


def test_room_password(server, alice, bots):
    """A password-protected room is joined with its [room] password."""
    r = room("secret")
    alice.join(r, "alice")
    assert alice.configure(r, {
        "muc#roomconfig_passwordprotectedroom": "1",
        "muc#roomconfig_roomsecret": "s3cret"}).type == "result"
    mark = alice.mark()
    bot = bots("bot5", rooms=[r], extra=f"""
        [room "{r}"]
        password = s3cret
        """).start()
    bot_in_room(alice, r, mark)
    bot.wait_log(f"{r} is ready")


def test_wrong_password_exits_1(server, bots):
    bot = bots("bot6", password="wrong").start()
    assert bot.wait_exit() == 1
    assert ("fisbot: authentication failed for bot6@localhost: "
            "not-authorized") in bot.log()


def test_untrusted_certificate_refused(server, bots, tmp_path):
    other, _key = make_cert(tmp_path)
    bot = bots("bot6", xmpp_extra="")
    text = bot.config.read_text().replace(str(server.ca_file), str(other))
    bot.config.write_text(text)
    bot.start()
    assert bot.wait_exit() == 1
    assert "certificate" in bot.log() and "not trusted" in bot.log()


def test_server_without_tls_refused(tmp_path):
    plain = Prosody(tmp_path / "plain", tls=False)
    plain.register("bot", "secret")
    with plain:
        bot = FisbotProc(plain, tmp_path / "bot").start()
        try:
            assert bot.wait_exit() == 1
            assert "offers no TLS" in bot.log()
        finally:
            bot.stop()


def test_direct_tls(tmp_path):
    srv = Prosody(tmp_path / "direct", direct_tls=True)
    srv.register("bot", "secret")
    with srv:
        bot = FisbotProc(srv, tmp_path / "bot", xmpp_extra="tls = direct\n")
        text = bot.config.read_text().replace(
            f"127.0.0.1:{srv.port}", f"127.0.0.1:{srv.direct_port}")
        bot.config.write_text(text)
        bot.start()
        try:
            bot.wait_log("connected as bot@localhost/fisbot (TLS)")
        finally:
            assert bot.stop() == 0


def test_history_ignored_commands_answered(server, alice, bots):
    r = room("history")
    alice.join(r, "alice")
    alice.groupchat(r, "!help")  # history: the bot must never answer it
    time.sleep(0.3)
    mark = alice.mark()
    bot = bots("bot7", rooms=[r]).start()
    bot_in_room(alice, r, mark)
    bot.wait_log(f"{r} is ready")
    alice.none(lambda s: s.kind == "message" and s.frm == f"{r}/fisbot",
               1.5, mark)

    # A command in the room gets one answer (by private message).
    mark = alice.mark()
    alice.groupchat(r, "!help")
    alice.wait_message(from_bot(r), since=mark)
    # So does a private message from an occupant, and a direct chat.
    mark = alice.mark()
    alice.private(r, "fisbot", "help")
    alice.wait_message(from_bot(r), since=mark)
    mark = alice.mark()
    alice.message("bot7@localhost", "help")
    alice.wait_message(lambda m: m.frm.startswith("bot7@localhost/"),
                       since=mark)


def test_sighup_joins_and_leaves_rooms(server, alice, bots):
    r1, r2 = room("hup1"), room("hup2")
    alice.join(r1, "alice")
    alice.join(r2, "alice")
    mark = alice.mark()
    bot = bots("bot8", rooms=[r1]).start()
    bot_in_room(alice, r1, mark)
    text = bot.config.read_text().replace(f"rooms = {r1}", f"rooms = {r2}")
    bot.config.write_text(text)
    mark = alice.mark()
    bot.reload()
    bot_in_room(alice, r2, mark)
    alice.occupant_presence(r1, "fisbot", since=mark, ptype="unavailable")
    bot.wait_log(f"reload: leaving {r1}")

    # A broken configuration is refused; the bot carries on.
    bot.config.write_text(text + "\n[nonsense]\n")
    bot.reload()
    bot.wait_log("the old configuration stays")
    mark = alice.mark()
    alice.message("bot8@localhost", "help")
    alice.wait_message(lambda m: m.frm.startswith("bot8@localhost/"),
                       since=mark)


def test_refused_private_reply_falls_back_to_room(server, alice, bots):
    """When the room refuses the private reply (here: the requester has
    just left), a short answer goes to the room instead."""
    r = room("fallback")
    alice.join(r, "alice")
    carol = Client(server, "carol", "pw")
    try:
        carol.join(r, "carol")
        mark = alice.mark()
        bot = bots("bot1", rooms=[r]).start()
        bot_in_room(alice, r, mark)
        bot.wait_log(f"{r} is ready")
        mark = carol.mark()
        alice.send_raw(
            f"<message xmlns='jabber:client' to='{r}' type='groupchat'>"
            "<body>!help</body></message>"
            f"<presence xmlns='jabber:client' to='{r}/alice' "
            "type='unavailable'/>")
        reply = carol.wait_message(from_bot(r), since=mark)
        assert reply.type == "groupchat"
        bot.wait_log("private message refused")
    finally:
        carol.close()


def peer_socket_options(pid, port):
    """The (TCP_NODELAY, SO_KEEPALIVE) options of process pid's TCP socket
    connected to loopback port, read on a duplicate of its descriptor
    (pidfd_getfd), or None if it has no such socket."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith(
                        "socket:"):
                    continue
            except OSError:
                continue  # closed meanwhile
            fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
            if fd < 0:
                raise OSError(ctypes.get_errno(), "pidfd_getfd")
            s = socket.socket(fileno=fd)
            try:
                if s.family not in (socket.AF_INET, socket.AF_INET6) or \
                        s.type != socket.SOCK_STREAM:
                    continue
                try:
                    if s.getpeername()[1] != port:
                        continue
                except OSError:
                    continue  # a listening socket
                return (s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
                        s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
            finally:
                s.close()
    finally:
        os.close(pidfd)
    return None


def test_xmpp_socket_without_nagle_delay(server, alice, bots):
    # Nagle's algorithm held a reply written right after another small
    # write (a stream management request) until the server's delayed ACK,
    # 40 ms later: every chat round trip took 44 ms. The bot's socket to
    # the server has TCP_NODELAY (and keeps its keepalive).
    bot = bots("bot8").start()
    bot.wait_log("online as bot8@localhost")
    assert peer_socket_options(bot.proc.pid, server.port) == (1, 1)

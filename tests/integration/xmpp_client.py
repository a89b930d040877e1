"""A small synchronous XMPP client for fisbot's integration tests.

It wraps slixmpp (asyncio) in a background thread so that tests can be
written as plain sequential code:

    alice = Client(server, "alice", "pw")       # connected, TLS verified
    alice.join("room@conference.localhost", "alice")
    alice.groupchat("room@conference.localhost", "!help")
    msg = alice.wait_message(lambda m: m.body.startswith("usage"))

Every stanza received is recorded (messages, presences, IQs) as a Stanza
with its parsed fields and raw XML; wait_* functions look for one that
matches a predicate, with a timeout, and never miss one that arrived
before the call (each waiter starts from a cursor the test controls).
"""
import asyncio
import itertools
import threading
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_CLIENT = "jabber:client"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin"
NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner"
_ids = itertools.count(1)


class Stanza:
    """One received stanza: kind, type, from, to, id, body, and the XML."""

    def __init__(self, xml: ET.Element):
        self.xml = xml
        self.kind = xml.tag.split("}")[-1]
        self.type = xml.get("type", "")
        self.frm = xml.get("from", "")
        self.to = xml.get("to", "")
        self.id = xml.get("id", "")
        body = xml.find(f"{{{NS_CLIENT}}}body")
        self.body = body.text or "" if body is not None else None

    def find(self, path: str):
        """ElementTree find on the stanza ({ns}name paths)."""
        return self.xml.find(path)

    def findall(self, path: str):
        return self.xml.findall(path)

    def statuses(self) -> set:
        """The muc#user status codes of a presence."""
        return {s.get("code") for s in
                self.xml.findall(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}status")}

    def __repr__(self):
        return ET.tostring(self.xml, encoding="unicode")


class Client:
    """A connected XMPP account on a test Prosody (see prosody.py)."""

    def __init__(self, server, user: str, password: str,
                 resource: str = "test", timeout: float = 15):
        self.jid = f"{user}@{server.domain}"
        self.full_jid = f"{self.jid}/{resource}"
        self.server = server
        self.received = []
        self.cond = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       daemon=True)
        self.thread.start()
        self.xmpp = self._call(self._make, password)
        connected = threading.Event()
        self.failed = None
        self.xmpp.add_event_handler("session_start",
                                    lambda _e: connected.set())

        def fail(e):
            self.failed = e
            connected.set()
        self.xmpp.add_event_handler("failed_auth", fail)
        self.loop.call_soon_threadsafe(self._connect)
        if not connected.wait(timeout) or self.failed is not None:
            self.close()
            raise RuntimeError(f"{self.jid} could not log in")

    # --- plumbing -------------------------------------------------------

    def _call(self, fn, *args):
        """Runs fn(*args) on the client's loop and returns its result."""
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def _make(self, password):
        x = slixmpp.ClientXMPP(self.full_jid, password)
        x.loop = self.loop
        if self.server.ca_file:
            x.ca_certs = str(self.server.ca_file)
        else:
            x.enable_starttls = False
            x.enable_direct_tls = False
        x.register_plugin("xep_0030")
        x.register_plugin("xep_0199")
        for name in ("message", "presence", "iq"):
            x.register_handler(Callback(
                f"record {name}", MatchXPath(f"{{{NS_CLIENT}}}{name}"),
                self._record))
        return x

    def _connect(self):
        self.xmpp.add_event_handler(
            "session_start", lambda _e: self.xmpp.send_presence())
        self.xmpp.connect(("127.0.0.1", self.server.port))

    def _record(self, stanza):
        with self.cond:
            self.received.append(Stanza(stanza.xml))
            self.cond.notify_all()

    def close(self):
        """Disconnects and stops the client's thread."""
        gone = threading.Event()
        try:
            self.xmpp.add_event_handler("disconnected",
                                        lambda _e: gone.set())
            self.loop.call_soon_threadsafe(self.xmpp.disconnect, 1)
            gone.wait(5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    # --- sending --------------------------------------------------------

    def send_raw(self, xml: str):
        """Sends a raw stanza."""
        self.loop.call_soon_threadsafe(self.xmpp.send_raw, xml)

    def message(self, to: str, body: str, mtype: str = "chat",
                extra: str = "") -> str:
        """Sends a message; returns its id."""
        mid = f"m{next(_ids)}"
        self.send_raw(f"<message xmlns='jabber:client' to={quoteattr(to)} "
                      f"type='{mtype}' id='{mid}'><body>{escape(body)}"
                      f"</body>{extra}</message>")
        return mid

    def groupchat(self, room: str, body: str, extra: str = "") -> str:
        return self.message(room, body, "groupchat", extra)

    def private(self, room: str, nick: str, body: str) -> str:
        """A MUC private message to an occupant."""
        return self.message(f"{room}/{nick}", body, "chat",
                            f"<x xmlns='{NS_MUC_USER}'/>")

    def mark(self) -> int:
        """A cursor: wait_* calls with since=mark() see only later
        stanzas."""
        with self.cond:
            return len(self.received)

    def wait(self, pred, timeout: float = 10, since: int = 0):
        """Returns the first stanza (from index since) for which pred is
        true; raises AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.received):
                    if pred(self.received[i]):
                        return self.received[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.jid}: nothing matched in {timeout}s; got:\n"
                        + "\n".join(repr(s) for s in self.received[since:]))
                self.cond.wait(left)

    def none(self, pred, seconds: float, since: int = 0) -> bool:
        """Waits seconds and asserts that no stanza matched pred."""
        time.sleep(seconds)
        with self.cond:
            bad = [s for s in self.received[since:] if pred(s)]
        assert not bad, f"unexpected: {bad}"
        return True

    def wait_message(self, pred=lambda m: True, timeout: float = 10,
                     since: int = 0):
        return self.wait(lambda s: s.kind == "message" and s.body is not None
                         and s.type != "error" and pred(s), timeout, since)

    def iq(self, to: str, itype: str, payload: str, timeout: float = 10):
        """Sends an IQ and returns the response Stanza (result or error)."""
        iid = f"iq{next(_ids)}"
        since = self.mark()
        self.send_raw(f"<iq xmlns='jabber:client' to={quoteattr(to)} "
                      f"type='{itype}' id='{iid}'>{payload}</iq>")
        return self.wait(lambda s: s.kind == "iq" and s.id == iid and
                         s.type in ("result", "error"), timeout, since)

    # --- rooms ----------------------------------------------------------

    def join(self, room: str, nick: str, timeout: float = 10):
        """Joins (or creates) room and waits for our own presence."""
        since = self.mark()
        self.send_raw(f"<presence xmlns='jabber:client' "
                      f"to={quoteattr(room + '/' + nick)}>"
                      f"<x xmlns='{NS_MUC}'><history maxstanzas='0'/></x>"
                      f"</presence>")
        return self.wait(lambda s: s.kind == "presence" and
                         s.frm == f"{room}/{nick}" and
                         ("110" in s.statuses() or s.type == "error"),
                         timeout, since)

    def leave(self, room: str, nick: str):
        self.send_raw(f"<presence xmlns='jabber:client' type='unavailable' "
                      f"to={quoteattr(room + '/' + nick)}/>")

    def occupant_presence(self, room: str, nick: str, since: int = 0,
                          ptype: str = "", timeout: float = 10):
        """Waits for a presence of occupant nick (ptype '' = available)."""
        return self.wait(lambda s: s.kind == "presence" and
                         s.frm == f"{room}/{nick}" and s.type == ptype,
                         timeout, since)

    def set_role(self, room: str, nick: str, role: str):
        """Sets an occupant's role (role 'none' kicks)."""
        return self.iq(room, "set",
                       f"<query xmlns='{NS_MUC_ADMIN}'><item nick="
                       f"{quoteattr(nick)} role='{role}'/></query>")

    def set_affiliation(self, room: str, jid: str, affiliation: str):
        """Sets a JID's affiliation ('outcast' bans)."""
        return self.iq(room, "set",
                       f"<query xmlns='{NS_MUC_ADMIN}'><item jid="
                       f"{quoteattr(jid)} affiliation='{affiliation}'/>"
                       f"</query>")

    def destroy(self, room: str):
        """Destroys a room we own."""
        return self.iq(room, "set",
                       f"<query xmlns='{NS_MUC_OWNER}'><destroy>"
                       f"<reason>test</reason></destroy></query>")

    def configure(self, room: str, fields: dict):
        """Submits room configuration fields (muc#roomconfig_...)."""
        xs = "".join(f"<field var={quoteattr(k)}><value>{escape(v)}"
                     f"</value></field>" for k, v in fields.items())
        return self.iq(room, "set",
                       f"<query xmlns='{NS_MUC_OWNER}'><x xmlns="
                       f"'jabber:x:data' type='submit'><field var="
                       f"'FORM_TYPE'><value>http://jabber.org/protocol/"
                       f"muc#roomconfig</value></field>{xs}</x></query>")

    def invite_mediated(self, room: str, jid: str):
        """XEP-0045 invitation, sent through the room."""
        self.send_raw(f"<message xmlns='jabber:client' to={quoteattr(room)}>"
                      f"<x xmlns='{NS_MUC_USER}'><invite to={quoteattr(jid)}>"
                      f"<reason>test</reason></invite></x></message>")

    def invite_direct(self, room: str, jid: str):
        """XEP-0249 direct invitation."""
        self.send_raw(f"<message xmlns='jabber:client' to={quoteattr(jid)}>"
                      f"<x xmlns='jabber:x:conference' jid={quoteattr(room)}"
                      f" reason='test'/></message>")

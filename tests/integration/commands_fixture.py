"""A small harness for the chat-command tests and benchmark, on top of the
shared Prosody harness (prosody.py: a private Prosody on free loopback
ports with TLS and a self-signed certificate, and a MUC component
conference.localhost):

- Chat: a slixmpp client run on its own asyncio loop in a thread, with a
  blocking API for tests: send in a room, privately or directly, and wait
  for messages matching a predicate.
- Fisbot: the real fisbot binary (FISBOT_BIN) with its own share, database
  and configuration, connected to that Prosody.

Only loopback addresses are used.
"""
import asyncio
import os
import queue
import signal
import socket
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import slixmpp

from prosody import DOMAIN, MUC, Prosody, free_port  # noqa: F401

FISBOT_BIN = os.environ.get("FISBOT_BIN", "fisbot")
PLUGIN_DIR = os.environ.get("FISBOT_PLUGIN_DIR", "")
PASSWORD = "secret"


def account(server: Prosody, user: str) -> str:
    """Creates user@localhost on server; returns the bare JID."""
    server.register(user, PASSWORD)
    return f"{user}@{DOMAIN}"


def wait_port(port: int, timeout: float = 10.0, proc=None) -> None:
    """Waits until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class Message:
    """One message the client received."""

    def __init__(self, msg):
        self.type = msg["type"]
        self.frm = str(msg["from"])
        self.bare = msg["from"].bare
        self.resource = msg["from"].resource
        self.body = msg["body"]
        self.xml = str(msg)
        oob = msg.xml.find("{jabber:x:oob}x")
        self.oob_url = None
        self.oob_desc = None
        if oob is not None:
            url = oob.find("{jabber:x:oob}url")
            desc = oob.find("{jabber:x:oob}desc")
            self.oob_url = url.text if url is not None else None
            self.oob_desc = desc.text if desc is not None else None
        self.file_sharing = msg.xml.find(
            "{urn:xmpp:sfs:0}file-sharing")
        self.delayed = msg.xml.find("{urn:xmpp:delay}delay") is not None

    def lines(self):
        return self.body.split("\n")

    def __repr__(self):
        return f"<{self.type} from {self.frm}: {self.body!r}>"


class Chat:
    """A slixmpp client with a blocking API, on its own thread."""

    def __init__(self, jid: str, server: Prosody):
        self.jid = jid
        self.inbox = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       daemon=True)
        self.thread.start()
        self.xmpp = self._call(self._make(jid, PASSWORD, server.ca_file))
        ready = threading.Event()
        self.xmpp.add_event_handler("session_start",
                                    lambda _: ready.set())
        self.xmpp.add_event_handler("message", self._on_message)
        self.loop.call_soon_threadsafe(
            lambda: self.xmpp.connect(("127.0.0.1", server.port)))
        if not ready.wait(20):
            raise TimeoutError(f"{jid} could not log in")

    async def _make(self, jid, password, ca_file):
        x = slixmpp.ClientXMPP(jid, password)
        if ca_file:
            x.ca_certs = str(ca_file)
        else:
            x.enable_starttls = False
        x.register_plugin("xep_0030")
        x.register_plugin("xep_0045")
        x.register_plugin("xep_0199")

        async def start(_):
            x.send_presence()
        x.add_event_handler("session_start", start)
        return x

    def _call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def _on_message(self, msg):
        if msg["type"] != "error" and msg["body"] == "":
            return  # subjects, chat states, receipts
        self.inbox.put(Message(msg))

    def join(self, room: str, nick: str) -> None:
        async def go():
            await self.xmpp.plugin["xep_0045"].join_muc_wait(
                room, nick, maxstanzas=0, timeout=20)
        self._call(go())

    def occupants(self, room: str):
        return self.xmpp.plugin["xep_0045"].get_roster(room) or []

    def send(self, to: str, body: str, mtype: str = "chat") -> None:
        self.loop.call_soon_threadsafe(
            lambda: self.xmpp.send_message(mto=to, mbody=body,
                                           mtype=mtype))

    def room(self, room: str, body: str) -> None:
        self.send(room, body, "groupchat")

    def drain(self) -> list:
        out = []
        while True:
            try:
                out.append(self.inbox.get_nowait())
            except queue.Empty:
                return out

    def wait(self, pred=lambda m: True, timeout: float = 10.0) -> Message:
        """Returns the next message matching pred (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching message")
            try:
                m = self.inbox.get(timeout=left)
            except queue.Empty:
                raise TimeoutError("no matching message") from None
            if pred(m):
                return m

    def collect(self, seconds: float, pred=lambda m: True) -> list:
        """Returns every message matching pred within seconds."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                m = self.inbox.get(timeout=left)
            except queue.Empty:
                return out
            if pred(m):
                out.append(m)

    def close(self) -> None:
        async def bye():
            self.xmpp.disconnect()
            await asyncio.sleep(0.2)
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
        try:
            self._call(bye(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


class Fisbot:
    """The real fisbot with its own share, connected to prosody."""

    def __init__(self, root: Path, prosody: Prosody, user: str,
                 rooms=(), nick: str = "fisbot", extra: str = "",
                 share=None, database=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.share = Path(share) if share else self.root / "share"
        self.share.mkdir(exist_ok=True)
        database = database or self.root / "fisbot.db"
        self.jid = account(prosody, user)
        self.nick = nick
        self.http_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        # The plugins under test (and help), not every shipped one.
        plugins = "load = help, browse, search, get, stats, announce\n"
        if PLUGIN_DIR:
            plugins += f"path = {PLUGIN_DIR}\n"
        self.config = self.root / "fisbot.conf"
        self.log = self.root / "fisbot.log"
        self.config.write_text(textwrap.dedent(f"""\
            [xmpp]
            jid = {self.jid}
            password = {PASSWORD}
            server = 127.0.0.1:{prosody.port}
            {f"ca_file = {prosody.ca_file}" if prosody.ca_file
             else "tls = disabled"}
            nick = {nick}
            rooms = {", ".join(rooms)}

            [share]
            path = {self.share}
            database = {database}
            settle = 100ms

            [http]
            listen = 127.0.0.1:{self.http_port}
            base_url = {self.base_url}

            """) + "[plugins]\n" + plugins + textwrap.dedent(extra))
        self.proc = None

    def start(self, timeout: float = 20) -> "Fisbot":
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([FISBOT_BIN, "-c", str(self.config)],
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        wait_port(self.http_port, timeout, self.proc)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

"""Descriptions are searchable end to end: an admin's `describe`, then a
chat `search WORD` (a word of the description, not of the path) and
`search desc:WORD` find the file, and so does the XMPP search form (its
`name` field, a word, and its `desc` field). A description removed is no
longer found."""
import re
import time
from xml.sax.saxutils import escape, quoteattr

import pytest

from fisbot_proc import FisbotProc, PLUGIN_DIR
from prosody import Prosody
from xmpp_client import Client

MUC = "conference.localhost"
ROOM = f"descs@{MUC}"
BOT_JID = "descbot@localhost"
SEARCH = "jabber:iq:search"
DATA = "jabber:x:data"
EXTRA = f"""
    [plugins]
    {f"path = {PLUGIN_DIR}" if PLUGIN_DIR else ""}
    load = help, admin, search, fis

    [admins]
    jids = alice@localhost

    [limits]
    burst = 1000
    rate = 1000/m
    """


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"))
    p.register("descbot", "secret")
    p.register("alice", "pw")
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def env(server, tmp_path_factory):
    """The bot in ROOM with two files, alice there too; yields (alice,
    the bot's full JID)."""
    folder = tmp_path_factory.mktemp("descbot")
    bot = FisbotProc(server, folder, rooms=[ROOM], user="descbot",
                     extra=EXTRA)
    # FisbotProc names plugins of its own when PLUGIN_DIR is set: keep
    # only this test's [plugins] section.
    text = bot.config.read_text()
    text = re.sub(r"\n\[plugins\]\npath = [^\n]*\nload = help, admin\n",
                  "\n", text, count=1)
    bot.config.write_text(text)
    (bot.share / "music").mkdir()
    (bot.share / "music" / "track01.ogg").write_bytes(b"o" * 5000)
    alice = Client(server, "alice", "pw")
    alice.join(ROOM, "alice")
    mark = alice.mark()
    bot.start()
    alice.occupant_presence(ROOM, "fisbot", since=mark, timeout=30)
    full = None
    late = False
    deadline = time.monotonic() + 60
    while True:
        mark = alice.mark()
        alice.message(BOT_JID, "search track01")
        try:
            m = alice.wait_message(
                lambda m: m.frm.startswith(BOT_JID + "/"), timeout=3,
                since=mark)
            full = m.frm
            if "track01.ogg" in m.body:
                break
        except AssertionError:
            late = True
        assert time.monotonic() < deadline, "track01.ogg never indexed"
        time.sleep(0.3)
    if late:
        time.sleep(3)  # a late answer to an unanswered try
    yield alice, full
    alice.close()
    bot.stop()


def ask(alice, full, body):
    mark = alice.mark()
    alice.message(BOT_JID, body)
    return alice.wait_message(lambda m: m.frm == full, timeout=10,
                              since=mark).body


def ask_until(alice, full, body, pred, timeout=20):
    """Asks body until the reply satisfies pred (a description is written
    by the indexer after `describe` answers); returns the reply."""
    deadline = time.monotonic() + timeout
    while True:
        reply = ask(alice, full, body)
        if pred(reply) or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def form(**fields):
    fs = "".join(f"<field var={quoteattr(k)}><value>{escape(v)}</value>"
                 "</field>" for k, v in fields.items())
    return (f"<x xmlns='{DATA}' type='submit'><field var='FORM_TYPE' "
            f"type='hidden'><value>{SEARCH}</value></field>{fs}</x>")


def form_paths(alice, full, **fields):
    r = alice.iq(full, "set",
                 f"<query xmlns='{SEARCH}'>{form(**fields)}</query>",
                 timeout=30)
    assert r.type == "result", r
    x = r.find(f"{{{SEARCH}}}query/{{{DATA}}}x")
    out = []
    for item in x.findall(f"{{{DATA}}}item"):
        for f in item.findall(f"{{{DATA}}}field"):
            if f.get("var") == "path":
                out.append(f.find(f"{{{DATA}}}value").text)
    return out


def test_describe_then_search(env):
    alice, full = env
    line = ask(alice, full, "search track01")
    file_id = re.match(r"#(\d+) ", line).group(1)
    assert "no match" in ask(alice, full, "search olympia")
    ask(alice, full, f"describe {file_id} Live at the Olympia")
    ask_until(alice, full, "search desc:olympia", lambda r: "#" in r)
    for words in ("olympia", "OLYMPIA ogg", "desc:olympia",
                  'desc:"the olympia"', "at"):
        body = ask(alice, full, f"search {words}")
        assert f"#{file_id} music/track01.ogg" in body, (words, body)
    assert "no match" in ask(alice, full, "search desc:track01")
    assert form_paths(alice, full, name="olympia") == ["music/track01.ogg"]
    assert form_paths(alice, full, desc="Olympia") == ["music/track01.ogg"]
    assert form_paths(alice, full, desc="track") == []
    # Cleared: no longer found by its old words.
    ask(alice, full, f'describe {file_id} ""')
    assert "no match" in ask_until(alice, full, "search olympia",
                                   lambda r: "no match" in r)
    assert form_paths(alice, full, desc="olympia") == []

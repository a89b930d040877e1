"""File Information Sharing (XEP-0329) and the jabber:iq:search form
(XEP-0055, XEP-0004), both paged with RSM (XEP-0059), against the real bot
on a test Prosody, with raw IQs from a slixmpp
client: listings, one file in full with its SHA-256, flattened paging
through a folder of 1,000 files by cursors and by index, every bad node
and bad RSM, hostile file names, the 64 KiB bound, IQs to the bot's
occupant JID, disco features, the search form, and the per-requester
limit.
"""
import base64
import hashlib
import os
import re
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import pytest

from fisbot_proc import FisbotProc
from prosody import Prosody
from xmpp_client import Client

FIS = "urn:xmpp:fis:0"
FT = "urn:xmpp:jingle:apps:file-transfer:5"
HASHES = "urn:xmpp:hashes:2"
RSM = "http://jabber.org/protocol/rsm"
SEARCH = "jabber:iq:search"
DATA = "jabber:x:data"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
MUC = "conference.localhost"
ROOM = f"fis@{MUC}"
BOT = "fisbot1@localhost/fisbot"
N_BIG = 1000

# Generous limits for the main bot: the tests send hundreds of IQs.
EXTRA = """
    [limits]
    burst = 1000
    rate = 1000/m
    iq_burst = 10000
    iq_rate = 1000/s
    """

# Names with bytes that are not UTF-8, control characters and XML
# specials; what a client sees is their text_sanitize() form.
HOSTILE = {
    b"bad\xff name.txt": "bad\\xFF name.txt",
    b"ctl\x01\x1b.txt": "ctl\\x01\\x1B.txt",
    b"quote\"'<&>.txt": "quote\"'<&>.txt",
    b"back\\slash.txt": "back\\\\slash.txt",
    "ünï ☃.txt".encode(): "ünï ☃.txt",
}


def q(name):
    return f"{{{FIS}}}{name}"


def load_only_fis(bot):
    """Makes bot load the fis plugin alone (FisbotProc may name others)."""
    text = bot.config.read_text()
    if re.search(r"^load\s*=", text, re.M):
        text = re.sub(r"^load\s*=.*$", "load = fis", text, flags=re.M)
    else:
        text += "\n[plugins]\nload = fis\n"
    bot.config.write_text(text)


def make_share(share):
    """Fills the share; returns {display path: sha256 bytes}."""
    files = {}

    def put(rel: bytes, data: bytes, shown: str):
        path = os.path.join(os.fsencode(share), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        files[shown] = hashlib.sha256(data).digest()

    put(b"top.txt", b"top level\n", "top.txt")
    put(b"docs/a.pdf", b"%PDF-1.4 not really\n" * 50, "docs/a.pdf")
    put(b"docs/deep/b.txt", b"deep\n", "docs/deep/b.txt")
    for k in range(N_BIG):
        put(b"big/f%04d.txt" % k, b"file %d\n" % k, "big/f%04d.txt" % k)
    for raw, shown in HOSTILE.items():
        put(b"hostile/" + raw, raw + b"\n", "hostile/" + shown)
    # Long names that expand when escaped: a page of them is over 64 KiB.
    for k in range(120):
        raw = b"%03d-" % k + b"\xfe" * 200
        put(b"long/" + raw, b"%d" % k, "long/%03d-" % k + "\\xFE" * 200)
    return files


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"))
    for user in ("fisbot1", "fisbot2"):
        p.register(user, "secret")
    p.register("alice", "pw")
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def alice(server):
    c = Client(server, "alice", "pw")
    yield c
    c.close()


def wait_catalogued(alice, node, n, timeout=120):
    """Waits until node holds n files, all hashed."""
    deadline = time.monotonic() + timeout
    while True:
        r = fis(alice, node, "<set xmlns='%s'><max>1000</max></set>" % RSM)
        if r.type == "result":
            count = r.find(f"{q('query')}/{{{RSM}}}set/{{{RSM}}}count")
            files = r.findall(f"{q('query')}/{{{FT}}}file")
            hashed = [f for f in files if f.find(f"{{{FT}}}hash") is not None
                      or f.find(f"{{{HASHES}}}hash") is not None]
            if count is not None and int(count.text) == n and \
                    len(hashed) == len(files):
                return
        assert time.monotonic() < deadline, f"{node} never had {n}: {r}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def share_files(server, alice, tmp_path_factory):
    """The bot (in ROOM) with its share; yields {display path: sha256}."""
    folder = tmp_path_factory.mktemp("fisbot1")
    bot = FisbotProc(server, folder, rooms=[ROOM], user="fisbot1",
                     extra=EXTRA)
    load_only_fis(bot)
    os.unlink(bot.share / "hello.txt")
    files = make_share(bot.share)
    alice.join(ROOM, "alice")
    mark = alice.mark()
    bot.start()
    alice.occupant_presence(ROOM, "fisbot", since=mark, timeout=30)
    wait_catalogued(alice, "big", N_BIG)
    wait_catalogued(alice, "hostile", len(HOSTILE))
    wait_catalogued(alice, "long", 120)
    yield files
    bot.stop()


def fis(client, node=None, body="", to=BOT, itype="get"):
    attr = f" node={quoteattr(node)}" if node is not None else ""
    return client.iq(to, itype, f"<query xmlns='{FIS}'{attr}>{body}</query>",
                     timeout=30)


def rsm(**kw):
    parts = []
    for k, v in kw.items():
        parts.append(f"<{k}/>" if v is None else f"<{k}>{v}</{k}>")
    return f"<set xmlns='{RSM}'>{''.join(parts)}</set>"


def error_condition(r):
    assert r.type == "error", r
    err = r.find("{jabber:client}error")
    for child in err:
        if child.tag.startswith(f"{{{STANZAS}}}") and \
                not child.tag.endswith("}text"):
            return child.tag.split("}")[1]
    raise AssertionError(f"no condition in {r}")


def files_of(r):
    """{name: <file/>} of a fis result."""
    out = {}
    for f in r.findall(f"{q('query')}/{{{FT}}}file"):
        name = f.find(f"{{{FT}}}name").text
        assert name not in out, f"{name} twice"
        out[name] = f
    return out


def dirs_of(r):
    return [d.get("name") for d in r.findall(f"{q('query')}/{q('directory')}")]


def rsm_of(r, parent=None):
    s = r.find(f"{parent or q('query')}/{{{RSM}}}set")
    if s is None:
        return None
    out = {}
    for name in ("first", "last", "count"):
        el = s.find(f"{{{RSM}}}{name}")
        if el is not None:
            out[name] = el.text
            if name == "first":
                out["index"] = el.get("index")
    return out


def hash_of(f):
    h = f.find(f"{{{HASHES}}}hash")
    assert h is not None and h.get("algo") == "sha-256"
    return base64.b64decode(h.text)


def size_of(r):
    return len(ET.tostring(r.xml, encoding="utf-8"))


DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_root_folder_and_file(alice, share_files):
    r = fis(alice)
    assert r.type == "result"
    assert sorted(dirs_of(r)) == ["big", "docs", "hostile", "long"]
    files = files_of(r)
    assert list(files) == ["top.txt"]
    assert hash_of(files["top.txt"]) == share_files["top.txt"]

    r = fis(alice, "docs")
    assert r.type == "result"
    assert r.find(q("query")).get("node") == "docs"
    assert dirs_of(r) == ["deep"]
    assert list(files_of(r)) == ["a.pdf"]

    r = fis(alice, "docs/a.pdf")
    assert r.type == "result"
    (f,) = files_of(r).values()
    assert f.find(f"{{{FT}}}name").text == "a.pdf"
    assert f.find(f"{{{FT}}}size").text == str(len(b"%PDF-1.4 not really\n"
                                                    * 50))
    assert DATE.match(f.find(f"{{{FT}}}date").text)
    assert f.find(f"{{{FT}}}media-type").text
    assert hash_of(f) == share_files["docs/a.pdf"]


def test_every_hash_matches(alice, share_files):
    """Every file of the share, flattened from the root, with its
    SHA-256 as Python computes it."""
    seen, after = {}, None
    while True:
        body = rsm(max=100, after=after) if after else rsm(max=100)
        r = fis(alice, None, body)
        assert r.type == "result"
        page = files_of(r)
        if not page:
            break
        for name, f in page.items():
            seen[name] = hash_of(f)
        after = rsm_of(r)["last"]
    assert seen == share_files


@pytest.mark.parametrize("node", [
    "..", "../etc", "docs/..", "docs/../docs", "/etc/passwd", "/docs", "",
    "docs/", "./docs", "docs//a.pdf", "x" * 4096, "d/" * 2100, "nope",
    "docs/nope.pdf", "bad\\xFF", "\\x41", "\\q", "top.txt/x",
])
def test_bad_nodes(alice, share_files, node):
    assert error_condition(fis(alice, node)) == "item-not-found"


@pytest.mark.parametrize("by", ["after", "index"])
def test_page_through_1000(alice, share_files, by):
    names, after, index = [], None, 0
    for _ in range(N_BIG):
        if by == "after":
            body = rsm(max=100, after=after) if after else rsm(max=100)
        else:
            body = rsm(max=100, index=index)
        r = fis(alice, "big", body)
        assert r.type == "result"
        page = files_of(r)
        assert dirs_of(r) == []
        s = rsm_of(r)
        assert s["count"] == str(N_BIG)
        if not page:
            assert "first" not in s
            break
        assert int(s["index"]) == len(names)
        names += list(page)
        for name, f in page.items():
            assert hash_of(f) == share_files[name]
        after, index = s["last"], index + len(page)
    assert names == sorted(share_files_under(share_files, "big/"))
    assert len(set(names)) == N_BIG


def share_files_under(files, prefix):
    return [n for n in files if n.startswith(prefix)]


def test_rsm_edges(alice, share_files):
    # Without RSM: cut to the page limit, and says so.
    r = fis(alice, "big")
    assert len(files_of(r)) == 100
    assert rsm_of(r)["count"] == str(N_BIG)

    # max=0: only the count.
    r = fis(alice, "big", rsm(max=0))
    assert r.type == "result" and files_of(r) == {}
    assert rsm_of(r) == {"count": str(N_BIG)}

    # A huge max is capped.
    r = fis(alice, "big", rsm(max="99999999999999999999999"))
    assert r.type == "result" and len(files_of(r)) == 100

    # The last page, then the page before it.
    r = fis(alice, "big", rsm(max=10, before=None))
    assert list(files_of(r)) == ["big/f%04d.txt" % k for k in range(990, 1000)]
    assert rsm_of(r)["index"] == "990"
    r = fis(alice, "big", rsm(max=10, before=rsm_of(r)["first"]))
    assert list(files_of(r)) == ["big/f%04d.txt" % k for k in range(980, 990)]

    # Garbage RSM.
    for body in (rsm(max="ten"), rsm(max="-1"), rsm(index="x"),
                 rsm(after=1, before=2), rsm(index=1, after=2),
                 f"<set xmlns='{RSM}'><max>1</max><max>2</max></set>"):
        assert error_condition(fis(alice, "big", body)) == "bad-request"

    # Stale and foreign cursors.
    r = fis(alice, "docs", rsm(max=1))
    foreign = rsm_of(r)["first"]
    for cursor in (foreign, "999999999", "abc", "0"):
        assert error_condition(fis(alice, "big", rsm(after=cursor))) == \
            "item-not-found"
        assert error_condition(fis(alice, "big", rsm(before=cursor))) == \
            "item-not-found"

    # An index past the end: an empty page with the count.
    r = fis(alice, "big", rsm(index=5000))
    assert files_of(r) == {} and rsm_of(r)["count"] == str(N_BIG)


def test_hostile_names(alice, share_files):
    r = fis(alice, "hostile")
    assert r.type == "result"
    names = set(files_of(r))
    assert names == {shown for shown in HOSTILE.values()}
    # A name as shown is a node that finds the file.
    for shown in HOSTILE.values():
        r = fis(alice, "hostile/" + shown)
        assert r.type == "result", shown
        (f,) = files_of(r).values()
        assert hash_of(f) == share_files["hostile/" + shown]
    # The stream survived all of it.
    assert alice.iq(BOT, "get", "<ping xmlns='urn:xmpp:ping'/>").type == \
        "result"


def test_no_stanza_over_64k(alice, share_files):
    """A page of 100 long escaped names is over 64 KiB: it is cut, and
    paging still returns every file once."""
    r = fis(alice, "long")
    assert r.type == "result"
    assert size_of(r) < 65536
    assert len(files_of(r)) < 100
    assert rsm_of(r)["count"] == "120"

    names, after = [], None
    while True:
        r = fis(alice, "long", rsm(max=100, after=after) if after
                else rsm(max=100))
        assert r.type == "result" and size_of(r) < 65536
        page = files_of(r)
        if not page:
            break
        assert len(page) < 100
        names += list(page)
        after = rsm_of(r)["last"]
    assert sorted(names) == sorted(share_files_under(share_files, "long/"))


def test_occupant_jid(alice, share_files):
    r = fis(alice, "docs/a.pdf", to=f"{ROOM}/fisbot")
    assert r.type == "result"
    (f,) = files_of(r).values()
    assert hash_of(f) == share_files["docs/a.pdf"]
    r = fis(alice, "big", rsm(max=5), to=f"{ROOM}/fisbot")
    assert len(files_of(r)) == 5
    r = alice.iq(f"{ROOM}/fisbot", "get", f"<query xmlns='{SEARCH}'/>")
    assert r.type == "result"


def test_disco_features(alice, share_files):
    info = alice.iq(BOT, "get",
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>")
    ns = "{http://jabber.org/protocol/disco#info}"
    feats = [f.get("var") for f in info.findall(f"{ns}query/{ns}feature")]
    for f in (FIS, SEARCH, RSM, HASHES):
        assert f in feats
    assert len(feats) == len(set(feats)), feats


def form(**fields):
    fs = "".join(f"<field var={quoteattr(k.replace('_', '-'))}><value>"
                 f"{escape(v)}</value></field>" for k, v in fields.items())
    return (f"<x xmlns='{DATA}' type='submit'><field var='FORM_TYPE' "
            f"type='hidden'><value>{SEARCH}</value></field>{fs}</x>")


def search(client, body, to=BOT):
    return client.iq(to, "set", f"<query xmlns='{SEARCH}'>{body}</query>",
                     timeout=30)


def items_of(r):
    x = r.find(f"{{{SEARCH}}}query/{{{DATA}}}x")
    assert x.get("type") == "result"
    cols = [f.get("var") for f in
            x.findall(f"{{{DATA}}}reported/{{{DATA}}}field")]
    assert cols == ["id", "path", "size", "date", "sha-256", "url"]
    out = []
    for item in x.findall(f"{{{DATA}}}item"):
        row = {}
        for f in item.findall(f"{{{DATA}}}field"):
            row[f.get("var")] = f.find(f"{{{DATA}}}value").text
        out.append(row)
    return out


def test_search_form(alice, share_files):
    r = alice.iq(BOT, "get", f"<query xmlns='{SEARCH}'/>")
    assert r.type == "result"
    x = r.find(f"{{{SEARCH}}}query/{{{DATA}}}x")
    assert x.get("type") == "form"
    assert r.find(f"{{{SEARCH}}}query/{{{SEARCH}}}instructions") is not None
    fields = {f.get("var"): f.get("type")
              for f in x.findall(f"{{{DATA}}}field")}
    assert fields["FORM_TYPE"] == "hidden"
    assert {"name", "desc", "type", "regex", "min-size", "max-size"} <= \
        set(fields)

    r = search(alice, form(name="f0099"))
    assert r.type == "result"
    rows = items_of(r)
    assert [row["path"] for row in rows] == ["big/f0099.txt"]
    row = rows[0]
    assert bytes.fromhex(row["sha-256"]) == share_files["big/f0099.txt"]
    assert row["url"].startswith("http://127.0.0.1:8080/f/")
    assert row["size"] == str(len(b"file 99\n"))
    assert DATE.match(row["date"])

    # The fields combine: a regex and sizes.
    r = search(alice, form(regex="f00[0-4][0-9]\\.txt$", min_size="8",
                           max_size="8"))
    paths = sorted(row["path"] for row in items_of(r))
    assert paths == ["big/f%04d.txt" % k for k in range(10, 50)]

    # Bad values.
    for body in (form(min_size="lots"), form(regex="(("),
                 form(name='"open'), form(colour="red"), form(type="a b"),
                 "", form(name="x") + rsm(max="x")):
        r = search(alice, body)
        assert error_condition(r) == "bad-request", body
        assert r.find(f"{{jabber:client}}error/{{{STANZAS}}}text") \
            is not None or body == ""

    # Paging through 1000 matches with RSM, each exactly once.
    ids, after = [], None
    while True:
        body = form(name="big/") + (rsm(max=100, after=after) if after
                                    else rsm(max=100))
        r = search(alice, body)
        assert r.type == "result"
        assert size_of(r) < 65536
        rows = items_of(r)
        if not rows:
            break
        ids += [row["id"] for row in rows]
        after = rsm_of(r, f"{{{SEARCH}}}query")["last"]
    assert len(ids) == N_BIG and len(set(ids)) == N_BIG

    r = search(alice, form(name="big/") + rsm(after="999999999"))
    assert error_condition(r) == "item-not-found"
    # max=0: the count (the catalogue caps it: then a lower bound).
    r = search(alice, form(name="big/") + rsm(max=0))
    assert items_of(r) == []
    assert 0 < int(rsm_of(r, f"{{{SEARCH}}}query")["count"]) <= N_BIG
    # The last page is the real end of the matches.
    r = search(alice, form(name="big/") + rsm(max=10, before=None))
    s = rsm_of(r, f"{{{SEARCH}}}query")
    assert len(items_of(r)) == 10
    assert s["count"] == str(N_BIG) and s["index"] == str(N_BIG - 10)
    assert [row["id"] for row in items_of(r)] == ids[-10:]


def test_per_requester_limit(server, alice, tmp_path):
    """A bot with a tight IQ budget refuses a flood of fis IQs from one
    requester with wait errors, themselves capped, never a crash."""
    bot = FisbotProc(server, tmp_path / "fisbot2", user="fisbot2",
                     extra="""
                     [limits]
                     iq_burst = 3
                     iq_rate = 1/m
                     """)
    load_only_fis(bot)
    bot.start()
    jid = "fisbot2@localhost/fisbot"
    deadline = time.monotonic() + 30
    while True:
        r = alice.iq(jid, "get", "<ping xmlns='urn:xmpp:ping'/>")
        if r.type == "result":
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    try:
        # The ping took one of the 3; 10 queries at once: 2 answered, 3
        # refused (the error cap is iq_burst a minute), 5 dropped.
        mark = alice.mark()
        for i in range(10):
            alice.send_raw(f"<iq xmlns='jabber:client' type='get' "
                           f"id='lim{i}' to='{jid}'><query xmlns='{FIS}'/>"
                           "</iq>")

        def lim_answers():
            with alice.cond:
                return [s for s in alice.received[mark:] if s.kind == "iq"
                        and s.id.startswith("lim")]
        deadline = time.monotonic() + 30
        while len(lim_answers()) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # nothing more comes
        got = lim_answers()
        ok = [r for r in got if r.type == "result"]
        refused = [r for r in got if r.type == "error"]
        assert len(ok) == 2, got
        assert len(refused) == 3, got
        for r in refused:
            err = r.find("{jabber:client}error")
            assert err.get("type") == "wait"
            assert err.find(f"{{{STANZAS}}}resource-constraint") is not None
        # The bot is alive: someone else is answered.
        server.register("bob", "pw")
        bob = Client(server, "bob", "pw")
        try:
            assert bob.iq(jid, "get", "<ping xmlns='urn:xmpp:ping'/>") \
                .type == "result"
        finally:
            bob.close()
    finally:
        assert bot.stop() == 0

"""File names that could fake another name or a line, against
the real bot in Prosody: a right-to-left override (U+202E) turns
"evil\u202egpj.exe" into what a client displays as "evilexe.jpg", a line
separator (U+2028) starts a new line in many clients, zero-width and
isolate characters hide in a name. In chat (search, list, info) and in
fis listings (XEP-0329) the bot shows them escaped as \\u{202E}, so what
a person reads is what is there; a fis node with the escape finds the file
again, and a search for the escape as shown finds it too. U+202F (a
narrow no-break space, right after the range) is shown as it is.
"""
import re
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from commands_fixture import Chat, Fisbot, Prosody, account
from xmpp_client import Client

FIS = "urn:xmpp:fis:0"
FT = "urn:xmpp:jingle:apps:file-transfer:5"

# Raw name: what every place shows.
NAMES = {
    "evil\u202egpj.exe": "evil\\u{202E}gpj.exe",
    "line\u2028two.txt": "line\\u{2028}two.txt",
    "para\u2029graph.txt": "para\\u{2029}graph.txt",
    "zw\u200bspace\u200d.txt": "zw\\u{200B}space\\u{200D}.txt",
    "bom\ufeff.txt": "bom\\u{FEFF}.txt",
    "iso\u2066late\u2069.txt": "iso\\u{2066}late\\u{2069}.txt",
    "lre\u202aembed\u202c.txt": "lre\\u{202A}embed\\u{202C}.txt",
    "narrow\u202fspace.txt": "narrow\u202fspace.txt",
}

# What must never reach a client as it is.
DECEPTIVE = re.compile("[\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")

LIMITS = """
[limits]
burst = 1000
rate = 1000000/s
"""


class Env:
    """One Prosody, one bot (with the fis plugin) whose share holds NAMES
    in names/, alice in chat and bob for raw IQs."""

    def __init__(self, root: Path):
        self.prosody = Prosody(root / "prosody").start()
        self.bot = Fisbot(root / "bot", self.prosody, "bot", extra=LIMITS)
        text = self.bot.config.read_text()
        text = re.sub(r"^load = (.*)$", r"load = \1, fis", text, flags=re.M)
        self.bot.config.write_text(text)
        folder = self.bot.share / "names"
        folder.mkdir()
        for i, raw in enumerate(NAMES):
            (folder / raw).write_bytes(b"x" * (10 + i))
        self.alice = self.bob = None
        try:
            self.bot.start()
            self.alice = Chat(account(self.prosody, "alice"), self.prosody)
            account(self.prosody, "bob")
            self.bob = Client(self.prosody, "bob", "secret")
            self.wait_indexed()
        except BaseException:
            self.close()
            raise

    def direct(self, body: str, timeout=10):
        self.alice.drain()
        self.alice.send(self.bot.jid, body)
        return self.alice.wait(
            lambda m: m.bare == self.bot.jid and m.type == "chat", timeout)

    def fis(self, node: str):
        return self.bob.iq(f"{self.bot.jid}/fisbot", "get",
                           f"<query xmlns='{FIS}' node={quoteattr(node)}/>",
                           timeout=20)

    def wait_indexed(self, timeout=60) -> None:
        """Waits until the bot answers and lists every name (a message
        sent before it is online would come back delayed, and ignored)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = self.direct("list names", timeout=3).body
            except TimeoutError:
                body = "(no answer yet)"
            if len(file_lines(body)) == len(NAMES):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not indexed: {body!r}")
            time.sleep(0.3)

    def close(self) -> int:
        if self.alice is not None:
            self.alice.close()
        if self.bob is not None:
            self.bob.close()
        rc = self.bot.stop()
        self.prosody.stop()
        return rc


def file_lines(body: str):
    """The paths of the "#ID path (size)" lines of a reply."""
    out = []
    for line in body.split("\n"):
        m = re.fullmatch(r"#(\d+) (.*) \([0-9.]+ (?:B|KiB|MiB)\)", line)
        if m:
            out.append(m.group(2))
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("names"))
    yield e
    assert e.bot.alive(), e.bot.log_text()
    assert e.close() == 0


def test_chat_shows_escapes(env):
    want = sorted("names/" + shown for shown in NAMES.values())
    for command in ("list names", "search names", "search /^names//"):
        m = env.direct(command)
        assert not DECEPTIVE.search(m.body), (command, m.body)
        assert not DECEPTIVE.search(m.xml), (command, m.xml)
        assert sorted(file_lines(m.body)) == want, (command, m.body)
    # One name, found by a word, and by its escape as shown.
    for command in ("search gpj", "search evil\\u{202E}gpj",
                    'search "\\u{202e}"'):
        m = env.direct(command)
        assert file_lines(m.body) == ["names/evil\\u{202E}gpj.exe"], \
            (command, m.body)
    # info shows the path the same way.
    fid = re.match(r"#(\d+) ", env.direct("search gpj").body).group(1)
    body = env.direct(f"info {fid}").body
    assert "path: names/evil\\u{202E}gpj.exe" in body.split("\n"), body
    assert not DECEPTIVE.search(body)


def test_fis_shows_escapes(env):
    r = env.fis("names")
    assert r.type == "result", r
    raw = repr(r)
    assert not DECEPTIVE.search(raw), raw
    names = sorted(f.find(f"{{{FT}}}name").text
                   for f in r.findall(f"{{{FIS}}}query/{{{FT}}}file"))
    assert names == sorted(NAMES.values())
    # The escaped form is the node of the file: it finds it again.
    for shown in NAMES.values():
        r = env.fis("names/" + shown)
        assert r.type == "result", (shown, r)
        (f,) = r.findall(f"{{{FIS}}}query/{{{FT}}}file")
        assert f.find(f"{{{FT}}}name").text == shown
    # Not the raw character, nor another spelling of the escape.
    for node in ("names/evil\u202egpj.exe", "names/evil\\u{202e}gpj.exe",
                 "names/evil\\u202Egpj.exe"):
        r = env.fis(node)
        assert r.type == "error", (node, r)

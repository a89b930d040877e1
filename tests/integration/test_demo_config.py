"""The demo is the example: scripts/demo runs fisbot with
examples/demo/fisbot.conf, only its ports and paths changed
(scripts/democonf.py). Here that configuration is made the same way for a
test Prosody; every other key is the example's, `fisbot -n` accepts it,
and the bot started with it does what the example configures: it joins
the example's room, announces a new file there, and hands `upload` URLs to
users of the demo's domain.
"""
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fisbot_proc import FISBOT_BIN, PLUGIN_DIR
from prosody import Prosody, free_port
from xmpp_client import Client

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "scripts"))
from democonf import demo_keys, override  # noqa: E402

EXAMPLE = TOP / "examples" / "demo" / "fisbot.conf"


def keys_of(text):
    """{(section, key): value} of an INI text, comments dropped."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        m = re.fullmatch(r"\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
        elif "=" in line:
            k, v = line.split("=", 1)
            out[(section, k.strip())] = v.strip()
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Prosody(tmp_path_factory.mktemp("prosody"))
    for user, pw in (("fisbot", "fisbot-demo"), ("demo", "demo")):
        p.register(user, pw)
    p.start()
    yield p
    p.stop()


def test_only_ports_and_paths_differ(tmp_path):
    keys = demo_keys(5999, tmp_path / "ca.pem", tmp_path / "share", tmp_path,
                     6000, tmp_path / "plugins")
    made = keys_of(override(EXAMPLE.read_text(), keys))
    example = keys_of(EXAMPLE.read_text())
    changed = {(s, k) for s, ks in keys.items() for k in ks}
    for key, value in example.items():
        if key not in changed:
            assert made[key] == value, key
    for (s, k) in changed:
        assert made[(s, k)] == str(keys[s][k])
    assert set(made) == set(example) | changed


def test_the_demo_does_what_the_example_says(server, tmp_path):
    share = tmp_path / "share"
    shutil.copytree(TOP / "examples" / "share", share)
    http_port = free_port()
    plugins = Path(PLUGIN_DIR) if PLUGIN_DIR else TOP / "build" / "plugins"
    conf = tmp_path / "fisbot.conf"
    conf.write_text(override(EXAMPLE.read_text(), demo_keys(
        server.port, server.ca_file, share, tmp_path, http_port, plugins)))
    check = subprocess.run([FISBOT_BIN, "-n", "-c", str(conf)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "configuration OK" in check.stdout

    room = "files@conference.localhost"
    demo = Client(server, "demo", "demo")
    log = open(tmp_path / "fisbot.log", "wb")
    bot = subprocess.Popen([FISBOT_BIN, "-c", str(conf)], stderr=log)
    try:
        # The example's room, joined by the bot (from its own presence,
        # whoever comes first).
        demo.join(room, "demo")
        demo.occupant_presence(room, "fisbot", timeout=30)
        # The first build of the catalogue is over (a file found during it
        # is not announced): search no longer says "still indexing".
        deadline = time.monotonic() + 60
        while True:
            mark = demo.mark()
            demo.message("fisbot@localhost", "search demo")
            m = demo.wait_message(lambda m: m.frm.startswith("fisbot@"),
                                  15, mark)
            if not m.body.startswith("still indexing"):
                break
            assert time.monotonic() < deadline, m.body
            time.sleep(0.3)
        # Announcements are on in the example ([announce] batch 5s).
        mark = demo.mark()
        (share / "new-in-demo.txt").write_text("hello demo\n")
        m = demo.wait_message(lambda m: m.frm.startswith(room) and
                              "new-in-demo.txt" in m.body, 30, mark)
        assert m.body.startswith("1 new file: #")
        # Uploads are on for the demo's domain.
        mark = demo.mark()
        demo.message("fisbot@localhost", "upload notes.txt 1K")
        m = demo.wait_message(lambda m: m.frm.startswith("fisbot@"), 15,
                              mark)
        assert m.body.startswith("PUT exactly 1.0 KiB"), m.body
        assert f"http://127.0.0.1:{http_port}/u/" in m.body
    finally:
        demo.close()
        bot.terminate()
        bot.wait(15)
        log.close()

"""`cmake --install` of this build: into a temporary prefix, the binary,
the plugins, the public headers and fisbot.pc, the man pages, the systemd
unit and the reference configuration, and nothing outside the prefix; the
example plugin (examples/plugin) built alone against that installation
with pkg-config, and loaded and answering in the installed bot."""
import os
import subprocess
from pathlib import Path

import pytest

import fisbot_proc
from fisbot_proc import FisbotProc
from prosody import Prosody
from xmpp_client import Client

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("FISBOT_BUILD_DIR", ROOT / "build"))
SHIPPED = ["admin", "announce", "browse", "fis", "get", "help", "search",
           "stats", "upload"]


def run(*cmd, **kw):
    """Runs cmd, failing the test with its output if it fails."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       timeout=300, **kw)
    assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
    return r.stdout


def libdir(prefix: Path) -> Path:
    """The installed libdir (lib, or a multiarch lib/TRIPLET)."""
    found = sorted(prefix.glob("lib*/**/fisbot/help.so"))
    assert found, sorted(str(p) for p in prefix.rglob("*"))
    return found[0].parent.parent


def files_under(top: Path):
    """Every file and symlink under top, relative to it."""
    return sorted(p.relative_to(top) for p in top.rglob("*")
                  if p.is_file() or p.is_symlink())


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """This build installed with --prefix into a temporary folder."""
    p = tmp_path_factory.mktemp("install") / "prefix"
    run("cmake", "--install", BUILD, "--prefix", p)
    return p


def test_installed_files(prefix):
    lib = libdir(prefix)
    expect = [prefix / "bin" / "fisbot",
              prefix / "include" / "fisbot" / "fisbot_plugin.h",
              prefix / "include" / "fisbot" / "fisbot_export.h",
              lib / "pkgconfig" / "fisbot.pc",
              prefix / "share" / "man" / "man8" / "fisbot.8",
              prefix / "share" / "man" / "man5" / "fisbot.conf.5",
              prefix / "lib" / "systemd" / "system" / "fisbot.service",
              prefix / "share" / "doc" / "fisbot" / "fisbot.conf"]
    expect += [lib / "fisbot" / f"{name}.so" for name in SHIPPED]
    for path in expect:
        assert path.is_file(), path
    assert os.access(prefix / "bin" / "fisbot", os.X_OK)
    # Every header plugins may include is there.
    for h in (ROOT / "include" / "fisbot").glob("*.h"):
        assert (prefix / "include" / "fisbot" / h.name).is_file(), h.name
    # The reference configuration, as shipped, validates where installed.
    out = run(prefix / "bin" / "fisbot", "-n", "-c",
              prefix / "share" / "doc" / "fisbot" / "fisbot.conf")
    assert out.strip() == "configuration OK"


def test_manifest_inside_prefix(prefix):
    """What the install wrote (CMake's manifest) is under the prefix."""
    manifest = (BUILD / "install_manifest.txt").read_text().split("\n")
    written = [line for line in manifest if line]
    assert len(written) >= 20, written
    for path in written:
        assert Path(path).resolve().is_relative_to(prefix.resolve()), path


def test_destdir_holds_only_the_prefix(tmp_path):
    """With DESTDIR every destination shows: all of them are inside the
    prefix (none absolute, like /etc or /lib/systemd)."""
    dest = tmp_path / "dest"
    run("cmake", "--install", BUILD, "--prefix", "/opt/fisbot-prefix",
        env={**os.environ, "DESTDIR": str(dest)})
    files = files_under(dest)
    assert len(files) >= 20, files
    outside = [f for f in files if f.parts[:2] != ("opt", "fisbot-prefix")]
    assert outside == [], outside


def test_pkg_config(prefix):
    env = {**os.environ, "PKG_CONFIG_PATH": str(libdir(prefix) / "pkgconfig")}
    cflags = run("pkg-config", "--cflags", "fisbot", env=env).split()
    inc = [f[2:] for f in cflags if f.startswith("-I")]
    assert any(Path(i).resolve() == (prefix / "include" / "fisbot").resolve()
               for i in inc), cflags
    assert "-fvisibility=hidden" in cflags
    plugindir = run("pkg-config", "--variable=plugindir", "fisbot",
                    env=env).strip()
    assert Path(plugindir).resolve() == (libdir(prefix) / "fisbot").resolve()


@pytest.fixture
def server(tmp_path):
    p = Prosody(tmp_path / "prosody")
    p.register("bot", "secret")
    p.register("alice", "pw")
    p.start()
    yield p
    p.stop()


def test_example_plugin_against_installed(prefix, server, tmp_path,
                                          monkeypatch):
    """examples/plugin built alone with the installed fisbot.pc, installed
    into the installed plugin folder, loaded by the installed bot."""
    env = {**os.environ, "PKG_CONFIG_PATH": str(libdir(prefix) / "pkgconfig")}
    build = tmp_path / "build-ping"
    run("cmake", "-S", ROOT / "examples" / "plugin", "-B", build, env=env)
    run("cmake", "--build", build, env=env)
    run("cmake", "--install", build, env=env)
    plugindir = libdir(prefix) / "fisbot"
    assert (plugindir / "ping.so").is_file()

    monkeypatch.setattr(fisbot_proc, "FISBOT_BIN",
                        str(prefix / "bin" / "fisbot"))
    monkeypatch.setattr(fisbot_proc, "PLUGIN_DIR", "")
    bot = FisbotProc(server, tmp_path / "bot", extra=f"""
        [plugins]
        path = {plugindir}
        load = help, ping
        """).start()
    alice = Client(server, "alice", "pw")
    try:
        bot.wait_log("plugin ping loaded from")
        bot.wait_log("connected")
        # Until the bot's presence is through, a message to its bare JID
        # may bounce: ask again.
        for _ in range(10):
            mark = alice.mark()
            alice.message("bot@localhost", "ping hello")
            try:
                reply = alice.wait_message(
                    lambda m: m.frm.startswith("bot@localhost/"), timeout=2,
                    since=mark)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("no answer to ping; log:\n" + bot.log())
        assert reply.body.startswith("pong hello"), reply.body
        assert bot.stop() == 0
    finally:
        alice.close()
        bot.stop()

"""The systemd unit this build installs (packaging/fisbot.service.in, as
configured): `systemd-analyze verify` is clean, `systemd-analyze security`
rates it OK or better, and it has the sandboxing and the notify/reload
wiring a Debian daemon has. Both tools work on unit files without systemd
running; skipped only where systemd-analyze is missing."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("FISBOT_BUILD_DIR", ROOT / "build"))
UNIT = Path(os.environ.get("FISBOT_UNIT",
                           BUILD / "packaging" / "fisbot.service"))
BIN = os.environ.get("FISBOT_BIN", str(BUILD / "bot" / "fisbot"))
ANALYZE = shutil.which("systemd-analyze")

pytestmark = pytest.mark.skipif(ANALYZE is None,
                                reason="systemd-analyze is not installed")


def directives(text):
    """The unit's KEY=VALUE lines, as a list of pairs."""
    return [tuple(line.split("=", 1)) for line in text.splitlines()
            if "=" in line and not line.startswith("#")]


@pytest.fixture
def unit(tmp_path):
    """The configured unit, its ExecStart pointed at this build's binary
    (verify checks that the program exists), and a MANPATH with this
    tree's man pages (verify checks the Documentation= ones)."""
    folder = tmp_path / "units"
    folder.mkdir()
    text = UNIT.read_text()
    text, n = re.subn(r"^ExecStart=\S+", f"ExecStart={BIN}", text,
                      flags=re.M)
    assert n == 1
    path = folder / "fisbot.service"
    path.write_text(text)
    man = tmp_path / "man"
    for section, page in (("8", "fisbot.8"), ("5", "fisbot.conf.5")):
        (man / f"man{section}").mkdir(parents=True)
        shutil.copy(ROOT / "man" / page, man / f"man{section}" / page)
    env = {**os.environ, "MANPATH": str(man), "SYSTEMD_LOG_COLOR": "0",
           "SYSTEMD_PAGER": "cat"}
    return path, env


def test_unit_content():
    d = directives(UNIT.read_text())
    keys = dict(d)
    assert keys["Type"] == "notify"
    assert keys["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert re.match(r"^/\S+/fisbot -c /\S+/fisbot\.conf$", keys["ExecStart"])
    assert keys["User"] == "fisbot" and keys["Group"] == "fisbot"
    assert keys["StateDirectory"] == "fisbot"
    assert keys["ConfigurationDirectory"] == "fisbot"
    for key, value in (("NoNewPrivileges", "yes"),
                       ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                       ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                       ("CapabilityBoundingSet", "")):
        assert keys[key] == value, key
    assert set(keys["RestrictAddressFamilies"].split()) == {
        "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert ("SystemCallFilter", "@system-service") in d


def test_verify(unit):
    path, env = unit
    r = subprocess.run([ANALYZE, "verify", str(path)], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # Warnings about other units of this machine are not ours.
    ours = [line for line in (r.stdout + r.stderr).splitlines()
            if "fisbot" in line]
    assert ours == [], ours


def test_verify_fails_on_a_broken_unit(unit):
    """The check can fail: an unknown program is refused."""
    path, env = unit
    path.write_text(path.read_text().replace(
        f"ExecStart={BIN}", "ExecStart=/nonexistent/fisbot"))
    r = subprocess.run([ANALYZE, "verify", str(path)], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode != 0


def test_security_ok_or_better(unit):
    path, env = unit
    r = subprocess.run([ANALYZE, "security", "--offline=yes",
                        "--threshold=49", str(path)], capture_output=True,
                       text=True, env=env, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"Overall exposure level for fisbot\.service: "
                  r"(\d+\.\d) (\w+)", out)
    assert m, out
    print(f"systemd-analyze security: {m.group(1)} {m.group(2)}")
    assert float(m.group(1)) <= 4.9, out
    assert m.group(2) in ("PERFECT", "SAFE", "OK"), out

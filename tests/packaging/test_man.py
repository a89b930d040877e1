"""The man pages (man/): fisbot.conf(5) describes every key of the
reference configuration (config/fisbot.conf) in its section, fisbot(8)
every chat command (the SPEC's and every name and alias the shipped
plugins register), every command-line command and option, the exit codes,
the signals and the files; groff formats both without a warning."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "config" / "fisbot.conf"
MAN5 = ROOT / "man" / "fisbot.conf.5"
MAN8 = ROOT / "man" / "fisbot.8"

# The chat commands of the SPEC (§6), the admin commands included.
SPEC_COMMANDS = ["help", "list", "search", "@find", "more", "get", "info",
                 "new", "stats", "upload", "queue", "cancel", "web",
                 "rescan", "join", "leave", "describe", "reload"]


def reference_keys():
    """(section, key) for every key of config/fisbot.conf, commented-out
    ones (;password_file = ...) included, except in commented-out
    sections (;[plugin "NAME"])."""
    keys, section = [], None
    for line in CONF.read_text().splitlines():
        m = re.match(r'^(;?)\[([a-z]+)(?: "[^"]*")?\]', line)
        if m:
            section = None if m.group(1) else m.group(2)
            continue
        m = re.match(r"^;?([a-z_]+) *=", line)
        if m and section is not None:
            keys.append((section, m.group(1)))
    return keys


def man_sections(path):
    """The page's .SH sections: {heading: body}."""
    out, heading = {}, None
    for line in path.read_text().splitlines():
        m = re.match(r'^\.SH +"?([^"]*)"?$', line)
        if m:
            heading = m.group(1)
            out[heading] = ""
        elif heading is not None:
            out[heading] += line + "\n"
    return out


def item_heads(body):
    """The first word of each .TP item's tag line, roff escapes removed."""
    heads = re.findall(r"^\.TP\n\.[BI][IR]? +\"?([^\s\"]+)", body, re.M)
    return {h.replace("\\-", "-").replace("\\fR", "").replace("\\fP", "")
            for h in heads}


def test_reference_configuration_has_keys():
    keys = reference_keys()
    assert len(keys) > 60, keys
    assert ("xmpp", "password_file") in keys
    assert ("room", "announce") in keys


def test_every_key_in_fisbot_conf_5():
    sections = man_sections(MAN5)
    missing = []
    for section, key in reference_keys():
        found = [body for heading, body in sections.items()
                 if heading.startswith(f"[{section}]") or
                 heading.startswith(f"[{section} ")]
        if len(found) != 1 or key not in item_heads(found[0]):
            missing.append(f"[{section}] {key}")
    assert missing == [], "not described in fisbot.conf.5: " + \
        ", ".join(missing)


def plugin_commands():
    """Every command name and alias the shipped plugins register."""
    names = set()
    for src in (ROOT / "plugins").rglob("*.c"):
        text = src.read_text()
        names |= set(re.findall(r'\.name = "([a-z]+)"', text))
        for aliases in re.findall(r"_aliases\[\] = \{([^}]*)\}", text):
            names |= set(re.findall(r'"([a-z]+)"', aliases))
    return names


def test_every_command_in_fisbot_8():
    sections = man_sections(MAN8)
    body = sections["CHAT COMMANDS"]
    heads = item_heads(body)
    missing = [c for c in SPEC_COMMANDS if c not in heads]
    assert missing == [], f"not described in fisbot.8: {missing}"
    plugins = plugin_commands()
    assert {"help", "get", "search", "ls"} <= plugins, plugins
    # A name or alias from a plugin is an item, or named in the text.
    missing = [c for c in plugins if c not in heads and
               not re.search(rf"(^\.BR? +|!){c}\b", body, re.M)]
    assert missing == [], f"not described in fisbot.8: {missing}"


def test_fisbot_8_has_the_rest():
    sections = man_sections(MAN8)
    for heading in ("SYNOPSIS", "OPTIONS", "COMMANDS", "SIGNALS",
                    "EXIT STATUS", "FILES", "SEE ALSO"):
        assert heading in sections, heading
    for sub in ("scan", "search", "ls", "info", "url"):
        assert sub in item_heads(sections["COMMANDS"]), sub
    options = sections["OPTIONS"]
    for opt in (r"\-c", r"\-n", r"\-v", r"\-\-version", r"\-h"):
        assert f".B {opt}" in options or f".BR {opt}" in options or \
            f".BI {opt}" in options, opt
    assert item_heads(sections["EXIT STATUS"]) == {"0", "1", "2"}
    signals = sections["SIGNALS"]
    for sig in ("SIGTERM", "SIGINT", "SIGHUP"):
        assert sig in signals, sig
    for path in ("/etc/fisbot/fisbot.conf", "/var/lib/fisbot",
                 "fisbot.service"):
        assert path in sections["FILES"], path


@pytest.mark.parametrize("page", [MAN8, MAN5], ids=lambda p: p.name)
def test_groff_clean(page):
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    if shutil.which("man") is not None:
        r = subprocess.run(["man", "--warnings", "-l", str(page)],
                           capture_output=True, text=True, timeout=60,
                           env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin",
                                "LANG": "C.UTF-8"})
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert "fisbot" in r.stdout


@pytest.mark.parametrize("page", [MAN8, MAN5], ids=lambda p: p.name)
def test_version_is_the_project_version(page):
    """The .TH line names the version CMakeLists.txt builds."""
    version = re.search(r"project\(fisbot VERSION ([0-9.]+)",
                        (ROOT / "CMakeLists.txt").read_text()).group(1)
    th = next(line for line in page.read_text().splitlines()
              if line.startswith(".TH "))
    assert f'"fisbot {version}"' in th, th

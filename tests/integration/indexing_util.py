"""Helpers for the indexing tests: trees of files, `fisbot scan` counts and
the per-file "hashed"/"recorded" debug lines that show what was hashed."""
import os
import re
import subprocess
from pathlib import Path

from conftest_shared import FISBOT_BIN

COUNTS = re.compile(
    r"^added (\d+), changed (\d+), removed (\d+), unchanged (\d+)$")
HASHED = re.compile(r' debug: hashed "(.*)"$')
RECORDED = re.compile(r' debug: recorded "(.*)"$')
FILE_LINE = re.compile(r"^#(\d+) (.*) \(([^()]*)\)$")


def make_files(folder: Path, n: int, prefix: str = "f", size: int = 16):
    """Creates n small files with distinct contents in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = (f"{prefix}{i}:".encode() * size)[:size]
        (folder / f"{prefix}{i:05d}").write_bytes(body)


def scan(bot, *extra):
    """Runs `fisbot scan -v`; returns (counts tuple, hashed paths set,
    stderr text). Fails the test if scan did not succeed."""
    r = bot.run("scan", "-v", *extra)
    out = r.stdout.decode("utf-8")
    err = r.stderr.decode("utf-8")
    assert r.returncode == 0, (r.returncode, out, err)
    lines = out.splitlines()
    assert len(lines) == 1, out
    m = COUNTS.match(lines[0])
    assert m, out
    hashed = set()
    for line in err.splitlines():
        h = HASHED.search(line)
        if h:
            hashed.add(h.group(1))
    return tuple(int(x) for x in m.groups()), hashed, err


def counts(added=0, changed=0, removed=0, unchanged=0):
    """The tuple scan() returns, by name."""
    return (added, changed, removed, unchanged)


def listing(bot, folder=""):
    """Runs `fisbot ls [folder]`; returns (files {path: id}, folders [..],
    raw stdout)."""
    args = ["ls"] + ([folder] if folder else [])
    r = bot.run(*args)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    text = r.stdout.decode("utf-8")
    files, folders = {}, []
    for line in text.splitlines():
        m = FILE_LINE.match(line)
        if m:
            files[m.group(2)] = int(m.group(1))
        elif line.endswith("/"):
            folders.append(line)
    return files, folders, text


def start_scan(bot):
    """Starts `fisbot scan -v` in the background (stderr piped)."""
    cmd = [FISBOT_BIN, "scan", "-c", str(bot.config), "-v"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=os.environ)

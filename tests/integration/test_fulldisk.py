"""A full disk for the database (issue 2: "a clear message and loses
nothing"): the catalogue lives on a small tmpfs that the scan overflows.
`fisbot scan` must fail with a message naming the full disk, leave a
catalogue that opens and passes an integrity check, and converge once the
disk has room again. Needs root (mount); skipped otherwise."""
import os
import shutil
import sqlite3
import subprocess

import pytest

from conftest_shared import Bot, write_config
from indexing_util import listing, scan

NFILES = 4000


def mount(*args):
    """Runs mount with args; returns the CompletedProcess."""
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs at tmp_path/db, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs for the database")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    db = tmp_path / "db"
    db.mkdir()
    r = mount("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(db))
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield db
    finally:
        subprocess.run(["umount", str(db)], check=False)


def test_full_disk_loses_nothing(tmp_path, small_disk):
    bot = Bot(tmp_path)
    bot.config = write_config(tmp_path, f"""
        [xmpp]
        jid = bot@localhost
        password = secret

        [share]
        path = share
        database = {small_disk.name}/fisbot.db
        settle = 0

        [http]
        listen = 127.0.0.1:0
        base_url = http://127.0.0.1:8080
        """)
    # Long names: the paths and their trigram index overflow 512 KiB.
    for d in range(10):
        folder = bot.share / f"a-folder-with-a-long-name-{d:02d}"
        folder.mkdir()
        for i in range(NFILES // 10):
            name = f"a-file-with-a-rather-long-name-{d:02d}-{i:05d}.txt"
            (folder / name).write_bytes(f"{d}/{i}".encode())

    r = bot.run("scan")
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 1, (r.returncode, r.stdout, err)
    assert "disk is full" in err, err
    assert "cannot rollback" not in err, err
    assert r.stdout == b""

    # The catalogue still opens, for fisbot and for SQLite.
    r = bot.run("ls")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    con = sqlite3.connect(f"file:{small_disk}/fisbot.db?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()

    # Room again: a new scan converges to every file.
    r = mount("-o", "remount,size=64m", str(small_disk))
    assert r.returncode == 0, r.stderr
    c, _, _ = scan(bot)
    assert c[0] + c[3] == NFILES and c[1] == 0 and c[2] == 0, c
    files = 0
    for d in range(10):
        got, _, _ = listing(bot, f"a-folder-with-a-long-name-{d:02d}")
        files += len(got)
    assert files == NFILES
    c, hashed, _ = scan(bot)
    assert c == (0, 0, 0, NFILES) and hashed == set()

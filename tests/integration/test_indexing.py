"""Indexing with the real binary and `fisbot scan`:
counts, changes, renames that keep ids without hashing, deletes, hostile
names, symbolic links, and a kill -9 in the middle of a scan."""
import os
import signal
import shutil

import pytest

from indexing_util import (RECORDED, HASHED, counts, listing, make_files,
                           scan, start_scan)


def test_scan_counts_and_changes(bot):
    make_files(bot.share, 5)
    make_files(bot.share / "sub", 2, prefix="s")
    (bot.share / ".hidden").write_text("hidden")
    (bot.share / ".git").mkdir()
    (bot.share / ".git" / "config").write_text("x")
    (bot.share / "film.part").write_text("partial")
    (bot.share / "notes.txt~").write_text("backup")
    c, hashed, _ = scan(bot)
    assert c == counts(added=7)
    assert len(hashed) == 7
    assert "f00000" in hashed and "sub/s00001" in hashed
    assert not any(p.startswith(".") or p.endswith((".part", "~"))
                   for p in hashed)

    # Nothing changed: nothing hashed.
    c, hashed, _ = scan(bot)
    assert c == counts(unchanged=7)
    assert hashed == set()

    # One changed, one removed, one added.
    (bot.share / "f00001").write_bytes(b"different and longer content")
    (bot.share / "f00002").unlink()
    (bot.share / "sub" / "new").write_bytes(b"new")
    c, hashed, _ = scan(bot)
    assert c == counts(added=1, changed=1, removed=1, unchanged=5)
    assert hashed == {"f00001", "sub/new"}

    # A whole folder removed.
    shutil.rmtree(bot.share / "sub")
    c, hashed, _ = scan(bot)
    assert c == counts(removed=3, unchanged=4)
    files, _, _ = listing(bot)
    assert sorted(files) == ["f00000", "f00001", "f00003", "f00004"]


def test_new_files_get_ids_in_path_order(bot):
    # Inodes in the reverse order of the names: a reconcile still numbers
    # new files by path (not by inode), so ids and dates added follow the
    # names.
    names = [f"song-{i:02d}.ogg" for i in range(20)]
    for i in range(20):
        (bot.share / f"tmp{i}").write_bytes(b"%d" % i)
    by_inode = sorted(bot.share.iterdir(), key=lambda p: p.stat().st_ino)
    for p, name in zip(by_inode, reversed(names)):
        p.rename(bot.share / name)
    c, _, _ = scan(bot)
    assert c == counts(added=20)
    files, _, _ = listing(bot)
    assert [files[n] for n in names] == sorted(files.values())


def test_folder_of_1000_renamed_keeps_ids(bot):
    make_files(bot.share / "album", 1000)
    c, hashed, _ = scan(bot)
    assert c == counts(added=1000)
    assert len(hashed) == 1000
    before, _, _ = listing(bot, "album")
    assert len(before) == 1000

    os.rename(bot.share / "album", bot.share / "renamed")
    c, hashed, _ = scan(bot)
    assert c == counts(unchanged=1000)
    assert hashed == set()
    after, _, _ = listing(bot, "renamed")
    assert len(after) == 1000
    assert {p.replace("album/", "renamed/", 1): i
            for p, i in before.items()} == after
    assert bot.run("ls", "album").returncode != 0

    # A modified file inside it: only that one is hashed again.
    (bot.share / "renamed" / "f00007").write_bytes(b"changed" * 100)
    c, hashed, _ = scan(bot)
    assert c == counts(changed=1, unchanged=999)
    assert hashed == {"renamed/f00007"}
    again, _, _ = listing(bot, "renamed")
    assert again["renamed/f00007"] == after["renamed/f00007"]

    shutil.rmtree(bot.share / "renamed")
    c, hashed, _ = scan(bot)
    assert c == counts(removed=1000)


HOSTILE = [
    b"bad-utf8-\xff\xfe\xc3",
    b"ctl-\x01\x1b[31mred\x7f",
    b"tab\there",
    b"new\nline",
    b"<&>'\"",
    b"]]>",
    b"x" * 255,
    b"caf\xc3\xa9-\xe2\x80\xae-rtl",
]


def test_hostile_names_catalogued_and_sanitised(bot):
    share = os.fsencode(bot.share)
    for i, name in enumerate(HOSTILE):
        with open(os.path.join(share, name), "wb") as f:
            f.write(b"content %d" % i)
    c, _, err = scan(bot)
    assert c == counts(added=len(HOSTILE))
    assert "\x1b" not in err and "\x01" not in err
    r = bot.run("ls")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("utf-8")  # must be valid UTF-8
    lines = out.splitlines()
    assert len([l for l in lines if l.startswith("#")]) == len(HOSTILE)
    for line in lines:
        assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0
                       for ch in line), repr(line)
    assert any("<&>'\"" in l for l in lines)
    assert any("]]>" in l for l in lines)
    assert any("x" * 255 in l for l in lines)
    # Unchanged on a rescan: the raw names round-trip through the catalogue.
    c, hashed, _ = scan(bot)
    assert c == counts(unchanged=len(HOSTILE))
    assert hashed == set()


def test_symlinks_never_followed(bot, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (bot.share / "real").write_text("real")
    os.symlink(outside / "secret", bot.share / "to-outside")
    os.symlink(outside, bot.share / "dir-outside")
    os.symlink("real", bot.share / "to-inside")
    os.symlink("loop-b", bot.share / "loop-a")
    os.symlink("loop-a", bot.share / "loop-b")
    (bot.share / "d").mkdir()
    os.symlink("..", bot.share / "d" / "up")
    os.symlink("/", bot.share / "d" / "root")
    c, hashed, _ = scan(bot)
    assert c == counts(added=1)
    assert hashed == {"real"}
    files, folders, text = listing(bot)
    assert list(files) == ["real"]
    assert "secret" not in text and "outside" not in text
    assert "loop" not in text
    dfiles, dfolders, _ = listing(bot, "d")
    assert dfiles == {} and dfolders == []


def test_missing_share_is_an_error(bot):
    shutil.rmtree(bot.share)
    r = bot.run("scan")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "share" in err and "No such file" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_skipped(bot):
    (bot.share / "ok").write_text("ok")
    locked = bot.share / "locked"
    locked.write_text("locked")
    locked.chmod(0)
    try:
        r = bot.run("scan", "-v")
        assert r.returncode == 0, r.stderr
        assert '"locked" is not readable' in r.stderr.decode()
        assert bot.out("search", "ok").count("#") == 1
        assert "locked" not in bot.out("search", "locked")
        assert "locked" not in bot.out("ls")  # not listed at all
    finally:
        locked.chmod(0o644)


def test_kill9_mid_scan_then_converges(bot):
    n = 20000
    for k in range(20):
        make_files(bot.share / f"d{k:02d}", n // 20, prefix=f"k{k}-",
                   size=256)
    proc = start_scan(bot)
    recorded = set()
    for raw in proc.stderr:
        m = RECORDED.search(raw.decode("utf-8").rstrip("\n"))
        if m:
            recorded.add(m.group(1))
            # Early: the rest of a scan of small files takes well under
            # a second.
            if len(recorded) >= 1:
                break
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "scan ended before the kill"
    assert 0 < len(recorded) < n

    # The restart converges and hashes nothing that was recorded.
    c, hashed, _ = scan(bot)
    assert sum(c) == n and c[1] == 0 and c[2] == 0
    assert hashed, "the first scan cannot have finished"
    assert not (hashed & recorded)

    # Converged: everything is hashed, nothing more to do.
    c, hashed, _ = scan(bot)
    assert c == counts(unchanged=n)
    assert hashed == set()


def test_scan_leaves_libmagic_types_to_info(bot):
    # A scan types files by name and first bytes only (libmagic costs more
    # than hashing a small file); what only libmagic tells is found by
    # `info` when asked (and by the daemon in the background).
    (bot.share / "run").write_bytes(b"#!/bin/sh\necho hello\n")
    (bot.share / "song.ogg").write_bytes(b"not really")
    (bot.share / "notes").write_bytes(b"plain words\n")
    c, _, _ = scan(bot)
    assert c == counts(added=3)
    r = bot.run("search", "type:text/x-shellscript")
    assert r.stdout.decode().strip() == "", r.stdout
    r = bot.run("search", "type:text/plain")
    assert "notes" in r.stdout.decode()
    r = bot.run("info", "run")
    assert r.returncode == 0, r.stderr
    assert "type: text/x-shellscript" in r.stdout.decode().splitlines()
    r = bot.run("info", "song.ogg")
    assert "type: audio/ogg" in r.stdout.decode().splitlines()

"""Changes the indexer must not miss: permissions that change
under the running bot, files it may not read, and a content change whose
size and mtime were put back (`touch -r`), which only the ctime betrays.

The permission tests run fisbot as nobody (root reads every file whatever
its mode bits); the share belongs to nobody, the test changes modes as
root.
"""
import os
import time

import pytest

from bare_daemon import BareDaemon, wait_for
from indexing_util import counts, scan

CONVERGE = 20  # seconds; the goal is "within seconds"


@pytest.fixture
def nobody():
    bot = BareDaemon(as_nobody=True)
    try:
        yield bot
    finally:
        bot.cleanup()


@pytest.fixture
def daemon(tmp_path):
    bot = BareDaemon(tmp_path)
    try:
        yield bot
    finally:
        bot.cleanup()


def ls_paths(bot, folder=""):
    """The files and folders `fisbot ls [folder]` shows."""
    r = bot.run("ls", *([folder] if folder else []))
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout.decode("utf-8", "replace")


def test_unreadable_files_and_folders_not_listed_by_scan(nobody):
    share = nobody.share
    (share / "ok.txt").write_text("ok")
    (share / "secret.txt").write_text("secret")
    (share / "locked").mkdir()
    (share / "locked" / "inner.txt").write_text("inner")
    (share / "noexec").mkdir()
    (share / "noexec" / "hidden.txt").write_text("hidden")
    nobody.chown()
    os.chmod(share / "secret.txt", 0)
    os.chmod(share / "locked", 0)
    os.chmod(share / "noexec", 0o644)  # listable, not searchable

    r = nobody.run("scan")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "added 1, changed 0, removed 0, " \
        "unchanged 0\n", (r.stdout, r.stderr)
    top = ls_paths(nobody)
    assert "ok.txt" in top
    assert "secret" not in top and "locked" not in top \
        and "noexec" not in top, top

    # Readable again: listed. Unreadable again: gone.
    os.chmod(share / "secret.txt", 0o644)
    os.chmod(share / "locked", 0o755)
    os.chmod(share / "noexec", 0o755)
    r = nobody.run("scan")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("added 3,"), r.stdout
    top = ls_paths(nobody)
    assert "secret.txt" in top and "locked/" in top and "noexec/" in top
    os.chmod(share / "secret.txt", 0)
    os.chmod(share / "locked", 0)
    r = nobody.run("scan")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("added 0, changed 0, removed 2,"), \
        r.stdout
    top = ls_paths(nobody)
    assert "secret" not in top and "locked" not in top, top
    assert nobody.run("ls", "locked").returncode != 0


def test_permission_changes_under_the_running_bot(nobody):
    share = nobody.share
    (share / "ok.txt").write_text("ok")
    (share / "secret.txt").write_text("secret")
    (share / "locked" / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "sub/deep.txt"):
        (share / "locked" / name).write_text(name)
    nobody.chown()
    os.chmod(share / "secret.txt", 0)
    os.chmod(share / "locked", 0)
    nobody.start()
    wait_for(lambda: nobody.hashed() == {"ok.txt"}, CONVERGE,
             "ok.txt to be catalogued")
    time.sleep(1)
    assert set(nobody.rows()) == {"ok.txt"}, nobody.rows()

    # A folder made readable is watched and indexed without a rescan.
    t0 = time.monotonic()
    os.chmod(share / "locked", 0o755)
    want = {"ok.txt", "locked/a.txt", "locked/b.txt", "locked/sub/deep.txt"}
    wait_for(lambda: nobody.hashed() == want, CONVERGE,
             "the folder made readable to be indexed")
    print(f"folder made readable: indexed in {time.monotonic() - t0:.2f} s")
    (share / "locked" / "sub" / "new.txt").write_text("new")
    want.add("locked/sub/new.txt")
    wait_for(lambda: nobody.hashed() == want, CONVERGE,
             "a new file in it (it is watched)")

    # A file made readable is listed; unreadable again, it leaves.
    os.chmod(share / "secret.txt", 0o644)
    want.add("secret.txt")
    wait_for(lambda: nobody.hashed() == want, CONVERGE,
             "the file made readable to be indexed")
    os.chmod(share / "secret.txt", 0o200)
    want.discard("secret.txt")
    wait_for(lambda: set(nobody.rows()) == want, CONVERGE,
             "the file made unreadable to leave the catalogue")

    # The folder made unreadable: its files leave the catalogue.
    os.chmod(share / "locked", 0)
    wait_for(lambda: set(nobody.rows()) == {"ok.txt"}, CONVERGE,
             "the folder made unreadable to leave the catalogue")
    assert nobody.run("ls", "locked").returncode != 0
    os.chmod(share / "locked", 0o755)
    wait_for(lambda: "locked/sub/new.txt" in nobody.hashed(), CONVERGE,
             "the folder to come back")
    assert nobody.proc.poll() is None
    assert nobody.stop() == 0


def edit_in_place(path, data):
    """Rewrites path with data of the same size, then puts its mtime back
    (what `touch -r` after an edit does)."""
    st = os.stat(path)
    assert len(data) == st.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert after.st_mtime_ns == st.st_mtime_ns
    assert after.st_ctime_ns != st.st_ctime_ns


def sha(bot, path):
    return (bot.rows() or {}).get(path, (None, None))[1]


def test_touch_r_after_edit_rehashed_by_scan(daemon):
    f = daemon.share / "doc.txt"
    f.write_bytes(b"version one")
    (daemon.share / "other.txt").write_bytes(b"other")
    c, hashed, _ = scan(daemon)
    assert hashed == {"doc.txt", "other.txt"}
    before = sha(daemon, "doc.txt")
    id_other = daemon.rows()["other.txt"][0]

    edit_in_place(f, b"version two")
    c, hashed, _ = scan(daemon)
    assert c == counts(changed=1, unchanged=1)
    assert hashed == {"doc.txt"}
    assert sha(daemon, "doc.txt") not in (None, before)

    # A rename (which changes the ctime too) keeps the id and the hash.
    os.rename(daemon.share / "other.txt", daemon.share / "moved.txt")
    c, hashed, _ = scan(daemon)
    assert c == counts(unchanged=2) and hashed == set()
    assert daemon.rows()["moved.txt"][0] == id_other

    # chmod changes the ctime: hashed again (cheap and rare), same id.
    os.chmod(daemon.share / "moved.txt", 0o600)
    c, hashed, _ = scan(daemon)
    assert c == counts(changed=1, unchanged=1)
    assert daemon.rows()["moved.txt"][0] == id_other


def test_touch_r_after_edit_rehashed_by_daemon_restart(daemon):
    f = daemon.share / "doc.txt"
    f.write_bytes(b"version one")
    daemon.start()
    wait_for(lambda: sha(daemon, "doc.txt") is not None, CONVERGE,
             "doc.txt to be hashed")
    before = sha(daemon, "doc.txt")
    id_doc = daemon.rows()["doc.txt"][0]
    assert daemon.stop() == 0

    edit_in_place(f, b"version two")
    daemon.start()
    wait_for(lambda: sha(daemon, "doc.txt") not in (None, before), CONVERGE,
             "the edited file to be hashed again")
    assert daemon.rows()["doc.txt"][0] == id_doc
    assert daemon.stop() == 0

"""An upload folder that cannot be written: the bot warns at
start, `upload` says so instead of handing out a URL, a PUT to a URL
handed out earlier is refused, and all works again once the folder can be
written.

The tests run as root, for whom permissions stop no write: the folder is
made immutable (chattr +i) where the file system allows it, or replaced by
a regular file.
"""
import shutil
import subprocess

import pytest

from test_upload import UploadBot, ask, client, put, server, url_of  # noqa: F401

UNAVAILABLE = "uploads are unavailable: the upload folder cannot be written"


class Folder:
    """Makes share/incoming unwritable in one of two ways, and writable
    again."""

    def __init__(self, share, how):
        self.path = share / "incoming"
        self.how = how

    def block(self):
        if self.how == "immutable":
            self.path.mkdir(exist_ok=True)
            r = subprocess.run(["chattr", "+i", str(self.path)],
                               capture_output=True)
            if r.returncode != 0:
                pytest.skip(f"chattr +i: {r.stderr.decode().strip()}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.write_text("not a folder\n")

    def unblock(self):
        if self.how == "immutable":
            subprocess.run(["chattr", "-i", str(self.path)],
                           capture_output=True)
        elif self.path.is_file():
            self.path.unlink()


@pytest.mark.parametrize("how", ["immutable", "file"])
def test_unwritable_upload_folder(server, tmp_path, how):  # noqa: F811
    alice = client(server, "alice")
    b = UploadBot(server, tmp_path / "bot", upload="""
        enabled = yes
        allow = alice@localhost
        folder = incoming
        """)
    folder = Folder(b.proc.share, how)
    try:
        data = b"first\n"
        assert put(b, url_of(ask(alice, b.jid, f"upload a.txt {len(data)}")),
                   data)[0] == 201
        folder.block()
        assert ask(alice, b.jid, "upload b.txt 5") == UNAVAILABLE
        # Warned at start.
        b.stop()
        b.proc.start()
        b.proc.wait_log(f"online as {b.jid}", timeout=30)
        log = b.proc.log()
        assert '[upload] folder "incoming" cannot be written' in log, log
        assert ask(alice, b.jid, "upload b.txt 5") == UNAVAILABLE
        # A URL handed out while it could be written: the PUT is refused.
        folder.unblock()
        url = url_of(ask(alice, b.jid, "upload c.txt 5"))
        folder.block()
        status, text = put(b, url, b"hello")
        assert status == 503, (status, text)
        assert text == UNAVAILABLE + "\n"
        # Writable again: it works at once, no reload needed. (Only for
        # the immutable folder: a file turned back into a folder makes the
        # catalogue's own corner case, not this test's.)
        if how == "immutable":
            folder.unblock()
            status, text = put(b, url, b"hello")
            assert status == 201, (status, text)
            b.wait_row("incoming/c.txt")
    finally:
        folder.unblock()
        b.stop()
        alice.close()

"""The web index ([web], SPEC §11) over real HTTP and in a real browser.

The server is tests/integration/http_server_main.c (the bot's http_start
on the real indexer, which catalogues and hashes a temporary share first)
with [web] enabled, on a free loopback port that base_url names, so the
absolute links of the pages work. A headless Chromium (Debian's chromium
and chromium-driver, driven by python3-selenium) opens the index, follows a
folder, searches with the form, clicks a download link and checks the
SHA-256 of the file it saved; hostile names must appear as text. The feed
is checked against Atom 1.0 (RFC 4287) element by element, index.json
against the share. Without chromium the browser tests are skipped (CI
installs it: scripts/install-deps).
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from prosody import free_port

SERVER_BIN = os.environ.get("FISBOT_HTTP_SERVER", "http_server")
ATOM = "{http://www.w3.org/2005/Atom}"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

# Names that could fake another name or a line (tests/adversarial/
# test_names.py), and names that break naive pages: what each must show.
HOSTILE = {
    "evil\u202egpj.exe": "evil\\u{202E}gpj.exe",
    "line\u2028two.txt": "line\\u{2028}two.txt",
    "para\u2029graph.txt": "para\\u{2029}graph.txt",
    "zw\u200bspace\u200d.txt": "zw\\u{200B}space\\u{200D}.txt",
    "bom\ufeff.txt": "bom\\u{FEFF}.txt",
    "iso\u2066late\u2069.txt": "iso\\u{2066}late\\u{2069}.txt",
    "lre\u202aembed\u202c.txt": "lre\\u{202A}embed\\u{202C}.txt",
    "narrow\u202fspace.txt": "narrow\u202fspace.txt",
    "<svg onload=alert(1)>.txt": "<svg onload=alert(1)>.txt",
    "<b>bold & 'q' \"dq\".txt": "<b>bold & 'q' \"dq\".txt",
    "&lt;entity&gt;.txt": "&lt;entity&gt;.txt",
    "<img src=x onerror=alert(2)>.txt": "<img src=x onerror=alert(2)>.txt",
}
RAW_HOSTILE = {
    b"bad\xffutf8.bin": "bad\\xFFutf8.bin",
    b"ctl\x01\x1b[31mred.txt": "ctl\\x01\\x1B[31mred.txt",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class WebServer:
    """A share, a catalogue and the HTTP server with the web index on."""

    def __init__(self, root: Path, files: dict, web: str,
                 enabled: bool = True):
        self.root = root
        self.share = root / "share"
        self.share.mkdir(parents=True)
        for name, data in files.items():
            p = os.path.join(os.fsencode(self.share),
                             name if isinstance(name, bytes)
                             else os.fsencode(name))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = root / "fisbot.conf"
        self.config.write_text(textwrap.dedent(f"""\
            [xmpp]
            jid = bot@localhost
            password = secret

            [share]
            path = share
            database = fisbot.db
            settle = 0

            [http]
            listen = 127.0.0.1:{self.port}
            base_url = {self.base}

            [web]
            enabled = {"yes" if enabled else "no"}
            """) + textwrap.dedent(web))
        self.logf = open(root / "server.log", "wb")
        self.proc = subprocess.Popen([SERVER_BIN, "-c", str(self.config)],
                                     stdout=subprocess.PIPE,
                                     stderr=self.logf)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("port "), (line, self.log())
        self.url = None
        if enabled:
            line = self.proc.stdout.readline().decode()
            assert line.startswith("web "), line
            self.url = line.split()[1]  # the index, as `web` gives it

    def log(self) -> str:
        self.logf.flush()
        return (self.root / "server.log").read_text(errors="replace")

    def get(self, path: str, method="GET"):
        """One request for path (after the host): (response, body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r, body

    def path(self, url: str) -> str:
        assert url.startswith(self.base + "/"), url
        return url[len(self.base):]

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.logf.close()
        assert rc == 0, (rc, self.log()[-3000:])


@pytest.fixture
def make_web(tmp_path):
    servers = []

    def make(files, web="access = public\n", enabled=True):
        s = WebServer(tmp_path / f"w{len(servers)}", files, web, enabled)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with a temporary profile that saves downloads
    into its own folder (browser.download_dir)."""
    if CHROMIUM is None or not os.path.exists(CHROMEDRIVER):
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fisbot-chromium-")
    downloads = tempfile.mkdtemp(prefix="fisbot-downloads-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--no-first-run",
                "--window-size=412,915"):  # a phone's viewport
        opts.add_argument(arg)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")
    opts.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": downloads})
    driver.download_dir = downloads
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
    shutil.rmtree(downloads, ignore_errors=True)


def wait_url(driver, want):
    """Waits (up to 30 s) until the browser shows the page want (a
    click or a submit returns before the next page is there)."""
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, 30).until(lambda d: want(d.current_url) and
                                    d.execute_script(
                                        "return document.readyState")
                                    == "complete")


def rows(driver):
    """The rows of the page's table: (class, name cell text, link href)."""
    from selenium.webdriver.common.by import By
    out = []
    for tr in driver.find_elements(By.CSS_SELECTOR, "table.entries tbody tr"):
        name = tr.find_element(By.CSS_SELECTOR, "td.name")
        links = name.find_elements(By.TAG_NAME, "a")
        out.append((tr.get_attribute("class"), name.text,
                    links[0].get_attribute("href") if links else None,
                    tr))
    return out


SHARE = {
    "music/live/song.ogg": b"OggS" + bytes(range(256)) * 20,
    "music/live/encore.ogg": b"OggS" + b"e" * 5000,
    "music/studio.flac": b"fLaC" + b"s" * 3000,
    "docs/readme.txt": b"read me\n",
    "top.bin": bytes(range(256)) * 3,
}


def test_browse_search_download(make_web, browser):
    """A browser opens the index, follows a folder, searches with the form
    and downloads a file whose SHA-256 is the share's."""
    from selenium.webdriver.common.by import By
    s = make_web(SHARE)
    browser.get(s.url)
    assert browser.title.endswith("fisbot")
    r = rows(browser)
    # Folders first (by name), then files.
    assert [x[0] for x in r] == ["dir", "dir", "file"]
    assert [x[1].split(" #")[0] for x in r] == ["docs/", "music/", "top.bin"]
    # Follow a folder, then the next one.
    r[1][3].find_element(By.TAG_NAME, "a").click()
    wait_url(browser, lambda u: u == s.url + "music/")
    r = rows(browser)
    assert [x[1].split(" #")[0] for x in r] == ["live/", "studio.flac"]
    r[0][3].find_element(By.TAG_NAME, "a").click()
    wait_url(browser, lambda u: u == s.url + "music/live/")
    crumbs = browser.find_element(By.CSS_SELECTOR, "nav.crumbs")
    assert [a.text for a in crumbs.find_elements(By.TAG_NAME, "a")] == \
        ["fisbot", "music", "live"]
    r = rows(browser)
    names = [x[1].split(" #")[0] for x in r]
    assert names == ["encore.ogg", "song.ogg"]
    song = r[1][3]
    data = SHARE["music/live/song.ogg"]
    # On a phone's width the hash column is hidden by the stylesheet (so
    # it was loaded, CSP and all); it is still in the page.
    cell = song.find_element(By.CSS_SELECTOR, "td.hash")
    assert not cell.is_displayed()
    assert cell.get_attribute("textContent") == sha(data)[:12]
    assert song.find_element(By.CSS_SELECTOR, "td.size").text == "5.0 KiB"
    # The download link is what `get` makes: /f/{token}/{name}.
    href = song.find_element(By.TAG_NAME, "a").get_attribute("href")
    assert re.fullmatch(re.escape(s.base) + r"/f/[A-Za-z0-9_-]{44}/song\.ogg",
                        href), href
    # Search with the form (the chat syntax: a glob).
    box = browser.find_element(By.CSS_SELECTOR, "form.search input[name=q]")
    box.send_keys("*.ogg")
    box.submit()
    wait_url(browser, lambda u: "q=*.ogg" in urllib.parse.unquote(u))
    r = rows(browser)
    assert sorted(x[1].split(" #")[0] for x in r) == \
        ["music/live/encore.ogg", "music/live/song.ogg"]
    assert browser.find_element(By.CSS_SELECTOR, "p.summary").text == \
        "2 results"
    # Click a download and check what was saved.
    target = [x for x in r if x[1].startswith("music/live/song.ogg")][0]
    for old in os.listdir(browser.download_dir):
        os.unlink(os.path.join(browser.download_dir, old))
    target[3].find_element(By.TAG_NAME, "a").click()
    saved = os.path.join(browser.download_dir, "song.ogg")
    deadline = time.time() + 60
    while time.time() < deadline and not (
            os.path.exists(saved) and os.path.getsize(saved) == len(data)):
        time.sleep(0.1)
    with open(saved, "rb") as f:
        assert sha(f.read()) == sha(data)


def test_hostile_names_are_text(make_web, browser):
    """Hostile names render as text: escaped as in chat where they could
    fake a name, and never as markup."""
    from selenium.webdriver.common.by import By
    files = {f"names/{n}": b"x" * (10 + i) for i, n in enumerate(HOSTILE)}
    files.update({b"names/" + n: b"raw" for n in RAW_HOSTILE})
    s = make_web(files)
    browser.get(s.url + "names/")
    shown = sorted(x[1].rsplit(" #", 1)[0] for x in rows(browser))
    assert shown == sorted(list(HOSTILE.values()) + list(RAW_HOSTILE.values()))
    # No markup from a name made it into the page.
    main = browser.find_element(By.TAG_NAME, "main")
    assert main.find_elements(By.TAG_NAME, "b") == []
    assert main.find_elements(By.TAG_NAME, "img") == []
    assert main.find_elements(By.TAG_NAME, "svg") == []
    assert browser.find_elements(By.TAG_NAME, "script") == []
    text = browser.find_element(By.TAG_NAME, "body").text
    assert not re.search("[\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]",
                         text)
    # And the links still fetch the right bytes.
    for cls, name, href, _ in rows(browser):
        r, body = s.get(s.path(href))
        assert r.status == 200, name
    # The feed and index.json show them the same way.
    feed = ET.fromstring(s.get("/feed.atom")[1])
    titles = [e.find(ATOM + "title").text for e in feed.iter(ATOM + "entry")]
    assert sorted(titles) == shown
    index = [json.loads(line) for line in
             s.get("/index.json")[1].decode().splitlines()]
    assert sorted(o["path"][len("names/"):] for o in index) == shown
    # A search for a hostile name as shown finds it.
    browser.get(s.url + "?q=" + urllib.parse.quote("<b>bold"))
    assert [x[1].rsplit(" #", 1)[0] for x in rows(browser)] == \
        ["names/<b>bold & 'q' \"dq\".txt"]


def test_page_headers_and_markup(make_web):
    """The pages are HTML5 with a strict CSP, one stylesheet, no script and
    no inline style."""
    s = make_web(SHARE)
    r, body = s.get("/")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert "script-src" not in csp and "unsafe" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    html = body.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert 'name="viewport"' in html
    assert "<script" not in html and "style=" not in html.lower()
    assert html.count('rel="stylesheet"') == 1
    css_url = re.search(r'rel="stylesheet" href="([^"]+)"', html).group(1)
    r, css = s.get(s.path(css_url))
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/css")
    assert 0 < len(css) < 4096
    r, body = s.get("/music/", "HEAD")
    assert r.status == 200 and body == b""
    for bad in ("/nowhere/", "/top.bin", "/music", "/music//live/",
                "/?dir=nowhere", "/?dir=music/", "/?dir=/music"):
        assert s.get(bad)[0].status == 404, bad
    assert b"live/" in s.get("/?dir=music")[1]
    assert s.get("/?page=0")[0].status == 400
    assert s.get("/?page=x")[0].status == 400
    r, body = s.get("/?q=%2F(%2F")  # a bad regex: a clear error
    assert r.status == 400 and b"bad regex" in body
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    c.request("POST", "/", body=b"x")
    r = c.getresponse()
    assert r.status == 405 and r.headers["Allow"] == "GET, HEAD"
    c.close()


def test_folders_named_like_routes(make_web):
    """Top-level folders named f and u (the file links' and the uploads'
    paths) are still reachable from the pages, and so are their pages."""
    files = {"f/inside.txt": b"in f", "u/deeper/x.txt": b"in u",
             "w/y.txt": b"in w"}
    files.update({f"f/many{i:02}.txt": b"m" for i in range(60)})
    s = make_web(files)
    html = s.get("/")[1].decode()
    links = dict((name, href.replace("&amp;", "&")) for href, name in
                 re.findall(r'<a href="([^"]+)">([^<]*)/</a></td>', html))
    assert set(links) == {"f", "u", "w"}
    r, body = s.get(s.path(links["f"]))
    assert r.status == 200 and b"inside.txt" in body and b"page 1 of 2" in body
    nxt = re.search(r'<a href="([^"]+)" rel="next"', body.decode()).group(1)
    r, body = s.get(s.path(nxt.replace("&amp;", "&")))
    assert r.status == 200 and b"page 2 of 2" in body
    r, body = s.get(s.path(links["u"]))
    assert r.status == 200 and b"deeper/" in body
    deeper = re.search(r'<a href="([^"]+)">deeper/</a>', body.decode())
    r, body = s.get(s.path(deeper.group(1).replace("&amp;", "&")))
    assert r.status == 200 and b"x.txt" in body
    assert b"y.txt" in s.get(s.path(links["w"]))[1]


def test_pagination(make_web):
    """Folder pages and searches come in pages of 50 with links."""
    files = {f"many/f{i:03}.dat": b"%d" % i for i in range(120)}
    files["many/sub/x.dat"] = b"x"
    s = make_web(files)
    seen = []
    for page in (1, 2, 3):
        r, body = s.get(f"/many/?page={page}")
        assert r.status == 200
        html = body.decode()
        names = re.findall(r'<td class="name"><a href="[^"]*"[^>]*>([^<]*)</a>',
                           html)
        seen += names
        assert f"page {page} of 3" in html
        assert ('rel="next"' in html) == (page < 3)
        assert ('rel="prev"' in html) == (page > 1)
    assert seen == ["sub/"] + [f"f{i:03}.dat" for i in range(120)]
    r, body = s.get("/?q=.dat&page=2")
    html = body.decode()
    assert r.status == 200 and "121 results" in html and "page 2 of 3" in html
    assert len(re.findall(r'<tr class="file"', html)) == 50
    nxt = re.search(r'<a href="([^"]+)" rel="next"', html).group(1)
    assert nxt.replace("&amp;", "&").endswith("?q=.dat&page=3")


def test_feed_is_atom(make_web):
    """feed.atom: the 50 newest files, valid Atom 1.0 with enclosures."""
    files = {f"feed/n{i:02}.txt": b"y" * (i + 1) for i in range(60)}
    s = make_web(files)
    r, body = s.get("/feed.atom")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(body)  # well-formed XML
    assert root.tag == ATOM + "feed"

    def one(el, name):
        found = el.findall(ATOM + name)
        assert len(found) == 1, (name, found)
        return found[0]

    def date(text):  # RFC 3339 (Atom §3.3)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"
                            r"(Z|[+-]\d\d:\d\d)", text), text
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    # RFC 4287 §4.1.1: exactly one id, title, updated; an author (or one
    # in every entry); a self link is recommended.
    assert urllib.parse.urlparse(one(root, "id").text).scheme
    assert one(root, "title").text == "fisbot"
    date(one(root, "updated").text)
    assert one(one(root, "author"), "name").text
    self_links = [ln for ln in root.findall(ATOM + "link")
                  if ln.get("rel") == "self"]
    assert len(self_links) == 1
    assert s.path(self_links[0].get("href")) == "/feed.atom"
    entries = root.findall(ATOM + "entry")
    assert len(entries) == 50
    ids = set()
    catalogue = {}
    for line in s.get("/index.json")[1].decode().splitlines():
        o = json.loads(line)
        catalogue[o["id"]] = o
    newest = sorted(catalogue, reverse=True)[:50]
    for e, want in zip(entries, newest):
        eid = one(e, "id").text
        assert urllib.parse.urlparse(eid).scheme and eid not in ids
        ids.add(eid)
        date(one(e, "updated").text)
        title = one(e, "title").text
        f = catalogue[want]
        assert title == f["path"].rsplit("/", 1)[1]
        # §4.1.1.1: no content means an alternate link; it has content.
        assert one(e, "content").get("type") == "text"
        enc = [ln for ln in e.findall(ATOM + "link")
               if ln.get("rel") == "enclosure"]
        assert len(enc) == 1
        assert int(enc[0].get("length")) == f["size"]
        assert enc[0].get("type") == f["type"]
        r, data = s.get(s.path(enc[0].get("href")))
        assert r.status == 200 and sha(data) == f["sha256"]


def walk(share: Path):
    """The share as {path: (size, mtime, sha256)}, paths as shown (the
    tests' names are clean)."""
    out = {}
    for dirpath, _, names in os.walk(share):
        for n in names:
            p = Path(dirpath) / n
            st = p.stat()
            out[str(p.relative_to(share))] = (st.st_size, int(st.st_mtime),
                                              sha(p.read_bytes()))
    return out


def test_index_json_equals_share(make_web):
    """index.json: one JSON object per line, every file of the share with
    its size, mtime, SHA-256, type and desc; names sanitised as in chat;
    sent in chunks (no Content-Length)."""
    files = {f"d{i % 7}/sub{i % 3}/file{i}.txt": b"z" * i for i in range(700)}
    files["d0/line\u2028two.txt"] = b"sep"
    s = make_web(files)
    r, body = s.get("/index.json")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/x-ndjson"
    assert r.headers.get("Transfer-Encoding") == "chunked"
    lines = body.decode().split("\n")
    assert lines[-1] == ""
    objs = [json.loads(line) for line in lines[:-1]]
    assert all(set(o) == {"id", "path", "size", "mtime", "sha256", "type",
                          "desc"} for o in objs)
    assert [o["id"] for o in objs] == sorted(o["id"] for o in objs)
    got = {o["path"]: (o["size"], o["mtime"], o["sha256"]) for o in objs}
    want = walk(s.share)
    want["d0/line\\u{2028}two.txt"] = want.pop("d0/line\u2028two.txt")
    assert got == want
    assert all(o["desc"] is None and "/" in o["type"] for o in objs)


def test_link_access(make_web):
    """access = link: personal signed links under /w/; / is 404, a bad or
    foreign token 403, an expired one 410."""
    # Expiry is in whole seconds: a link lives at least lifetime - 1 s,
    # long enough for the requests below on a slow (ASan) server.
    s = make_web(SHARE, "access = link\nlink_lifetime = 10s\n")
    assert re.fullmatch(re.escape(s.base) + r"/w/[A-Za-z0-9_-]{44}/", s.url)
    root = s.path(s.url)
    assert s.get("/")[0].status == 404
    assert s.get("/music/")[0].status == 404
    assert s.get("/feed.atom")[0].status == 404
    r, body = s.get(root)
    assert r.status == 200 and b"music/" in body
    # Every link on the page stays under the personal root.
    for href in re.findall(r'href="([^"]+)"', body.decode()):
        assert href.startswith(s.url) or "/f/" in href, href
    assert s.get(root + "music/live/")[0].status == 200
    assert s.get(root + "feed.atom")[0].status == 200
    assert s.get(root + "index.json")[0].status == 200
    r, _ = s.get(root[:-1])
    assert r.status == 301 and r.headers["Location"] == s.url
    tok = root[3:-1]
    flipped = tok[:10] + ("A" if tok[10] != "A" else "B") + tok[11:]
    for bad in ("garbage", flipped, tok[:-1], tok + "A"):
        assert s.get(f"/w/{bad}/")[0].status == 403, bad
    # A download token is not a web token.
    r, body = s.get(root + "music/live/")
    ftok = re.search(r"/f/([A-Za-z0-9_-]{44})/", body.decode()).group(1)
    assert s.get(f"/w/{ftok}/")[0].status == 403
    time.sleep(10.5)
    assert s.get(root)[0].status == 410


def test_disabled_serves_no_pages(make_web):
    """Without [web] enabled nothing but /f/ and /u/ is served."""
    s = make_web(SHARE, enabled=False)
    for p in ("/", "/feed.atom", "/index.json", "/music/", "/w/x/"):
        assert s.get(p)[0].status == 404, p


def test_web_command(tmp_path):
    """The `web` command of the real bot: a personal link that opens the
    index (and none in a room's groupchat); with [web] off it says so."""
    from commands_fixture import MUC, Chat, Fisbot, Prosody, account
    room = f"webroom@{MUC}"
    prosody = Prosody(tmp_path / "prosody").start()
    bots, alice = [], None
    try:
        for name, web in (("bot", "enabled = yes\naccess = link\n"),
                          ("off", "enabled = no\n")):
            bot = Fisbot(tmp_path / name, prosody, name, rooms=(room,),
                         extra="[web]\n" + web)
            text = bot.config.read_text()
            text = re.sub(r"^load = (.*)$", r"load = \1, web", text,
                          flags=re.M)
            bot.config.write_text(text)
            (bot.share / "docs").mkdir()
            (bot.share / "docs" / "a.txt").write_bytes(b"hello")
            bots.append(bot.start())
        alice = Chat(account(prosody, "alice"), prosody)
        on, off = bots

        def direct(bot, body):
            deadline = time.monotonic() + 30
            late = False
            while True:  # the bot may not be online yet
                alice.drain()
                alice.send(bot.jid, body)
                try:
                    m = alice.wait(lambda m: m.bare == bot.jid and
                                   m.type == "chat", 3)
                    if late:
                        time.sleep(3)  # a late answer to an earlier try
                    return m
                except TimeoutError:
                    late = True
                    if time.monotonic() > deadline:
                        raise

        m = direct(on, "web")
        lines = m.lines()
        assert lines[0].startswith("your personal link to the web index, "
                                   "valid 7 days"), m.body
        assert re.fullmatch(re.escape(on.base_url) +
                            r"/w/[A-Za-z0-9_-]{44}/", lines[1]), m.body
        c = http.client.HTTPConnection("127.0.0.1", on.http_port, timeout=30)
        c.request("GET", lines[1][len(on.base_url):] + "docs/")
        r = c.getresponse()
        assert r.status == 200 and b"a.txt" in r.read()
        c.close()
        assert "your link to the web index" in direct(on, "help").body
        # In the room's groupchat the link would be everyone's.
        alice.join(room, "alice")
        alice.drain()
        deadline = time.monotonic() + 20
        reply = None
        while reply is None and time.monotonic() < deadline:
            alice.room(room, "!web")
            try:
                reply = alice.wait(lambda m: "personal" in (m.body or ""), 3)
            except TimeoutError:
                pass
        assert reply is not None and "/w/" not in reply.body
        assert direct(off, "web").body == "the web index is disabled here"
        # help lists only what the asker may run: not web with it off.
        helped = direct(off, "help").body
        assert "search" in helped and "web index" not in helped, helped
    finally:
        if alice is not None:
            alice.close()
        for bot in bots:
            assert bot.stop() == 0, bot.log_text()[-2000:]
        prosody.stop()

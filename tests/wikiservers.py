"""Real MediaWiki 1.39 and DokuWiki servers for tests, on PHP's built-in server at 127.0.0.1.

Both come from Debian's packages: `scripts/install-test-services.sh` installs PHP and DokuWiki,
`scripts/fetch-mediawiki.sh` unpacks MediaWiki into a cache folder (``apt-get install
mediawiki`` would start Apache). Each server gets a free port and a private data folder, and
is stopped through its process group (``php -S`` workers would otherwise keep listening).
Both wikis are private: anonymous visitors may read nothing, so every test logs in.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0

# Bot passwords must be 32+ characters of [0-9a-w]; MediaWiki's installer wants 10+ for users.
MW_ADMIN_PASSWORD = "AdminPass-1234"
MW_READER = ("Reader@orgkb", "readerbot0123456789abcdefghijklmn")
MW_OUTSIDER = ("Outsider@orgkb", "outsiderbot0123456789abcdefghijkl")
DW_ADMIN = ("admin", "DokuAdmin-1234")
DW_READER = ("reader", "DokuReader-1234")
DW_NO_API = ("noapi", "DokuNoApi-1234")
# Anonymous visitors read nothing; logged-in users read everything.
DW_DEFAULT_ACL = "*\t@ALL\t0\n*\t@user\t1\n"


def cache_dir() -> Path:
    """Where unpacked server software is kept between runs (same rule as fetch-mediawiki.sh)."""
    if os.environ.get("ORGKB_TEST_CACHE"):
        return Path(os.environ["ORGKB_TEST_CACHE"])
    if os.access("/var/cache", os.W_OK):
        return Path("/var/cache/orgkb-test")
    return Path.home() / ".cache" / "orgkb-test"


def missing_programs() -> str | None:
    """Why the wiki servers cannot run here, or None when they can."""
    if shutil.which("php") is None:
        return "php is not installed (run scripts/install-test-services.sh)"
    if not Path("/usr/share/dokuwiki/doku.php").exists():
        return "dokuwiki is not installed (run scripts/install-test-services.sh)"
    return None


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PhpServer:
    """``php -S`` serving one docroot, in its own process group."""

    def __init__(self, docroot: Path, log: Path, env: dict[str, str] | None = None, options: tuple[str, ...] = ()) -> None:
        self.docroot = docroot
        self.log = log
        self.env = env or {}
        self.options = options
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, probe: str = "/", port: int | None = None) -> None:
        """Start on ``port`` (default: a free one) and wait (bounded) until it answers ``probe``."""
        self.port = port or free_port()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["php", *self.options, "-S", f"127.0.0.1:{self.port}", "-t", str(self.docroot)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                httpx.get(self.url + probe, timeout=2.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"php -S did not start: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        """Stop the server and its workers."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


class MediaWikiServer:
    """A private MediaWiki 1.39 on SQLite with a reader bot password and an account without read."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.dist = cache_dir() / "mediawiki-1.39"
        self.settings = workdir / "LocalSettings.php"
        # PHP checks changed files on every request, so tests may change the settings while it runs.
        self.server = PhpServer(
            self.dist, workdir / "server.log", {"MW_CONFIG_FILE": str(self.settings)}, options=("-d", "opcache.revalidate_freq=0")
        )

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> MediaWikiServer:
        if not (self.dist / ".complete").exists():
            subprocess.run([str(PROJECT_ROOT / "scripts" / "fetch-mediawiki.sh"), str(self.dist)], check=True, timeout=300)
        port = free_port()
        data = self.workdir / "data"
        data.mkdir(parents=True)
        self.php(
            "install.php", "--dbtype", "sqlite", "--dbpath", str(data), "--dbname", "testwiki",
            "--server", f"http://127.0.0.1:{port}", "--scriptpath", "", "--lang", "en",
            "--pass", MW_ADMIN_PASSWORD, "--confpath", str(self.workdir), "--skins", "Vector",
            "Brightwater Wiki", "Admin",
        )  # fmt: skip
        with self.settings.open("a", encoding="utf-8") as settings:
            settings.write(
                "\n$wgGroupPermissions['*']['read'] = false;\n"
                "$wgGroupPermissions['*']['edit'] = false;\n"
                "$wgGroupPermissions['*']['createaccount'] = false;\n"
                "$wgRevokePermissions['noread']['read'] = true;\n"
                f"$wgCacheDirectory = '{self.workdir}/cache';\n"
                "$wgEnableUploads = false;\n"
                # Footnotes and #if/#switch, as on most real wikis.
                "wfLoadExtension('Cite');\n"
                "wfLoadExtension('ParserFunctions');\n"
            )
        self.php("createAndPromote.php", "Reader", "ReaderPass-1234")
        self.php("createAndPromote.php", "--custom-groups", "noread", "Outsider", "OutsiderPass-1234")
        for (name, password) in (MW_READER, MW_OUTSIDER):
            user, app = name.split("@")
            self.php("createBotPassword.php", "--appid", app, "--grants", "basic,highvolume", user, password)
        # $wgServer names the port, so the server listens on exactly that one.
        self.server.start("/api.php", port)
        return self

    def stop(self) -> None:
        self.server.stop()

    @contextmanager
    def settings_added(self, php: str) -> Iterator[None]:
        """``php`` appended to LocalSettings.php for the duration (read again by every request)."""
        original = self.settings.read_text(encoding="utf-8")
        self.settings.write_text(original + "\n" + php + "\n", encoding="utf-8")
        try:
            yield
        finally:
            self.settings.write_text(original, encoding="utf-8")

    def php(self, script: str, *args: str, input: str | None = None) -> str:
        """Run a maintenance script against this wiki; its output."""
        result = subprocess.run(
            ["php", str(self.dist / "maintenance" / script), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "MW_CONFIG_FILE": str(self.settings)},
        )
        if result.returncode != 0:
            raise RuntimeError(f"{script} failed: {result.stdout[-1000:]} {result.stderr[-1000:]}")
        return result.stdout

    def edit(self, title: str, text: str, summary: str = "test edit") -> None:
        """Create or change a page as Admin."""
        self.php("edit.php", "--user", "Admin", "--summary", summary, title, input=text)

    def move(self, old: str, new: str) -> None:
        """Move a page, leaving a redirect behind (MediaWiki's default)."""
        self.php("moveBatch.php", "--u", "Admin", "--r", "test move", input=f"{old}|{new}\n")

    def delete(self, title: str) -> None:
        """Delete a page (logged in the deletion log)."""
        self.php("deleteBatch.php", "--u", "Admin", "--r", "test delete", input=f"{title}\n")

    def dump(self, path: Path) -> Path:
        """Write an XML dump of the current revisions (``dumpBackup.php --current``)."""
        path.write_text(self.php("dumpBackup.php", "--current", "--quiet"), encoding="utf-8")
        return path


class DokuWikiServer:
    """A private copy of Debian's DokuWiki with XML-RPC on for the ``@api`` group."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.root = workdir / "root"
        # Tests change DokuWiki's settings while it runs: PHP must not serve cached settings files.
        self.server = PhpServer(self.root, workdir / "server.log", options=("-d", "opcache.enable=0"))

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> DokuWikiServer:
        shutil.copytree("/usr/share/dokuwiki", self.root, symlinks=True)
        shutil.copytree("/etc/dokuwiki", self.workdir / "conf")  # follows Debian's links
        shutil.copytree("/var/lib/dokuwiki/data", self.workdir / "data", symlinks=True)
        # An empty wiki: the bundled help pages (wiki:syntax is 22 kB) would only slow indexing.
        for bundled in (self.workdir / "data" / "pages").iterdir():
            shutil.rmtree(bundled)
        # Debian's preload points every copy at /etc/dokuwiki; this one has its own settings.
        (self.root / "inc" / "preload.php").write_text(
            f'<?php\ndefine("DOKU_CONF", "{self.workdir}/conf/");\n', encoding="utf-8"
        )
        conf = self.workdir / "conf"
        (conf / "local.php").write_text(
            "<?php\n"
            f"$conf['savedir'] = '{self.workdir}/data';\n"
            "$conf['title'] = 'Brightwater DokuWiki';\n"
            "$conf['useacl'] = 1;\n"
            "$conf['superuser'] = '@admin';\n"
            "$conf['remote'] = 1;\n"
            "$conf['remoteuser'] = '@api';\n"
            "$conf['lang'] = 'en';\n",
            encoding="utf-8",
        )
        users = []
        for (name, password), groups in ((DW_ADMIN, "admin,user,api"), (DW_READER, "user,api"), (DW_NO_API, "user")):
            hashed = subprocess.run(
                ["php", "-r", "echo password_hash($argv[1], PASSWORD_BCRYPT);", password],
                capture_output=True, text=True, check=True, timeout=30,
            ).stdout  # fmt: skip
            users.append(f"{name}:{hashed}:{name.title()}:{name}@example.invalid:{groups}\n")
        (conf / "users.auth.php").write_text("".join(users), encoding="utf-8")
        self.acl_path.write_text(DW_DEFAULT_ACL, encoding="utf-8")
        self.server.start("/doku.php")
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def acl_path(self) -> Path:
        """The wiki's ``conf/acl.auth.php``."""
        return self.workdir / "conf" / "acl.auth.php"

    @contextmanager
    def acl_rules(self, text: str) -> Iterator[Path]:
        """The ACL file holding ``text`` for the duration (DokuWiki reads it per request); yields its path."""
        self.acl_path.write_text(text, encoding="utf-8")
        try:
            yield self.acl_path
        finally:
            self.acl_path.write_text(DW_DEFAULT_ACL, encoding="utf-8")

    @contextmanager
    def api_switched_off(self) -> Iterator[None]:
        """The XML-RPC API disabled (``remote = 0``) for the duration; DokuWiki reads its settings per request."""
        local = self.workdir / "conf" / "local.php"
        original = local.read_text(encoding="utf-8")
        local.write_text(original + "$conf['remote'] = 0;\n", encoding="utf-8")
        try:
            yield
        finally:
            local.write_text(original, encoding="utf-8")

    def admin(self) -> xmlrpc.client.ServerProxy:
        """An XML-RPC client logged in as the wiki's admin (HTTP basic auth, which DokuWiki accepts)."""
        user, password = DW_ADMIN
        return xmlrpc.client.ServerProxy(f"http://{user}:{password}@127.0.0.1:{self.server.port}/lib/exe/xmlrpc.php")

    def put_page(self, page_id: str, text: str, summary: str = "test edit") -> None:
        """Create or change a page; empty text deletes it (DokuWiki's way)."""
        self.admin().wiki.putPage(page_id, text, {"sum": summary})

    def delete_page(self, page_id: str) -> None:
        """Delete a page."""
        self.put_page(page_id, "", "deleted")

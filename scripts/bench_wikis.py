"""Throughput of the wiki connectors against real local servers (no embedding): pages per second.

Starts a private MediaWiki and DokuWiki (as the tests do), fills each with N generated pages,
then times a full listing, loading every page, and an incremental check with nothing changed;
and the same listing + rendering for an XML dump of the MediaWiki.
Usage: PYTHONPATH=. python scripts/bench_wikis.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from orgkb.connectors.dokuwiki import DokuWikiConfig, DokuWikiConnector
from orgkb.connectors.mediawiki.connector import MediaWikiConfig, MediaWikiConnector
from orgkb.connectors.mediawiki.dump import MediaWikiDumpConfig, MediaWikiDumpConnector
from tests.wikiservers import DW_READER, MW_READER, DokuWikiServer, MediaWikiServer

PARAGRAPH = "Forecasts for store {n} are refreshed nightly; the planner checks the stock levels at 06:00. "


def wikitext(n: int) -> str:
    return "\n".join(f"== Section {s} ==\n{PARAGRAPH.format(n=n) * 6}" for s in range(1, 5))


def measure(label: str, connector: object, pages: int) -> None:
    started = time.perf_counter()
    refs = list(connector.list_documents())  # type: ignore[attr-defined]
    listed = time.perf_counter() - started
    started = time.perf_counter()
    for ref in refs:
        connector.load(ref)  # type: ignore[attr-defined]
    loaded = time.perf_counter() - started
    line = f"{label:<16} {len(refs):>5} pages  list {listed:6.2f}s  load {loaded:6.2f}s ({len(refs) / loaded:6.1f} pages/s)"
    if hasattr(connector, "changes_since"):
        cursor = connector.initial_cursor()  # type: ignore[attr-defined]
        started = time.perf_counter()
        change = connector.changes_since(cursor)  # type: ignore[attr-defined]
        line += f"  no-change sync {1000 * (time.perf_counter() - started):5.0f} ms ({len(change.updated)} re-seen)"
    print(line, flush=True)
    assert len(refs) >= pages


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    work = Path(tempfile.mkdtemp(prefix="orgkb-bench-"))
    (work / "mw").mkdir()
    (work / "dw").mkdir()
    os.environ["BENCH_MW"], os.environ["BENCH_DW"] = MW_READER[1], DW_READER[1]
    mediawiki = MediaWikiServer(work / "mw").start()
    dokuwiki = DokuWikiServer(work / "dw").start()
    try:
        started = time.perf_counter()
        for n in range(pages):
            mediawiki.edit(f"Store {n}", wikitext(n))
            dokuwiki.put_page(f"stores:store_{n}", wikitext(n).replace("== ", "===== ").replace(" ==", " ====="))
        print(f"filled both wikis with {pages} pages each in {time.perf_counter() - started:.0f}s", flush=True)
        source = {"username": MW_READER[0], "password_env": "BENCH_MW"}
        measure("mediawiki", MediaWikiConnector(MediaWikiConfig(name="mw", url=mediawiki.url, **source)), pages)
        doku = {"username": DW_READER[0], "password_env": "BENCH_DW"}
        measure("dokuwiki", DokuWikiConnector(DokuWikiConfig(name="dw", url=dokuwiki.url, **doku)), pages)
        dump = mediawiki.dump(work / "dump.xml")
        measure("mediawiki_dump", MediaWikiDumpConnector(MediaWikiDumpConfig(name="d", path=dump)), pages)
    finally:
        mediawiki.stop()
        dokuwiki.stop()


if __name__ == "__main__":
    main()

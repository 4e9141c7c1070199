"""What search results cost an assistant, and whether they know when nothing fits: prints figures.

Over a real MCP stdio session against `orgkb serve` (sample_docs by default), every question
of scripts/sample_questions.json is searched with the default arguments. Printed, per
question and in total:

- characters and estimated tokens (characters / 4) of the tool result on the wire: the text
  block, the structured content and the resource links, each and together;
- the outcome, and whether it is right: off-topic questions (``expect`` null) should come
  back "no_good_match"; on-topic ones should have their document in the first 5 hits;
- the size of `tools/list`.

Usage: python scripts/bench_tokens.py [--config sample_docs/orgkb.toml] [--data-dir DIR]
       [--questions FILE] [--max-tokens N] [--json]
The index is built first (incrementally) in --data-dir (default: a folder under /tmp).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

from orgkb.connectors.identifiers import doc_id, parse_document_uri  # noqa: E402

CHARS_PER_TOKEN = 4


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", ANONYMIZED_TELEMETRY="False")
    env["ORGKB_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))  # as on the wire


async def measure(config: Path, data_dir: Path, questions: list[dict[str, Any]], max_tokens: int | None) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orgkb.server", "--config", str(config), "serve", "--no-sync"],
        env=_env(data_dir), cwd=str(PROJECT_ROOT),
    )
    rows = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        tools_chars = _size(tools.model_dump(mode="json", by_alias=True, exclude_none=True))
        for item in questions:
            arguments: dict[str, Any] = {"query": item["question"]}
            if max_tokens is not None:
                arguments["max_tokens"] = max_tokens
            result = await session.call_tool("search", arguments)
            text = sum(len(c.text) for c in result.content if c.type == "text")
            links = sum(_size(c.model_dump(mode="json", by_alias=True, exclude_none=True)) for c in result.content if c.type == "resource_link")
            structured = _size(result.structured_content)
            hits = (result.structured_content or {}).get("hits", [])
            found = [doc_id(*parse_document_uri(h["resource_uri"])) for h in hits[:5]]  # type: ignore[misc]
            outcome = (result.structured_content or {}).get("outcome")
            expect = item["expect"]
            right = outcome == "no_good_match" if expect is None else (outcome == "results" and expect in found)
            rows.append({"question": item["question"], "on_topic": expect is not None, "outcome": outcome, "right": right,
                         "hits": len(hits), "text": text, "structured": structured, "links": links,
                         "tokens": -(-(text + structured + links) // CHARS_PER_TOKEN),
                         "top": found[:1], "relevance": [h["relevance"] for h in hits]})
    return {"tools_list_chars": tools_chars, "rows": rows}


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    rows = figures["rows"]
    tokens = [r["tokens"] for r in rows]
    on, off = [r for r in rows if r["on_topic"]], [r for r in rows if not r["on_topic"]]
    return {
        "questions": len(rows),
        "tokens_median": statistics.median(tokens), "tokens_max": max(tokens),
        "tokens_median_on_topic": statistics.median(r["tokens"] for r in on) if on else None,
        "chars_median": {k: statistics.median(r[k] for r in rows) for k in ("text", "structured", "links")},
        "off_topic_flagged": f"{sum(r['right'] for r in off)}/{len(off)}",
        "on_topic_in_top5": f"{sum(r['right'] for r in on)}/{len(on)}",
        "tools_list_chars": figures["tools_list_chars"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "sample_docs" / "orgkb.toml")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/orgkb-bench-tokens"))
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "scripts" / "sample_questions.json")
    parser.add_argument("--max-tokens", type=int, help="search's max_tokens (default: the server's)")
    parser.add_argument("--json", action="store_true", help="print every row as JSON too")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "orgkb.server", "--config", str(args.config), "index"],
                   env=_env(args.data_dir), check=True, capture_output=True)
    questions = json.loads(args.questions.read_text(encoding="utf-8"))["questions"]
    figures = anyio.run(measure, args.config, args.data_dir, questions, args.max_tokens)
    if args.json:
        for row in figures["rows"]:
            print(json.dumps(row, ensure_ascii=False))
    else:
        for row in figures["rows"]:
            mark = "ok " if row["right"] else "BAD"
            print(f"{mark} {row['tokens']:5d} tok {row['hits']} hits {row['outcome']:<13} "
                  f"{','.join(f'{r:.2f}' for r in row['relevance'])}  {row['question']}  -> {row['top']}")
    print(json.dumps(summary(figures), indent=2))


if __name__ == "__main__":
    main()

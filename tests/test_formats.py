"""File format parsers: heading paths, line numbers, pages, decoding and failure modes.

Binary fixtures are real files written into ``tmp_path`` with python-docx and reportlab, so the
parsers meet the same structures a user's files have.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orgkb.connectors.base import DocumentError, Section
from orgkb.connectors.formats import ParsedFile, SkipFile, is_supported, parse_file, supported_suffixes

SAMPLE_DOCS = Path(__file__).resolve().parent.parent / "sample_docs"


def assert_lines_are_source_lines(source: str, sections: list[Section]) -> None:
    """Every line of every section is the source line that ``line_start`` + offset points at."""
    source_lines = source.split("\n")
    for section in sections:
        assert section.line_start is not None
        for offset, line in enumerate(section.text.split("\n")):
            assert source_lines[section.line_start - 1 + offset].rstrip() == line, (section.heading_path, offset)


def paths(parsed: ParsedFile) -> list[list[str]]:
    return [section.heading_path for section in parsed.sections]


def section_containing(parsed: ParsedFile, needle: str) -> Section:
    matches = [section for section in parsed.sections if needle in section.text]
    assert len(matches) == 1, f"{needle!r} found in {len(matches)} sections"
    return matches[0]


# --- Markdown -----------------------------------------------------------------------------

MARKDOWN = """---
title: Expense Policy
owner: Finance
tags: [money, travel]
last_reviewed: 2025-06-30
reviewers:
  lead: someone
---

# Expenses

Intro paragraph
spanning two lines.

Second paragraph.

## Approval

Over the limit: department head.

```bash
# not a heading
echo done
```

### CFO

Over 5,000 EUR: the CFO.

## Empty Heading
### Child of empty

Child text.

Setext Heading
==============

Under a setext H1.

Level two, setext
-----------------

Under a setext H2.
"""


def test_markdown_heading_paths_nest_and_fenced_hash_is_not_a_heading() -> None:
    parsed = parse_file("policy.md", MARKDOWN.encode())

    assert paths(parsed) == [
        ["Expenses"],
        ["Expenses", "Approval"],
        ["Expenses", "Approval", "CFO"],
        # The empty section is omitted, but its heading still heads its child.
        ["Expenses", "Empty Heading", "Child of empty"],
        ["Setext Heading"],
        ["Setext Heading", "Level two, setext"],
    ]
    approval = section_containing(parsed, "department head")
    assert "# not a heading" in approval.text and "echo done" in approval.text
    assert section_containing(parsed, "Under a setext H2.").heading_path == ["Setext Heading", "Level two, setext"]


def test_markdown_line_start_points_at_source_lines() -> None:
    parsed = parse_file("policy.md", MARKDOWN.encode())

    assert_lines_are_source_lines(MARKDOWN, parsed.sections)
    intro = parsed.sections[0]
    assert intro.line_start == 12  # "Intro paragraph", after the front matter and the heading
    assert intro.text == "Intro paragraph\nspanning two lines.\n\nSecond paragraph."


def test_markdown_front_matter_becomes_metadata_and_title() -> None:
    parsed = parse_file("policy.md", MARKDOWN.encode())

    assert parsed.title == "Expense Policy"
    assert parsed.mime_type == "text/markdown"
    # Dates as ISO text, lists joined, nested mappings dropped, the title not repeated.
    assert parsed.metadata == {"owner": "Finance", "tags": "money, travel", "last_reviewed": "2025-06-30"}


def test_markdown_title_falls_back_to_first_h1_and_paragraph_before_dashes_is_setext() -> None:
    text = "Preamble.\n\n## Not the title\n\nText.\n\n# The Title\n\nBody.\n\n---\n\nAfter a rule.\n"
    parsed = parse_file("notes.markdown", text.encode())

    assert parsed.title == "The Title"
    assert parsed.metadata == {}
    # A "---" after a blank line is a thematic break, not a heading: the text stays in its section.
    assert section_containing(parsed, "After a rule.").heading_path == ["The Title"]
    assert paths(parsed)[0] == []
    assert_lines_are_source_lines(text, parsed.sections)


# --- reStructuredText ---------------------------------------------------------------------

RST = """==============
Software guide
==============

Intro text.

Catalogue
=========

Catalogue text.

Review
------

Review text.

Admin rights
============

Admin text.
"""


def test_rst_levels_follow_first_appearance_of_each_adornment() -> None:
    parsed = parse_file("guide.rst", RST.encode())

    assert parsed.title == "Software guide"
    assert parsed.mime_type == "text/x-rst"
    assert paths(parsed) == [
        ["Software guide"],
        ["Software guide", "Catalogue"],
        ["Software guide", "Catalogue", "Review"],
        ["Software guide", "Admin rights"],
    ]
    assert_lines_are_source_lines(RST, parsed.sections)


# --- Plain text and decoding --------------------------------------------------------------


def test_plain_text_keeps_lines_and_skips_leading_blank_lines() -> None:
    parsed = parse_file("faq.txt", b"\n\nQ: printers?\n  A: three.\r\n\r\nEnd.\n")

    assert [(s.heading_path, s.line_start, s.text) for s in parsed.sections] == [
        (["Q: printers?"], 4, "  A: three."),
        ([], 6, "End."),
    ]
    assert parsed.title is None and parsed.mime_type == "text/plain"


PLAIN_STRUCTURED = """\
TRAVEL GUIDE
Updated 2025

1. Booking
Book through the portal.

1.1 Hotels
Up to 120 EUR a night.

Can I fly business class?
  Only on flights over six hours.

Lost luggage
  Report it at the airport desk.
  Then tell the travel team.

A plain closing paragraph.
It has two lines.
"""


def test_plain_text_blocks_headings_and_questions_become_sections() -> None:
    parsed = parse_file("guide.txt", PLAIN_STRUCTURED.encode())

    assert [(s.heading_path, s.line_start) for s in parsed.sections] == [
        (["TRAVEL GUIDE"], 2),
        (["TRAVEL GUIDE", "1. Booking"], 5),
        (["TRAVEL GUIDE", "1. Booking", "1.1 Hotels"], 8),
        (["TRAVEL GUIDE", "1. Booking", "1.1 Hotels", "Can I fly business class?"], 11),
        (["TRAVEL GUIDE", "1. Booking", "1.1 Hotels", "Lost luggage"], 14),
        (["TRAVEL GUIDE", "1. Booking", "1.1 Hotels"], 17),
    ]
    assert parsed.sections[4].text == "  Report it at the airport desk.\n  Then tell the travel team."
    assert_lines_are_source_lines(PLAIN_STRUCTURED, parsed.sections)


def test_plain_text_numbered_sentences_are_not_headings() -> None:
    parsed = parse_file("steps.txt", b"1. Open the box.\n2. Plug it in.\n\n2024 was a good year.\n")

    assert all(s.heading_path == [] for s in parsed.sections)


def test_cp1252_text_decodes() -> None:
    assert parse_file("menu.txt", b"caf\xe9 \x80 5").sections[0].text == "café € 5"


def test_utf8_and_utf16_with_bom_decode() -> None:
    assert parse_file("a.txt", b"\xef\xbb\xbfhello").sections[0].text == "hello"
    # UTF-16 is full of NUL bytes; the BOM must win over the binary check.
    assert parse_file("b.txt", "grüße\nzwei".encode("utf-16")).sections[0].text == "grüße\nzwei"


def test_undecodable_bytes_raise_document_error() -> None:
    with pytest.raises(DocumentError, match="cannot decode"):
        parse_file("weird.txt", bytes(range(0x80, 0x100)) * 4)


def test_cp1252_full_of_control_characters_is_not_text() -> None:
    with pytest.raises(DocumentError, match="cannot decode"):
        parse_file("weird.log", bytes([0x01, 0x02, 0xE9, 0x03]) * 50)


def test_nul_byte_means_binary_file_is_skipped() -> None:
    with pytest.raises(SkipFile, match="binary file"):
        parse_file("data.md", b"# Title\n\x00\x01\x02 payload")


def test_unknown_suffix_is_skipped_with_its_suffix_named() -> None:
    with pytest.raises(SkipFile, match=r"unsupported file type '\.xyz'"):
        parse_file("archive.XYZ", b"anything")


def test_supported_suffixes_and_names() -> None:
    suffixes = supported_suffixes()
    assert {".md", ".rst", ".txt", ".html", ".pdf", ".docx", ".csv", ".json", ".py", ".yaml"} <= suffixes
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in suffixes)
    assert is_supported("deploy/Dockerfile") and is_supported("README") and is_supported("Notes.MD")
    assert not is_supported("photo.jpg")


# --- HTML ---------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html>
<head><title>VPN setup | IT</title><style>p { color: red }</style></head>
<body>
<header><a href="/">Intranet home</a></header>
<nav><ul><li>Menu item</li></ul></nav>
<main>
<h1>Setting up the VPN</h1>
<p>Use   the
   <strong>GlobalProtect</strong> client.</p>
<h2>Steps</h2>
<ol><li>Open Self Service.</li><li>Enter <code>vpn.example</code>.</li></ol>
<h3>Gateways</h3>
<table><tr><th>Gateway</th><th>Address</th></tr>
<tr><td>Berlin</td><td>gw-ber.example</td></tr></table>
<h2>Help</h2>
<p>Ask in #it-help.</p>
</main>
<footer>Copyright footer</footer>
<script>var tracking = 1;</script>
</body></html>
"""


def test_html_headings_blocks_and_tables() -> None:
    parsed = parse_file("vpn.html", HTML.encode())

    assert parsed.title == "VPN setup | IT"
    assert parsed.mime_type == "text/html"
    assert [(s.heading_path, s.text) for s in parsed.sections] == [
        (["Setting up the VPN"], "Use the GlobalProtect client."),
        (["Setting up the VPN", "Steps"], "1. Open Self Service.\n\n2. Enter vpn.example."),
        (["Setting up the VPN", "Steps", "Gateways"], "Gateway | Address\nBerlin | gw-ber.example"),
        (["Setting up the VPN", "Help"], "Ask in #it-help."),
    ]
    # Approximate, but it must point at the section's first block.
    assert parsed.sections[0].line_start == 9
    assert parsed.sections[2].line_start == 14


def test_html_drops_page_furniture_and_takes_title_from_h1() -> None:
    parsed = parse_file(
        "page.htm", b"<body><nav>Menu</nav><h1>Only <em>heading</em></h1><p>x</p><script>js()</script></body>"
    )

    everything = "\n".join(section.text for section in parsed.sections)
    assert parsed.title == "Only heading"
    assert "Menu" not in everything and "js()" not in everything


# --- PDF ----------------------------------------------------------------------------------


def write_pdf(path: Path, pages: list[str], outline: list[tuple[str, int, int]], title: str | None = None) -> bytes:
    """A real PDF: one text line per page; outline entries are (title, 0-based page, level)."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    if title:
        pdf.setTitle(title)
    for index, text in enumerate(pages):
        if text:
            pdf.drawString(72, 720, text)
        for position, (entry, page, level) in enumerate(outline):
            if page == index:
                key = f"entry-{position}"
                pdf.bookmarkPage(key)
                pdf.addOutlineEntry(entry, key, level=level)
        pdf.showPage()
    pdf.save()
    return path.read_bytes()


def test_pdf_pages_and_outline_headings(tmp_path: Path) -> None:
    pages = [
        "Cover page text",
        "Scope applies to all purchases",
        "Up to 1,000 EUR by card",
        "Three quotes above 10,000 EUR",
    ]
    outline = [("Scope", 1, 0), ("Thresholds", 2, 0), ("Large purchases", 3, 1)]
    data = write_pdf(tmp_path / "guide.pdf", pages, outline, title="Procurement Guidelines")

    parsed = parse_file("guide.pdf", data)

    assert parsed.title == "Procurement Guidelines"
    assert parsed.mime_type == "application/pdf"
    assert [(s.page, s.heading_path) for s in parsed.sections] == [
        (1, []),  # before the first outline entry
        (2, ["Scope"]),
        (3, ["Thresholds"]),
        (4, ["Thresholds", "Large purchases"]),
    ]
    assert "Three quotes" in parsed.sections[3].text
    assert all(section.line_start is None for section in parsed.sections)


def test_pdf_blank_pages_are_left_out_and_untitled_pdf_has_no_title(tmp_path: Path) -> None:
    parsed = parse_file("x.pdf", write_pdf(tmp_path / "x.pdf", ["first", "", "third"], []))

    assert parsed.title is None
    assert [(s.page, s.text) for s in parsed.sections] == [(1, "first"), (3, "third")]


def test_pdf_without_text_raises_document_error(tmp_path: Path) -> None:
    data = write_pdf(tmp_path / "scan.pdf", ["", ""], [])
    with pytest.raises(DocumentError, match="no extractable text"):
        parse_file("scan.pdf", data)


def test_password_protected_pdf_raises_document_error_but_empty_password_opens(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    write_pdf(tmp_path / "plain.pdf", ["secret plans"], [])
    source = PdfReader(tmp_path / "plain.pdf")
    for user_password, expected in (("s3cret", None), ("", "secret plans")):
        writer = PdfWriter()
        writer.append(source)
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
        target = tmp_path / f"locked-{bool(user_password)}.pdf"
        writer.write(target)
        if expected is None:
            with pytest.raises(DocumentError, match="encrypted PDF"):
                parse_file("locked.pdf", target.read_bytes())
        else:
            assert parse_file("locked.pdf", target.read_bytes()).sections[0].text == expected


@pytest.mark.parametrize("data", [b"%PDF-1.4\nthis is not really a pdf", b"", b"GIF89a not a pdf at all"])
def test_corrupt_pdf_raises_document_error(data: bytes) -> None:
    with pytest.raises(DocumentError, match="corrupt PDF"):
        parse_file("broken.pdf", data)


# --- DOCX ---------------------------------------------------------------------------------


def write_docx(path: Path, *, core_title: str = "") -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = core_title
    document.add_paragraph("Parental Leave Request", style="Title")
    document.add_paragraph("Form HR-07.")
    document.add_heading("Section A", level=1)
    document.add_paragraph("Employee   details\tbelow.")
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, [["Field", "Answer"], ["Full name", ""]], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Deadlines", level=2)
    document.add_paragraph("Submit 7 weeks ahead.", style="List Bullet")
    document.add_heading("Section B", level=1)
    document.add_paragraph("")  # empty paragraphs are not text
    document.add_paragraph("Signatures.")
    document.save(str(path))
    return path.read_bytes()


def test_docx_heading_styles_and_tables(tmp_path: Path) -> None:
    parsed = parse_file("form.docx", write_docx(tmp_path / "form.docx"))

    assert parsed.mime_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert parsed.title == "Parental Leave Request"  # no core title: the Title paragraph
    assert [(s.heading_path, s.text) for s in parsed.sections] == [
        (["Parental Leave Request"], "Form HR-07."),
        (["Parental Leave Request", "Section A"], "Employee details below.\n\nField | Answer\nFull name"),
        (["Parental Leave Request", "Section A", "Deadlines"], "- Submit 7 weeks ahead."),
        (["Parental Leave Request", "Section B"], "Signatures."),
    ]


def test_docx_core_title_wins(tmp_path: Path) -> None:
    parsed = parse_file("form.docx", write_docx(tmp_path / "form.docx", core_title="HR-07 Parental leave"))
    assert parsed.title == "HR-07 Parental leave"


def test_corrupt_docx_raises_document_error() -> None:
    with pytest.raises(DocumentError, match="corrupt DOCX"):
        parse_file("broken.docx", b"PK\x03\x04 definitely not a zip")


# --- CSV / TSV ----------------------------------------------------------------------------


def test_csv_rows_render_with_headers_and_source_line_numbers() -> None:
    text = 'office,room,phone\nBerlin,Spree,+49 30 1\n\nLisbon,"Tejo\nrooftop",+351 21 2\nLisbon,Douro,+351 21 3\n'
    parsed = parse_file("rooms.csv", text.encode())

    assert parsed.title is None and parsed.mime_type == "text/csv"
    assert parsed.metadata == {"columns": "office, room, phone"}
    # The blank line 3 and the two-line record (lines 4-5) break sections so offsets stay exact.
    assert [(s.line_start, s.text) for s in parsed.sections] == [
        (2, "office: Berlin | room: Spree | phone: +49 30 1"),
        (4, "office: Lisbon | room: Tejo rooftop | phone: +351 21 2"),
        (6, "office: Lisbon | room: Douro | phone: +351 21 3"),
    ]


def test_csv_semicolons_are_sniffed_and_sections_hold_at_most_50_rows() -> None:
    rows = [f"{1000 + n};Team {n};Owner {n}" for n in range(120)]
    text = "cost_centre;name;owner\n" + "\n".join(rows) + "\n"
    parsed = parse_file("cost-centres.csv", text.encode())

    assert [(s.line_start, len(s.text.split("\n"))) for s in parsed.sections] == [(2, 50), (52, 50), (102, 20)]
    assert parsed.sections[1].text.split("\n")[0] == "cost_centre: 1050 | name: Team 50 | owner: Owner 50"
    assert_lines_are_source_lines_csv(text, parsed.sections)


def assert_lines_are_source_lines_csv(source: str, sections: list[Section]) -> None:
    """Each rendered row's first value comes from the source line its offset points at."""
    source_lines = source.split("\n")
    for section in sections:
        assert section.line_start is not None
        for offset, line in enumerate(section.text.split("\n")):
            first_value = line.split(" | ")[0].split(": ", 1)[1]
            assert source_lines[section.line_start - 1 + offset].startswith(first_value)


def test_tsv_uses_tabs() -> None:
    parsed = parse_file("people.tsv", b"name\tteam\nAna\tPeople, Culture\n")
    assert parsed.sections[0].text == "name: Ana | team: People, Culture"


# --- JSON ---------------------------------------------------------------------------------


def test_json_is_flattened_with_paths_and_titled() -> None:
    document = {
        "name": "Office Wi-Fi",
        "version": 2,
        "networks": [{"ssid": "Guest", "vlan": 90, "ok": True}],
        "x y": {},
    }
    parsed = parse_file("wifi.json", json.dumps(document).encode())

    assert parsed.title == "Office Wi-Fi"
    assert parsed.mime_type == "application/json"
    assert [(s.heading_path, s.text) for s in parsed.sections] == [
        ([], 'name: Office Wi-Fi\nversion: 2\n["x y"]: {}'),
        (["networks"], "networks[0].ssid: Guest\nnetworks[0].vlan: 90\nnetworks[0].ok: true"),
    ]


def test_invalid_json_raises_document_error() -> None:
    with pytest.raises(DocumentError, match="invalid JSON"):
        parse_file("broken.json", b'{"a": 1,,}')


def test_json_lines_keep_line_numbers() -> None:
    parsed = parse_file("events.jsonl", b'{"a": 1}\n\n{"a": 2, "b": {"c": "x"}}\n')
    assert [(s.line_start, s.text) for s in parsed.sections] == [(1, "a: 1"), (3, "a: 2 | b.c: x")]


# --- Source code --------------------------------------------------------------------------

PYTHON = '''"""Module docstring."""

import os


# Loads the config.
@cache
def load(path):
    return os.path.exists(path)


class Store:
    def put(self):
        pass
'''


def test_python_is_split_at_top_level_definitions() -> None:
    parsed = parse_file("store.py", PYTHON.encode())

    assert parsed.mime_type == "text/x-python"
    assert [(s.heading_path, s.line_start) for s in parsed.sections] == [
        ([], 1),
        (["def load(path):"], 6),  # the comment and decorator belong to the function
        (["class Store:"], 12),  # the indented method stays inside its class
    ]
    assert_lines_are_source_lines(PYTHON, parsed.sections)


def test_go_and_dockerfile_definitions() -> None:
    go = "package main\n\nfunc main() {\n}\n\ntype Config struct {\n}\n"
    assert paths(parse_file("main.go", go.encode())) == [[], ["func main()"], ["type Config struct"]]

    docker = "FROM python:3.11 AS build\nRUN make\n\nFROM scratch\nCOPY --from=build /app /app\n"
    parsed = parse_file("Dockerfile", docker.encode())
    assert paths(parsed) == [["FROM python:3.11 AS build"], ["FROM scratch"]]
    assert_lines_are_source_lines(docker, parsed.sections)


def test_long_definition_headings_are_trimmed() -> None:
    line = "def f(" + ", ".join(f"argument_{n}" for n in range(20)) + "):"
    heading = parse_file("long.py", f"{line}\n    pass\n".encode()).sections[0].heading_path[0]
    assert len(heading) <= 80 and heading.startswith("def f(argument_0")


# --- Sample documents ---------------------------------------------------------------------


def test_every_sample_document_parses_into_non_empty_sections() -> None:
    files = [
        path
        for path in SAMPLE_DOCS.rglob("*")
        if path.is_file()
        and path.name != "orgkb.toml"
        and is_supported(path.name)
        # Skip an index that a run over sample_docs may have left (sample_docs/.orgkb).
        and not any(part.startswith(".") for part in path.relative_to(SAMPLE_DOCS).parts)
    ]
    assert len(files) >= 15
    for path in files:
        parsed = parse_file(path.name, path.read_bytes())
        assert parsed.sections, path
        assert all(section.text.strip() for section in parsed.sections), path


def test_sample_expense_policy_names_who_approves_over_the_limit() -> None:
    parsed = parse_file("expense-policy.md", (SAMPLE_DOCS / "handbook/policies/expense-policy.md").read_bytes())
    approval = section_containing(parsed, "over 5,000 EUR needs approval by the CFO")
    assert approval.heading_path == ["Expense Policy", "Approval of expenses over the limit"]
    assert "head of your department" in approval.text

"""Generators of hostile files: small on disk, huge or slow once parsed, or odd as entries.

Shared by the tests (small sizes, tight limits) and scripts/bench_hostile_files.py (the sizes
the red team used). Every function writes into a folder it is given and returns the path.
"""

from __future__ import annotations

import io
import json
import os
import socket
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_bytes(body_parts: Callable[[], Iterable[str]], padding: int = 0) -> bytes:
    """A minimal .docx whose body is the concatenated strings ``body_parts()`` yields."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'.encode())
            for chunk in body_parts():
                part.write(chunk.encode())
            part.write(b"</w:body></w:document>")
        if padding:
            with archive.open("word/padding.xml", "w", force_zip64=True) as part:
                block = b" " * (1 << 20)
                for _ in range(padding // len(block)):
                    part.write(block)
    return buffer.getvalue()


def docx_many_paragraphs(folder: Path, paragraphs: int = 130_000) -> Path:
    """A .docx of many one-word paragraphs (the red team's was 334 KB)."""
    path = folder / "many-paragraphs.docx"
    path.write_bytes(_docx_bytes(lambda: (f"<w:p><w:r><w:t>w{i}</w:t></w:r></w:p>" for i in range(paragraphs))))
    return path


def docx_zip_bomb(folder: Path, unzipped_mb: int = 2048) -> Path:
    """A small .docx with a part that unzips to ``unzipped_mb`` MB."""
    path = folder / "zip-bomb.docx"
    path.write_bytes(_docx_bytes(lambda: iter(["<w:p><w:r><w:t>bomb</w:t></w:r></w:p>"]), padding=unzipped_mb << 20))
    return path


def docx_huge_paragraph(folder: Path, megabytes: int = 60) -> Path:
    """A .docx whose text really is huge (compresses well): past max_chars inside the parser."""
    path = folder / "huge-text.docx"
    word = "lorem ipsum " * 1000
    count = megabytes * 1_000_000 // len(word)
    path.write_bytes(_docx_bytes(lambda: (f"<w:p><w:r><w:t>{word}</w:t></w:r></w:p>" for _ in range(count))))
    return path


def json_blowup(folder: Path, depth: int = 800, leaves: int = 3000) -> Path:
    """A small JSON file whose flattened lines each repeat a deep path: text grows depth x leaves."""
    path = folder / "deep-paths.json"
    value: object = {f"k{i}": i for i in range(leaves)}
    for level in range(depth):
        value = {f"level{level:03d}": value}
    path.write_text(json.dumps(value))
    return path


def csv_blowup(folder: Path, columns: int = 300, rows: int = 2000) -> Path:
    """A CSV with long column names and short values: each row repeats every header."""
    path = folder / "wide.csv"
    header = ",".join(f"a_rather_long_and_descriptive_column_name_{i:04d}" for i in range(columns))
    row = ",".join("1" for _ in range(columns))
    path.write_text(header + "\n" + "\n".join(row for _ in range(rows)) + "\n")
    return path


def yaml_anchor_bomb(folder: Path, uses: int = 20_000) -> Path:
    """Markdown whose front matter reuses one anchored list ``uses`` times."""
    path = folder / "anchor-bomb.md"
    items = ", ".join(f"value{i}" for i in range(200))
    aliases = ", ".join("*big" for _ in range(uses))
    path.write_text(f"---\ntitle: Anchors\nbig: &big [{items}]\nuses: [{aliases}]\n---\n# Body\ntext\n")
    return path


def markdown_brackets(folder: Path, count: int = 200_000) -> Path:
    """Markdown made of ``[`` characters, as a line, as a heading and as half-open links."""
    path = folder / "brackets.md"
    path.write_text("[" * count + "\n\n# " + "[" * count + "\n\n# " + "[a](" * (count // 4) + "\n")
    return path


def markdown_setext_paragraph(folder: Path, lines: int = 200_000) -> Path:
    """A paragraph of many lines underlined as a setext heading."""
    path = folder / "setext.md"
    path.write_text("word\n" * lines + "====\nbody\n")
    return path


def html_deep_nesting(folder: Path, depth: int = 100_000) -> Path:
    """HTML nested ``depth`` elements deep."""
    path = folder / "deep.html"
    path.write_text("<html><body>" + "<div>" * depth + "deep text" + "</div>" * depth + "</body></html>")
    return path


def yaml_long_line(folder: Path, spaces: int = 200_000) -> Path:
    """A YAML file with a key followed by a long run of blanks (quadratic for a naive pattern)."""
    path = folder / "spaces.yaml"
    path.write_text("key:" + " " * spaces + "x\nother: 1\n")
    return path


def pdf_many_pages(folder: Path, pages: int = 20_000) -> Path:
    """A PDF with many pages (each with a little text)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"), NameObject("/BaseFont"): NameObject("/Helvetica")}
    )
    font_ref = writer._add_object(font)
    for number in range(pages):
        page = writer.add_blank_page(200, 200)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 20 100 Td (page {number} text) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
    path = folder / "many-pages.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def pdf_deep_nesting(folder: Path, depth: int = 50_000) -> Path:
    """A PDF whose catalog holds an array nested ``depth`` levels deep (written by hand)."""
    nested = "[" * depth + "]" * depth
    objects = [
        "<< /Type /Catalog /Pages 2 0 R /Deep " + nested + " >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    path = folder / "deep.pdf"
    path.write_bytes(out.getvalue())
    return path


def pathological_ignore(folder: Path, name_length: int = 5000) -> Path:
    """An ignore file with a backtracking pattern, and a long file name it is tried against."""
    (folder / ".orgkbignore").write_text("*a*a*a*a*a*a*a*a*a*a*b\n")
    long_name = folder / ("a" * min(name_length, 200) + ".md")
    long_name.write_text("# Long name\nkept\n")
    nested = folder / "nested"
    nested.mkdir(exist_ok=True)
    (nested / ".orgkbignore").write_text("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b/\n")
    return long_name


def symlink_loop(folder: Path) -> Path:
    """Two links pointing at each other (resolving either loops)."""
    first, second = folder / "loop-a.md", folder / "loop-b.md"
    os.symlink(second.name, first)
    os.symlink(first.name, second)
    return first


def fifo(folder: Path) -> Path:
    """A named pipe with a document's name (reading it would block forever)."""
    path = folder / "pipe.md"
    os.mkfifo(path)
    return path


def unix_socket(folder: Path) -> tuple[Path, socket.socket]:
    """A listening Unix socket with a document's name; the caller closes the socket."""
    path = folder / "socket.txt"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    return path, server


def odd_names(folder: Path) -> dict[str, bytes]:
    """Files whose names break naive citations: ``#``, a literal ``%2e``, a newline, bytes not UTF-8.

    Returns the file's name as the OS has it (bytes) by the word each file's text contains.
    """
    names = {
        "hashname": b"notes#1.md",
        "percentname": b"lit%2e.md",
        "newlinename": b"two\nlines.md",
        "latinname": b"caf\xe9.md",
        "backslashname": b"back\\xe9.md",
    }
    for word, name in names.items():
        with open(os.path.join(os.fsencode(folder), name), "w") as handle:
            handle.write(f"# {word}\nThe {word} document.\n")
    return names

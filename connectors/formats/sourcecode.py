"""Source code and configuration files: text cut at top-level definitions.

A per-language regular expression finds lines that open a top-level definition (a Python
``def``, a Go ``func``, a TOML table); each becomes a section headed by that line, so a search
hit cites "def load_config(path)" rather than just a file. This is deliberately not a parser:
a missed or spurious split only moves a section boundary, never loses text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from orgkb.connectors.base import Section
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import section_from_lines, split_lines

HEADING_CHARS = 80
# No definition line is this long; longer lines are not matched, which bounds the work per line.
# (The patterns use possessive quantifiers where backtracking could otherwise go quadratic.)
MAX_DEFINITION_LINE = 2000


@dataclass(frozen=True)
class Language:
    """How to recognise one language's top-level definitions."""

    mime_type: str = "text/plain"
    definition: re.Pattern[str] | None = None
    # Comment, decorator or attribute lines directly above a definition belong to it.
    attached: re.Pattern[str] | None = None


def _language(mime_type: str, definition: str | None = None, attached: str | None = None) -> Language:
    return Language(
        mime_type=mime_type,
        definition=re.compile(definition) if definition else None,
        attached=re.compile(attached) if attached else None,
    )


_C_COMMENT = r"^(?:/\*| \*|//)"
_HASH_COMMENT = r"^#"
_C_FAMILY = _language(
    "text/x-c",
    # A column-0 line with a call-like signature and no ';' after it, or a type/namespace opener.
    r"^(?:(?:typedef[ \t]+)?(?:struct|class|enum|union|namespace)\b[^;]*+$"
    r"|(?!(?:if|else|for|while|switch|return|do|case|goto|sizeof)\b)[A-Za-z_][\w:<>,*&~ \t]*+\([^;]*+$)",
    _C_COMMENT + r"|^template\b",
)
_JS = _language(
    "text/javascript",
    r"^(?:export\b"
    r"|(?:async[ \t]+)?function\b|(?:abstract[ \t]+)?class\b|interface\b|enum\b|namespace\b|declare\b"
    r"|type[ \t]++\w++[^=]*+="
    r"|(?:const|let)[ \t]+\w+[ \t]*=[ \t]*(?:async[ \t]*)?(?:\([^)]*\)|\w+)[ \t]*=>)",
    r"^(?:@|//|/\*| \*)",
)
_TS = Language(mime_type="text/x-typescript", definition=_JS.definition, attached=_JS.attached)
_KOTLIN = _language(
    "text/x-kotlin",
    r"^(?:(?:public|private|internal|protected|data|sealed|abstract|open|inline|value|suspend|enum|annotation"
    r"|inner|override|operator|infix|tailrec|external|expect|actual)[ \t]+)*(?:fun|class|object|interface|typealias)\b",
    r"^(?:@|//|/\*| \*)",
)
_SHELL = _language("text/x-shellscript", r"^(?:function[ \t]+[\w:.-]+|[\w:.-]+[ \t]*\(\))", _HASH_COMMENT)
_INI = _language("text/plain", r"^\[", r"^[#;]")
_C = Language(mime_type="text/x-c", definition=_C_FAMILY.definition, attached=_C_FAMILY.attached)
_CPP = Language(mime_type="text/x-c++", definition=_C_FAMILY.definition, attached=_C_FAMILY.attached)
_PERL = _language("text/x-perl", r"^(?:sub|package)[ \t]+\w", _HASH_COMMENT)
_POWERSHELL = _language("text/plain", r"(?i)^(?:function|filter|class)[ \t]+[\w-]", _HASH_COMMENT)
_BATCH = _language("text/plain", r"^:[A-Za-z_]\w*", r"(?i)^(?:rem\b|::)")

LANGUAGES: dict[str, Language] = {
    ".py": _language("text/x-python", r"^(?:async[ \t]+def|def|class)[ \t]+\w", r"^(?:@|#)"),
    ".js": _JS, ".jsx": _JS, ".mjs": _JS, ".cjs": _JS,
    ".ts": _TS, ".tsx": _TS,
    ".go": _language("text/x-go", r"^(?:func|type)\b", r"^//"),
    ".java": _language(
        "text/x-java",
        r"^(?:(?:public|protected|private|abstract|final|static|sealed|non-sealed|strictfp)[ \t]+)*"
        r"(?:class|interface|enum|record|@interface)[ \t]+\w",
        r"^(?:@|//|/\*| \*)",
    ),
    ".kt": _KOTLIN, ".kts": _KOTLIN,
    ".c": _C, ".h": _C,
    ".cpp": _CPP, ".hpp": _CPP, ".cc": _CPP, ".cxx": _CPP, ".hh": _CPP,
    ".cs": _language(
        "text/x-csharp",
        # Types usually sit one level inside a namespace, hence the small indent allowed.
        r"^[ \t]{0,4}(?:(?:public|private|protected|internal|static|sealed|abstract|partial|readonly|file)[ \t]+)*"
        r"(?:class|interface|struct|enum|record|namespace)\b",
        r"^[ \t]{0,4}(?:\[|///?)",
    ),
    ".rs": _language(
        "text/x-rust",
        r"^(?:pub(?:\([^)]*\))?[ \t]+)?(?:(?:async|const|unsafe|extern(?:[ \t]+\"[^\"]*\")?)[ \t]+)*"
        r"(?:fn|struct|enum|trait|impl|mod|type|union|macro_rules!)\W",
        r"^(?:#\[|//)",
    ),
    ".rb": _language("text/x-ruby", r"^(?:def|class|module)\b", _HASH_COMMENT),
    ".php": _language(
        "text/x-php",
        r"^(?:(?:abstract|final|readonly)[ \t]+)*(?:function|class|interface|trait|enum)\b",
        r"^(?:/\*| \*|//|#\[)",
    ),
    ".sh": _SHELL, ".bash": _SHELL, ".zsh": _SHELL,
    ".sql": _language("application/sql", r"(?i)^(?:create|alter)\b", r"^--"),
    # Only keys opening a block (nothing after the colon) start a section; scalar keys stay together.
    ".yaml": _language("application/yaml", r"^[^\s#-][^:#]*+:[ \t]*+(?:[|>][-+]?[ \t]*+)?(?:#.*)?$", _HASH_COMMENT),
    ".yml": _language("application/yaml", r"^[^\s#-][^:#]*+:[ \t]*+(?:[|>][-+]?[ \t]*+)?(?:#.*)?$", _HASH_COMMENT),
    ".toml": _language("application/toml", r"^\[", _HASH_COMMENT),
    ".ini": _INI, ".cfg": _INI, ".conf": _INI,
    ".xml": _language("application/xml"),
    ".css": _language("text/css"),
    ".scss": _language("text/x-scss"),
    ".swift": _language(
        "text/x-swift",
        r"^(?:(?:public|private|internal|open|fileprivate|final|@\w+)[ \t]+)*"
        r"(?:func|class|struct|enum|protocol|extension|actor)\b",
        r"^(?:@|//)",
    ),
    ".scala": _language(
        "text/x-scala",
        r"^(?:(?:sealed|abstract|final|case|implicit|private|protected|override|lazy)[ \t]+)*"
        r"(?:def|class|object|trait|enum|given)\b",
        r"^(?:@|//|/\*| \*)",
    ),
    ".r": _language("text/x-r", r"^[\w.]+[ \t]*(?:<-|=)[ \t]*function\b", _HASH_COMMENT),
    ".lua": _language("text/x-lua", r"^(?:local[ \t]+)?function\b", r"^--"),
    ".pl": _PERL, ".pm": _PERL,
    ".ps1": _POWERSHELL, ".psm1": _POWERSHELL,
    ".bat": _BATCH, ".cmd": _BATCH,
}  # fmt: skip

# Files known by name alone (lower-case), most without a suffix.
NAMES: dict[str, Language] = {
    "dockerfile": _language("text/x-dockerfile", r"(?i)^FROM\b", _HASH_COMMENT),
    "containerfile": _language("text/x-dockerfile", r"(?i)^FROM\b", _HASH_COMMENT),
    # Rule lines ("target: prerequisites"), not variable assignments (":=", "::=").
    "makefile": _language("text/x-makefile", r"^[\w./%$(){}-][^:=#\t]*:(?![=:])", _HASH_COMMENT),
    "gnumakefile": _language("text/x-makefile", r"^[\w./%$(){}-][^:=#\t]*:(?![=:])", _HASH_COMMENT),
}


def language_for(name: str) -> Language | None:
    """The language of a file name (by exact name first, then suffix), or None if unknown."""
    path = PurePosixPath(name.replace("\\", "/"))
    lowered = path.name.lower()
    if lowered in NAMES:
        return NAMES[lowered]
    if lowered.startswith("dockerfile."):  # Dockerfile.prod and friends
        return NAMES["dockerfile"]
    return LANGUAGES.get(path.suffix.lower())


def parse(text: str, name: str) -> ParsedFile:
    """Cut source text into sections at top-level definitions, keeping every line.

    The text before the first definition is a section with an empty heading path; every
    other section's heading path is its definition line (trimmed to about 80 characters).
    """
    language = language_for(name) or Language()
    lines = split_lines(text)
    starts = _definition_starts(lines, language)
    sections: list[Section] = []
    bounds = [(0, None), *starts]
    for number, (start, definition) in enumerate(bounds):
        end = bounds[number + 1][0] if number + 1 < len(bounds) else len(lines)
        heading = [_heading(lines[definition])] if definition is not None else []
        section = section_from_lines(lines[start:end], start + 1, heading)
        if section is not None:
            sections.append(section)
    return ParsedFile(sections=sections, mime_type=language.mime_type)


def _definition_starts(lines: list[str], language: Language) -> list[tuple[int, int]]:
    """``(first line of the section, line of the definition)`` for each definition found."""
    if language.definition is None:
        return []
    starts: list[tuple[int, int]] = []
    floor = 0  # a section may not reach back into the previous definition's line
    for index, line in enumerate(lines):
        if len(line) > MAX_DEFINITION_LINE or not language.definition.match(line):
            continue
        first = index
        while (
            language.attached is not None
            and first - 1 >= floor
            and lines[first - 1].strip()
            and language.attached.match(lines[first - 1])
        ):
            first -= 1
        starts.append((first, index))
        floor = index + 1
    return starts


def _heading(line: str) -> str:
    """A definition line as a heading: trimmed, without a trailing ``{``, at most ~80 chars."""
    heading = line.strip().rstrip("{").rstrip()
    return heading if len(heading) <= HEADING_CHARS else heading[: HEADING_CHARS - 1].rstrip() + "…"

"""Wiki pages to clean sectioned text: wikitext (dumps), rendered HTML (live wikis), anchors, URLs."""

from __future__ import annotations

from orgkb.connectors.formats import parse_file
from orgkb.connectors.mediawiki.pages import page_url
from orgkb.connectors.wiki import fragment, rendered_sections, site_root
from orgkb.connectors.mediawiki.wikitext import render_wikitext

PAGE = """__NOTOC__
{{Infobox office|city=Berlin|desks=120}}
The '''Berlin office''' is our [[Head office|headquarters]].<ref>Registered in 2016.</ref>
<!-- editors: keep the address current -->
== Address ==
Torstraße 140, 10119 [[Berlin]]. See [https://maps.example/berlin the map].
=== Floor 3 ===
* Data lab
** Quiet room
# Check in at reception
{| class="wikitable"
|+ Meeting rooms
! Room !! Seats
|-
| Spree || 8
|-
| Havel
| 12
|}
[[File:Berlin office.jpg|thumb|The entrance]]
== Address ==
Postal address only.
== Tips & tricks ==
<syntaxhighlight lang="bash">
ssh gw-ber.example
</syntaxhighlight>
[[Category:Offices]] [[Category:Berlin|Office]] [[:Category:Archive]]
"""


def test_wikitext_renders_clean_sections_with_mediawiki_anchors() -> None:
    page = render_wikitext(PAGE)

    assert [(s.heading_path, s.anchor) for s in page.sections] == [
        ([], None),
        (["Address"], "Address"),
        (["Address", "Floor 3"], "Floor_3"),
        (["Address"], "Address_2"),  # MediaWiki numbers a repeated heading
        (["Tips & tricks"], "Tips_&_tricks"),
    ]
    intro, address, floor, _, tips = (s.text for s in page.sections)
    assert intro == "The Berlin office is our headquarters."
    assert address == "Torstraße 140, 10119 Berlin. See the map."
    assert floor == (
        "- Data lab\n- Quiet room\n- Check in at reception\n\n"
        "Meeting rooms\nRoom | Seats\nSpree | 8\nHavel | 12"
    )
    assert tips.strip() == "ssh gw-ber.example\n\nCategory:Archive"
    assert page.categories == ["Offices", "Berlin"]
    everything = "\n".join(s.text for s in page.sections)
    for junk in ("{{", "}}", "[[", "<ref", "Registered", "editors", "NOTOC", "thumb", "'''", "=="):
        assert junk not in everything


def test_wikitext_uses_the_wikis_own_namespace_names() -> None:
    page = render_wikitext("Text [[Kategorie:Büros]] [[Datei:x.png|mini|Bild]]", {"kategorie"}, {"datei"})
    assert page.categories == ["Büros"]
    assert [s.text for s in page.sections] == ["Text"]


def test_rendered_html_keeps_the_wikis_heading_anchors_and_drops_furniture() -> None:
    html = (
        '<div class="mw-parser-output"><p>Intro<sup class="reference">[1]</sup></p>'
        '<h2><span class="mw-headline" id="Floor_3">Floor 3</span>'
        '<span class="mw-editsection">[edit]</span></h2><p>Data lab</p>'
        '<h3 id="who is here">Who is here</h3><p>Analytics</p></div>'
    )
    sections = rendered_sections(html, (".mw-editsection", "sup.reference"))
    assert [(s.heading_path, s.text, s.anchor) for s in sections] == [
        ([], "Intro", None),
        (["Floor 3"], "Data lab", "Floor_3"),
        (["Floor 3", "Who is here"], "Analytics", "who%20is%20here"),
    ]
    assert all(s.line_start is None for s in sections)  # lines of rendered HTML mean nothing to a reader


def test_html_files_get_anchors_from_heading_ids() -> None:
    parsed = parse_file("page.html", b'<h1 id="top">Top</h1><p>a</p><h2>No id</h2><p>b</p>')
    assert [(s.heading_path, s.anchor) for s in parsed.sections] == [(["Top"], "top"), (["Top", "No id"], None)]


def test_urls() -> None:
    assert site_root("https://wiki.example/w/index.php?title=Main_Page", ["api.php", "index.php"]) == "https://wiki.example/w"
    assert site_root("https://wiki.example/doku.php?id=start", ["doku.php"]) == "https://wiki.example"
    assert site_root("https://wiki.example/wiki/", ["doku.php"]) == "https://wiki.example/wiki"
    assert page_url("https://wiki.example/wiki/$1", "On-call rota (2025)") == "https://wiki.example/wiki/On-call_rota_(2025)"
    assert page_url("https://w.example/index.php?title=", "Q&A: Büro?") == "https://w.example/index.php?title=Q%26A:_B%C3%BCro%3F"
    assert fragment("Kosten_&_Spesen") == "Kosten_&_Spesen"
    assert fragment('a "b" <c>') == "a%20%22b%22%20%3Cc%3E"
    assert fragment("Büro") == "Büro"

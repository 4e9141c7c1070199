"""Lexical analysis and language detection: Romanian words meet whatever their inflection or diacritics."""

from __future__ import annotations

import pytest

from orgkb.server.language.analysis import analyse, fold, query_terms
from orgkb.server.language.detection import detect, document_languages

ROMANIAN = (
    "Copiile de siguranță complete se fac în fiecare noapte, iar jurnalele se arhivează continuu. "
    "Lunar, o copie este restaurată de probă pe serverul de staging."
)
ENGLISH = (
    "Every model release is approved by the Forecasting lead. The release checklist covers backtesting "
    "on the last eight weeks and a rollback plan documented in the ticket."
)


def test_comma_below_and_cedilla_forms_fold_alike() -> None:
    # U+0219/U+021B (comma below, correct) and U+015F/U+0163 (cedilla, legacy encodings).
    assert fold("Ședința țării") == fold("Şedinţa ţării") == "sedinta tarii"
    assert fold("ĂÂÎ ăâî") == "aai aai"


@pytest.mark.parametrize(
    "forms",
    [
        ["stratul", "straturile", "straturi", "straturilor"],
        ["concediu", "concediul", "concediile", "concedii"],
        ["securității", "securitatii", "securitate"],
        ["ecusonul", "ecusoanele", "ecusoane"],
        ["directorul", "directoarele", "directoare"],
        ["rețelei", "reţelei", "retelei"],
    ],
)
def test_romanian_inflections_and_spellings_share_one_term(forms: list[str]) -> None:
    assert len({analyse(form, "ro") for form in forms}) == 1, [analyse(f, "ro") for f in forms]


def test_english_analysis_still_stems_with_porter() -> None:
    assert analyse("The running tests were failing", "en") == "the run test were fail"


def test_stopwords_of_each_language_are_left_out() -> None:
    assert analyse("cererea de concediu și aprobarea managerului", "ro").split() == ["cerer", "conced", "aprob", "manager"]
    # English keeps them in the index (BM25 length normalisation was tuned so); queries drop them.
    assert analyse("the policy of the company", "en").split() == ["the", "polici", "of", "the", "compani"]
    assert query_terms("the policy of the company", ["en"]) == ["polici", "compani"]


def test_a_query_is_analysed_for_every_indexed_language() -> None:
    terms = query_terms("straturile rețelei", ["en", "ro"])
    assert "strat" in terms  # Romanian analysis
    assert "straturil" in terms  # English analysis of the same word
    assert query_terms("a și de", ["ro"]) == []


def test_detection_tells_romanian_from_english() -> None:
    assert detect(ROMANIAN).language == "ro"  # type: ignore[union-attr]
    assert detect(ENGLISH).language == "en"  # type: ignore[union-attr]
    assert detect("VPN") is None  # too short to guess
    found = detect("cum schimb parola", among=["en", "ro"])
    assert found is not None and found.language == "ro"


def test_a_document_mixing_languages_keeps_each_sections_language() -> None:
    languages = document_languages(ROMANIAN + "\n\n" + ROMANIAN + "\n\n" + ENGLISH, [ROMANIAN, ROMANIAN, ENGLISH])
    assert languages.document == "ro"
    assert languages.chunks == ["ro", "ro", "en"]


def test_a_declared_language_wins_and_an_unknown_one_is_ignored() -> None:
    assert document_languages(ENGLISH, [ENGLISH], declared="ro") == ("ro", ["ro"])
    assert document_languages(ENGLISH, [ENGLISH], declared="English").document == "en"

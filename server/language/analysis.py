"""Lexical analysis per language: folded, stopword-free, Snowball-stemmed terms.

Python's sqlite3 cannot register FTS5 tokenizers, so the analysis happens here instead: the
catalog stores *analysed* text in the FTS5 tables (indexed there with a plain ``unicode61``
tokenizer), and a query is analysed the same way for every language the index holds. Both
sides go through `analyse`, so a document and a query always meet on the same terms.

Diacritics are folded *before* stemming (ș/ş → s, ț/ţ → t, ă/â → a, î → i, é → e): a query
typed without diacritics must reach the same stem as the document's correctly spelled word,
and the stemmer cannot know which letters a keyboard left out.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

DEFAULT_LANGUAGE = "en"

# ISO 639-1 code → Snowball algorithm. English keeps the original Porter stemmer, which the
# FTS5 `porter` tokenizer used before: English BM25 behaves as it always did.
STEMMERS: dict[str, str] = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "porter", "eo": "esperanto", "es": "spanish", "et": "estonian", "eu": "basque",
    "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian",
    "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish",
}
SUPPORTED_LANGUAGES = frozenset(STEMMERS)

# Words in nearly every text add almost nothing to BM25 but make FTS5 score every row. English
# keeps the short list it was tuned with (SciFact); Romanian gets its function words, written
# folded because matching happens after folding. Other languages are stemmed without a list.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "a an and are as at be by for from has have in is it its of on or that the their this to was were with".split()
    ),
    "ro": frozenset(
        """a acea aceasta aceea acei aceia acel acela acele acelea acest acesta aceste acestea acestei
        acestia acestui acolo acum adica ai aia al ala ale alt alta alte altfel am an ar are as asa asta
        astfel atat atata atunci au avea avem aveti c ca caci care carei caror carui cat cata cate cati
        catre ce cea cei cel cele celor cine cineva cu cum da daca dar de deci deja desi despre din
        dintr dintre doar dupa e ea ei el ele era eram este esti eu fi fie fiecare fiind fost fara iar
        ii il imi in inca incat insa intr intre isi iti la le li lor lui m ma mai mi mult multe multi
        ne nici niste noi nostru nu o ori pe pentru peste pana poate prin sa sai sale sau se si sunt
        suntem sunteti te ti tot toata toate toti tu un una unde unei unele unor unui va vi voi vom vor""".split()
    ),
}

_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # what FTS5's unicode61 calls a token: letters and digits


def fold(text: str) -> str:
    """Lower-case ``text`` and drop its diacritics (comma-below and cedilla forms alike)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Analyzer:
    """Turns text of one language into index terms. Thread-safe (a stemmer per thread)."""

    def __init__(self, language: str) -> None:
        self.language = language if language in STEMMERS else DEFAULT_LANGUAGE
        self.stopwords = STOPWORDS.get(self.language, frozenset())
        self._local = threading.local()

    def _stemmer(self) -> Stemmer.Stemmer:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = self._local.stemmer = Stemmer.Stemmer(STEMMERS[self.language])
        return stemmer

    def terms(self, text: str, *, min_length: int = 1, keep_stopwords: bool = False) -> list[str]:
        """The stemmed terms of ``text`` in order, stopwords dropped unless ``keep_stopwords``.

        Words shorter than ``min_length`` are dropped too, except numbers.
        """
        words = _WORD.findall(fold(text))
        drop = frozenset() if keep_stopwords else self.stopwords
        kept = [w for w in words if w not in drop and (len(w) >= min_length or w.isdigit())]
        stems = self._stemmer().stemWords(kept)
        refine = _REFINEMENTS.get(self.language)
        return [refine(stem) for stem in stems] if refine else stems


def _refine_romanian(stem: str) -> str:
    """Join what Snowball's Romanian stemmer leaves apart: a singular and its plural.

    Neuter plurals in -uri keep their -ur (strat/straturi → strat/stratur), and stems alternate
    o/oa (ecuson/ecusoane, director/directoare) or end in -iu (concediu/concedii). The rules act
    on stems, the same way for documents and queries, and only on stems long enough that few
    other words end that way.
    """
    if len(stem) >= 5 and stem.endswith("ur") and stem[-3] not in "aeiou":
        return stem[:-2]
    if len(stem) >= 7 and stem.endswith("oar"):
        return stem[:-3] + "or"
    if len(stem) >= 6 and stem.endswith("oan"):
        return stem[:-3] + "on"
    if len(stem) >= 6 and stem.endswith("iu"):
        return stem[:-2]
    return stem


_REFINEMENTS = {"ro": _refine_romanian}


@lru_cache(maxsize=64)
def analyzer(language: str | None) -> Analyzer:
    """The analyzer of a language (the default language's for an unknown or missing one)."""
    return Analyzer(language or DEFAULT_LANGUAGE)


# English text keeps its stopwords in the index, as before languages were analysed: BM25's
# length normalisation (tuned on SciFact) counts them. Queries drop them in every language.
_STOPWORDS_INDEXED = frozenset({"en"})


def analyse(text: str, language: str | None) -> str:
    """``text`` as the FTS5 tables store it: its terms in ``language``, separated by spaces."""
    engine = analyzer(language)
    return " ".join(engine.terms(text, keep_stopwords=engine.language in _STOPWORDS_INDEXED))


def query_terms(text: str, languages: Iterable[str]) -> list[str]:
    """The terms a query may match, analysed for each language the index holds, in order.

    A word may be stemmed differently in each language; every variant is kept (the query ORs
    them), so the query meets a document whichever of those languages it is written in. Single
    letters are dropped (they match nearly everything); numbers are kept. Stopwords are not in
    the index, so a query made only of them has no terms.
    """
    found: dict[str, None] = {}
    for language in dict.fromkeys(languages or [DEFAULT_LANGUAGE]):
        found.update(dict.fromkeys(analyzer(language).terms(text, min_length=2)))
    return list(found)

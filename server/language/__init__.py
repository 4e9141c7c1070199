"""Languages in the index: which language a text is written in, and how each language's words
are reduced to the terms the lexical (BM25) index matches on.

Nothing here imports the rest of orgkb.server, so the catalog (writing analysed text) and
retrieval (analysing queries) both use it without depending on each other.
"""

"""Turning a source's permission rules into the principals a document allows.

`Permissions` holds principals any one of which may read. Sources state permissions as rules
that such a set cannot always hold exactly: in DokuWiki the most specific rule wins (a denial
on a namespace overrides a grant on the whole wiki), in Confluence a reader must pass the
restrictions of a page *and* of each of its ancestors. The functions here translate those rules
once for every connector. Where no exact translation exists they keep only the readers that are
certain, never someone the source would refuse, and the rule text says what was left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from orgkb.connectors.permissions import EVERYONE, Permissions

# The groups a user principal belongs to (as group principals), as the source knows them.
GroupsOf = Callable[[str], frozenset[str]]


def most_specific_readers(scopes: Iterable[tuple[str, Mapping[str, bool]]], label: str) -> Permissions:
    """Readers under "the most specific rule wins" (DokuWiki's ACLs).

    ``scopes`` run from the most specific (the page) to the least (the whole site), each with its
    rules: principal name (``user:x``, ``group:y``, ``*``) to whether it may read. A person is
    decided at the first scope where any of their names has a rule, and may read when any of
    their rules there allows it. Grants of a scope are kept until a scope that decides everyone
    (``*`` has a rule) or that denies someone: broader grants past a denial would also reach the
    people it denies, so they are left out (those readers see the page only through a narrower
    grant or as administrators).
    """
    readers: set[str] = set()
    for scope, rules in scopes:
        if not rules:
            continue
        readers.update(name for name, allowed in rules.items() if allowed)
        denied = sorted(name for name, allowed in rules.items() if not allowed)
        if EVERYONE in rules:
            return Permissions(principals=frozenset(readers), rule=f"{label}: decided at {scope} ({_listing(rules)})")
        if denied:
            return Permissions(
                principals=frozenset(readers),
                rule=f"{label}: {scope} denies {', '.join(denied)} ({_listing(rules)}); broader grants not mirrored",
            )
    return Permissions(principals=frozenset(readers), rule=f"{label}: {'no rule' if not readers else 'grants only'}")


def readers_of_all(sets: Iterable[frozenset[str]], groups_of: GroupsOf) -> frozenset[str]:
    """The principals certain to pass every one of ``sets`` (each: principals any one of which
    passes it), as for a Confluence page whose ancestors are restricted too.

    ``*`` passes everything; a name in both sets is kept; a user in one set is kept when the
    source puts them in a group of the other. A group named in only one set is dropped: only
    some of its members may pass the other set, and a set of names cannot say which.
    """
    result: frozenset[str] | None = None
    for current in sets:
        result = current if result is None else _both(result, current, groups_of)
    return result if result is not None else frozenset({EVERYONE})


def passes(user: str, allowed: frozenset[str], groups_of: GroupsOf) -> bool:
    """True when the user principal ``user`` is one of ``allowed`` directly, through ``*`` or
    through one of its groups."""
    return EVERYONE in allowed or user in allowed or not groups_of(user).isdisjoint(allowed)


def _both(first: frozenset[str], second: frozenset[str], groups_of: GroupsOf) -> frozenset[str]:
    if EVERYONE in first:
        return second
    if EVERYONE in second:
        return first
    kept = set(first & second)
    for one, other in ((first, second), (second, first)):
        kept.update(name for name in one - other if name.startswith("user:") and passes(name, other, groups_of))
    return frozenset(kept)


def _listing(rules: Mapping[str, bool]) -> str:
    return ", ".join(f"{name} {'read' if allowed else 'none'}" for name, allowed in sorted(rules.items()))

"""Many resources under one path prefix, matched by a single regex instead of one by one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .resources import DynamicResource, PlainResource, Resource, unquote_safe
from .routes import UrlMappingMatchInfo

if TYPE_CHECKING:
    from .resources import AbstractResource

__all__ = ["CombinedBucket"]

# Below this many candidates the one-by-one walk is as quick as one combined match.
MIN_COMBINED = 4
_GROUP_RE = re.compile(r"\(\?P<([_a-zA-Z][_a-zA-Z0-9]*)>")


class _Alternation:
    """An alternation of some resources' patterns, in registration order.

    Python's ``re`` tries alternatives left to right, so the first resource whose
    pattern matches wins, exactly as in the one-by-one walk; the walk runs in C.
    """

    __slots__ = ("_regex", "_members")

    def __init__(self, resources: Sequence[tuple[int, Resource]]) -> None:
        parts: list[str] = []
        self._members: dict[str, tuple[Resource, list[tuple[str, str]]]] = {}
        for n, resource in resources:
            if isinstance(resource, DynamicResource):
                pattern, names = _renamed(resource, n)
            else:
                pattern, names = re.escape(resource.canonical), []
            marker = f"_m{n}"
            self._members[marker] = (resource, names)
            parts.append(f"(?:{pattern})(?P<{marker}>)")
        self._regex = re.compile("|".join(parts))

    def match(self, path: str, method: str) -> UrlMappingMatchInfo | bool:
        found = self._regex.fullmatch(path)
        if found is None:
            return False
        resource, names = self._members[found.lastgroup]  # type: ignore[index]
        route = resource._route_for(method)
        if route is None:
            return True
        return UrlMappingMatchInfo(
            {name: unquote_safe(found.group(group)) for name, group in names}, route
        )


class CombinedBucket:
    """The resources of one crowded prefix bucket, matched without trying each in turn.

    Resources whose last path segment is literal (``/users/{id}/posts``) are grouped by
    it, so a request only meets the few whose last segment equals its own (plus those
    ending in a variable); each group is one regex alternation.
    """

    __slots__ = ("_by_last", "_rest")

    def __init__(self, by_last: dict[str, _Alternation], rest: _Alternation | None) -> None:
        self._by_last = by_last
        self._rest = rest

    @classmethod
    def build(cls, bucket: Sequence[AbstractResource]) -> CombinedBucket | None:
        if len(bucket) < MIN_COMBINED:
            return None
        literal: dict[str, list[tuple[int, Resource]]] = {}
        rest: list[tuple[int, Resource]] = []
        for n, resource in enumerate(bucket):
            if isinstance(resource, PlainResource):
                last = resource.canonical.rpartition("/")[2]
            elif isinstance(resource, DynamicResource):
                last = resource.match_canonical.rpartition("/")[2]
                if "{" in last:
                    rest.append((n, resource))
                    continue
            else:
                return None  # a prefix or sub-app resource: only the awaited walk handles it
            literal.setdefault(last, []).append((n, resource))
        try:
            by_last = {
                last: _Alternation(sorted(members + rest, key=lambda item: item[0]))
                for last, members in literal.items()
            }
            return cls(by_last, _Alternation(rest) if rest else None)
        except re.error:
            return None  # a user pattern that does not survive renaming: walk instead

    def match(self, path: str, method: str) -> UrlMappingMatchInfo | bool:
        """The match info; False when no resource here has the path; True when one has it
        but not the method (then the one-by-one walk works out the Allow header)."""
        group = self._by_last.get(path.rpartition("/")[2], self._rest)
        if group is None:
            return False
        return group.match(path, method)


def _renamed(resource: DynamicResource, n: int) -> tuple[str, list[tuple[str, str]]]:
    """The resource's pattern with its groups renamed apart from the other alternatives'."""
    names = list(resource._pattern.groupindex)
    pattern = _GROUP_RE.sub(lambda m: f"(?P<_g{n}_{m.group(1)}>", resource._pattern.pattern)
    return pattern, [(name, f"_g{n}_{name}") for name in names]

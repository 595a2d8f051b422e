"""Cool Papers' category algebra: `cs.AI+cs.LG-cs.CY`, whole archives, and the feeds to fetch.

What people type, and what it means:

- names joined by `+`, commas or spaces are followed (`cs.CL cs.LG`, `cs.CL, cs.LG`, `cs.AI+cs.LG`);
- a name after `-` is excluded (`cs.AI+cs.LG-cs.CY`, `cs -cs.CY`); names themselves may hold
  dashes (`hep-th`, `cond-mat.mtrl-sci`), so a dash only separates where a known name follows;
- an archive name follows the whole archive (`cs`, `astro-ph`); a name that is both an archive and
  its only category (`hep-th`) is simply that category;
- any case, aliases and retired names are accepted and folded (`CS.cl`, `math.MP`, `cmp-lg`).

A paper matches when any of its categories (primary or cross-list) is followed and none is
excluded: an exclusion removes a paper even if it is also in a followed category, which is what
`-cs.CY` is for. Exclusions also win inside the expression itself (`cs-cs.CY` follows 39 of cs).

Feeds are requested as arXiv expects (`https://rss.arxiv.org/rss/cs+math.OC`): archives by their
name rather than as dozens of categories, a bounded number of names per request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from digest.clean import echo
from digest.errors import BadInput, UnknownCategory
from digest.taxonomy import Taxonomy, load_taxonomy

__all__ = ["FEED_NAMES_PER_REQUEST", "MERGE_NAMES_PER_REQUEST", "CategoryExpr", "merge_exprs", "parse_expr"]

FEED_NAMES_PER_REQUEST = 20  # one subscription's feed: a handful of names, kept well under arXiv's 2000 items
MERGE_NAMES_PER_REQUEST = 25  # the ingester's combined requests

_SEPARATORS = " \t\r\n+,;"


@dataclass(frozen=True)
class CategoryExpr:
    """A parsed category expression; `include` and `exclude` hold canonical category ids."""

    include: frozenset[str]
    exclude: frozenset[str] = frozenset()
    archives: frozenset[str] = frozenset()  # archives followed whole, kept as names for text and feeds
    excluded_archives: frozenset[str] = frozenset()
    taxonomy: Taxonomy = field(default_factory=load_taxonomy, compare=False, repr=False, kw_only=True)

    def __str__(self) -> str:
        """Canonical text: followed names sorted and `+`-joined, then each exclusion after `-`."""
        return "+".join(self.feed_names()) + "".join(f"-{name}" for name in self.excluded_names())

    @property
    def is_empty(self) -> bool:
        """True when nothing is followed (e.g. after unsubscribing from everything)."""
        return not self.include

    def matches(self, paper_categories: Iterable[str]) -> bool:
        """True when a paper listed in these categories is in any followed one and no excluded one."""
        listed = set(paper_categories)
        return not self.include_spellings.isdisjoint(listed) and self.exclude_spellings.isdisjoint(listed)

    @functools.cached_property
    def include_spellings(self) -> frozenset[str]:
        """Every way a followed category can appear on a paper: canonical ids, their aliases,
        and the bare archive name old papers carry (`astro-ph`) when the archive is followed."""
        return self._spellings(self.include) | self.archives

    @functools.cached_property
    def exclude_spellings(self) -> frozenset[str]:
        """Every way an excluded category can appear on a paper (see `include_spellings`)."""
        return self._spellings(self.exclude) | self.excluded_archives

    def feed_groups(self, per_request: int = FEED_NAMES_PER_REQUEST) -> list[str]:
        """The `+`-joined RSS paths that cover everything followed (exclusions are filtered locally)."""
        return _chunked(self.feed_names(), per_request)

    def feed_names(self) -> list[str]:
        """Archives followed whole, then the other followed categories, each once, sorted."""
        return sorted(self.archives) + sorted(self.include - self._expand(self.archives))

    def excluded_names(self) -> list[str]:
        """Archives excluded whole, then the other excluded categories, each once, sorted."""
        return sorted(self.excluded_archives) + sorted(self.exclude - self._expand(self.excluded_archives))

    def union(self, other: CategoryExpr) -> CategoryExpr:
        """Both expressions followed together; what one explicitly follows lifts the other's exclusion.

        Used when a chat subscribes to more: `cs.AI-cs.CY` plus `cs.CY` follows both.
        """
        exclude = (self.exclude - other.include) | (other.exclude - self.include)
        excluded_archives = (self.excluded_archives - other.archives) | (other.excluded_archives - self.archives)
        return self._make(
            include=self.include | other.include,
            exclude=exclude,
            archives=self.archives | other.archives,
            excluded_archives=excluded_archives,
        )

    def minus(self, names: Iterable[str]) -> CategoryExpr:
        """This expression without some categories or archives (any spelling), as `/unsubscribe` wants.

        A category dropped from an archive that stays followed becomes an exclusion (`cs` minus
        `cs.CY` is `cs-cs.CY`); dropping an archive also forgets the exclusions inside it.
        """
        categories, archives = _resolve(names, self.taxonomy)
        kept_archives = self.archives - archives
        dropped_archive_categories = self._expand(archives)
        still_covered = self._expand(kept_archives)
        return self._make(
            include=self.include - categories - dropped_archive_categories,
            exclude=(self.exclude - dropped_archive_categories) | (categories & still_covered),
            archives=kept_archives,
            excluded_archives=self.excluded_archives,
        )

    def without_exclusions(self, names: Iterable[str]) -> CategoryExpr:
        """This expression with some exclusions lifted (`/unsubscribe -cs.CY`); what it follows is unchanged."""
        categories, archives = _resolve(names, self.taxonomy)
        return self._make(
            include=self.include,
            exclude=self.exclude - categories - self._expand(archives),
            archives=self.archives,
            excluded_archives=self.excluded_archives - archives,
        )

    def excludes(self, name: str) -> bool:
        """Whether `name` (a category or an archive, any spelling) is one of the exclusions."""
        categories, archives = _resolve([name], self.taxonomy)
        return bool(categories & self.exclude or archives & self.excluded_archives)

    def _make(self, **parts: frozenset[str]) -> CategoryExpr:
        """A new expression; exclusions always win over inclusions."""
        parts["include"] = parts["include"] - parts["exclude"]
        parts["archives"] = parts["archives"] - parts["excluded_archives"]
        return CategoryExpr(**parts, taxonomy=self.taxonomy)

    def _expand(self, archives: Iterable[str]) -> frozenset[str]:
        return _expand(archives, self.taxonomy)

    def _spellings(self, categories: frozenset[str]) -> frozenset[str]:
        spellings: set[str] = set(categories)
        for category in categories:
            spellings |= self.taxonomy.aliases_of(category)
        return frozenset(spellings)


def parse_expr(text: str, taxonomy: Taxonomy) -> CategoryExpr:
    """Parse `cs.AI+cs.LG-cs.CY`, `cs`, `cs.CL, cs.LG`; raises UnknownCategory or BadInput."""
    terms = _terms(text, taxonomy)
    if not terms:
        raise BadInput("Give at least one category, e.g. cs.CL, cs.AI+cs.LG-cs.CY or a whole archive like cs.")
    include, archives = _resolve((name for name, excluded in terms if not excluded), taxonomy)
    exclude, excluded_archives = _resolve((name for name, excluded in terms if excluded), taxonomy)
    include |= _expand(archives, taxonomy)
    exclude |= _expand(excluded_archives, taxonomy)
    if not include - exclude:
        raise BadInput(f"'{echo(text.strip())}' excludes everything it follows; name a category to follow too.")
    return CategoryExpr(
        include=include - exclude,
        exclude=exclude,
        archives=archives - excluded_archives,
        excluded_archives=excluded_archives,
        taxonomy=taxonomy,
    )


def merge_exprs(exprs: Iterable[CategoryExpr], per_request: int = MERGE_NAMES_PER_REQUEST) -> list[str]:
    """The fewest `+`-joined feed paths covering every expression (for the ingester).

    Archives followed whole are fetched by name, and categories inside them are not asked again.
    """
    archives: set[str] = set()
    categories: set[str] = set()
    taxonomy: Taxonomy | None = None
    for expr in exprs:
        archives |= expr.archives
        categories |= expr.include
        taxonomy = expr.taxonomy
    if taxonomy is None:
        return []
    names = sorted(archives) + sorted(categories - _expand(archives, taxonomy))
    return _chunked(names, per_request)


def _terms(text: str, taxonomy: Taxonomy) -> list[tuple[str, bool]]:
    """(name, excluded) pairs in the order written; unknown names raise UnknownCategory."""
    known = _known_names(taxonomy)
    terms: list[tuple[str, bool]] = []
    pos, excluded = 0, False
    while pos < len(text):
        char = text[pos]
        if char in _SEPARATORS:
            excluded = excluded and char.isspace()  # `- cs.CY` still excludes; `+` starts afresh
            pos += 1
            continue
        if char == "-":
            excluded, pos = True, pos + 1
            continue
        match = known.match(text, pos)
        if match is None:
            raise _unknown(_phrase(text, pos, known) or _unknown_word(text, pos, known), taxonomy)
        terms.append((match.group(0), excluded))
        pos, excluded = match.end(), False
    return terms


def _phrase(text: str, pos: int, known: re.Pattern[str]) -> str | None:
    """The words around `pos` between `+` or commas when they are words rather than names
    (`computation and language`, `machine learning, robotics`), else None."""
    start = max(text.rfind(",", 0, pos), text.rfind("+", 0, pos)) + 1
    ends = [i for i in (text.find(",", pos), text.find("+", pos)) if i != -1]
    words = text[start : min(ends, default=len(text))].split()
    if len(words) < 2 or any(known.fullmatch(word.lstrip("-")) for word in words):
        return None
    return " ".join(words)


def _unknown_word(text: str, pos: int, known: re.Pattern[str]) -> str:
    """The unknown name at `pos`: up to a separator, or a dash that starts a known name."""
    end = pos
    while end < len(text) and text[end] not in _SEPARATORS:
        if text[end] == "-" and end > pos and known.match(text, end + 1):
            break
        end += 1
    return text[pos:end]


@functools.lru_cache(maxsize=4)
def _known_names(taxonomy: Taxonomy) -> re.Pattern[str]:
    """Every accepted name, longest first, ending where a name must end (`cs` is not `cs.XX`)."""
    names = {*taxonomy.categories, *taxonomy.archive_map, *taxonomy.retired}
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?:{alternatives})(?=$|[-{re.escape(_SEPARATORS)}])", re.IGNORECASE)


def _resolve(names: Iterable[str], taxonomy: Taxonomy) -> tuple[frozenset[str], frozenset[str]]:
    """Canonical categories and archive names for `names`; a category spelling wins over an archive."""
    categories: set[str] = set()
    archives: set[str] = set()
    for name in names:
        canonical = taxonomy.canonical(name)
        if canonical is not None:
            categories.add(canonical)
        elif taxonomy.is_archive(name):
            archives.add(name.strip().lower())
        else:
            raise _unknown(name, taxonomy)
    return frozenset(categories), frozenset(archives)


def _expand(archives: Iterable[str], taxonomy: Taxonomy) -> frozenset[str]:
    return frozenset(c.canonical for archive in archives for c in taxonomy.categories_in_archive(archive))


def _unknown(name: str, taxonomy: Taxonomy) -> UnknownCategory:
    return UnknownCategory(name, taxonomy.suggest(name))


def _chunked(names: Sequence[str], size: int) -> list[str]:
    if size < 1:
        raise ValueError("per_request must be at least 1")
    return ["+".join(names[i : i + size]) for i in range(0, len(names), size)]

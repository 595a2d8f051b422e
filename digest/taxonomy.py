"""arXiv's category taxonomy, shipped inside the package: look-up, folding, search, suggestions.

The data is `digest/data/taxonomy.json` (made once by `digest/data/make_taxonomy.py` from arXiv's
own export): 155 active categories in 20 archives. Three wrinkles matter to everyone else:

- Six categories are aliases of another one (`math.MP` is `math-ph`, `cs.SY` is `eess.SY`, ...).
  arXiv lists a paper under both, so everything here folds an alias to the id arXiv calls
  canonical: a paper in both counts once, a subscription to either means the same thing.
- Some names are both an archive and its only category (`hep-th`, `quant-ph`, `gr-qc`):
  `canonical("hep-th")` is the category and `is_archive("hep-th")` is true as well.
- Retired archives (`cmp-lg`, `alg-geom`, ...) live on as one category each, so old papers' and
  old users' spellings still resolve (`canonical("cmp-lg") == "cs.CL"`).

Everything is case-insensitive on the way in (`cs.cl` is `cs.CL`) and canonical on the way out.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

from digest.clean import collapse_whitespace

__all__ = ["Archive", "Category", "Taxonomy", "load_taxonomy"]

# Shown first when someone subscribes for the first time: the busiest categories across fields.
POPULAR = (
    "cs.AI", "cs.CL", "cs.CV", "cs.LG", "stat.ML", "cs.RO", "cs.CR",
    "quant-ph", "math.OC", "eess.AS", "q-bio.NC", "hep-th", "astro-ph.CO", "cond-mat.mtrl-sci",
)  # fmt: skip

# Everyday words for fields whose arXiv names do not contain them.
SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "ai": ("cs.AI",),
        "ml": ("cs.LG", "stat.ML"),
        "nlp": ("cs.CL",),
        "natural language processing": ("cs.CL",),
        "llm": ("cs.CL", "cs.AI", "cs.LG"),
        "llms": ("cs.CL", "cs.AI", "cs.LG"),
        "large language models": ("cs.CL", "cs.AI", "cs.LG"),
        "deep learning": ("cs.LG", "cs.CV", "cs.NE"),
        "reinforcement learning": ("cs.LG", "cs.AI"),
        "vision": ("cs.CV",),
        "speech": ("eess.AS", "cs.SD", "cs.CL"),
        "neuroscience": ("q-bio.NC",),
        "hci": ("cs.HC",),
        "security": ("cs.CR",),
        "quantum computing": ("quant-ph", "cs.ET"),
        "string theory": ("hep-th",),
        "cosmology": ("astro-ph.CO", "gr-qc"),
        "economics": ("econ",),
    }
)

_WORDS = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset({"and", "of", "the", "in", "for", "on", "a", "an", "to", "with"})
_MAX_SUGGESTIONS = 5


@dataclass(frozen=True, slots=True)
class Category:
    """One active arXiv category; `canonical` is itself except for the six aliases."""

    id: str
    name: str
    archive: str
    group: str  # the group's display name, e.g. "Computer Science"
    canonical: str
    description: str = ""

    @property
    def is_alias(self) -> bool:
        return self.canonical != self.id


@dataclass(frozen=True, slots=True)
class Archive:
    """One active archive (`cs`, `math`, `hep-th`) and the group it belongs to."""

    id: str
    name: str
    group: str


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: there is one per process
class Taxonomy:
    """The whole taxonomy; build it with `load_taxonomy()`, which reads the JSON once."""

    categories: Mapping[str, Category]  # every active id, aliases included, in arXiv order
    archive_map: Mapping[str, Archive]  # active archives in arXiv's home-page order
    retired: Mapping[str, str]  # retired archive -> the category that replaced it
    popular: tuple[str, ...] = POPULAR
    _lookup: Mapping[str, str] = field(init=False, repr=False)  # lower-case spelling -> canonical id

    def __post_init__(self) -> None:
        lookup = {cid.lower(): c.canonical for cid, c in self.categories.items()}
        lookup.update({old.lower(): self.categories[new].canonical for old, new in self.retired.items()})
        object.__setattr__(self, "_lookup", MappingProxyType(lookup))

    @classmethod
    def from_document(cls, document: Mapping) -> Taxonomy:
        """A taxonomy from the shipped JSON document (see `make_taxonomy.py` for its shape)."""
        groups = document["groups"]
        categories = {
            c["id"]: Category(
                id=c["id"],
                name=c["name"],
                archive=c["archive"],
                group=groups[c["group"]],
                canonical=c["canonical"],
                description=c["description"],
            )
            for c in document["categories"]
        }
        archives = {
            aid: Archive(id=aid, name=a["name"], group=groups[a["group"]])
            for aid, a in document["archives"].items()
        }
        return cls(
            categories=MappingProxyType(categories),
            archive_map=MappingProxyType(archives),
            retired=MappingProxyType(dict(document["retired_archives"])),
        )

    def canonical(self, name: str) -> str | None:
        """The canonical id for any spelling of a category (`cs.cl`, `math.MP`, `cmp-lg`), else None."""
        return self._lookup.get(name.strip().lower())

    def get(self, name: str) -> Category | None:
        """The canonical category for any spelling, else None."""
        canonical = self.canonical(name)
        return self.categories[canonical] if canonical else None

    def is_archive(self, name: str) -> bool:
        """True for an active archive name in any case (`cs`, `Math`, `hep-th`)."""
        return name.strip().lower() in self.archive_map

    def archives(self) -> list[Archive]:
        """Active archives in the order arXiv's home page lists them (physics first)."""
        return list(self.archive_map.values())

    def categories_in_archive(self, archive: str) -> list[Category]:
        """Every active category listed in an archive, aliases included (`cs` lists `cs.NA`)."""
        key = archive.strip().lower()
        return [c for c in self.categories.values() if c.archive == key]

    def name_of(self, name: str) -> str | None:
        """The display name of a category (any spelling) or an archive, else None."""
        category = self.get(name)
        if category is not None:
            return category.name
        archive = self.archive_map.get(name.strip().lower())
        return archive.name if archive else None

    def aliases_of(self, canonical: str) -> frozenset[str]:
        """Every active id that folds to `canonical`, itself included (`math.NA` -> math.NA, cs.NA)."""
        return frozenset(cid for cid, c in self.categories.items() if c.canonical == canonical)

    def popular_categories(self) -> list[Category]:
        """The curated onboarding list, as categories."""
        return [self.categories[cid] for cid in self.popular]

    def search(self, words: str, limit: int = 10) -> list[Category]:
        """Canonical categories matching all the words, best first: id, then name, then description."""
        terms = _terms(words)
        if not terms:
            return []
        synonyms = [cid for cid in SYNONYMS.get(" ".join(terms), ()) if cid in self.categories]
        scored = [
            (score + (2 if c.id in self.popular else 0), c.id, c)
            for c in self._canonical_categories()
            if c.id not in synonyms and (score := _score(c, terms, words))
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        found = [self.categories[cid] for cid in synonyms] + [c for _, _, c in scored]
        return found[:limit]

    def suggest(self, bad: str) -> list[str]:
        """Likely meant canonical ids (or archives) for unknown input, best first, at most five."""
        text = bad.strip()
        if not text:
            return []
        found: list[str] = []
        for candidate in (*self._spelling_fixes(text), *self._near_ids(text), *self._by_name(text)):
            if candidate not in found:
                found.append(candidate)
        return found[:_MAX_SUGGESTIONS]

    def _canonical_categories(self) -> Iterable[Category]:
        return (c for c in self.categories.values() if not c.is_alias)

    def _spelling_fixes(self, text: str) -> list[str]:
        """Same letters, other separators or case: `CS CL`, `cs_cl`, `cs-CL`, `cscl`."""
        lowered = text.lower()
        squashed = re.sub(r"[\s_.\-/]+", "", lowered)
        hits = [self.canonical(lowered)] if self.canonical(lowered) else []
        if lowered in self.archive_map:
            hits.append(lowered)
        for cid in self.categories:
            if re.sub(r"[.\-]", "", cid.lower()) == squashed:
                hits.append(self.categories[cid].canonical)
        return hits

    def _near_ids(self, text: str) -> list[str]:
        """Ids within a small edit distance (`cs.LGG` -> cs.LG, `quant-pj` -> quant-ph)."""
        lowered = text.lower()
        if " " in lowered or len(lowered) < 2:
            return []
        budget = 1 if len(lowered) <= 5 else 2
        scored = [
            (distance, name)
            for name in (*self.categories, *self.archive_map)
            if (distance := _edit_distance(lowered, name.lower(), budget)) <= budget
        ]
        if not scored:
            return []
        best = min(distance for distance, _ in scored)  # `cs.LGG`: cs.LG, not every cs.?? two edits away
        return [self.canonical(name) or name for distance, name in sorted(scored) if distance == best]

    def _by_name(self, text: str) -> list[str]:
        """Categories named by the text (`machine learning` -> cs.LG, stat.ML), archives, search hits."""
        lowered = collapse_whitespace(text.lower())
        exact = [c.id for c in self._canonical_categories() if c.name.lower() == lowered]
        return exact + self._archives_named(text) + [c.id for c in self.search(text, limit=_MAX_SUGGESTIONS)]

    def _archives_named(self, text: str) -> list[str]:
        """Archives of several categories whose id or name the words point at (`astro`, `finance`).

        One-category archives (`gr-qc`) are left to category search, or `quantum` would offer
        General Relativity and Quantum Cosmology before Quantum Physics.
        """
        terms = _terms(text)
        if not terms:
            return []
        lowered = collapse_whitespace(text.lower())
        return [
            a.id
            for a in self.archive_map.values()
            if len(self.categories_in_archive(a.id)) > 1
            and (
                a.name.lower() == lowered
                or all(_prefixes(term, a.id) or term in _WORDS.findall(a.name.lower()) for term in terms)
            )
        ]


@functools.lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    """The shipped taxonomy, read from the package data once per process."""
    raw = resources.files("digest").joinpath("data", "taxonomy.json").read_text(encoding="utf-8")
    return Taxonomy.from_document(json.loads(raw))


def _terms(words: str) -> list[str]:
    terms = _WORDS.findall(words.lower())
    meaningful = [t for t in terms if t not in _STOPWORDS]
    return meaningful or terms


def _prefixes(term: str, *texts: str) -> bool:
    """True when some word of the texts starts with `term` (`astro` in `astro-ph`)."""
    return any(word.startswith(term) for text in texts for word in _WORDS.findall(text.lower()))


def _score(category: Category, terms: list[str], raw: str) -> int:
    """How well a category matches: every term must hit somewhere; id and name weigh most,
    and a name mostly made of the terms beats a long one that merely contains them."""
    if raw.strip().lower() in (category.id.lower(), category.name.lower()):
        return 1000
    id_words = set(_WORDS.findall(category.id.lower()))
    name_words = set(_WORDS.findall(category.name.lower()))
    description = category.description.lower()
    total = 0
    for term in terms:
        if term in id_words:
            total += 30
        elif term in name_words:
            total += 20
        elif any(word.startswith(term) for word in name_words):
            total += 10
        elif re.search(rf"\b{re.escape(term)}", description):
            total += 3
        else:
            return 0
    covered = len(name_words & set(terms)) / max(1, len(name_words - _STOPWORDS))
    return total + round(5 * covered)


def _edit_distance(a: str, b: str, budget: int) -> int:
    """Levenshtein distance, stopping early once it exceeds `budget` (ids are short)."""
    if abs(len(a) - len(b)) > budget:
        return budget + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > budget:
            return budget + 1
        previous = current
    return previous[-1]

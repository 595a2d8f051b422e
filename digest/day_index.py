"""A day's papers indexed for matching thousands of subscriptions fast.

Every set of papers is a Python int used as a bitset (bit i = the i-th paper of the day), so a
subscription's digest is a handful of OR/AND operations, not a loop over papers. Keyword and
author look-ups go through small inverted indexes and are cached per day, because many chats
follow the same words.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from digest.clean import collapse_whitespace
from digest.latex import to_unicode
from digest.models import AnnounceType, Paper
from digest.taxonomy import load_taxonomy

_WORD = re.compile(r"[a-z0-9]+")
_SPACES = str.maketrans({"-": " ", "_": " "})


def fold(text: str) -> str:
    """Lowercase, strip accents and treat hyphens like spaces.

    'Self-Supervised Régression' -> 'self supervised regression'.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return collapse_whitespace(text.lower().translate(_SPACES))


def bits(mask: int) -> list[int]:
    """The indices set in `mask`, lowest first."""
    out: list[int] = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


@dataclass(frozen=True, slots=True)
class AuthorName:
    """An author name split for matching: 'Yann LeCun' -> last 'lecun', given ('yann',)."""

    last: str
    given: tuple[str, ...]

    @classmethod
    def parse(cls, name: str) -> AuthorName:
        folded = fold(name).replace(".", " ")
        if "," in folded:  # "LeCun, Yann"
            last, _, rest = folded.partition(",")
            words = rest.split() + last.split()
        else:
            words = folded.split()
        if not words:
            return cls("", ())
        return cls(words[-1].replace(",", ""), tuple(w.replace(",", "") for w in words[:-1]))

    def compatible(self, other: AuthorName) -> bool:
        """Same last name, and first names agree as far as both are known ('Y.' fits 'Yann')."""
        if self.last != other.last:
            return False
        if not self.given or not other.given:
            return True
        a, b = self.given[0], other.given[0]
        return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


@dataclass
class DayIndex:
    """Bitset indexes over one day's announced papers."""

    papers: list[Paper]
    types: list[AnnounceType]
    _keyword_cache: dict[str, int] = field(default_factory=dict)
    _author_cache: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, announced: list[tuple[Paper, AnnounceType]]) -> DayIndex:
        return cls(papers=[p for p, _ in announced], types=[t for _, t in announced])

    @cached_property
    def _bit_of_id(self) -> dict[str, int]:
        return {paper.id: 1 << i for i, paper in enumerate(self.papers)}

    def mask_of_ids(self, ids: Iterable[str]) -> int:
        """The papers of the day among `ids` (e.g. those a chat was already shown)."""
        bit_of = self._bit_of_id
        mask = 0
        for paper_id in ids:
            mask |= bit_of.get(paper_id, 0)
        return mask

    @property
    def all(self) -> int:
        return (1 << len(self.papers)) - 1

    @cached_property
    def _category_masks(self) -> tuple[dict[str, int], dict[str, int]]:
        taxonomy = load_taxonomy()
        listed: dict[str, int] = {}
        primary: dict[str, int] = {}
        for i, paper in enumerate(self.papers):
            bit = 1 << i
            for cat in paper.categories:
                cat = taxonomy.canonical(cat) or cat  # aliases fold: cs.NA is math.NA
                listed[cat] = listed.get(cat, 0) | bit
            if paper.primary:
                cat = taxonomy.canonical(paper.primary) or paper.primary
                primary[cat] = primary.get(cat, 0) | bit
        return listed, primary

    def listed_in(self, categories: frozenset[str]) -> int:
        """Papers listed in any of `categories`."""
        listed = self._category_masks[0]
        mask = 0
        for cat in categories:
            mask |= listed.get(cat, 0)
        return mask

    def primary_in(self, categories: frozenset[str]) -> int:
        """Papers whose primary category is one of `categories`."""
        primary = self._category_masks[1]
        mask = 0
        for cat in categories:
            mask |= primary.get(cat, 0)
        return mask

    @cached_property
    def revisions(self) -> int:
        """Papers listed as a replacement (a new version of an older paper)."""
        mask = 0
        for i, kind in enumerate(self.types):
            if kind.is_revision:
                mask |= 1 << i
        return mask

    @cached_property
    def texts(self) -> list[str]:
        """Folded title + abstract of each paper, for phrase checks."""
        return [fold(to_unicode(p.title) + " \n " + to_unicode(p.abstract)) for p in self.papers]

    @cached_property
    def _word_index(self) -> tuple[list[str], list[int]]:
        postings: dict[str, int] = {}
        for i, text in enumerate(self.texts):
            bit = 1 << i
            for word in set(_WORD.findall(text)):
                postings[word] = postings.get(word, 0) | bit
        vocab = sorted(postings)
        return vocab, [postings[w] for w in vocab]

    def _prefix_mask(self, prefix: str) -> int:
        vocab, masks = self._word_index
        mask = 0
        i = bisect.bisect_left(vocab, prefix)
        while i < len(vocab) and vocab[i].startswith(prefix):
            mask |= masks[i]
            i += 1
        return mask

    def keyword(self, term: str) -> int:
        """Papers whose title or abstract contains `term` (a word or phrase; word starts must match)."""
        cached = self._keyword_cache.get(term)
        if cached is not None:
            return cached
        key = fold(term)
        words = _WORD.findall(key)
        if not words:
            mask = 0
        elif " ".join(words) == key and len(words) == 1:
            mask = self._prefix_mask(words[0])
        else:
            mask = self.all
            for word in words:
                mask &= self._prefix_mask(word)
            pattern = re.compile(r"(?<![a-z0-9])" + r"\W*".join(re.escape(w) for w in key.split()))
            mask = sum(1 << i for i in bits(mask) if pattern.search(self.texts[i]))
        self._keyword_cache[term] = mask
        return mask

    @cached_property
    def _authors_by_last(self) -> dict[str, list[tuple[int, AuthorName]]]:
        index: dict[str, list[tuple[int, AuthorName]]] = {}
        for i, paper in enumerate(self.papers):
            for raw in paper.authors:
                name = AuthorName.parse(to_unicode(raw))
                if name.last:
                    index.setdefault(name.last, []).append((i, name))
        return index

    def author(self, name: str) -> int:
        """Papers with an author compatible with `name`."""
        cached = self._author_cache.get(name)
        if cached is not None:
            return cached
        wanted = AuthorName.parse(name)
        mask = 0
        for i, candidate in self._authors_by_last.get(wanted.last, ()):
            if wanted.compatible(candidate):
                mask |= 1 << i
        self._author_cache[name] = mask
        return mask

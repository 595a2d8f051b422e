"""Shared by the find/rank benchmarks: read the 75k-paper corpus, and the ranking metrics.

The corpus lives in ../shared/data/corpus (see its README); benchmarks exit with a message when it
is absent. Papers are read with the importer's own `paper_from_record`, so ids and fields are what
`paperboy import` stores.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.importer import paper_from_record  # noqa: E402
from digest.models import Paper  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "corpus" / "cs_cv_cl_ai_2025-03_to_2026-07.jsonl.gz"


def corpus_path(argv_path: str | None = None) -> Path:
    path = Path(argv_path) if argv_path else CORPUS
    if not path.is_file():
        raise SystemExit(f"corpus not found at {path}; pass --corpus PATH")
    return path


def load_papers(path: Path, limit: int | None = None) -> list[Paper]:
    """The corpus as Papers (published = the day the paper was first announced)."""
    opener = gzip.open if path.suffix == ".gz" else open
    papers = []
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        for line in handle:
            papers.append(paper_from_record(json.loads(line)))
            if limit and len(papers) >= limit:
                break
    return papers


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    """Share of the relevant papers in the top k (out of at most k, so 1.0 is reachable)."""
    return len(set(ranked[:k]) & relevant) / min(k, len(relevant)) if relevant else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]

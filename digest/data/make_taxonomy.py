"""Regenerate digest/data/taxonomy.json from arXiv's own taxonomy export (run by hand, rarely).

The package ships the JSON and never reads the export at run time. The inputs are the files in
`../shared/data/taxonomy/`, exported from arXiv/arxiv-base `arxiv/taxonomy/definitions.py`:

    /work/venv/bin/python digest/data/make_taxonomy.py [SHARED_TAXONOMY_DIR]

What is kept: the 155 active categories (id, name, archive, group, description, the id arXiv
treats as canonical), the active archives and groups in the order arXiv's home page lists them,
the six category aliases, and the retired archives that live on as one category (`cmp-lg` is
`cs.CL` now), so old papers' categories still resolve.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "data" / "taxonomy"
OUTPUT = HERE / "taxonomy.json"

# arXiv's home page order; the export's own group order puts q-bio before cs.
GROUP_ORDER = ("grp_physics", "grp_math", "grp_cs", "grp_q-bio", "grp_q-fin", "grp_stat", "grp_eess", "grp_econ")


def build(source: Path) -> dict:
    """The shipped taxonomy document, from arXiv's two export files in `source`."""
    active = json.loads((source / "arxiv_categories_active.json").read_text(encoding="utf-8"))
    full = json.loads((source / "arxiv_taxonomy.json").read_text(encoding="utf-8"))
    groups = {gid: full["groups"][gid]["full_name"] for gid in GROUP_ORDER}
    shown = [a for a in full["archives"].values() if a["is_active"] and a["in_group"] in GROUP_ORDER]
    archives = {
        a["id"]: {"name": a["full_name"], "group": a["in_group"]}
        for a in sorted(shown, key=lambda a: (GROUP_ORDER.index(a["in_group"]), a["id"]))
    }
    archive_rank = {aid: rank for rank, aid in enumerate(archives)}
    categories = [
        {
            "id": c["id"],
            "name": c["name"],
            "archive": c["archive"],
            "group": c["group"],
            "canonical": c["canonical_id"],
            "description": (c["description"] or "").strip(),
        }
        for c in sorted(active, key=lambda c: (archive_rank[c["archive"]], c["id"]))
    ]
    aliases = {c["id"]: c["canonical"] for c in categories if c["canonical"] != c["id"]}
    # arXiv's alias list and the canonical ids must describe the same six pairs.
    upstream = {frozenset(pair) for pair in full["category_aliases"].items()}
    assert {frozenset(pair) for pair in aliases.items()} == upstream, "alias pairs changed upstream"
    return {
        "source": full["source"],
        "groups": groups,
        "archives": archives,
        "categories": categories,
        "aliases": aliases,
        "retired_archives": dict(sorted(full["archives_subsumed"].items())),
    }


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    document = build(source)
    OUTPUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}: {len(document['categories'])} categories, {len(document['archives'])} archives")


if __name__ == "__main__":
    main(sys.argv)

"""Markdown pieces every model card section uses: percentages and tables."""

from __future__ import annotations

from typing import Dict, List


def pct(v, scale: float = 100) -> str:
    """``v`` (a fraction; a percentage with ``scale=1``) as a one-decimal percentage, "n/a" for
    None or NaN (a joint never labelled)."""
    return "n/a" if v is None or v != v else f"{scale * v:.1f}"


def markdown_table(rows: List[Dict]) -> List[str]:
    """``rows`` as a Markdown table, one column per key (every row's keys, first seen first)."""
    if not rows:
        return []
    cols = list(dict.fromkeys(k for r in rows for k in r))  # every row's columns, first seen first
    out = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return out

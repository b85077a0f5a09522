"""The evaluate step's HTML report: the scores as a table and the plots inline (a KFP HTML artifact is one file)."""

from __future__ import annotations

import base64
import html
from pathlib import Path


def render(title: str, scores: dict[str, float | bool], plots_dir: Path) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v if isinstance(v, bool) else f'{v:.4f}'}</td></tr>" for k, v in scores.items())
    images = "".join(
        f'<h3>{html.escape(png.stem)}</h3><img alt="{html.escape(png.stem)}" src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}">'
        for png in sorted(plots_dir.glob("*.png"))
    )
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            f"<h2>{html.escape(title)}</h2><table border='1' cellpadding='4'><tr><th>score</th><th>value</th></tr>{rows}</table>"
            f"{images}</body></html>")

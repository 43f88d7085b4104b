"""A self-contained HTML report: headings, text, tables and images embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
.gallery{display:flex;flex-wrap:wrap;gap:.8rem}.gallery figure{margin:0;text-align:center;font-size:.8rem}
img{max-width:100%}.note{color:#555;font-size:.9rem}
"""


def png_bytes(image: Any) -> bytes:
    """PNG bytes of a matplotlib figure or an (H, W[, 3]) array (uint8, or float in [0, 1])."""
    buf = io.BytesIO()
    if hasattr(image, "savefig"):
        import matplotlib.pyplot as plt

        image.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(image)
    else:
        from PIL import Image

        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


class HtmlReport:
    """Build a report section by section, then ``write(path)`` one standalone HTML file."""

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> HtmlReport:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
        return self

    def text(self, text: str, note: bool = False) -> HtmlReport:
        cls = ' class="note"' if note else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")
        return self

    def table(self, frame: Any, float_format: str = "{:.4f}") -> HtmlReport:
        """A pandas DataFrame as an HTML table (floats formatted, index dropped)."""
        self._parts.append(
            frame.to_html(index=False, float_format=float_format.format, border=0, na_rep="–")
        )
        return self

    def image(self, image: Any, caption: str = "", width: int | None = None) -> HtmlReport:
        self._parts.append(self._figure(image, caption, width))
        return self

    def gallery(self, items: list[tuple[Any, str]], width: int = 220) -> HtmlReport:
        """Several images side by side, each with its caption."""
        figs = "".join(self._figure(img, cap, width) for img, cap in items)
        self._parts.append(f'<div class="gallery">{figs}</div>')
        return self

    @staticmethod
    def _figure(image: Any, caption: str, width: int | None) -> str:
        data = base64.b64encode(png_bytes(image)).decode("ascii")
        w = f' width="{width}"' if width else ""
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        return f'<figure><img src="data:image/png;base64,{data}"{w} alt="{html.escape(caption)}">{cap}</figure>'

    def render(self) -> str:
        body = "\n".join(self._parts)
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
            f"\n{body}\n</body></html>"
        )

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path

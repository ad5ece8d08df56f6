"""The card's pictures: bar charts of the statistics as SVG text written here, so that their
bytes are the same on every machine (no plotting library, no font files: the reader's browser
draws the labels, Chinese ones too)."""

from __future__ import annotations

from xml.sax.saxutils import escape

WIDTH = 640
BAR = 18  # height of a horizontal bar
LABEL_CHARS = 18  # a category label (a source's name) is cut to this many characters
FONT = 'font-family="sans-serif" font-size="12"'
COLOR = "#4878a8"


def _svg(height: int, body: list[str], title: str) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img">',
            f"<title>{escape(title)}</title>",
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            f'<text x="10" y="20" {FONT} font-weight="bold">{escape(title)}</text>',
            *body,
            "</svg>",
            "",
        ]
    )


def _label(text: str) -> str:
    text = " ".join(text.split())
    return escape(text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…")


def bars(title: str, items: list[tuple[str, int]]) -> str:
    """A horizontal bar per (label, count), in the order given."""
    left, right = 170, 70
    top = 36
    most = max((c for _, c in items), default=0) or 1
    body = []
    for i, (label, count) in enumerate(items):
        y = top + i * (BAR + 6)
        w = round((WIDTH - left - right) * count / most)
        body.append(
            f'<text x="{left - 6}" y="{y + 13}" {FONT} text-anchor="end">{_label(label)}</text>'
        )
        body.append(f'<rect x="{left}" y="{y}" width="{w}" height="{BAR}" fill="{COLOR}"/>')
        body.append(f'<text x="{left + w + 4}" y="{y + 13}" {FONT}>{count:,}</text>')
    if not items:
        body.append(f'<text x="10" y="{top + 13}" {FONT}>none</text>')
    return _svg(top + max(len(items), 1) * (BAR + 6) + 10, body, title)


def histogram(title: str, bins: list[tuple[int, int, int]]) -> str:
    """Vertical bars of (low, high, count) ranges; the last range holds every larger value."""
    left, bottom, top, height = 60, 40, 36, 240
    plot = WIDTH - left - 20
    most = max((c for _, _, c in bins), default=0) or 1
    body = [
        f'<text x="{left - 6}" y="{top + 10}" {FONT} text-anchor="end">{most:,}</text>',
        f'<text x="{left - 6}" y="{top + height}" {FONT} text-anchor="end">0</text>',
        f'<line x1="{left}" y1="{top + height}" x2="{WIDTH - 20}" y2="{top + height}" '
        'stroke="#000000"/>',
    ]
    step = plot / max(len(bins), 1)
    for i, (low, high, count) in enumerate(bins):
        h = round(height * count / most)
        x = left + round(i * step)
        w = max(1, round(step) - 2)
        body.append(
            f'<rect x="{x}" y="{top + height - h}" width="{w}" height="{h}" fill="{COLOR}">'
            f"<title>{low:,} to {high:,}: {count:,}</title></rect>"
        )
    if bins:
        y = top + height + 16
        body.append(f'<text x="{left}" y="{y}" {FONT}>{bins[0][0]:,}</text>')
        body.append(
            f'<text x="{WIDTH - 20}" y="{y}" {FONT} text-anchor="end">≥ {bins[-1][0]:,}</text>'
        )
    else:
        body.append(f'<text x="{left}" y="{top + 20}" {FONT}>no rows</text>')
    return _svg(top + height + bottom, body, title)

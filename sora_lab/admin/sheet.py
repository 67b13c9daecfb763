"""The workshop's printable sign-in sheet: one seat per card, each with its invite code, its link to the feed's
redeem page and that link as a QR code (segno), as HTML (SVG codes inline) and PDF (fpdf2), written atomically.
segno and fpdf2 load only when a sheet is drawn: every CLI command imports this module (for `feed_url`)."""

from __future__ import annotations

import html
import io
import os
from pathlib import Path

from sora_lab.core.home import write_bytes_atomic

CARDS_PER_PAGE = 8  # 2 columns x 4 rows on A4


def feed_url(host: str = "127.0.0.1") -> str:
    """Where people open the feed: the Voilà port of `make demo` (SORA_LAB_VOILA_PORT) on `host`."""
    return f"http://{host}:{os.environ.get('SORA_LAB_VOILA_PORT', '8866')}/"


def redeem_url(feed_url: str, code: str) -> str:
    return f"{feed_url.rstrip('/')}/login?invite={code}"


def write_sheet(folder: Path, feed_url: str, seats: list[dict]) -> dict:
    """Write sheet.html and sheet.pdf for `seats` ([{seat, code}]) under `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = folder / "sheet.html", folder / "sheet.pdf"
    write_bytes_atomic(html_path, sheet_html(feed_url, seats).encode())
    write_bytes_atomic(pdf_path, sheet_pdf(feed_url, seats))
    return {"html": str(html_path), "pdf": str(pdf_path)}


def sheet_html(feed_url: str, seats: list[dict]) -> str:
    import segno

    cards = []
    for seat in seats:
        url = redeem_url(feed_url, seat["code"])
        svg = segno.make(url, error="m").svg_inline(scale=4)
        cards.append(f'<div class="card" data-seat="{seat["seat"]}"><div class="seat">Seat {seat["seat"]}</div>{svg}'
                     f'<div class="code">{html.escape(seat["code"])}</div>'
                     f'<div class="url">{html.escape(url)}</div></div>')
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Sora Lab workshop — sign-in sheet</title><style>"
            "body{font-family:system-ui,sans-serif}.cards{display:grid;grid-template-columns:1fr 1fr;gap:8mm}"
            ".card{border:1px dashed #999;padding:4mm;text-align:center;break-inside:avoid}.seat{font-weight:700}"
            ".code{font:700 18pt monospace;margin:2mm}.url{font-size:8pt;word-break:break-all}</style></head><body>"
            f"<h1>Sora Lab workshop</h1><p>Scan your seat's code, or open {html.escape(feed_url)} and redeem the "
            f"code. Pick a handle; that is who you are in the feed. Working in the notebooks? Use the code there first "
            "(notebook 01's first cell, <code>SEAT</code>); 01 then prints a link that opens the feed as you.</p>"
            f"<div class='cards'>{''.join(cards)}</div>"
            "</body></html>")


def sheet_pdf(feed_url: str, seats: list[dict]) -> bytes:
    import segno
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    width, height, margin = 90, 66, 12
    for n, seat in enumerate(seats):
        if n % CARDS_PER_PAGE == 0:
            pdf.add_page()
            pdf.set_font("Helvetica", "B", 14)
            pdf.text(margin, 9, f"Sora Lab workshop - open {feed_url} or scan your seat's code")
        col, row = n % 2, (n % CARDS_PER_PAGE) // 2
        x, y = margin + col * (width + 6), 14 + row * (height + 4)
        pdf.set_draw_color(150)
        pdf.rect(x, y, width, height)
        url = redeem_url(feed_url, seat["code"])
        png = io.BytesIO()
        segno.make(url, error="m").save(png, kind="png", scale=6, border=2)
        png.seek(0)
        pdf.image(png, x=x + 3, y=y + 3, w=44, h=44)
        pdf.set_font("Helvetica", "B", 12)
        pdf.text(x + 50, y + 12, f"Seat {seat['seat']}")
        pdf.set_font("Courier", "B", 15)
        pdf.text(x + 50, y + 24, seat["code"])
        pdf.set_font("Helvetica", "", 6)
        pdf.set_xy(x + 3, y + 50)
        pdf.multi_cell(width - 6, 3, url)
    return bytes(pdf.output())

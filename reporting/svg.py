"""A matplotlib figure as inline SVG, for the self-contained HTML reports (the evaluation and the monitoring report)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: figures are only ever written out
import matplotlib.pyplot as plt  # noqa: E402


def inline_svg(figure: plt.Figure) -> str:
    """The figure's <svg> element (no XML prologue), and the figure closed."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]

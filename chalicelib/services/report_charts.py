"""SVG charts for the reports (issue 13): SLA compliance over time and faults by category, drawn by pygal
(a well-kept charting library; imported here only, on the first chart, so a cold start never loads it).

Each series keeps its values in the SVG (pygal writes one `<desc class="value">` per point), so a reader
or a test can check the data, not only the picture. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SERIES_TITLES = {
    "response": "Response 响应",
    "onsite": "On site 到场",
    "resolution": "Resolution 解决",
    "first_time_fix": "First-time fix 一次修复",
    "satisfied": "Satisfied 满意",
}


def _style() -> object:
    from pygal.style import Style  # type: ignore[import-untyped]

    # A font stack with CJK fallbacks: the SVG is drawn by the viewer's fonts.
    return Style(
        font_family="'DejaVu Sans', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
        background="white",
        plot_background="white",
    )


def compliance_chart(title: str, months: Sequence[str], series: Mapping[str, Sequence[float | None]]) -> bytes:
    """Percent met per month, one line per milestone (a month with nothing decided is a gap)."""
    import pygal  # type: ignore[import-untyped]

    chart = pygal.Line(
        title=title,
        range=(0, 100),
        y_title="% met",
        style=_style(),
        js=[],  # self-contained: no script fetched from pygal's CDN
        show_dots=True,
        allow_interruptions=True,
        disable_xml_declaration=False,
        width=800,
        height=400,
    )
    chart.x_labels = list(months)
    for name, values in series.items():
        chart.add(SERIES_TITLES.get(name, name), list(values))
    return bytes(chart.render())


def category_chart(title: str, months: Sequence[str], series: Mapping[str, Sequence[int]]) -> bytes:
    """Faults per month, stacked by category."""
    import pygal

    chart = pygal.StackedBar(
        title=title,
        y_title="faults",
        style=_style(),
        js=[],  # self-contained: no script fetched from pygal's CDN
        width=800,
        height=400,
    )
    chart.x_labels = list(months)
    for name, values in series.items():
        chart.add(name, list(values))
    return bytes(chart.render())

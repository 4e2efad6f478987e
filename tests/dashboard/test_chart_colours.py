"""Every series of the Errors trend gets its own colour (a repeat merged two types)."""

from __future__ import annotations

from dashboard.charts import colours, errors


def test_error_trend_series_colours_are_distinct() -> None:
    series = errors.TOP_TYPES + 1  # the top types and "(other types)"
    shown = [colours.series_colour(i) for i in range(series)]
    assert len(set(shown)) == series
    assert not set(shown) & {colours.STATUS_COLOURS["success"], colours.STATUS_COLOURS["failure"]}

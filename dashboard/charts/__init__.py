"""Plotly chart builders: pure functions, DataFrame in, ``plotly.graph_objects.Figure`` out.

- ``colours``: the one status colour map (charts and tables), colour-blind safe;
- ``time``: buckets as spans in the chosen zone, partial ("in progress") buckets, time axes;
- ``overview``, ``flows``, ``errors``: the pages' charts; ``runs``: the runs scatter;
  ``grid``: the flows x time grid.

Every clickable mark carries ``customdata`` that ``dashboard.state.selection`` turns into a filter.
Nothing here imports Streamlit.
"""

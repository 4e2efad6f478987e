"""What the dashboard remembers: the sidebar filter in session_state and the URL,
History's sort/page/selection, and the translation of chart selections into filter
changes. Pages and components read and change state only through these modules."""

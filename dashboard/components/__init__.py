"""Widgets that render: tables, the run detail, the KPI tiles, the sidebar, the
retention, policy and audit panels. Pages (dashboard.views) compose them."""

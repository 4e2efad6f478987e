"""Incremental rollups: the overview's aggregates without reading every run.

``schema`` generates the trigger and maintenance SQL, ``maintain`` installs, rebuilds and
checks it, ``histogram`` defines the duration buckets and reads percentiles back, and
``reader`` answers the aggregate queries from the rollup when the filter allows it.
"""

"""Demo data: ``generate_demo`` inserts realistic runs; ``is_demo_database`` tells them apart."""

from data.demo.generate import (
    DEMO_MARKER,
    MAX_DEMO_RUNS,
    DemoSummary,
    generate_demo,
    is_demo_database,
)
from data.demo.profiles import FLOWS

__all__ = [
    "DEMO_MARKER",
    "FLOWS",
    "MAX_DEMO_RUNS",
    "DemoSummary",
    "generate_demo",
    "is_demo_database",
]

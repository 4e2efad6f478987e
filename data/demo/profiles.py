"""What the demo data looks like: flows, their latency and failure profiles, errors, users
and the daily/weekly traffic shape."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FlowProfile:
    name: str
    weight: float  # share of traffic
    median_ms: float
    sigma: float  # log-normal spread
    failure_rate: float
    components: int
    triggers: dict[str, float]
    errors: tuple[str, ...]  # keys of ERRORS


ERRORS: dict[str, tuple[str, str]] = {
    "timeout": ("TimeoutError", "Request to the LLM provider timed out after {n} s"),
    "rate": ("RateLimitError", "Rate limit reached for model gpt-4o: limit {n} tokens/min"),
    "validation": ("ValidationError", "1 validation error for ChatInput: field '{f}' required"),
    "connection": ("ConnectionError", "Could not connect to vector store (attempt {n} of 5)"),
    "key": ("KeyError", "'{f}'"),
    "json": ("JSONDecodeError", "Expecting value: line {n} column {n2} (char {n3})"),
    "auth": ("AuthenticationError", "Invalid API key for provider (key ending ...{n3})"),
    "memory": ("MemoryError", "Component 'Embed documents' ran out of memory at {n} MB"),
}

FLOWS: tuple[FlowProfile, ...] = (
    FlowProfile(
        "Customer Support Bot",
        0.22,
        2400,
        0.55,
        0.03,
        7,
        {"api": 0.6, "webhook": 0.3, "manual": 0.1},
        ("timeout", "rate", "validation"),
    ),
    FlowProfile(
        "Invoice Extraction",
        0.12,
        5200,
        0.45,
        0.05,
        9,
        {"webhook": 0.7, "api": 0.2, "manual": 0.1},
        ("json", "validation", "key"),
    ),
    FlowProfile(
        "Lead Enrichment",
        0.10,
        3100,
        0.6,
        0.04,
        6,
        {"schedule": 0.5, "api": 0.4, "manual": 0.1},
        ("rate", "timeout", "auth"),
    ),
    FlowProfile(
        "Document Q&A (RAG)",
        0.14,
        4100,
        0.5,
        0.025,
        11,
        {"api": 0.8, "manual": 0.2},
        ("connection", "timeout", "memory"),
    ),
    FlowProfile(
        "Nightly Report Digest",
        0.04,
        42000,
        0.35,
        0.06,
        14,
        {"schedule": 0.95, "manual": 0.05},
        ("timeout", "memory", "key"),
    ),
    FlowProfile(
        "Slack Triage Agent",
        0.09,
        1800,
        0.5,
        0.02,
        5,
        {"webhook": 0.9, "manual": 0.1},
        ("rate", "auth"),
    ),
    FlowProfile(
        "Contract Review",
        0.05,
        16000,
        0.5,
        0.07,
        12,
        {"manual": 0.6, "api": 0.4},
        ("timeout", "validation", "memory"),
    ),
    FlowProfile(
        "Product Description Writer",
        0.08,
        2900,
        0.4,
        0.015,
        4,
        {"api": 0.7, "schedule": 0.2, "manual": 0.1},
        ("rate", "validation"),
    ),
    FlowProfile(
        "Email Classifier",
        0.11,
        650,
        0.45,
        0.01,
        3,
        {"webhook": 0.85, "api": 0.15},
        ("json", "key"),
    ),
    FlowProfile(
        "Data Sync to CRM",
        0.05,
        8800,
        0.7,
        0.05,
        6,
        {"schedule": 0.9, "manual": 0.1},
        ("connection", "auth", "timeout"),
    ),
)
USERS = ("ops.analyst", "maria.chen", "sam.okafor", "integration-bot", "li.wei")
# Relative traffic by hour of day (UTC) and day of week (Monday first).
HOURLY = np.array(
    [2, 1.5, 1.2, 1, 1, 1.3, 2.5, 4.5, 7, 8.5, 9, 9, 8, 8.5, 9, 8.8, 8, 6.5, 5, 4, 3.5, 3, 2.6, 2.2]
)
WEEKDAY = np.array([1.0, 1.05, 1.05, 1.0, 0.95, 0.35, 0.3])
FIELDS = ("customer_id", "message", "invoice_total", "email", "document_url")

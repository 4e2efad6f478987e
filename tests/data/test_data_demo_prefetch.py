"""The demo loader's prefetch thread: items in order, the producer's error raised in the
consumer, and a consumer that stops early stops the producer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from data.demo.prefetch import ahead


def test_items_arrive_in_order_from_another_thread() -> None:
    threads = set()

    def produce() -> Iterator[int]:
        for n in range(50):
            threads.add(threading.current_thread().name)
            yield n

    with ahead(produce(), depth=3) as items:
        assert list(items) == list(range(50))
    assert threads == {"demo-prefetch"}


def test_the_producers_error_is_raised_in_the_consumer() -> None:
    def produce() -> Iterator[int]:
        yield 1
        raise ValueError("bad chunk")

    received = []
    with pytest.raises(ValueError, match="bad chunk"), ahead(produce()) as items:
        for item in items:
            received.append(item)
    assert received == [1]


def test_a_consumer_that_fails_stops_the_producer() -> None:
    produced = []

    def produce() -> Iterator[int]:
        for n in range(1_000_000):
            produced.append(n)
            yield n

    with pytest.raises(RuntimeError, match="disk full"), ahead(produce(), depth=2) as items:
        for item in items:
            if item == 3:
                raise RuntimeError("disk full")
    assert not any(t.name == "demo-prefetch" for t in threading.enumerate())
    assert len(produced) < 10  # at most the buffer and one in hand beyond the consumer


def test_in_line_items_come_from_the_calling_thread() -> None:
    def produce() -> Iterator[str]:
        yield threading.current_thread().name

    with ahead(produce(), thread=False) as items:
        assert list(items) == [threading.current_thread().name]

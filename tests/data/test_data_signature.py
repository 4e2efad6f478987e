"""Error signatures: SQL ``error_signature`` on each backend equals Python ``message_signature``,
so both backends group failures identically."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, String, literal, select

from data.signature import SIGNATURE_MAX_CHARS, message_signature
from data.sql_functions import error_signature

# Text PostgreSQL can store (no NUL, no lone surrogates), mixed with the variable parts
# the rules mask.
plain_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20
)
pieces = st.one_of(
    plain_text,
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.integers(-(10**12), 10**12).map(str),
    st.integers(0, 2**64).map(hex),
    plain_text.map(lambda s: f"'{s}'"),
    plain_text.map(lambda s: f'"{s}"'),
    st.sampled_from([" ", "\t", "\r\n", "\n\n ", "'", '"', "\x0b", "\xa0", "\u2003", "0x"]),
)
messages = st.lists(pieces, max_size=12).map("".join)


def sql_signature(engine: Engine, message: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(error_signature(literal(message, String())))).scalar_one()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=messages)
@example(message=" \x0b trailing vertical tab \x0b ")
@example(message="\xa0id 42\xa0")
@example(message="x" * (SIGNATURE_MAX_CHARS + 50) + " 123")
def test_sql_signature_equals_python(engine: Engine, message: str) -> None:
    assert sql_signature(engine, message) == message_signature(message)


def test_signature_masks_variable_parts() -> None:
    run_id = uuid.uuid4()
    first = message_signature(f"Run {run_id} failed at 0xdeadBEEF: key 'a' after 30  s")
    second = message_signature(f"Run {uuid.uuid4()} failed at 0x1: key 'bb' after 7\ns")
    assert first == second == "Run <id> failed at <hex>: key <str> after <n> s"
    assert message_signature(None) is None
    assert len(message_signature("y" * 1000) or "") == SIGNATURE_MAX_CHARS


def test_sql_signature_of_null_is_null(engine: Engine) -> None:
    with engine.connect() as conn:
        value = conn.execute(select(error_signature(literal(None, String())))).scalar_one()
    assert value is None

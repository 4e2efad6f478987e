"""Per-model prices an admin sets (per million input and output tokens), and the cost of
tokens from them. No price table is bundled: prices change, and a wrong number shown as
cost is worse than none, so a model without a price has no cost (it says so)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pandas as pd
from sqlalchemy import Engine, delete, select

from data.db import session_scope
from data.errors import InvalidQuery
from data.models import utcnow
from data.steps.tables import ModelPrice

MAX_PRICE = Decimal(1_000_000)  # per million tokens: more is a typo


@dataclass(frozen=True)
class Price:
    model: str
    input_per_million: Decimal
    output_per_million: Decimal
    currency: str


def _price(value: object, field: str) -> Decimal:
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidQuery(f"{field}: {str(value)[:40]!r} is not a number") from None
    if not price.is_finite() or not Decimal(0) <= price <= MAX_PRICE:
        raise InvalidQuery(f"{field}: must be between 0 and {MAX_PRICE:,} per million tokens")
    return price


def set_price(
    engine: Engine,
    model: str,
    input_price: object,
    output_price: object,
    by: str,
    currency: str = "USD",
) -> Price:
    """Store (or change) one model's prices; values are checked and kept exactly."""
    name = model.strip()
    if not name or len(name) > 200:
        raise InvalidQuery("model: a name of 1 to 200 characters")
    if not currency.isalpha() or not 1 <= len(currency) <= 8:
        raise InvalidQuery("currency: letters only, e.g. USD")
    price = Price(
        name,
        _price(input_price, "input price"),
        _price(output_price, "output price"),
        currency.upper(),
    )
    with session_scope(engine) as session:
        row = session.get(ModelPrice, name) or ModelPrice(model=name)
        row.input_per_million = price.input_per_million
        row.output_per_million = price.output_per_million
        row.currency, row.updated_at, row.updated_by = price.currency, utcnow(), by[:200]
        session.add(row)
    return price


def delete_price(engine: Engine, model: str) -> bool:
    with session_scope(engine) as session:
        result = session.execute(delete(ModelPrice).where(ModelPrice.model == model))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def prices(engine: Engine) -> dict[str, Price]:
    with engine.connect() as conn:
        found = conn.execute(select(ModelPrice).order_by(ModelPrice.model)).all()
    return {
        row.model: Price(
            row.model, Decimal(row.input_per_million), Decimal(row.output_per_million), row.currency
        )
        for row in found
    }


def with_cost(by_model: pd.DataFrame, known: dict[str, Price]) -> pd.DataFrame:
    """``tokens_by_model``'s frame with a ``cost`` column (None where no price is set)."""
    frame = by_model.copy()
    costs: list[float | None] = []
    for model, tokens_in, tokens_out in zip(
        frame["model"], frame["input_tokens"], frame["output_tokens"], strict=True
    ):
        price = known.get(str(model))
        if price is None:
            costs.append(None)
            continue
        paid = Decimal(int(tokens_in)) * price.input_per_million
        paid += Decimal(int(tokens_out)) * price.output_per_million
        costs.append(float(paid / Decimal(1_000_000)))
    frame["cost"] = pd.Series(costs, index=frame.index, dtype="float64")
    frame["currency"] = [known[m].currency if m in known else None for m in frame["model"]]
    return frame

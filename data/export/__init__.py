"""CSV export of a filtered view: ``iter_csv`` streams it; ``cell`` renders one value."""

from data.export.cells import FORMULA_PREFIXES, cell, json_cell, json_text_cell, neutralise
from data.export.stream import EXPORT_COLUMNS, PAYLOAD_FIELDS, iter_csv, validate_columns

__all__ = [
    "EXPORT_COLUMNS",
    "FORMULA_PREFIXES",
    "PAYLOAD_FIELDS",
    "cell",
    "iter_csv",
    "json_cell",
    "json_text_cell",
    "neutralise",
    "validate_columns",
]

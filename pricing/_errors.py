"""Errors raised by the pricing package.

Hierarchy::

    Exception
    └── PricingError      bundled or user data files are missing or invalid

Bad *arguments* to the low-level ``Registry`` methods (negative token counts,
naive datetimes) are programming errors and raise the built-in ``ValueError``;
``pricing.price()`` never raises for bad input and answers with a ``Quote``
instead. An unknown model is not an error at all: lookups return ``None`` so
that callers flag it rather than record a silent zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data file, located as precisely as we can.

    ``line`` is 1-based and points at the offending key (or at the enclosing
    mapping when a required key is missing); None when the file did not parse.
    """

    file: str
    model: str | None
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.model is not None:
            where = f"{where}: model {self.model!r}"
        return f"{where}: {self.field}: {self.message}"


class PricingError(Exception):
    """The price data could not be loaded; ``problems`` lists every reason.

    The message names each problem on its own line as
    ``<file>:<line>: model '<id>': <field>: <what is wrong>`` so that one run of
    the loader (or of the data test) reports everything that needs fixing.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in price data:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in self.problems)]))

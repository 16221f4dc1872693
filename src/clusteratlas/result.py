"""The result object every analysis returns.

Modelled on PySAL's statistics-as-objects and statsmodels' results: the numbers live in ``table``
(a tidy :class:`pandas.DataFrame`), the inputs that produced them in ``params`` (seed and number of
draws included, so a run can be repeated), caveats in ``notes``. ``summary()`` renders them for a
person; ``plot()`` returns a Plotly figure. The report and the CLI read only these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Result:
    """Numbers, the parameters behind them, and notes for the reader.

    Attributes
    ----------
    table : pandas.DataFrame
        The main output, one row per unit of analysis, columns named as documented by the method.
    params : dict
        Every argument that shaped the result (including ``seed`` where randomness enters).
    notes : list of str
        Caveats a reader must see (e.g. "industry X has fewer than 10 plants; bands are wide").
    title : str
        A short name of the analysis, used as the heading of ``summary()``.
    """

    table: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    title: str = "Result"

    def summary(self, max_rows: int = 20) -> str:
        """Plain-text summary: title, parameters, the head of the table and numbered notes."""
        lines = [self.title, "=" * len(self.title)]
        for key, value in self.params.items():
            lines.append(f"{key:>24}: {value}")
        lines.append("")
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            lines.append(self.table.head(max_rows).to_string())
        if len(self.table) > max_rows:
            lines.append(f"... {len(self.table) - max_rows} more rows")
        if self.notes:
            lines.append("")
            lines.append("Notes:")
            lines.extend(f"[{i}] {note}" for i, note in enumerate(self.notes, start=1))
        return "\n".join(lines)

    def plot(self) -> Any:
        """A Plotly figure of the result; subclasses draw what suits their numbers."""
        raise NotImplementedError(f"{type(self).__name__} has no plot")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.title!r}: {len(self.table)} rows>"

"""Click parameter types for the grammars of airscope.units, so every flag reads durations and sizes
the same way (a bare number is seconds, or bytes) and refuses a typo with the grammar."""

from __future__ import annotations

from typing import Any

import click

from airscope import units


class Duration(click.ParamType):
    """Seconds (a float) from ``500ms``, ``30s``, ``1h30m`` or ``90``.

    ``positive`` (the default) refuses 0: how long to run a load, a soak or a drill must be more than
    nothing. Thresholds such as ``traces --min-duration`` pass ``positive=False``.
    """

    name = "duration"

    def __init__(self, positive: bool = True) -> None:
        self.positive = positive

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)  # a default written as a number
        else:
            try:
                seconds = units.parse_duration(value)
            except ValueError as error:
                self.fail(str(error), param, ctx)
        if self.positive and seconds <= 0:
            self.fail(f"{value!r}: the duration must be more than 0", param, ctx)
        return seconds


class Size(click.ParamType):
    """Bytes (an int) from ``50MB``, ``512KiB`` or ``1000``."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return units.parse_size(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)

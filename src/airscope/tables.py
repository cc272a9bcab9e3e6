"""The one table writer: Markdown for the documents, aligned columns for the terminal.

``align`` gives one letter per column: ``l`` left (the default), ``r`` right, ``c`` centred. Cells are
written with ``str()``; format numbers before handing them over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Markdown's own default is left: a left column keeps the plain rule, so documents written before
# this module (which wrote no alignment) render byte for byte the same.
_RULES = {"l": "---", "r": "---:", "c": ":---:"}
TERMINAL_WIDTH = 80
_GAP = "  "
_ELLIPSIS = "…"


def _aligns(align: str | None, columns: int) -> str:
    if align is None:
        return "l" * columns
    if len(align) != columns or set(align) - set(_RULES):
        raise ValueError(f"align {align!r}: give one of l, r, c per column ({columns} columns)")
    return align


def _cells(header: Sequence[object], rows: Iterable[Sequence[object]]) -> list[list[str]]:
    table = [[str(cell) for cell in header]]
    for row in rows:
        cells = [str(cell) for cell in row]
        if len(cells) != len(table[0]):
            raise ValueError(f"a row of {len(cells)} cells under a header of {len(table[0])}: {cells!r}")
        table.append(cells)
    return table


def markdown(header: Sequence[object], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A Markdown (GitHub) table; no trailing newline."""
    table = _cells(header, rows)
    rules = [_RULES[a] for a in _aligns(align, len(header))]
    lines = [table[0], rules, *table[1:]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def text(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    align: str | None = None,
    width: int = TERMINAL_WIDTH,
) -> str:
    """Columns padded to line up, two spaces apart, no trailing spaces. Wider than ``width``, the
    widest left-aligned columns are cut (ending in "…") until the table fits or they are as narrow
    as their headers: free text gives way, figures do not."""
    table = _cells(header, rows)
    aligns = _aligns(align, len(header))
    widths = [max(len(row[i]) for row in table) for i in range(len(aligns))]
    _fit(widths, [len(cell) for cell in table[0]], aligns, width)
    lines = []
    for row in table:
        cells = []
        for cell, size, how in zip(row, widths, aligns, strict=True):
            if len(cell) > size:
                cell = cell[: size - 1] + _ELLIPSIS
            cells.append(
                cell.rjust(size) if how == "r" else cell.center(size) if how == "c" else cell.ljust(size)
            )
        lines.append(_GAP.join(cells).rstrip())
    return "\n".join(lines)


def _fit(widths: list[int], floors: list[int], aligns: str, width: int) -> None:
    """Narrows ``widths`` in place, widest left-aligned column first, down to its floor."""
    while sum(widths) + len(_GAP) * (len(widths) - 1) > width:
        cuttable = [i for i, how in enumerate(aligns) if how == "l" and widths[i] > max(floors[i], 2)]
        if not cuttable:
            return
        widest = max(cuttable, key=lambda i: widths[i])
        widths[widest] -= 1

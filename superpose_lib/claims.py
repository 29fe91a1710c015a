"""Executable claims: a lecture's takeaway, checked next to the evidence that backs it.

A lecture states a fact ("the error grows like p(k−1)/n") and a cell right beside it calls
``claim(statement, holds, evidence)``. The call shows the reader one line, ``✓ statement  [evidence]``, and
stops the run with :class:`ClaimFailed` when the evidence no longer supports the statement, so papermill,
nbval and ``make run`` fail on a takeaway that has become false.

In a notebook the line is a ``display_data`` output whose metadata carries the claim as data
(``{"superpose": {"claim": {"statement", "holds", "evidence"}}}``); ``make claims`` reads those records
from the lectures' stored outputs. nbval compares the text and ignores the metadata.
"""

from __future__ import annotations

import math
import numbers

from . import _validate

__all__ = ["ClaimFailed", "claim", "CLAIM_METADATA_KEY"]

CLAIM_METADATA_KEY = "superpose"


class ClaimFailed(AssertionError):
    """A lecture's claim that its own evidence no longer supports."""


def _scalar(value):
    """A one-element tensor or array (or NumPy scalar) as its Python number or bool; anything else unchanged."""
    item = getattr(value, "item", None)
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    n = numel() if callable(numel) else size if isinstance(size, int) else None
    return item() if callable(item) and n == 1 else value


def _as_bool(holds, statement):
    """``holds`` as a Python bool: a bool, a NumPy bool or a one-element tensor/array of bools."""
    value = _scalar(holds)
    if isinstance(value, bool):
        return value
    raise TypeError(
        f"claim({statement!r}): holds must be a bool (the result of the comparison that backs the "
        f"statement), got {type(holds).__name__} {holds!r}. Pass e.g. `gap < 0.05`, not the gap itself."
    )


def _format_number(value):
    value = _scalar(value)  # a 0-d tensor shows as its number, not as "tensor(1.1393)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


@_validate.arguments(statement=_validate.Text(), evidence=_validate.Either(_validate.Text(), _validate.Instance(dict)))
def claim(statement: str, holds, evidence) -> None:
    """Show a takeaway with its evidence; raise :class:`ClaimFailed` if the evidence does not support it.

    Parameters
    ----------
    statement : str
        The takeaway in words, as the prose states it ("sparser features are read back better").
    holds : bool
        Whether the evidence supports it: the comparison itself (``error_sparse < error_dense``), never a
        constant. A NumPy bool or a one-element boolean tensor is accepted.
    evidence : str or dict
        What the reader needs to judge it: the values and the threshold or tolerance. A dict is shown as
        ``name = value`` pairs, numbers to four significant digits.

    Returns nothing, so that a claim as a cell's last line adds no ``Out[]`` to the notebook; a claim that
    does not hold raises :class:`ClaimFailed` with the statement and the evidence.

    Examples
    --------
    >>> claim("2 + 2 is 4", 2 + 2 == 4, {"2 + 2": 4})
    ✓ 2 + 2 is 4  [2 + 2 = 4]
    """
    if not statement.strip():
        raise ValueError(f"claim: statement must be a non-empty string, got {statement!r}")
    ok = _as_bool(holds, statement)
    if isinstance(evidence, dict):
        evidence = ", ".join(f"{name} = {_format_number(value)}" for name, value in evidence.items())
    line = f"{'✓' if ok else '✗'} {statement}  [{evidence}]"
    _show(line, {"statement": statement, "holds": ok, "evidence": evidence})
    if not ok:
        raise ClaimFailed(f"claim no longer holds: {statement}\n  evidence: {evidence}")


def _show(line, record):
    """One line of text; in IPython a display_data output whose metadata carries the record."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: no IPython installed
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None and hasattr(get_ipython(), "kernel"):
        from IPython.display import display

        display({"text/plain": line}, raw=True, metadata={CLAIM_METADATA_KEY: {"claim": record}})
    else:
        print(line)

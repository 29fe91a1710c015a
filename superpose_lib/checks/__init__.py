"""Exercise checks for the workbooks: ``check_<exercise>(your_function)``.

Each check calls your function on inputs drawn afresh on every run (``check_x(f, seed=0)`` repeats a run) and
compares it with the library's reference, computed only after your function has answered. It prints one
line when everything agrees; otherwise it raises an AssertionError whose message names the most likely mistake.
A function that still raises NotImplementedError (the untouched blank) is reported as "not implemented yet". In a
notebook a verdict shows as its message alone; an error inside your own function shows your code's frames and
what the check passed to it.

Demo cells after an exercise call ``yours_or_reference(fn)``: your function once its check has passed,
else the library's reference (and a note saying so), so a workbook runs top to bottom at any stage.

How a chapter declares its exercises
------------------------------------
A chapter's module ``chNN.py`` holds no check code, only declarations, one per exercise::

    from .. import interference
    from ._common import Exercise, declare, seeded

    declare(
        Exercise(
            "interference_terms(W, x)",                 # the workbook's signature
            reference=interference.interference,         # the library's answer, never a copy of it
            cases=lambda: [dict(W=..., x=...)],          # generic inputs drawn with seeded(i): new on each run,
                                                         # each mistake gives another answer
            mistakes={"leave out each feature's own term (i = j).": lambda W, x: x @ W.T @ W},  # {hint: answer}
            passed="Σ_{i≠j} (wᵢ·wⱼ) xᵢ for every feature.",
        ),
    )

`_common.Exercise` documents every field (results that are numbers, counts, words or tuples; random exercises
compared by statistics). The engine in `_common` does the rest (copies, signature, time limit, NaN, dtypes,
shapes, messages), and ``tests/check_contract.py`` applies the reference, the named mistakes and a generated
hostile battery to every declared exercise: a new chapter's checks are tested as soon as they are declared.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._common import EXERCISES, make_check, yours_or_reference

__all__ = ["yours_or_reference"]

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")):
    _known = set(EXERCISES)
    _chapter = importlib.import_module(f".{_module}", __name__)
    globals()[_module] = _chapter
    for _name in sorted(set(EXERCISES) - _known):
        _check = make_check(EXERCISES[_name])
        setattr(_chapter, _check.__name__, _check)
        globals()[_check.__name__] = _check
        __all__.append(_check.__name__)

"""Exercise checks for the workbooks: ``check_<exercise>(your_function)``.

Each check calls your function on several seeded inputs and edge cases and compares it with a reference
implementation. It prints one line when everything agrees; otherwise it raises an AssertionError whose
message names the most likely mistake. A function that still raises NotImplementedError (the untouched
blank) is reported as "not implemented yet". In a notebook these verdicts show as their message alone, without
a traceback through the check's code; an error inside your own function keeps its full traceback.

Demo cells after an exercise call ``yours_or_reference(fn)``: your function once its check has passed,
else the library's reference (and a note saying so), so a workbook runs top to bottom at any stage.

Each chapter's checks live in their own module (`ch00`, `ch01`, ...); every `check_*` is importable from here.
A new chapter adds `chNN.py` with its references registered in `_REFERENCES` and its `check_*` functions.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._common import concise, yours_or_reference

__all__ = ["yours_or_reference"]

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")):
    _chapter = importlib.import_module(f".{_module}", __name__)
    globals()[_module] = _chapter
    for _name in dir(_chapter):
        if _name.startswith("check_"):
            globals()[_name] = concise(getattr(_chapter, _name))
            __all__.append(_name)

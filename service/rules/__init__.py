"""The table rules, from configs/schema only: equations, checks, absent-cell inference and the one CP-SAT model.

* :mod:`service.rules.equations`: the rules of a format as equations over cell ids (``equations``), evaluated
  on cells or numbers;
* :mod:`service.rules.checks`: ``run_checks``, one Check per rule instance;
* :mod:`service.rules.infer`: the value a rule implies for a cell the document lacks;
* :mod:`service.rules.model`: the CP-SAT model that chooses among candidate values under the rules (the split
  of run-together digits, the repair of OCR readings).

The bottom layer: imports only the schema, the result model and OR-Tools.
"""

from service.rules.checks import run_checks
from service.rules.equations import (
    Equation,
    blank_side,
    count_broken,
    equations,
    hold_all,
    holds,
    parse_equation,
    report_rules,
    rule_value,
    within,
)
from service.rules.infer import follow, implied, implied_by, infer_absent, reinfer
from service.rules.model import Option, Solution, solve

__all__ = [
    "Equation",
    "Option",
    "Solution",
    "blank_side",
    "count_broken",
    "equations",
    "follow",
    "hold_all",
    "holds",
    "implied",
    "implied_by",
    "infer_absent",
    "parse_equation",
    "reinfer",
    "report_rules",
    "rule_value",
    "run_checks",
    "solve",
    "within",
]

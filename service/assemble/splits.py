"""Resolve values whose digits ran together ("640020470" -> 64|0|0|2|0|4|70).

Each run is split into the expected number of numbers (no leading zeros, except a lone 0).
The table rules decide among the splits: candidates that break a row rule are dropped,
then one candidate per row is chosen jointly under the column rules with OR-Tools CP-SAT,
at the least cost under a prior that prefers small numbers and zeros (most cells of these
tables are small counts). When more than one choice fits all rules equally well, the
winner is reported as inferred with the alternatives.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

import yaml
from ortools.sat.python import cp_model

from service.schema import CONFIG_DIR

Number = int | float

_PART = re.compile(r"^(0|[1-9]\d*)(\.\d+)?$")


def _valid(part: str) -> bool:
    return bool(_PART.match(part))


def _to_number(part: str) -> Number:
    return float(part) if "." in part else int(part)


@lru_cache(maxsize=4096)
def split_token(token: str, parts: int) -> tuple[tuple[str, ...], ...]:
    """All ways to cut one digit run into ``parts`` valid numbers."""
    if parts == 1:
        return ((token,),) if _valid(token) else ()
    out = []
    for cuts in combinations(range(1, len(token)), parts - 1):
        bounds = (0, *cuts, len(token))
        pieces = tuple(token[a:b] for a, b in zip(bounds, bounds[1:]))
        if all(_valid(p) for p in pieces):
            out.append(pieces)
    return tuple(out)


def split_tokens(tokens: list[str], expected: int, limit: int = 20000) -> list[list[str]]:
    """All ways to split whitespace-separated runs into ``expected`` numbers in total."""
    results: list[list[str]] = []

    def rec(i: int, remaining: int, acc: list[str]) -> None:
        if len(results) >= limit:
            return
        if i == len(tokens):
            if remaining == 0:
                results.append(list(acc))
            return
        left = len(tokens) - i - 1  # each later token needs at least one part
        max_parts = min(remaining - left, len(tokens[i].replace(".", "")))
        for k in range(1, max_parts + 1):
            for pieces in split_token(tokens[i], k):
                rec(i + 1, remaining - k, acc + list(pieces))

    rec(0, expected, [])
    return results


@dataclass(frozen=True)
class Prior:
    """A printed value is 0 with probability p0, else log10(value) ~ Normal(mu, sigma)."""

    p0: float = 0.5
    mu: float = 1.0
    sigma: float = 1.2


@lru_cache(maxsize=1)
def _priors() -> tuple[Prior, dict[str, Prior], float]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load((CONFIG_DIR / "priors.yaml").read_text(encoding="utf-8"), Loader=loader)
    return (Prior(**data["default"]), {k: Prior(**v) for k, v in data["columns"].items()},
            float(data["heuristic_cost"]))


def column_prior(column: str | None) -> Prior:
    default, columns, _ = _priors()
    return columns.get(column or "", default)


def heuristic_cost() -> float:
    return _priors()[2]


def prior_cost(value: Number, prior: Prior | None = None) -> float:
    """-ln P(value) under the column's prior (configs/priors.yaml)."""
    prior = prior or _priors()[0]
    if value == 0:
        return -math.log(prior.p0)
    v = abs(value)
    z = (math.log10(v) - prior.mu) / prior.sigma if v >= 1 else -prior.mu / prior.sigma
    return (-math.log(1 - prior.p0) + math.log(prior.sigma * math.sqrt(2 * math.pi)) + 0.5 * z * z
            + math.log(max(v, 1) * math.log(10)))


@dataclass
class Candidates:
    """The readings one row's run of digits admits."""

    key: str
    options: list[list[Number]]
    costs: list[float]
    raw_options: list[list[str]] = field(default_factory=list)
    row_rule_broken: bool = False  # no split keeps the row rule: every option breaks it (reviewed, never trusted)
    lost_other: bool = False  # table 3: six printed columns (其他 lost); the options' 其他 is what the total leaves


@dataclass
class Equation:
    """sum(lhs) == sum(rhs) over (row key, column index) terms; soft (may be broken by the source)."""

    name: str
    lhs: list[tuple[str, int]]
    rhs: list[tuple[str, int]]


@dataclass
class Choice:
    option: int
    alternatives: list[int]  # other options that fit every rule as well as the chosen one


SCALE = 1000  # CP-SAT needs integers: values and costs are scaled
# review reason of the cells of a run of digits no split of which keeps its row's rule: the split is a guess
SPLIT_BREAKS_RULE = "split of run-together digits: no split keeps the row rule"


def choose(
    candidates: dict[str, Candidates],
    fixed: dict[tuple[str, int], Number],
    equations: list[Equation],
    violation_cost: float = 50.0,
) -> dict[str, Choice]:
    """Pick one option per row so that the equations hold, at least prior cost."""
    model = cp_model.CpModel()
    pick: dict[str, list[cp_model.IntVar]] = {}
    for key, cand in candidates.items():
        pick[key] = [model.new_bool_var(f"{key}#{k}") for k in range(len(cand.options))]
        model.add_exactly_one(pick[key])

    def term(row: str, col: int):
        if row in candidates:
            cand = candidates[row]
            return sum(round(opt[col] * SCALE) * var for opt, var in zip(cand.options, pick[row]))
        return round(fixed.get((row, col), 0) * SCALE)

    objective = []
    violated: list[cp_model.IntVar] = []
    for eq in equations:
        if not any(r in candidates for r, _ in eq.lhs + eq.rhs):
            continue
        lhs = sum(term(r, c) for r, c in eq.lhs)
        rhs = sum(term(r, c) for r, c in eq.rhs)
        broken = model.new_bool_var(f"broken:{eq.name}")
        model.add(lhs == rhs).only_enforce_if(broken.Not())
        violated.append(broken)
        objective.append(round(violation_cost * SCALE) * broken)
    for key, cand in candidates.items():
        objective.extend(round(c * SCALE) * v for c, v in zip(cand.costs, pick[key]))
    model.minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 5.0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # no assignment (e.g. a run so long that its numbers overflow the solver's integers): every row keeps
        # its most plausible split, with all the others as alternatives, so every cell of it is reviewed
        out = {}
        for key, cand in candidates.items():
            best = min(range(len(cand.options)), key=cand.costs.__getitem__)
            out[key] = Choice(best, [k for k in range(len(cand.options)) if k != best])
        return out
    chosen = {key: next(k for k, v in enumerate(vs) if solver.value(v)) for key, vs in pick.items()}
    n_broken = sum(solver.value(b) for b in violated)

    # Alternatives: for each row, other options that keep every rule as well satisfied.
    out: dict[str, Choice] = {}
    for key, cand in candidates.items():
        alts = []
        for k in range(len(cand.options)):
            if k == chosen[key]:
                continue
            trial = dict(chosen)
            trial[key] = k
            if _broken_count(trial, candidates, fixed, equations) <= n_broken:
                alts.append(k)
        out[key] = Choice(chosen[key], alts)
    return out


def _broken_count(chosen, candidates, fixed, equations) -> int:
    def val(row: str, col: int) -> Number:
        if row in candidates:
            return candidates[row].options[chosen[row]][col]
        return fixed.get((row, col), 0)

    n = 0
    for eq in equations:
        lhs = sum(val(r, c) for r, c in eq.lhs)
        rhs = sum(val(r, c) for r, c in eq.rhs)
        if abs(lhs - rhs) > 1e-6:
            n += 1
    return n


def make_candidates(key: str, tokens: list[str], expected: int, row_ok=None, extra_cost=None,
                    priors: list[Prior] | None = None) -> Candidates:
    """Candidates for one row; ``row_ok`` drops splits that break a row rule (if any split keeps it)."""
    splits = split_tokens(tokens, expected)
    options = [[_to_number(p) for p in s] for s in splits]
    broken = False
    if row_ok is not None:
        keep = [i for i, o in enumerate(options) if row_ok(o)]
        if keep:
            splits = [splits[i] for i in keep]
            options = [options[i] for i in keep]
        broken = bool(options) and not keep
    costs = []
    for o in options:
        c = sum(prior_cost(v, priors[k] if priors else None) for k, v in enumerate(o))
        if extra_cost is not None:
            c += extra_cost(o)
        costs.append(c)
    return Candidates(key=key, options=options, costs=costs, raw_options=[list(s) for s in splits],
                      row_rule_broken=broken)

"""Resolve values whose digits ran together ("640020470" -> 64|0|0|2|0|4|70).

Each run is split into the expected number of numbers (no leading zeros, except a lone 0), one per cell.
The table rules (``service.rules``, from the schema) decide among the splits: candidates that break a rule
within the row are dropped, then one candidate per row is chosen jointly under the rules across rows by the
rules' CP-SAT model (``service.rules.model``), at the least cost under a prior that prefers small numbers and
zeros (most cells of these tables are small counts; configs/priors.yaml). When more than one choice fits all
rules equally well, the winner is reported as inferred with the alternatives.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

from service.resources import read_yaml
from service.rules import Equation, Option, count_broken, hold_all, parse_equation, solve
from service.rules.equations import Number

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

    p0: float
    mu: float
    sigma: float


@dataclass(frozen=True)
class Priors:
    """configs/priors.yaml: the value priors by column, and the costs of broken rules and plausibility relations."""

    default: Prior
    columns: dict[str, Prior]
    rule_cost: float  # a broken table rule, in nats (the rules decide; the prior only breaks ties)
    heuristic_cost: float  # a broken plausibility relation or heuristic rule of a table-2 row, in nats
    plausible: tuple[str, ...]  # plausibility relations over the column ids of one table-2 row


@lru_cache(maxsize=1)
def _priors() -> Priors:
    data = read_yaml("configs/priors.yaml")
    return Priors(
        Prior(**data["default"]),
        {k: Prior(**v) for k, v in data["columns"].items()},
        float(data["rule_cost"]),
        float(data["heuristic_cost"]),
        tuple(data["plausible"]),
    )


def column_prior(column: str | None) -> Prior:
    priors = _priors()
    return priors.columns.get(column or "", priors.default)


def prior_cost(value: Number, prior: Prior) -> float:
    """-ln P(value) under a column's prior (configs/priors.yaml)."""
    if value == 0:
        return -math.log(prior.p0)
    v = abs(value)
    z = (math.log10(v) - prior.mu) / prior.sigma if v >= 1 else -prior.mu / prior.sigma
    return (
        -math.log(1 - prior.p0)
        + math.log(prior.sigma * math.sqrt(2 * math.pi))
        + 0.5 * z * z
        + math.log(max(v, 1) * math.log(10))
    )


def plausible(cells: list[str]) -> list[Equation]:
    """The plausibility relations of configs/priors.yaml over these cells of one row (cell ids
    ``<row>.<column>``): those whose columns the row has all, with the row's cell ids."""
    by_column = {c.rsplit(".", 1)[-1]: c for c in cells}
    out = []
    for text in _priors().plausible:
        eq = parse_equation(text)
        if all(c in by_column for c in eq.cells):
            lhs, rhs = tuple(by_column[c] for c in eq.lhs), tuple(by_column[c] for c in eq.rhs)
            out.append(Equation(lhs, eq.op, rhs, text, "plausibility", "heuristic"))
    return out


@dataclass
class Candidates:
    """The readings one row's run of digits admits: each option a value per cell of ``cells``."""

    key: str
    cells: list[str]
    options: list[list[Number]]
    costs: list[float]
    raw_options: list[list[str]] = field(default_factory=list)
    row_rule_broken: bool = False  # no split keeps the row rule: every option breaks it (reviewed, never trusted)
    lost_other: bool = False  # table 3: six printed columns (其他 lost); the options' 其他 is what the total leaves

    def values(self, k: int) -> dict[str, Number]:
        return dict(zip(self.cells, self.options[k]))


@dataclass
class Choice:
    option: int
    alternatives: list[int]  # other options that fit every rule as well as the chosen one


SECONDS = 5.0  # the solver's time limit for a document's splits
# review reason of the cells of a run of digits no split of which keeps its row's rule: the split is a guess
SPLIT_BREAKS_RULE = "split of run-together digits: no split keeps the row rule"


def choose(
    candidates: dict[str, Candidates], constants: dict[str, Number], equations: list[Equation]
) -> dict[str, Choice]:
    """Pick one option per row so that the equations hold, at least prior cost; ``constants``: the numbers of
    the cells no row's options set (a cell without one counts 0)."""
    options = [Option(cand.values(k), cost) for cand in candidates.values() for k, cost in enumerate(cand.costs)]
    first: dict[str, int] = {}  # each row's first option in ``options``
    offset = 0
    for key, cand in candidates.items():
        first[key] = offset
        offset += len(cand.options)
    cost = _priors().rule_cost
    solution = solve(options, equations, constants=constants, free=(), rule_cost=lambda _: cost, seconds=SECONDS)
    if not solution.solved:
        # no assignment (e.g. a run so long that its numbers overflow the solver's integers): every row keeps
        # its most plausible split, with all the others as alternatives, so every cell of it is reviewed
        guess: dict[str, Choice] = {}
        for key, cand in candidates.items():
            best = min(range(len(cand.options)), key=cand.costs.__getitem__)
            guess[key] = Choice(best, [k for k in range(len(cand.options)) if k != best])
        return guess
    picked = set(solution.chosen)
    chosen = {key: next(k for k in range(len(c.options)) if first[key] + k in picked) for key, c in candidates.items()}

    # Alternatives: for each row, other options that keep every rule as well satisfied. The equations no row's
    # options touch break or hold the same whatever the trial: counted once.
    touched = {c for cand in candidates.values() for c in cand.cells}
    live = [eq for eq in equations if not touched.isdisjoint(eq.cells)]
    fixed = count_broken([eq for eq in equations if touched.isdisjoint(eq.cells)], constants)
    live_constants = {c: constants[c] for eq in live for c in eq.cells if c in constants}

    def broken(trial: dict[str, int]) -> int:
        values: dict[str, Number] = dict(live_constants)
        for key, k in trial.items():
            values.update(candidates[key].values(k))
        return fixed + count_broken(live, values)

    out: dict[str, Choice] = {}
    for key, cand in candidates.items():
        alts = [
            k for k in range(len(cand.options)) if k != chosen[key] and broken({**chosen, key: k}) <= solution.broken
        ]
        out[key] = Choice(chosen[key], alts)
    return out


def make_candidates(
    key: str,
    tokens: list[str],
    cells: list[str],
    *,
    rules: list[Equation] | None = None,
    soft: list[Equation] | None = None,
) -> Candidates:
    """Candidates for one row, a value per cell of ``cells`` (cell ids: their column names the value prior).
    ``rules``: the rules within the row, which drop the splits that break one (if any split keeps them all);
    ``soft``: plausibility relations, each broken one adding its cost."""
    splits = split_tokens(tokens, len(cells))
    options = [[_to_number(p) for p in s] for s in splits]
    broken = False
    if rules:
        keep = [i for i, o in enumerate(options) if hold_all(rules, dict(zip(cells, o)))]
        if keep:
            splits = [splits[i] for i in keep]
            options = [options[i] for i in keep]
        broken = bool(options) and not keep
    priors = [column_prior(c.rsplit(".", 1)[-1]) for c in cells]
    penalty = _priors().heuristic_cost
    costs = []
    for o in options:
        c = sum(prior_cost(v, p) for v, p in zip(o, priors))
        if soft:
            c += penalty * count_broken(soft, dict(zip(cells, o)))
        costs.append(c)
    return Candidates(
        key=key,
        cells=list(cells),
        options=options,
        costs=costs,
        raw_options=[list(s) for s in splits],
        row_rule_broken=broken,
    )

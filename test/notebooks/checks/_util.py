"""Helpers for the per-chapter result checks."""
from dataclasses import dataclass
from typing import Callable


def close(a, b, tol):
    return abs(a - b) <= tol


@dataclass(frozen=True)
class Check:
    """What a notebook must reach, read from the kernel after it ran.

    * `what`: the claim, for people (it is printed when the check fails).
    * `probe`: the body of an async TypeScript function that the harness runs in a cell of its
      own after the notebook (see ../harness.py); it reads the notebook's variables and returns
      a JSON-able object, the `r` that `ok` is given. The notebook itself prints nothing for it.
    * `ok(r)`: the predicate. `r["_plots"]` holds the run's vega-lite plots as
      {series name: [(x, y), ...]} (the Animator's final state among them).
    * `plot`: the notebook's outputs must include a plot (vega-lite with its PNG, for export).
    """
    what: str
    probe: str
    ok: Callable[[dict], bool]
    plot: bool = False

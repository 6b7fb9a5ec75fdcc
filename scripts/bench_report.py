"""The table, the goals and the summary line of ``scripts/bench.py``.

A ratio is tinyserve's figure over MLflow's from the same round; the table shows the median of
those per-round ratios (the figure the goals are judged on) and each round's own, since
absolute figures move with the machine's load while the ratios hold.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple

from bench_load import median

Results = Dict[str, Dict[str, List[float]]]


class Check(NamedTuple):
    goal: str
    value: float
    target: str  # e.g. ">= 4"
    met: bool


def ratios(results: Results, metric: str) -> List[float]:
    mine, theirs = results[metric]["tinyserve"], results[metric]["mlflow"]
    return [a / b for a, b in zip(mine, theirs) if b]


def ratio(results: Results, metric: str) -> float:
    return median(ratios(results, metric))


def check(goal: str, value: float, at_least: float = None, at_most: float = None) -> Check:
    if at_least is not None:
        return Check(goal, value, f">= {at_least:g}", value >= at_least)
    return Check(goal, value, f"<= {at_most:g}", value <= at_most)


def goals(results: Results, floors: Dict[str, float]) -> List[Check]:
    """Every goal of the performance issue, judged on median per-round ratios."""
    found: List[Check] = []
    for kind in ("split", "csv"):
        for connections in (1, 8, 64):
            key = f"1row {kind} c{connections}"
            found.append(check(f"1. {key} requests/s x MLflow", ratio(results, f"{key} rps"),
                               at_least=4))
            found.append(check(f"1. {key} p99 x MLflow", ratio(results, f"{key} p99 ms"),
                               at_most=0.25))
            own = median(results[f"{key} cpu ms/req"]["tinyserve"]) - floors["predict_ms"]
            found.append(check(f"1. {key} CPU ms/request minus the model's", own, at_most=0.5))
    for name in ("100rows", "10krows"):
        for kind in ("split", "records", "inputs", "csv"):
            found.append(check(f"2. {name} {kind} time x MLflow",
                               ratio(results, f"{name} {kind} s"), at_most=0.5))
    found.append(check("3. 100krows csv time x MLflow", ratio(results, "100krows csv s"),
                       at_most=0.7))
    found.append(check("4. cold start x MLflow", ratio(results, "cold start s"), at_most=0.2))
    own_start = median(results["cold start s"]["tinyserve"]) - floors["load_s"]
    found.append(check("4. cold start s, tinyserve's own share", own_start, at_most=0.3))
    for metric in ("RSS after 1-row load MiB", "RSS after 100k-row load MiB"):
        found.append(check(f"5. {metric[:-4]} x MLflow", ratio(results, metric), at_most=0.4))
    found.append(check("6. predict 1M rows/s x MLflow", ratio(results, "predict 1M rows/s"),
                       at_least=3))
    return found


def print_table(results: Results, checks: List[Check], floors: Dict[str, float]) -> None:
    print()
    print(f"model's own predict on a 1-row DataFrame: {floors['predict_ms']:.3f} ms CPU; "
          f"importing the logreg model's libraries and unpickling it (median of 3 fresh "
          f"processes): {floors['load_s']:.2f} s")
    print("floors, in-process (median s): " + ", ".join(
        f"{name} {value:.4f}" for name, value in floors.items() if name.endswith(" s")))
    print()
    print("| metric | tinyserve | mlflow | ratio | per round |")
    print("|---|---:|---:|---:|---|")
    for metric, systems in results.items():
        per_round = ", ".join(f"{value:.2f}" for value in ratios(results, metric))
        print(f"| {metric} | {fmt(median(systems['tinyserve']))} | "
              f"{fmt(median(systems['mlflow']))} | {ratio(results, metric):.2f} | {per_round} |")
    print()
    print("| goal | value | target | met |")
    print("|---|---:|---|---|")
    for item in checks:
        print(f"| {item.goal} | {item.value:.3f} | {item.target} | "
              f"{'yes' if item.met else '**no**'} |")
    print()


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def summary_line(checks: List[Check]) -> str:
    missed = [item.goal for item in checks if not item.met]
    text = f"bench: {len(checks) - len(missed)}/{len(checks)} goals met"
    return text + (f"; missed: {'; '.join(missed)}" if missed else "")

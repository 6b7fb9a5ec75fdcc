"""Draw docs/benchmarks.png from the results ``scripts/bench.py`` wrote.

    python scripts/bench_chart.py .bench/results.json docs/benchmarks.png

Runs in the MLflow venv, which has matplotlib; tinyserve itself never needs it. Left: 1-row
requests/s by payload and connections; right: p99 latency of the same runs (log scale).
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SYSTEMS = (("tinyserve", "#2b7bba"), ("mlflow", "#d9822b"))


def main(source: str, target: str) -> None:
    results = json.load(open(source, encoding="utf-8"))["results"]
    runs = [f"{kind} c{connections}" for kind in ("split", "csv") for connections in (1, 8, 64)]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    width = 0.4
    for offset, (system, colour) in enumerate(SYSTEMS):
        places = [index + (offset - 0.5) * width for index in range(len(runs))]
        rps = [statistics.median(results[f"1row {run} rps"][system]) for run in runs]
        p99 = [statistics.median(results[f"1row {run} p99 ms"][system]) for run in runs]
        left.bar(places, rps, width, label=system, color=colour)
        right.bar(places, p99, width, label=system, color=colour)
    for axes, title in ((left, "1-row requests/s (higher is better)"),
                        (right, "1-row p99 latency, ms (lower is better)")):
        axes.set_xticks(range(len(runs)))
        axes.set_xticklabels(runs, rotation=30)
        axes.set_title(title)
        axes.legend()
    right.set_yscale("log")
    figure.suptitle("tinyserve vs mlflow models serve, one worker each (scripts/bench.py)")
    figure.tight_layout()
    figure.savefig(target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

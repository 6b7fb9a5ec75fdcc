"""Benchmark ``tinyserve predict`` on a large CSV: peak memory and rows/s against the model alone.

    python scripts/bench_predict.py --size-mb 2048          # the issue's 2 GB figure
    python scripts/bench_predict.py --size-mb 200 --batch-sizes 1000,5000,10000,50000,100000

Steps: write a CSV of iris rows (``--size-mb``, in a temporary directory unless ``--csv`` names
a file); run ``python -m tinyserve predict`` on it in a subprocess and read its peak RSS
(``resource.getrusage`` of the child) and wall time; then, for the baseline, parse the same
file with pandas in chunks *outside* the clock and time only ``model.predict`` on the parsed
chunks (the loaded model's own predict, schema enforcement included, as every caller gets it).
A second baseline times the loop one would write by hand (``pandas.read_csv`` chunks ->
``model.predict`` -> ``to_csv``). Each ratio is baseline rows/s over tinyserve rows/s. Every
run is bounded by ``--max-seconds``.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "examples" / "iris-model"
HEADER = "sepal_length,sepal_width,petal_length,petal_width\n"
ROWS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.9,3.0,4.2,1.5", "4.6,3.1,1.5,0.2",
        "6.3,2.5,5.0,1.9", "5.5,2.4,3.8,1.1", "7.2,3.6,6.1,2.5", "5.0,3.4,1.5,0.2"]


def write_csv(path: Path, size_mb: int) -> int:
    """A CSV of about ``size_mb`` MiB; returns its row count."""
    block = "\n".join(ROWS * 4096) + "\n"
    rows_per_block = len(ROWS) * 4096
    blocks = max(1, (size_mb << 20) // len(block))
    with open(path, "w", encoding="ascii") as out:
        out.write(HEADER)
        for _ in range(blocks):
            out.write(block)
    return blocks * rows_per_block


def run_predict(csv_path: Path, batch_size: int, max_seconds: float) -> dict:
    """One ``tinyserve predict`` subprocess: seconds, peak RSS (MiB), output rows."""
    with tempfile.TemporaryDirectory() as work:
        output = Path(work) / "out.csv"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tinyserve", "predict", "-m", str(MODEL),
                        "-i", str(csv_path), "-o", str(output), "--batch-size", str(batch_size),
                        "--quiet"], check=True, cwd=REPO, timeout=max_seconds)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with open(output, "rb") as result:
            rows = sum(block.count(b"\n") for block in iter(lambda: result.read(1 << 20), b"")) - 1
    if peak <= before:
        print("note: peak RSS of this run is not above an earlier child's; run one size per "
              "process for exact figures", file=sys.stderr)
    return {"seconds": seconds, "peak_mib": peak / 1024, "rows": rows}


def model_alone(csv_path: Path, batch_size: int, max_seconds: float) -> dict:
    """rows/s of the loaded model's predict on chunks parsed beforehand (parsing not timed)."""
    import pandas as pd

    sys.path.insert(0, str(REPO))
    from tinyserve.pyfunc import load_pyfunc

    model = load_pyfunc(str(MODEL))
    predicted = 0
    busy = 0.0
    deadline = time.perf_counter() + max_seconds
    for frame in pd.read_csv(csv_path, chunksize=batch_size, dtype="float64"):
        started = time.perf_counter()
        predicted += len(model.predict(frame))
        busy += time.perf_counter() - started
        if time.perf_counter() > deadline:
            break
    return {"seconds": busy, "rows": predicted}


def hand_written_loop(csv_path: Path, batch_size: int, max_seconds: float) -> dict:
    """What one writes without tinyserve: read_csv chunks -> predict -> to_csv, all timed."""
    import pandas as pd

    sys.path.insert(0, str(REPO))
    from tinyserve.pyfunc import load_pyfunc

    model = load_pyfunc(str(MODEL))
    predicted = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work, open(Path(work) / "out.csv", "w") as out:
        out.write("prediction\n")
        for frame in pd.read_csv(csv_path, chunksize=batch_size, dtype="float64"):
            labels = model.predict(frame)
            pd.DataFrame({"prediction": labels}).to_csv(out, header=False, index=False)
            predicted += len(labels)
            if time.perf_counter() - started > max_seconds:
                break
    return {"seconds": time.perf_counter() - started, "rows": predicted}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--csv", type=Path, help="reuse (or create) this CSV file")
    parser.add_argument("--batch-sizes", default="10000")
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        csv_path = args.csv or Path(work) / "iris.csv"
        if not csv_path.exists():
            write_csv(csv_path, args.size_mb)
        size_mib = os.path.getsize(csv_path) / (1 << 20)
        print(f"input: {size_mib:,.0f} MiB")
        for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
            run = run_predict(csv_path, batch_size, args.max_seconds)
            rate = run["rows"] / run["seconds"]
            line = (f"batch {batch_size:>7}: {run['rows']:,} rows in {run['seconds']:.1f} s = "
                    f"{rate:,.0f} rows/s, peak RSS {run['peak_mib']:.0f} MiB")
            if not args.skip_baseline:
                alone = model_alone(csv_path, batch_size, args.max_seconds)
                alone_rate = alone["rows"] / alone["seconds"]
                loop = hand_written_loop(csv_path, batch_size, args.max_seconds)
                loop_rate = loop["rows"] / loop["seconds"]
                line += (f"; model alone {alone_rate:,.0f} rows/s (ratio {alone_rate / rate:.2f}x)"
                         f"; read_csv+predict+to_csv loop {loop_rate:,.0f} rows/s "
                         f"(ratio {loop_rate / rate:.2f}x)")
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

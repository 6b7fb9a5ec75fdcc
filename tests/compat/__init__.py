"""The compatibility suite: the same requests to `mlflow models serve` and to tinyserve.

`corpus` holds the requests as data, `differences` the deliberate differences (each a named
rule with its reason, applied to the cases it lists and nowhere else), `harness` starts both
servers per model, sends every case to both, interleaved, and compares the answers.
"""

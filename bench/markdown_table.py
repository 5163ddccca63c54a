"""The README's speed table from `fastnn bench --json` output.

    fastnn bench --cores 1 --batches 32,256 --json one.json
    python bench/markdown_table.py one.json

One row per workload, dtype and batch; one column per contender: speed, and in brackets the
ratio to fastnn's NumPy backend timed in the same run.
"""
import json
import sys

CONTENDERS = ("fastnn", "numpy", "scikit-learn", "pytorch", "jax")
TITLES = {"fastnn": "fastnn", "numpy": "NumPy backend", "scikit-learn": "scikit-learn",
          "pytorch": "PyTorch", "jax": "JAX (jit)"}
WORKLOADS = {"tiny": "tiny: 3-4-1 sigmoid, full batch", "small": "small: digits 64-64-10, Adam",
             "medium": "medium: 784-256-128-10, Adam", "large": "large: 4096x3, fwd + bwd"}


def speed(row):
    if "us_per_step" in row:
        return f"{row['us_per_step']:.3g} us/step"
    value = row["samples_per_s"]
    return f"{value / 1e6:.3g} M/s" if value >= 1e6 else f"{value / 1e3:.3g} k/s"


def table(document):
    rows = [r for r in document["results"] if "error" not in r and "skipped" not in r]
    groups = []
    for row in rows:
        key = (row["workload"], row["dtype"], row["batch"])
        if key not in groups:
            groups.append(key)
    present = [c for c in CONTENDERS if any(r["contender"] == c for r in rows)]
    lines = ["| workload | dtype | batch | " + " | ".join(TITLES[c] for c in present) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in present) + " |"]
    for workload, dtype, batch in groups:
        cells = []
        for contender in present:
            row = next((r for r in rows if (r["workload"], r["dtype"], r["batch"], r["contender"])
                        == (workload, dtype, batch, contender)), None)
            if row is None:
                cells.append("")
                continue
            text = speed(row)
            if contender != "numpy" and row.get("speedup_vs_numpy"):
                text += f" ({row['speedup_vs_numpy']:.2f}x)"
            if "gemm_share" in row:
                text += f", GEMM share {row['gemm_share']:.2f}"
            cells.append(f"**{text}**" if contender == "fastnn" else text)
        lines.append(f"| {WORKLOADS[workload]} | {dtype} | {batch or ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as handle:
            document = json.load(handle)
        env = document["environment"]
        print(f"{env['cpu']}, {env['threads']} core(s) pinned, {env['threads']} thread(s) per "
              f"contender, kernels {env['kernels']}, {env['date']}\n")
        print(table(document))
        print()

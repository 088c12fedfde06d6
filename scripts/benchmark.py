"""Measure robopolicy and write the figures (JSON + a markdown table headed by this command) under docs/benchmarks/.

    python scripts/benchmark.py env        # Push-T: env steps/s, render fps, expert success over 100 seeds, demo collection time
    python scripts/benchmark.py diffusion  # Diffusion Policy: chunk latency (DDPM-100 vs DDIM-10) and training samples/s per backbone
    python scripts/benchmark.py default_run  # the README's main job from scratch: wall time, success rate, mean score
    python scripts/benchmark.py streaming  # Streaming DP vs Diffusion Policy: success, network calls and latency per step
    python scripts/benchmark.py ebt        # EBT-Policy vs Diffusion Policy: success, latency, energy as uncertainty
    python scripts/benchmark.py carp       # CARP vs Diffusion Policy: success, latency, parameters, tokenizer quality

Figures are printed and written to docs/benchmarks/<suite>.json and docs/benchmarks/<suite>.md.
The suites live in robopolicy/evaluation/benchmarks/.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from robopolicy.evaluation.benchmarks import SUITES, machine

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--steps", type=int, default=4000, help="env steps timed (state obs; a quarter with images)")
    parser.add_argument("--seeds", type=int, default=100, help="initial-state seeds for the expert success rate")
    parser.add_argument("--demos", type=int, default=200, help="demos for the collection timing")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calls", type=int, default=100, help="timed predict_chunk calls per latency cell")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cell-seconds", type=float, default=90.0, help="stop timing a latency cell after this many seconds")
    parser.add_argument("--batch", type=int, default=256, help="training batch size for samples/s")
    parser.add_argument("--train-steps", type=int, default=10, help="timed training steps per backbone")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    run, table = SUITES[args.suite]
    header = machine()
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.suite}.json").write_text(json.dumps({"machine": header, "results": results}, indent=2) + "\n")
    text = (
        f"`{header['command']}`\n\ncommit {header['commit']}, {header['date']}, {header['cpu']} "
        f"({header['cores']} cores, torch threads {header['torch_threads']}, GPU: {header['gpu'] or 'none'})\n\n"
        + table(results) + "\n"
    )
    (args.out / f"{args.suite}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Measure robopolicy and write the figures, each table headed by the command and machine that produced it.

    python scripts/benchmark.py                    # families x tasks x 3 training seeds (CPU preset) -> docs/benchmarks.md
    python scripts/benchmark.py benchmark=gpu      # the larger preset, for a GPU machine
    python scripts/benchmark.py suite=latency      # predict_chunk latency of every family, batch 1 and 32, vs DDPM-100
    python scripts/benchmark.py suite=env          # Push-T: env steps/s, render fps, expert success, collection time
    python scripts/benchmark.py suite=diffusion    # Diffusion Policy: chunk latency and training samples/s per backbone
    python scripts/benchmark.py suite=default_run  # the README's main job from scratch: wall time, success, score
    python scripts/benchmark.py suite=streaming    # Streaming DP vs Diffusion Policy
    python scripts/benchmark.py suite=ebt          # EBT-Policy vs Diffusion Policy, energy as uncertainty
    python scripts/benchmark.py suite=ebt_energy energy_checkpoint=<dir>  # AUROC of a trained EBT's energy
    python scripts/benchmark.py suite=ebt_attention  # EBT training step / chunk time: explicit vs math attention
    python scripts/benchmark.py suite=carp         # CARP vs Diffusion Policy, tokenizer quality
    python scripts/benchmark.py suite=deploy deploy_checkpoint=<dir>  # closed loop: in-process sim, DDS, ROS 1

Config: conf/benchmark.yaml and the presets in conf/benchmark/. The comparison tables resume: finished cells
are kept under the preset's runs_dir and never redone. Single-topic suites write docs/benchmarks/<suite>.{json,md}.
The older spelling ``python scripts/benchmark.py carp --cell-seconds 60`` still works.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import hydra
from omegaconf import DictConfig, OmegaConf

from robopolicy.overrides import check_overrides

ROOT = Path(__file__).resolve().parents[1]


def legacy_argv(argv: list[str]) -> list[str]:
    """``carp --cell-seconds 60`` -> ``suite=carp cell_seconds=60`` (the spelling the recorded tables were made with)."""
    out, args = [], iter(argv)
    for arg in args:
        if arg.startswith("--") and "=" not in arg:
            out.append(f"{arg[2:].replace('-', '_')}={next(args)}")
        elif "=" not in arg and not arg.startswith("-"):
            out.append(f"suite={arg}")
        else:
            out.append(arg)
    return out


@hydra.main(config_path="../conf", config_name="benchmark", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from robopolicy.evaluation.benchmarks import SUITES, machine, write_matrix_report

    if cfg.suite == "deploy":  # lives in hardware/ (robopolicy never imports it): imported only for this suite
        from hardware.benchmark import deploy_suite
        from hardware.benchmark_report import deploy_table

        SUITES = {**SUITES, "deploy": (deploy_suite, deploy_table)}
    if cfg.suite not in SUITES:
        sys.exit(f"error: suite={cfg.suite} is not one of {', '.join(sorted(SUITES))}")
    args = SimpleNamespace(**OmegaConf.to_container(cfg, resolve=True))
    run, table = SUITES[cfg.suite]
    header = machine()
    results = run(args)
    if cfg.suite == "matrix":
        text = write_matrix_report(results, header, ROOT / args.benchmark["report"])
        print(text)
        if results["failures"]:
            sys.exit(f"{len(results['failures'])} cell(s) failed; see above. Rerun the same command to retry them.")
        return
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{cfg.suite}.json").write_text(json.dumps({"machine": header, "results": results}, indent=2) + "\n")
    text = (
        f"`{header['command']}`\n\ncommit {header['commit']}, {header['date']}, {header['cpu']} "
        f"({header['cores']} cores, torch threads {header['torch_threads']}, GPU: {header['gpu'] or 'none'})\n\n"
        + table(results) + "\n"
    )
    (out / f"{cfg.suite}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    os.environ.setdefault("MUJOCO_GL", "egl")
    sys.argv[1:] = legacy_argv(sys.argv[1:])
    check_overrides("benchmark")
    main()

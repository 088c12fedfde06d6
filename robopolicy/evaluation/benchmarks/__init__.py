"""Benchmark suites behind ``python scripts/benchmark.py suite=<suite>``: each is (run(args) -> results, table(results) -> markdown)."""

from robopolicy.evaluation.benchmarks import (
    carp, default_run, diffusion, ebt, ebt_attention, env, latency, matrix, streaming,
)
from robopolicy.evaluation.benchmarks.common import machine
from robopolicy.evaluation.benchmarks.matrix import write_matrix_report

SUITES = {
    "matrix": (matrix.matrix_suite, matrix.matrix_table),
    "latency": (latency.latency_suite, latency.latency_table),
    "env": (env.env_suite, env.env_table),
    "diffusion": (diffusion.diffusion_suite, diffusion.diffusion_table),
    "default_run": (default_run.default_run_suite, default_run.default_run_table),
    "streaming": (streaming.streaming_suite, streaming.streaming_table),
    "ebt": (ebt.ebt_suite, ebt.ebt_table),
    "ebt_energy": (ebt.ebt_energy_suite, ebt.ebt_energy_table),
    "ebt_attention": (ebt_attention.ebt_attention_suite, ebt_attention.ebt_attention_table),
    "carp": (carp.carp_suite, carp.carp_table),
}

__all__ = ["SUITES", "machine", "write_matrix_report"]

"""EBT-Policy: the energy network's explicit attention against PyTorch's math attention, in one run.

The energy network needs attention with a double backward, which PyTorch's fused kernels lack; before the explicit
attention (``robopolicy.nets.transformer.explicit_attention``) it ran on the math fallback. Both are timed here on the
same policy object, alternating call by call, for a training step (second-order descent with K training starts) and
for predict_chunk.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from robopolicy.evaluation.benchmarks.common import pusht_obs, pusht_policy

# The Push-T recipe of the long runs in docs/ebt.md, and the family's defaults.
CONFIGS = {
    "best Push-T recipe (patch 4, 16 starts, To 4)": {
        "action_patch": 4, "train_starts": 16, "distance": "euclidean", "relative_to": "agent_pos", "obs_horizon": 4,
    },
    "defaults (conf/policy/ebt.yaml)": {},
}
INFERENCE = {"inference_steps": 4, "candidates": 8}  # what the Push-T figures are evaluated with
TRAIN_BATCH = 32  # conf/training/per_policy/ebt.yaml


@contextlib.contextmanager
def attention(policy, kind: str) -> Iterator[None]:
    """Run ``policy``'s energy network with the ``explicit`` attention or the ``math`` SDPA fallback."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    for block in policy.energy_net.blocks:
        block.attn.explicit = kind == "explicit"
    with sdpa_kernel(SDPBackend.MATH) if kind == "math" else contextlib.nullcontext():
        yield


def ebt_attention_suite(args: argparse.Namespace, configs: dict[str, dict[str, Any]] = CONFIGS) -> dict[str, Any]:
    """Median time of a training step (batch 32) and of predict_chunk (batch 1, 4 steps x 8 descents) per attention
    kind, interleaved A B A B, and the explicit attention's speed-up; plus the largest difference of the energies."""
    import torch

    results: dict[str, Any] = {"train_batch": TRAIN_BATCH, "inference": INFERENCE, "configs": {}}
    kinds = ("math", "explicit")
    for name, overrides in configs.items():
        policy = pusht_policy("ebt", overrides)
        spec = policy.chunk_spec
        optimizer = torch.optim.SGD(policy.parameters(), lr=0.0)  # lr 0: every timed step sees the same weights
        batch = {"obs": pusht_obs(spec, TRAIN_BATCH), "action": torch.randn(TRAIN_BATCH, spec.pred_horizon, 2)}
        obs = pusht_obs(spec, 1)
        policy.configure_inference(**INFERENCE)
        times: dict[str, dict[str, list[float]]] = {k: {"train_step": [], "predict_chunk": []} for k in kinds}
        for rep in range(args.calls + args.warmup):
            for kind in kinds:
                with attention(policy, kind):
                    policy.train()
                    start = time.perf_counter()
                    loss, _ = policy.compute_loss(batch)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    train_s = time.perf_counter() - start
                    policy.eval()
                    start = time.perf_counter()
                    policy.predict_chunk(obs)
                    predict_s = time.perf_counter() - start
                if rep >= args.warmup:
                    times[kind]["train_step"].append(train_s)
                    times[kind]["predict_chunk"].append(predict_s)
        tokens = policy.encode_obs(batch["obs"]).detach()
        chunk = torch.randn(TRAIN_BATCH, spec.pred_horizon, 2)
        energies = {}
        for kind in kinds:
            with attention(policy, kind), torch.no_grad():
                energies[kind] = policy.energy(tokens, chunk)
        cell = {kind: {what: float(np.median(v)) * 1000 for what, v in per.items()} for kind, per in times.items()}
        cell["speedup"] = {what: cell["math"][what] / cell["explicit"][what] for what in ("train_step", "predict_chunk")}
        cell["calls"] = len(times["math"]["train_step"])
        cell["max_energy_difference"] = float((energies["math"] - energies["explicit"]).abs().max())
        results["configs"][name] = cell
        print(name, cell)
    return results


def ebt_attention_table(r: dict[str, Any]) -> str:
    rows = ["| configuration | training step, math / explicit (ms) | speed-up | predict_chunk, math / explicit (ms) "
            "| speed-up | largest energy difference |", "|---|---|---|---|---|---|"]
    for name, c in r["configs"].items():
        rows.append(f"| {name} | {c['math']['train_step']:.1f} / {c['explicit']['train_step']:.1f} | "
                    f"{c['speedup']['train_step']:.2f}x | {c['math']['predict_chunk']:.1f} / "
                    f"{c['explicit']['predict_chunk']:.1f} | {c['speedup']['predict_chunk']:.2f}x | "
                    f"{c['max_energy_difference']:.1e} |")
    calls = next(iter(r["configs"].values()))["calls"]
    return "\n".join(rows) + (
        f"\n\nMedians of {calls} calls per cell after warm-up, the two attentions alternating call by call on the same "
        f"policy; training steps at batch {r['train_batch']}, predict_chunk at batch 1 with "
        f"{r['inference']['inference_steps']} steps x {r['inference']['candidates']} descents; random weights "
        "(the compute does not depend on them)."
    )

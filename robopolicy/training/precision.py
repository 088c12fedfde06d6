"""training.precision: which dtype the forward pass runs in under autocast, and whether this machine makes it fast."""

from __future__ import annotations

import torch

PRECISIONS = ("fp32", "bf16", "auto")


def fast_bf16(device: str) -> bool:
    """True where bfloat16 matrix products run in hardware: CPUs with AVX512-BF16 or AMX, GPUs from Ampere on."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind == "cpu":  # torch's own CPU feature probes (private: absent ones count as no)
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def autocast_dtype(precision: str, device: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (one of PRECISIONS) on ``device`` (None: plain float32).

    "auto" picks bfloat16 only where the hardware has it: emulated bfloat16 is several times slower than float32.
    """
    if precision == "bf16" or (precision == "auto" and fast_bf16(device)):
        return torch.bfloat16
    return None

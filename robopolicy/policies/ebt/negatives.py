"""Off-manifold observations for the EBT energy's contrastive term: each one assembled from two windows.

A demonstration window's observation is internally consistent: its keys describe one physical state (the
pusher beside the block it is pushing) and its history frames follow each other in time. Taking part of it
from another window breaks that consistency without leaving the range of any single key, which is exactly
what an energy used as an uncertainty signal should notice. Nothing here knows a task's perturbations; it
only recombines what the batch holds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from robopolicy.core import ObsDict


def mixed_observations(obs: ObsDict, generator: torch.Generator | None = None) -> ObsDict:
    """One observation per sample, part from its own window and part from another sample's.

    obs: {key: (B, To, ...)} raw observations of B >= 2 windows. For each sample a donor (another sample) and
    a recipe are drawn: with several keys and To >= 2, half take a nonempty proper subset of keys from the donor
    (all frames) and half take a nonempty proper subset of history frames from it (all keys); with one key only
    frames are swapped, with To == 1 only keys. Returns {key: (B, To, ...)}, a new dict of new tensors.
    """
    keys = sorted(obs)
    batch, horizon = obs[keys[0]].shape[:2]
    if batch < 2:
        raise ValueError(f"mixed_observations needs at least 2 windows to mix, got a batch of {batch}")
    if len(keys) < 2 and horizon < 2:
        raise ValueError("mixed_observations needs two observation keys or an observation history (obs_horizon >= 2) "
                         f"to mix; got keys {keys} with obs_horizon {horizon}")
    device = obs[keys[0]].device

    def draw(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator)

    shift = 1 + (draw(batch) * (batch - 1)).long()  # 1..B-1: never the sample itself
    donor = (torch.arange(batch) + shift) % batch
    swap_keys = draw(batch) < 0.5 if len(keys) >= 2 and horizon >= 2 else torch.full((batch,), len(keys) >= 2)
    take_key = _proper_subsets(batch, len(keys), draw) & swap_keys[:, None]  # (B, K)
    take_frame = _proper_subsets(batch, horizon, draw) & ~swap_keys[:, None]  # (B, To)
    mixed = {}
    for k, key in enumerate(keys):
        value = obs[key]
        take = take_key[:, k:k + 1] | take_frame  # (B, To): frames of this key that come from the donor
        mask = take.to(device).reshape(batch, horizon, *([1] * (value.dim() - 2)))
        mixed[key] = torch.where(mask, value[donor.to(device)], value)
    return mixed


def _proper_subsets(batch: int, size: int, draw: Callable[..., torch.Tensor]) -> torch.Tensor:
    """(batch, size) boolean masks, each a uniformly drawn nonempty proper subset of range(size) (all False when
    size == 1: there is no such subset)."""
    if size < 2:
        return torch.zeros(batch, size, dtype=torch.bool)
    masks = draw(batch, size) < 0.5
    count = masks.sum(dim=1)
    bad = (count == 0) | (count == size)  # redrawn: at most half of all masks, fewer each round
    if bad.any():
        masks[bad] = _proper_subsets(int(bad.sum()), size, draw)
    return masks

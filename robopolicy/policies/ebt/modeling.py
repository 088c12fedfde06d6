"""EBT-Policy: an energy over (observation, action chunk) pairs, and actions found by descending it.

The model E(o, y) is an EnergyTransformer over the shared encoder's observation tokens and the
normalized action chunk y (B, Tp, Da). Prediction is optimisation: from an initial chunk y_0,

    y_{k+1} = y_k - alpha * dE(o, y_k)/dy_k,        alpha = exp(log_alpha) > 0, learned,

and the lowest-energy chunk among G candidates is returned, with its energy as a confidence signal.
Training unrolls the same descent for a random number of steps S from noise and regresses every y_k
(or only the last) on the demonstration chunk, back-propagating through the steps (second-order: the energy gradient is
built with create_graph=True), so the network learns an energy whose descent lands on the data
(Gladstone et al. 2025, "Energy-Based Transformers are Scalable Learners and Thinkers"). Optional terms:
equilibrium matching (one step from a noised demonstration lands on it; after Wang and Du 2025, "Equilibrium
Matching"), a contrastive term that makes the energy an uncertainty signal, and a ranking term that makes the lowest
energy among several descents mark the one closest to the demonstration.
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from robopolicy.core import ACTION_KEY, Chunk, ChunkSpec, Normalizer, ObsDict, Policy, ShapeMeta, register_policy
from robopolicy.core.config import dataclass_from_dict, dataclass_to_dict
from robopolicy.encoders import EncoderConfig, ObsEncoder
from robopolicy.nets.energy import EnergyTransformer
from robopolicy.policies.ebt.configuration import EBTConfig
from robopolicy.policies.ebt.negatives import mixed_observations


@register_policy("ebt")
class EBTPolicy(Policy):
    """Energy-based transformer policy on the shared ObsEncoder (see the module docstring)."""

    def __init__(self, shape_meta: ShapeMeta, chunk_spec: ChunkSpec, normalizer: Normalizer, config: dict[str, Any]) -> None:
        cfg = dataclass_from_dict(EBTConfig, config, "ebt policy")
        super().__init__(shape_meta, chunk_spec, normalizer, dataclass_to_dict(cfg))
        self.cfg = cfg
        if cfg.contrastive_weight > 0 and len(shape_meta.obs) < 2 and chunk_spec.obs_horizon < 2:
            raise ValueError("ebt: contrastive_weight > 0 mixes observation keys or history frames of two windows, but "
                             f"this task has one key ({next(iter(shape_meta.obs))}) and obs_horizon 1; set "
                             "policy.contrastive_weight=0 or policy.obs_horizon=2")
        if chunk_spec.pred_horizon % cfg.action_patch:
            raise ValueError(f"ebt: policy.action_patch ({cfg.action_patch}) must divide policy.pred_horizon "
                             f"({chunk_spec.pred_horizon}); pick a divisor, e.g. 1, 2 or 4")
        if cfg.relative_to is not None and cfg.relative_to not in shape_meta.low_dim_keys:
            raise ValueError(f"ebt: policy.relative_to={cfg.relative_to!r} is not a low-dim observation key of this "
                             f"task; choose one of {list(shape_meta.low_dim_keys)} or null")
        if cfg.relative_to is not None and shape_meta.obs[cfg.relative_to].shape != (shape_meta.action_dim,):
            raise ValueError(f"ebt: policy.relative_to={cfg.relative_to!r} has shape "
                             f"{shape_meta.obs[cfg.relative_to].shape}, but offsets need the action's shape "
                             f"({shape_meta.action_dim},); choose a key in the action's units or null")
        self.encoder = ObsEncoder(shape_meta, EncoderConfig.from_dict(cfg.encoder))
        self.energy_net = EnergyTransformer(
            shape_meta.action_dim, chunk_spec.pred_horizon, chunk_spec.obs_horizon, self.encoder.feature_dim,
            cfg.dim, cfg.depth, cfg.heads, cfg.dropout, cfg.action_patch,
        )
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg.step_size)), requires_grad=cfg.learn_step_size)
        self.executes_whole_chunks = self._keeps_previous_chunk
        self.reset()

    @property
    def _keeps_previous_chunk(self) -> bool:
        """A warm start or the coherence choice reads the previous chunk, so assumes its Ta actions were executed."""
        return self.cfg.warm_start or self.cfg.coherence_weight != 0

    def reset(self) -> None:
        """Forget the previous chunk (the warm start's and the coherence choice's)."""
        self._previous: torch.Tensor | None = None  # (B*K, Tp, Da) the chosen chunks, absolute normalized units

    def configure_inference(self, **options: Any) -> None:
        """Change inference_steps, candidates, warm_start, early_stop_tol, coherence_weight or pace_gain of a trained
        policy."""
        allowed = {"inference_steps", "candidates", "warm_start", "early_stop_tol", "coherence_weight", "pace_gain"}
        if set(options) - allowed:
            raise ValueError(f"ebt inference options are {sorted(allowed)}; got {sorted(options)}")
        self.cfg = dataclass_from_dict(EBTConfig, {**dataclass_to_dict(self.cfg), **options}, "ebt policy")
        self.config = dataclass_to_dict(self.cfg)
        self.executes_whole_chunks = self._keeps_previous_chunk
        self.reset()

    @property
    def alpha(self) -> torch.Tensor:
        """The descent step size (scalar, > 0)."""
        return self.log_alpha.exp()

    def encode_obs(self, obs: ObsDict) -> torch.Tensor:
        """Raw observations {key: (B, To, ...)} -> observation tokens (B, To, D)."""
        return self.encoder(self.normalizer.normalize_obs(obs))

    def anchor(self, obs: ObsDict) -> torch.Tensor:
        """Where the chunk's offsets are measured from, (B, 1, Da) in normalized action units: the last frame of
        ``relative_to`` mapped through the action's normalization; zeros when actions are absolute."""
        if self.cfg.relative_to is None:
            reference = next(iter(obs.values()))
            return torch.zeros((reference.shape[0], 1, self.shape_meta.action_dim), device=reference.device)
        return self.normalizer.normalize(ACTION_KEY, obs[self.cfg.relative_to][:, -1:].float())

    def energy(self, obs_tokens: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """E(o, y) (N,) for observation tokens (N, To, D) and normalized chunks (N, Tp, Da)."""
        return self.energy_net(obs_tokens, chunk)

    def descend(
        self, obs_tokens: torch.Tensor, chunk: torch.Tensor, steps: int, *, create_graph: bool,
        langevin: torch.Tensor | None = None, detach_between_steps: bool = False, early_stop_tol: float = 0.0,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Up to ``steps`` steps y <- y - alpha dE/dy from ``chunk`` (N, Tp, Da).

        ``langevin`` (S, N, Tp, Da), training only: noise added to y before each step.
        Returns the chunks [y_1, ..., y_S] and the energies [E(y_0), ..., E(y_{S-1})] they were stepped from.
        With ``create_graph`` the steps stay differentiable (training); otherwise every y is detached.
        """
        chunks, energies = [], []
        y = chunk
        for step in range(steps):
            if detach_between_steps or not create_graph:
                y = y.detach()
            if not y.requires_grad:
                y = y.requires_grad_(True)
            if langevin is not None:
                y = y + langevin[step]
            energy = self.energy(obs_tokens, y)
            (grad,) = torch.autograd.grad(energy.sum(), y, create_graph=create_graph)
            if energies and early_stop_tol > 0 and bool((energies[-1] - energy.detach()).max() <= early_stop_tol):
                break  # the previous step lowered no sample's energy by more than the tolerance
            y = y - self.alpha * grad
            chunks.append(y if create_graph else y.detach())
            energies.append(energy.detach())
        return chunks, energies

    # --- training ----------------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        x0 = self.normalizer.normalize(ACTION_KEY, batch["action"].float()) - self.anchor(batch["obs"])  # (B, Tp, Da)
        tokens = self.encode_obs(batch["obs"])
        b, k = x0.shape[0], self.cfg.train_starts
        steps = random.randint(self.cfg.train_steps_min, self.cfg.train_steps_max)
        start = self.cfg.init_std * torch.randn((b, k, *x0.shape[1:]), device=x0.device)  # K starts per window
        langevin = None
        if self.cfg.langevin_std > 0:
            langevin = self.cfg.langevin_std * torch.randn((steps, *start.shape), device=x0.device)
        rows = torch.arange(b, device=x0.device)
        best, landed, landed_error = torch.zeros_like(rows), None, None
        if k > 1:
            best, landed, landed_error = self._best_starts(tokens.detach(), start, langevin, x0, steps)
        start = start[rows, best]
        if langevin is not None:
            langevin = langevin[:, rows, best]
        chunks, energies = self.descend(tokens, start, steps, create_graph=True, langevin=langevin,
                                        detach_between_steps=self.cfg.detach_between_steps)
        errors, regressed = self._descent_errors(chunks, x0)
        loss = regressed.mean()
        logs = {
            "final_mse": errors[-1].mean().item(), "alpha": self.alpha.item(),
            "energy_drop": (energies[0] - energies[-1]).mean().item() if len(energies) > 1 else 0.0, "steps": steps,
        }
        if self.cfg.matching_weight > 0:
            matching = self._matching_loss(tokens, x0)
            loss = loss + self.cfg.matching_weight * matching
            logs["matching"] = matching.item()
        if self.cfg.contrastive_weight > 0:
            contrastive, energy_gap = self._contrastive_loss(batch["obs"], tokens, chunks[-1].detach(), steps)
            loss = loss + self.cfg.contrastive_weight * contrastive
            logs.update(contrastive=contrastive.item(), energy_gap=energy_gap)
        if self.cfg.ranking_weight > 0:
            ranking, hits = self._ranking_loss(tokens, landed, landed_error)
            loss = loss + self.cfg.ranking_weight * ranking
            logs.update(ranking=ranking.item(), ranking_hits=hits)
        return loss, {"loss": loss.item(), **logs}

    def _best_starts(
        self, tokens: torch.Tensor, starts: torch.Tensor, langevin: torch.Tensor | None, x0: torch.Tensor, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Index (B,) of each window's start whose descent lands closest to its demonstration (winner takes all),
        with where each of the K descents landed (B, K, Tp, Da) and its last step's squared error (B, K).

        tokens (B, To, D); starts (B, K, Tp, Da); langevin None or (S, B, K, Tp, Da); x0 (B, Tp, Da).
        Only the winner's error enters the loss and the choice itself has no gradient, so the K descents are
        run first-order and without a graph, and only the winner is descended again with one: the same gradient
        as back-propagating through all K, for about a third of the cost per extra start.
        """
        b, k = starts.shape[:2]
        flat = None if langevin is None else langevin.flatten(1, 2)
        chunks, _ = self.descend(tokens.repeat_interleave(k, dim=0), starts.flatten(0, 1), steps, create_graph=False,
                                 langevin=flat)
        errors, regressed = self._descent_errors(chunks, x0.repeat_interleave(k, dim=0))
        return regressed.view(b, k).argmin(dim=1), chunks[-1].view(starts.shape), errors[-1].view(b, k)

    def _ranking_loss(self, tokens: torch.Tensor, landed: torch.Tensor, error: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Cross-entropy that makes the lowest final energy among a window's K descents mark the one that landed
        closest to its demonstration, the choice best-of-G inference makes by energy.

        tokens (B, To, D); landed (B, K, Tp, Da), detached; error (B, K), each descent's last squared error.
        The energies are read at fixed chunks, so no gradient flows through the descent; but reshaping the energy
        there moves where later descents land (docs/ebt.md measures the trade). Returns the loss and the fraction of
        windows whose lowest-energy descent is already the closest one.
        """
        b, k = error.shape
        energy = self.energy(tokens.repeat_interleave(k, dim=0), landed.flatten(0, 1)).view(b, k)
        closest = error.argmin(dim=1)
        hits = (energy.argmin(dim=1) == closest).float().mean().item()
        return F.cross_entropy(-energy, closest), hits

    def _descent_errors(self, chunks: list[torch.Tensor], target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean squared error (S, N) of each step's chunk (N, Tp, Da) against ``target`` (N, Tp, Da), and the (N,)
        error the loss regresses and the winner is chosen by: per step that mean squared error or, with
        ``distance: euclidean``, the distance between the whole chunks; then the mean over the steps
        (``loss_on_all_steps``) or the last step's."""
        errors = torch.stack([(y - target).pow(2).mean(dim=(1, 2)) for y in chunks])
        per_step = errors
        if self.cfg.distance == "euclidean":
            # sqrt(sum of squares); the tiny constant keeps the gradient finite when a chunk lands exactly on target
            per_step = (errors * target[0].numel() + 1e-12).sqrt()
        return errors, per_step.mean(dim=0) if self.cfg.loss_on_all_steps else per_step[-1]

    def _matching_loss(self, tokens: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Equilibrium matching: from y = g x0 + (1 - g) init_std eps, g ~ U(0, 1) per window, one descent step
        should reach the demonstration, alpha dE/dy(o, y) = y - x0.

        tokens: observation tokens (B, To, D); x0: normalized demonstration chunks (B, Tp, Da). The regression
        target averages over the demonstrations consistent with (o, y), so the learned step points at the nearest
        mode when y is close to one (a denoiser, as in diffusion training) and the data are stationary points.
        Costs one first-order energy gradient per window, against K x S for the unrolled loss.
        """
        g = torch.rand((x0.shape[0], 1, 1), device=x0.device)
        y = (g * x0 + (1 - g) * self.cfg.init_std * torch.randn_like(x0)).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.energy(tokens, y).sum(), y, create_graph=True)
        return (self.alpha * grad - (y.detach() - x0)).pow(2).mean()

    def _contrastive_loss(
        self, obs: ObsDict, tokens: torch.Tensor, descended: torch.Tensor, steps: int
    ) -> tuple[torch.Tensor, float]:
        """Logistic loss making the energy the negative log-odds that an observation is a consistent one.

        Positives: each window's observation tokens (B, To, D) with the chunk its own descent reached (B, Tp, Da).
        Negatives: observations assembled from two windows (negatives.mixed_observations) with the chunk the
        same descent reaches for them, so the energy is trained high where inference will read it.
        Returns the loss and the mean energy gap (negative minus positive).
        """
        mixed = self.encode_obs(mixed_observations(obs))
        start = self.cfg.init_std * torch.randn_like(descended)
        reached = self.descend(mixed, start, steps, create_graph=False)[0][-1]
        positive, negative = self.energy(tokens, descended), self.energy(mixed, reached)
        loss = F.softplus(positive).mean() + F.softplus(-negative).mean()
        return loss, (negative - positive).mean().item()

    # --- inference ---------------------------------------------------------------------------------
    def predict_chunk(
        self,
        obs: ObsDict,
        *,
        num_samples: int = 1,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Chunk:
        """K chunks per observation, each the lowest-energy of G descents (G = ``candidates``; with
        ``coherence_weight`` the lowest energy plus the weighted distance to the previous chunk, see EBTConfig).

        noise: the initial chunks in normalized units (offsets from ``anchor`` with ``relative_to``), (B, Tp, Da)
        or (B, K, Tp, Da); with G > 1 one more axis before (Tp, Da): (B, G, Tp, Da) or (B, K, G, Tp, Da).
        Inference is deterministic given it.
        info: ``energy`` (B,) or (B, K), the final energy of the returned chunk; ``steps``, descent steps
        taken; ``nfe``, energy evaluations per returned chunk (G x (steps + 1): the final energy included).
        """
        self._check_num_samples(num_samples)
        with torch.no_grad():
            tokens = self.encode_obs(obs)
            anchor = repeat(self.anchor(obs), "b t d -> (b s) t d", s=num_samples * self.cfg.candidates)
        b, k, g = tokens.shape[0], num_samples, self.cfg.candidates
        tp, da = self.chunk_spec.pred_horizon, self.shape_meta.action_dim
        n, ta = b * k * g, self.chunk_spec.action_horizon
        previous = None  # the previous chosen chunk, one per candidate: (N, Tp, Da) absolute normalized
        if self._previous is not None:
            if self._previous.shape[0] != b * k:
                raise ValueError("ebt: the previous chunk belongs to a different batch; call reset() before changing it")
            previous = repeat(self._previous, "bk t d -> (bk g) t d", g=g)
        if noise is not None:
            expected = (b, *((k,) if k > 1 else ()), *((g,) if g > 1 else ()), tp, da)
            if tuple(noise.shape) != expected:
                raise ValueError(f"noise must have shape {expected} (normalized units), got {tuple(noise.shape)}")
            start = noise.reshape(n, tp, da).to(tokens.device, torch.float32)
        elif previous is not None and self.cfg.warm_start:
            start = torch.cat([previous[:, ta:], previous[:, -1:].expand(-1, ta, -1)], dim=1) - anchor
        else:
            start = self.cfg.init_std * torch.randn((n, tp, da), generator=generator, device=tokens.device)
        tokens = repeat(tokens, "b t d -> (b s) t d", s=k * g)
        with torch.enable_grad():
            chunks, _ = self.descend(tokens, start, self.cfg.inference_steps, create_graph=False,
                                     early_stop_tol=self.cfg.early_stop_tol)
        final = chunks[-1]
        with torch.no_grad():
            energy = self.energy(tokens, final)
        final = self.cfg.pace_gain * final + anchor  # absolute normalized actions from here on
        score = energy
        if previous is not None and self.cfg.coherence_weight != 0:
            overlap = tp - ta  # the new chunk's first Tp - Ta actions are the previous one's last Tp - Ta
            score = energy + self.cfg.coherence_weight * (final[:, :overlap] - previous[:, ta:]).pow(2).mean(dim=(1, 2))
        best = rearrange(score, "(bk g) -> bk g", g=g).argmin(dim=1)  # (B*K,)
        final = rearrange(final, "(bk g) t d -> bk g t d", g=g)[torch.arange(b * k), best]
        energy = rearrange(energy, "(bk g) -> bk g", g=g)[torch.arange(b * k), best]
        if self._keeps_previous_chunk:
            self._previous = final
        full = self.normalizer.unnormalize(ACTION_KEY, final)
        if k > 1:
            full, energy = rearrange(full, "(b k) t d -> b k t d", k=k), rearrange(energy, "(b k) -> b k", k=k)
        info = {"energy": energy, "steps": len(chunks), "nfe": g * (len(chunks) + 1)}
        return Chunk(actions=full[..., self.chunk_spec.executed, :], full=full, info=info)

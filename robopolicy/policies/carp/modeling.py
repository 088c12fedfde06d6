"""CARP (Gong et al. 2024): action chunks as multi-scale codes, predicted coarse to fine.

Training runs both stages in one run of the shared trainer: for the first ``tokenizer_steps`` steps the
loss is the tokenizer's (reconstruction + codebook/commitment), afterwards the tokenizer is frozen (it
receives no gradient, so AdamW leaves it alone) and the loss is the transformer's cross-entropy over the
codes of every scale, teacher-forced. The stage is a function of a step counter kept in the module state,
so checkpoints and ``resume=true`` continue in the right stage.

Inference is S forward passes of the transformer (S scales) with a key/value cache, then one decoder
pass: the chunk's first scale fixes its coarse shape, every further scale refines it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from robopolicy.core import ACTION_KEY, Chunk, ChunkSpec, Normalizer, ObsDict, Policy, ShapeMeta, register_policy
from robopolicy.core.config import dataclass_from_dict, dataclass_to_dict
from robopolicy.encoders import EncoderConfig, ObsEncoder
from robopolicy.policies.carp.autoregressor import CoarseToFineTransformer
from robopolicy.policies.carp.configuration import CARPConfig
from robopolicy.policies.carp.tokenizer import MultiScaleActionTokenizer


@register_policy("carp")
class CARPPolicy(Policy):
    """Multi-scale action tokenizer + coarse-to-fine transformer on the shared ObsEncoder."""

    progress_metrics: ClassVar[tuple[str, ...]] = ("stage",)

    def __init__(self, shape_meta: ShapeMeta, chunk_spec: ChunkSpec, normalizer: Normalizer, config: dict[str, Any]) -> None:
        cfg = dataclass_from_dict(CARPConfig, config, "carp policy")
        super().__init__(shape_meta, chunk_spec, normalizer, dataclass_to_dict(cfg))
        self.cfg = cfg
        self.encoder = ObsEncoder(shape_meta, EncoderConfig.from_dict(cfg.encoder))
        self.tokenizer = MultiScaleActionTokenizer(shape_meta.action_dim, chunk_spec.pred_horizon, cfg)
        self.groups = self.tokenizer.groups
        self.autoregressor = CoarseToFineTransformer(
            cfg.scales, self.groups, cfg.latent_dim, cfg.codebook_size, chunk_spec.obs_horizon * self.encoder.feature_dim,
            cfg.dim, cfg.depth, cfg.heads, cfg.dropout,
        )
        self.register_buffer("tokenizer_updates", torch.zeros((), dtype=torch.long))

    @property
    def num_tokens(self) -> int:
        """Tokens per chunk, L = G * sum of the scales."""
        return self.autoregressor.offsets[-1]

    @property
    def tokenizer_frozen(self) -> bool:
        return int(self.tokenizer_updates) >= self.cfg.tokenizer_steps

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """The tokenizer at ``tokenizer_lr`` (it converges slowly at transformer learning rates), the rest at ``lr``;
        each stage with a learning-rate schedule of its own (the transformer's does not start half-decayed)."""
        tokenizer = list(self.tokenizer.parameters())
        ids = {id(p) for p in tokenizer}
        stage_two = self.cfg.tokenizer_steps
        return [{"params": tokenizer, "lr": self.cfg.tokenizer_lr or lr, "first_step": 0, "last_step": stage_two},
                {"params": [p for p in self.parameters() if id(p) not in ids], "lr": lr, "first_step": stage_two}]

    def check_training_budget(self, num_steps: int) -> None:
        if num_steps <= self.cfg.tokenizer_steps:
            raise ValueError(
                f"carp: training.num_steps={num_steps} leaves no steps for the transformer after the tokenizer's "
                f"policy.tokenizer_steps={self.cfg.tokenizer_steps}; raise training.num_steps or lower policy.tokenizer_steps"
            )

    def configure_inference(self, **options: Any) -> None:
        """Change greedy, top_k or temperature of a trained policy."""
        allowed = {"greedy", "top_k", "temperature"}
        if set(options) - allowed:
            raise ValueError(f"carp inference options are {sorted(allowed)}; got {sorted(options)}")
        self.cfg = dataclass_from_dict(CARPConfig, {**dataclass_to_dict(self.cfg), **options}, "carp policy")
        self.config = dataclass_to_dict(self.cfg)

    def encode_obs(self, obs: ObsDict) -> torch.Tensor:
        """Raw observations {key: (B, To, ...)} -> flattened features (B, To * D)."""
        return self.encoder(self.normalizer.normalize_obs(obs), flat=True)

    # --- training ----------------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        chunk = self.normalizer.normalize(ACTION_KEY, batch["action"].float())  # (B, Tp, Da)
        if not self.tokenizer_frozen:
            return self._tokenizer_loss(chunk)
        return self._transformer_loss(batch["obs"], chunk)

    def _tokenizer_loss(self, chunk: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.tokenizer(chunk)
        recon = F.mse_loss(out.recon, chunk)
        loss = recon + out.vq_loss
        self.tokenizer_updates += 1
        quantizer = self.tokenizer.quantizer
        moved = 0
        if int(self.tokenizer_updates) % self.cfg.restart_every == 0:
            moved = quantizer.restart_dead_codes(out.latent.detach(), self.cfg.dead_code_threshold)
        usage = quantizer.usage(self.cfg.dead_code_threshold)
        return loss, {"stage": 1, "recon_mse": recon.item(), "vq_loss": out.vq_loss.item(), "codes_restarted": moved,
                      **{f"usage/scale{s + 1}": u for s, u in enumerate(usage.tolist())}}

    def teacher_forcing(self, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized chunk (B, Tp, Da) -> (target codes (B, L), transformer inputs (B, L - n_1, C)) from the tokenizer."""
        quantizer = self.tokenizer.quantizer
        with torch.no_grad():
            indices = self.tokenizer.tokenize(chunk)
            partial = quantizer.reconstruct(indices[:-1])
            inputs = [rearrange(quantizer.pool(partial[s - 1], s), "b g p c -> b (p g) c") for s in range(1, len(indices))]
        targets = torch.cat([rearrange(idx, "b g p -> b (p g)") for idx in indices], dim=1)
        width = quantizer.latent_dim
        return targets, torch.cat(inputs, dim=1) if inputs else chunk.new_zeros(chunk.shape[0], 0, width)

    def _transformer_loss(self, obs: ObsDict, chunk: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        targets, inputs = self.teacher_forcing(chunk)
        cond = self.autoregressor.condition(self.encode_obs(obs))
        logits = self.autoregressor(cond, inputs)  # (B, L, V)
        loss = F.cross_entropy(rearrange(logits, "b l v -> (b l) v"), targets.flatten())
        accuracy = (logits.argmax(-1) == targets).float().mean()
        return loss, {"stage": 2, "token_accuracy": accuracy.item()}

    # --- inference ---------------------------------------------------------------------------------
    def predict_chunk(
        self,
        obs: ObsDict,
        *,
        num_samples: int = 1,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Chunk:
        """K chunks per observation, decoded from codes chosen scale by scale.

        One sample and no noise: greedy codes (``greedy``). Otherwise each token is drawn from the ``top_k``
        most likely codes at ``temperature`` by inverse-CDF sampling, the codes sorted from most to least likely.
        noise: standard normal (B, L) or (B, K, L), one value per token (L = ``num_tokens``); its normal CDF is
        the token's uniform draw, so the chunk is a deterministic function of (observation, noise), and
        lower values pick likelier codes. info: ``log_prob`` (B,) or (B, K), the model's log-probability of
        the chosen codes; ``nfe``, transformer passes (one per scale).
        """
        self._check_num_samples(num_samples)
        b, k, length = next(iter(obs.values())).shape[0], num_samples, self.num_tokens
        uniforms = None
        if noise is not None:
            expected = (b, k, length) if k > 1 else (b, length)
            if tuple(noise.shape) != expected:
                raise ValueError(f"noise must have shape {expected} (one standard normal per code token), got {tuple(noise.shape)}")
            uniforms = 0.5 * (1 + torch.erf(noise.reshape(b * k, length).float() / math.sqrt(2)))
        elif k > 1 or not self.cfg.greedy:
            uniforms = torch.rand((b * k, length), generator=generator, device=self.device)
        with torch.no_grad():
            cond = self.autoregressor.condition(repeat(self.encode_obs(obs), "b d -> (b k) d", k=k))
            _, latent, log_prob = self.generate(cond, None if uniforms is None else uniforms.to(cond.device))
            full = self.normalizer.unnormalize(ACTION_KEY, self.tokenizer.decode(latent))
        if k > 1:
            full, log_prob = rearrange(full, "(b k) t d -> b k t d", k=k), rearrange(log_prob, "(b k) -> b k", k=k)
        info = {"log_prob": log_prob, "nfe": len(self.cfg.scales)}
        return Chunk(actions=full[..., self.chunk_spec.executed, :], full=full, info=info)

    def generate(self, cond: torch.Tensor, uniforms: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Codes scale by scale for condition embeddings (N, dim), greedy or from uniforms (N, L), with the KV cache.

        Returns (codes per scale [(N, G, p_s)], latent reconstruction (N, G, C, L'), log-probability (N,)).
        """
        quantizer, ar = self.tokenizer.quantizer, self.autoregressor
        caches = ar.new_caches()
        x = ar.embed(cond, 0)
        latent, codes, log_prob = None, [], cond.new_zeros(cond.shape[0])
        for s in range(len(self.cfg.scales)):
            logits = ar.forward_scale(x, cond, caches)  # (N, n_s, V)
            draws = None if uniforms is None else uniforms[:, ar.offsets[s]:ar.offsets[s + 1]]
            tokens = self._choose(logits, draws)
            log_prob += logits.log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1).sum(-1)
            idx = rearrange(tokens, "n (p g) -> n g p", g=self.groups)
            codes.append(idx)
            h = quantizer.code_map(s, idx)
            latent = h if latent is None else latent + h
            if s + 1 < len(self.cfg.scales):
                x = ar.embed(cond, s + 1, rearrange(quantizer.pool(latent, s + 1), "n g p c -> n (p g) c"))
        return codes, latent, log_prob

    def _choose(self, logits: torch.Tensor, uniforms: torch.Tensor | None) -> torch.Tensor:
        """(N, n, V) logits -> (N, n) codes: argmax, or the inverse CDF of the top-k distribution at ``uniforms`` (N, n)."""
        if uniforms is None:
            return logits.argmax(-1)
        top_logits, top_codes = (logits / self.cfg.temperature).topk(min(self.cfg.top_k, logits.shape[-1]), dim=-1)
        cdf = top_logits.softmax(-1).cumsum(-1)
        pick = torch.searchsorted(cdf, uniforms[..., None].contiguous()).clamp(max=cdf.shape[-1] - 1)
        return top_codes.gather(-1, pick).squeeze(-1)

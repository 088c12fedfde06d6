"""Closed-loop evaluation in simulation: rollouts over vector envs, metrics, videos, latency."""

from robopolicy.evaluation.report import (
    NoiseSeedSpread, describe_policy, evaluate_over_noise_seeds, evaluate_to_dir, noise_seed_spread,
)
from robopolicy.evaluation.rollout import EVAL_SEED_START, EvalResult, evaluate_policy

__all__ = ["EVAL_SEED_START", "EvalResult", "NoiseSeedSpread", "describe_policy", "evaluate_over_noise_seeds",
           "evaluate_policy", "evaluate_to_dir", "noise_seed_spread"]

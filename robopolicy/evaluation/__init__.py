"""Closed-loop evaluation in simulation: rollouts over vector envs, metrics, videos, latency."""

from robopolicy.evaluation.report import evaluate_to_dir
from robopolicy.evaluation.rollout import EVAL_SEED_START, EvalResult, evaluate_policy

__all__ = ["EVAL_SEED_START", "EvalResult", "evaluate_policy", "evaluate_to_dir"]

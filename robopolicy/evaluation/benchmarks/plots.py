"""Figures for the comparison tables: success against latency, and training-loss learning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on benchmark machines
    import matplotlib.pyplot as plt

    return plt


def _family_colors(families: Sequence[str]) -> dict[str, Any]:
    cmap = _pyplot().get_cmap("tab10")
    return {family: cmap(i % 10) for i, family in enumerate(families)}


def _panels(tasks: Sequence[str]):
    """A figure with one panel per task: (pyplot, figure, [(axes, task), ...])."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    return plt, fig, list(zip(axes[0], tasks))


def _save(plt, fig, path: Path) -> Path:
    for ax in fig.axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_success_vs_latency(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """One panel per task: success (mean ± std over seeds) against median per-chunk latency (log x), a point per family."""
    colors = _family_colors(list(dict.fromkeys(r["family"] for r in rows)))
    plt, fig, panels = _panels(list(dict.fromkeys(r["task"] for r in rows)))
    for ax, task in panels:
        for r in (r for r in rows if r["task"] == task):
            ax.errorbar(r["latency_ms_median"], r["success_mean"], yerr=r["success_std"], fmt="o", capsize=3,
                        color=colors[r["family"]], label=r["family"])
        ax.set(title=task, xscale="log", xlabel="latency per chunk (ms, median)", ylabel="success rate", ylim=(-0.05, 1.05))
    return _save(plt, fig, path)


def plot_learning_curves(cells: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """One panel per task: training loss against step per family (mean over seeds; log y). Losses of different
    families are different objectives, so compare a family's seeds and its convergence, not heights across families."""
    colors = _family_colors(list(dict.fromkeys(c["family"] for c in cells)))
    plt, fig, panels = _panels(list(dict.fromkeys(c["task"] for c in cells)))
    for ax, task in panels:
        for family in dict.fromkeys(c["family"] for c in cells if c["task"] == task):
            curves = [np.asarray(c["curve"]) for c in cells if c["task"] == task and c["family"] == family and c["curve"]]
            if not curves:
                continue
            length = min(len(curve) for curve in curves)
            steps = curves[0][:length, 0]
            losses = np.stack([curve[:length, 1] for curve in curves])
            ax.plot(steps, losses.mean(0), color=colors[family], label=f"{family} ({len(curves)} seeds)")
            if len(curves) > 1:
                ax.fill_between(steps, losses.min(0), losses.max(0), color=colors[family], alpha=0.2)
        ax.set(title=task, xlabel="training step", ylabel="training loss", yscale="log")
    return _save(plt, fig, path)

"""The latency micro-benchmark: every setting at batch 1 and 32, network evaluations, ratios to the reference."""

from __future__ import annotations

from types import SimpleNamespace

from robopolicy.evaluation.benchmarks.latency import SETTINGS, latency_suite, latency_table

SMALL = {"mlp_hidden": 32, "mlp_depth": 1, "step_embed_dim": 16}


def test_every_setting_is_timed_at_both_batch_sizes_with_ratios_to_the_reference():
    settings = [
        ("diffusion DDPM-20", "diffusion", {**SMALL, "sampler": "ddpm", "num_inference_steps": 20}),
        ("diffusion DDIM-5", "diffusion", {**SMALL, "sampler": "ddim", "num_inference_steps": 5}),
        ("streaming DDIM-4", "streaming", {**SMALL, "sampler": "ddim", "num_inference_steps": 4}),
        ("ebt", "ebt", {"dim": 16, "depth": 1, "inference_steps": 2}),
        ("carp", "carp", {"dim": 16, "depth": 1}),
        ("bc", "bc", {"hidden": 16, "depth": 1}),
    ]
    result = latency_suite(SimpleNamespace(warmup=1, calls=3, cell_seconds=30.0), settings)
    rows = {row["setting"]: row for row in result["rows"]}
    assert list(rows) == [label for label, _, _ in settings]
    assert {k: rows[k]["nfe"] for k in rows} == {"diffusion DDPM-20": 20, "diffusion DDIM-5": 5, "streaming DDIM-4": 2,
                                                 "ebt": 3, "carp": 4, "bc": 1}
    for row in rows.values():
        for batch in ("batch1", "batch32"):
            assert row[batch]["calls"] == 3 and 0 < row[batch]["median_ms"] <= row[batch]["p95_ms"]
    assert rows["diffusion DDPM-20"]["batch32"]["ratio_to_ddpm100"] == 1.0
    assert rows["bc"]["batch1"]["ratio_to_ddpm100"] < 1.0  # one network call against twenty
    table = latency_table(result)
    assert table.count("\n| ") == len(settings) + 1 and "| bc | 1 |" in table
    assert SETTINGS[0][0] == "diffusion DDPM-100" and len({family for _, family, _ in SETTINGS}) == 5

"""The synthetic bank generator: a realistic extract bundle for demos, tests and benchmarks."""

from __future__ import annotations

from bankcrm.synth.bundle import BundleSummary, default_as_of, generate_bundle, history_start

__all__ = ["BundleSummary", "default_as_of", "generate_bundle", "history_start"]

"""A small synthetic establishments file for demos and tests (see README.md in this folder)."""

from __future__ import annotations

from pathlib import Path

SAMPLE_ESTABLISHMENTS: Path = Path(__file__).with_name("establishments_sample.csv")

__all__ = ["SAMPLE_ESTABLISHMENTS"]

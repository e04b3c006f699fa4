"""Synthetic core bank: deterministic, realistic extract files for every business date of a range.

    from crm.synthetic import generate
    generate(Path("data/landing"), customers=2000, start=date(2026, 1, 1), end=date(2026, 3, 31), seed=42)

See ``docs/synthetic.md`` for the generating process.
"""

from __future__ import annotations

from crm.synthetic.generate import generate

__all__ = ["generate"]

"""The proposals' hold-out: the vectorised draw equals the hashlib reference, it is stable across calls and
runs, it changes with the month and the type, and its share is what the configuration says."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from crm.playbook.holdout import draws, held_out, held_out_one

TOKENS = [f"k1.{i:032x}" for i in range(20_000)]
M = dt.date(2026, 10, 31)


def test_vectorised_draw_equals_the_hashlib_reference():
    got = held_out(TOKENS[:500], M, "RENEW", 0.3, "s")
    want = [held_out_one(t, M, "RENEW", 0.3, "s") for t in TOKENS[:500]]
    assert got.tolist() == want


def test_same_inputs_same_split_and_new_month_or_type_new_split():
    a = held_out(TOKENS, M, "RENEW", 0.1, "s")
    assert (a == held_out(TOKENS, M, "RENEW", 0.1, "s")).all()
    assert (a == held_out(TOKENS, dt.date(2026, 10, 1), "RENEW", 0.1, "s")).all()  # the month, not the day
    for other in (held_out(TOKENS, dt.date(2026, 11, 30), "RENEW", 0.1, "s"), held_out(TOKENS, M, "WEALTH", 0.1, "s")):
        both = (a & other).mean()
        assert abs(both - 0.01) < 0.004  # independent draws: 10% x 10%


def test_share_and_uniformity():
    d = draws(TOKENS, M, "SEASONAL", "s")
    assert ((d >= 0) & (d < 1)).all()
    hist = np.histogram(d, bins=10, range=(0, 1))[0]
    assert hist.min() > 1_800 and hist.max() < 2_200
    assert abs(held_out(TOKENS, M, "SEASONAL", 0.25, "s").mean() - 0.25) < 0.015


def test_bad_share_and_salt_are_refused():
    with pytest.raises(ValueError):
        held_out(TOKENS[:3], M, "RENEW", 1.0, "s")
    with pytest.raises(ValueError):
        held_out(TOKENS[:3], M, "RENEW", 0.1, "a|b")
    assert len(held_out([], M, "RENEW", 0.1, "s")) == 0

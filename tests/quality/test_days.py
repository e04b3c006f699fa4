"""Several business dates in one GX validation (how a backfill step stages its partitions) give, date by
date, exactly the failing rows of the pandas evaluator on that date alone; keys are unique per date."""

import datetime as dt

import pandas as pd

from crm.quality.evaluate import evaluate_pandas
from crm.quality.gx import evaluate_days_gx
from tests.quality.bank import BUSINESS_DATE, frames_by_hand, raw_frames
from tests.quality.test_agreement import inject_everything

DAY2 = BUSINESS_DATE - dt.timedelta(days=1)


def test_days_together_agree_with_each_day_alone(tmp_path):
    day1 = inject_everything(raw_frames(tmp_path / "d1"))
    clean = frames_by_hand()
    del clean["staff"]  # on day 2 the staff extract is absent: references to it are skipped that day
    day2 = raw_frames(tmp_path / "d2", clean, DAY2)
    days = {BUSINESS_DATE: day1, DAY2: day2}
    for extract in ("customers", "loans", "deposits", "interactions", "branches"):
        together, gx_result = evaluate_days_gx(extract, days)
        assert gx_result["meta"]["business_dates"] == [DAY2.isoformat(), BUSINESS_DATE.isoformat()]
        for day, frames in days.items():
            alone = evaluate_pandas(frames, day, extracts=[extract])[extract]
            got = together[day]
            assert got.skipped == alone.skipped, (extract, day)
            assert list(got.failed.columns) == list(alone.failed.columns)
            pd.testing.assert_frame_equal(got.failed, alone.failed, check_names=False, obj=f"{extract} {day}")
    # the same customer keys on both dates are not duplicates; the injected one on day 1 is
    cust, _ = evaluate_days_gx("customers", days)
    assert cust[DAY2].failed["customers.key.unique"].sum() == 0
    assert cust[BUSINESS_DATE].failed["customers.key.unique"].sum() == 2
    assert "customers.fk.manager_id" in cust[DAY2].skipped and not cust[BUSINESS_DATE].skipped

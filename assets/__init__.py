"""Dagster assets, one module per layer. Every asset carries the tag ``crm/cadence``: which job builds it
(``orchestration.jobs`` selects by this tag, never by a list of keys).

- ``daily``: the daily extracts' raw and staged assets and the arrival register (daily partitions);
- ``month_end``: the month-end extracts' raw and staged assets, the marts, the scorecard and the scores,
  the playbook's monthly marts (monthly partitions);
- ``weekly``: the weekly watch list, its digest per manager and the digest's delivery (weekly partitions);
- ``monthly``: the month's reports, their leak scans and their delivery (monthly partitions);
- ``quarterly``: the quarterly satisfaction report (the quarter's last month); its job also takes the
  ``monthly`` assets that read it directly (the report leak scan and the delivery).

The tag is attached here, in one place, from the key lists the asset modules export: an asset added to one
of those lists gets its cadence with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from assets.delivery import DELIVERY_KEYS, WEEKLY_DELIVERY_KEYS, delivery_assets, weekly_delivery_assets
from assets.ingest import DAILY_RAW_KEYS, MONTH_END_RAW_KEYS, ingest_assets
from assets.marts import MART_KEYS, mart_assets
from assets.playbook import PLAYBOOK_KEYS, WEEKLY_KEYS, playbook_month_end_assets, watch_list_weekly
from assets.quality import ARRIVALS_KEY, DAILY_STAGED_KEYS, MONTH_END_STAGED_KEYS, arrivals, staged_assets
from assets.reports import (
    REPORT_KEYS,
    WEEKLY_REPORT_KEYS,
    report_assets,
    satisfaction_quarterly,
    weekly_report_assets,
)
from assets.scoring import SCORING_KEYS, scoring_assets

CADENCE_TAG = "crm/cadence"
DAILY, MONTH_END, WEEKLY, MONTHLY, QUARTERLY = "daily", "month_end", "weekly", "monthly", "quarterly"
CADENCES = (DAILY, MONTH_END, WEEKLY, MONTHLY, QUARTERLY)


def _cadences() -> dict[dg.AssetKey, str]:
    by_key: dict[dg.AssetKey, str] = {}
    for cadence, keys in (
        (DAILY, [*DAILY_RAW_KEYS, *DAILY_STAGED_KEYS, ARRIVALS_KEY]),
        (MONTH_END, [*MONTH_END_RAW_KEYS, *MONTH_END_STAGED_KEYS, *MART_KEYS, *SCORING_KEYS, *PLAYBOOK_KEYS]),
        (WEEKLY, [*WEEKLY_KEYS, *WEEKLY_REPORT_KEYS, *WEEKLY_DELIVERY_KEYS]),
        (MONTHLY, [*[k for k in REPORT_KEYS if k != satisfaction_quarterly.key], *DELIVERY_KEYS]),
        (QUARTERLY, [satisfaction_quarterly.key]),
    ):
        for key in keys:
            if key in by_key:
                raise ValueError(f"{key.to_user_string()} has two cadences: {by_key[key]} and {cadence}")
            by_key[key] = cadence
    return by_key


def _with_cadence(
    assets: Sequence[dg.AssetsDefinition], cadence_of: Mapping[dg.AssetKey, str]
) -> list[dg.AssetsDefinition]:
    """The assets with the tag ``crm/cadence`` added to the tags they declare. An asset without a cadence
    would be built by no job: refused."""
    missing = sorted(k.to_user_string() for a in assets for k in a.keys if k not in cadence_of)
    if missing:
        raise ValueError(f"no cadence for {missing}: add the asset to its module's key list")
    return [
        a.map_asset_specs(lambda spec: spec.merge_attributes(tags={CADENCE_TAG: cadence_of[spec.key]})) for a in assets
    ]


all_assets = _with_cadence(
    [
        *ingest_assets,
        *staged_assets,
        arrivals,
        *mart_assets,
        *scoring_assets,
        *playbook_month_end_assets,
        watch_list_weekly,
        *report_assets,
        *delivery_assets,
        *weekly_report_assets,
        *weekly_delivery_assets,
    ],
    _cadences(),
)
__all__ = ["CADENCES", "CADENCE_TAG", "DAILY", "MONTHLY", "MONTH_END", "QUARTERLY", "WEEKLY", "all_assets"]

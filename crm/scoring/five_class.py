"""Five-category loan classification (五级分类) by rule, reconciled against the class the bank reports.

Rule: 《商业银行金融资产风险分类办法》 (CBIRC / PBOC Order 2023 No. 1, in force 2023-07-01). Its objective
floors on days past due of principal, interest or income ("本金、利息或收益逾期"):

- any overdue (> 0 days)  -> at least 关注 (2)
- overdue > 90 days       -> at least 次级 (3)
- overdue > 270 days      -> at least 可疑 (4)
- overdue > 360 days      -> 损失 (5)

Restructured assets (重组资产, chapter 3: art. 17 defines them, art. 20 sets the observation period of at
least two consecutive repayment periods and at least one year, art. 21 their class): a restructured asset is at
least 关注 during the observation period; one that was non-performing (次级 or worse) before the
restructuring stays at least 次级, and one that meets a non-performing criterion during the observation
period is downgraded. The extract carries only a ``restructured`` flag (Y/N): neither the class before the
restructuring nor the observation period's dates. So the rule here applies the 关注 floor to every loan
flagged Y and nothing more; the 次级 floor for restructurings of non-performing loans needs the
pre-restructuring class and is not applied. Overdue days still apply in full to restructured loans (a
restructured loan 95 days past due is 次级 by its days).

The 2023 rule allows short overdue caused by operational or technical reasons to be left out of the 关注 floor;
the extract does not say why a payment was late, so every overdue day counts here (conservative).

Conventions:

- Written-off loans (status ``W``, 核销) are 损失 (5) whatever their days; settled loans (``S``, 结清) are
  not classified and are left out of the reconciliation.
- Classes are integers 1..5 (the contract's code set ``five_class``: '1' 正常 .. '5' 损失; higher is worse).
- ``difference`` = rule class − reported class: positive when the bank reports the loan better than the
  rule allows (``reported better than rule``, a finding), negative when it reports it worse
  (``reported worse (conservative)``, allowed: the rule sets floors, and a bank may classify lower on its own
  judgement, e.g. a high-risk borrower reported 关注 while current).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CLASS_NAMES = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}
# (days past due strictly above, class): the rule's floors, worst first
OVERDUE_FLOORS = ((360, 5), (270, 4), (90, 3), (0, 2))
RESTRUCTURED_FLOOR = 2  # 关注
WRITTEN_OFF_CLASS = 5  # 损失
BETTER = "reported better than rule"
WORSE = "reported worse (conservative)"

_NAME_ARRAY = np.array([""] + [f"{CLASS_NAMES[k]} ({k})" for k in range(1, 6)], dtype=object)


def _flag(values, n: int) -> np.ndarray:
    """A boolean array from booleans or Y/N codes; missing is False."""
    if values is None:
        return np.zeros(n, dtype=bool)
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr.item())
    if arr.dtype == bool:
        return arr
    up = pd.Series(arr, dtype=object).astype("string").str.strip().str.upper()
    return up.isin(["Y", "TRUE", "1"]).fillna(False).to_numpy(bool)


def _days(overdue_days) -> np.ndarray:
    od = np.asarray(overdue_days, dtype=float)
    if np.isnan(od).any():
        raise ValueError(f"{int(np.isnan(od).sum())} loan(s) without overdue days: the rule cannot classify them")
    return od


def rule_class(overdue_days, restructured=None, written_off=None) -> np.ndarray:
    """The class the 2023 rule requires at least (integers 1..5), vectorised.

    ``overdue_days``: days past due (> 0 is overdue). ``restructured``: booleans or 'Y'/'N' (None: none is
    restructured): at least 关注. ``written_off``: booleans (None: none): 损失. Missing days raise ValueError.
    """
    od = _days(overdue_days)
    n = od.shape[0] if od.ndim else 1
    od = od.reshape(n)
    by_days = np.select([od > d for d, _ in OVERDUE_FLOORS], [k for _, k in OVERDUE_FLOORS], 1)
    cls = np.where(_flag(restructured, n), np.maximum(by_days, RESTRUCTURED_FLOOR), by_days)
    return np.where(_flag(written_off, n), WRITTEN_OFF_CLASS, cls).astype(np.int64)


def reconcile(loans: pd.DataFrame) -> pd.DataFrame:
    """Loans whose reported class differs from the rule, one row each, with the reason.

    Input: the loans snapshot (or month-end loan performance) with ``loan_id``, ``customer_id``,
    ``five_class`` ('1'..'5'), ``overdue_days``, ``status``; optional ``restructured`` (Y/N; absent in loan
    performance, then no restructuring floor is applied), ``balance`` and ``snapshot_date`` (kept when
    present). Settled loans (S) are left out; written-off loans (W) are 损失.

    Output columns: [``snapshot_date``], ``loan_id``, ``customer_id``, ``status``, ``balance``,
    ``overdue_days``, ``restructured``, ``reported_class``, ``rule_class``, ``difference`` (rule − reported),
    ``direction`` (``reported better than rule`` | ``reported worse (conservative)``), ``reason``, e.g.
    "overdue 95 days implies 次级 (3), reported 关注 (2)". ``attrs["loans_checked"]`` holds the number of loans
    compared. A reported class outside 1..5 raises ValueError (staged data has passed the code-set check).
    """
    status = loans["status"].astype("string").str.strip()
    live = loans.loc[(status != "S").to_numpy()]
    n = len(live)
    reported = pd.to_numeric(live["five_class"], errors="coerce").to_numpy(dtype=float)
    invalid = ~np.isin(reported, [1, 2, 3, 4, 5])
    if invalid.any():
        raise ValueError(f"{int(invalid.sum())} loan(s) with a reported five_class outside 1..5")
    reported = reported.astype(np.int64)
    od = _days(live["overdue_days"]).astype(np.int64)
    wo = (live["status"].astype("string").str.strip() == "W").fillna(False).to_numpy(bool)
    has_restr = "restructured" in live.columns
    restr = _flag(live["restructured"].to_numpy(object) if has_restr else None, n)
    rule = rule_class(od, restr, wo)
    diff = rule - reported
    keep = diff != 0

    od_k, rule_k, rep_k = od[keep], rule[keep], reported[keep]
    wo_k, restr_k = wo[keep], restr[keep]
    days_txt = pd.Series(od_k.astype(str), dtype=object)
    rule_txt = pd.Series(_NAME_ARRAY[rule_k], dtype=object)
    basis = np.select(
        [wo_k, od_k > 0, restr_k],
        [
            pd.Series("written off implies ", index=days_txt.index, dtype=object) + rule_txt,
            "overdue " + days_txt + " days implies " + rule_txt,
            pd.Series("restructured implies at least ", index=days_txt.index, dtype=object) + rule_txt,
        ],
        default=pd.Series("not overdue implies ", index=days_txt.index, dtype=object) + rule_txt,
    )
    reason = pd.Series(basis, dtype=object) + ", reported " + pd.Series(_NAME_ARRAY[rep_k], dtype=object)

    sub = live.loc[keep]
    out = pd.DataFrame(index=range(int(keep.sum())))
    if "snapshot_date" in sub.columns:
        out["snapshot_date"] = sub["snapshot_date"].to_numpy()
    out["loan_id"] = sub["loan_id"].to_numpy()
    out["customer_id"] = sub["customer_id"].to_numpy()
    out["status"] = sub["status"].to_numpy()
    out["balance"] = sub["balance"].to_numpy(dtype=float) if "balance" in sub.columns else np.full(len(out), np.nan)
    out["overdue_days"] = od_k
    out["restructured"] = np.where(restr_k, "Y", "N") if has_restr else None
    out["reported_class"] = rep_k
    out["rule_class"] = rule_k
    out["difference"] = rule_k - rep_k
    out["direction"] = np.where(rule_k > rep_k, BETTER, WORSE)
    out["reason"] = reason.to_numpy()
    out.attrs["loans_checked"] = n
    return out


def summary(differences: pd.DataFrame, loans_checked: int | None = None) -> dict:
    """Figures for a reconciliation: counts and balances per direction and per (reported, rule) pair.

    Returns ``loans_checked`` (from the argument, else ``differences.attrs``), ``differences``,
    ``balance_affected`` (balance of the differing loans), ``reported_better`` / ``reported_worse`` (loans),
    ``balance_reported_better``, ``by_direction`` (DataFrame: direction, loans, balance) and ``by_pair``
    (DataFrame: reported_class, rule_class, direction, loans, balance; most loans first).
    """
    checked = loans_checked if loans_checked is not None else differences.attrs.get("loans_checked")
    d = differences
    by_direction = (
        d.groupby("direction", sort=True)
        .agg(loans=("loan_id", "size"), balance=("balance", "sum"))
        .reindex([BETTER, WORSE], fill_value=0)
        .rename_axis("direction")
        .reset_index()
    )
    by_pair = (
        d.groupby(["reported_class", "rule_class", "direction"], sort=True)
        .agg(loans=("loan_id", "size"), balance=("balance", "sum"))
        .reset_index()
        .sort_values(["loans", "reported_class", "rule_class"], ascending=[False, True, True], kind="stable")
        .reset_index(drop=True)
    )
    better = d["direction"] == BETTER
    return {
        "loans_checked": checked,
        "differences": int(len(d)),
        "share_different": (len(d) / checked) if checked else None,
        "reported_better": int(better.sum()),
        "reported_worse": int((~better).sum()),
        "balance_affected": float(d["balance"].sum()),
        "balance_reported_better": float(d.loc[better, "balance"].sum()),
        "by_direction": by_direction,
        "by_pair": by_pair,
    }

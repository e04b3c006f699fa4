"""The rules that judge a row or an extract as a whole: the record's field count, key uniqueness, references
to other extracts of the same business date, date order (and nothing after the business date), and the
bank's consistency rules (balance within contract, five-category class against overdue days, the balance-sheet
identity, birth date and gender against the resident ID)."""

from __future__ import annotations

import datetime as dt

from crm.contract import CUSTOMER_MASTER, Extract
from crm.quality.rules.model import Rule, column_label, number_text, type_error_regex

# Five-category classification, 2023 rule (金融资产风险分类办法): the least severe class that overdue days
# allow. (threshold in days, class): overdue > threshold => class >= class.
FIVE_CLASS_FLOOR: tuple[tuple[int, int], ...] = ((0, 2), (90, 3), (270, 4), (360, 5))

# Balance-sheet identity: |total_assets - (total_liabilities + equity)| <= tolerance. Statements are keyed in
# yuan with cents and the identity holds to the cent; one yuan absorbs rounding of subtotals.
BALANCE_SHEET_TOLERANCE = 1.0

# Columns that must not lie after the business date ("nothing in the future"), per extract. Dates that are
# naturally in the future (maturity, due, planned end or next visit) are not listed.
NOT_AFTER_BUSINESS_DATE: dict[str, tuple[str, ...]] = {
    "branches": ("opened_date",),
    "staff": ("hire_date",),
    "customers": ("birth_date", "onboarding_date"),
    "corporates": ("established_date", "onboarding_date"),
    "related_parties": ("start_date",),
    "loans": ("start_date",),
    "repayments": ("due_date", "paid_date"),  # instalments that fell due (or were paid) by the business date
    "loan_performance": ("snapshot_date",),
    "deposits": ("open_date", "close_date"),
    "deposit_balances": ("snapshot_date",),
    "transactions": ("txn_time",),
    "txn_monthly": ("snapshot_date",),
    "fee_ledger": ("fee_date",),
    "product_holdings": ("open_date", "close_date"),
    "financial_statements": ("report_period", "received_date"),
    "bureau_records": ("query_date", "first_credit_date"),
    "interactions": ("interaction_time",),
    "service_requests": ("opened_time", "first_response_time", "resolved_time"),
    "surveys": ("sent_date", "response_date"),
    "opportunities": ("offered_date", "outcome_date"),
    "coverage": ("snapshot_date", "from_date"),
    "referrals": ("referral_date",),
}

# (earlier, later, strict): the earlier date must not be after (strict: must be before) the later one.
DATE_ORDER: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "customers": (("birth_date", "onboarding_date", True),),
    "corporates": (("established_date", "onboarding_date", False),),
    "related_parties": (("start_date", "end_date", False),),
    "loans": (("start_date", "maturity_date", True),),
    "deposits": (("open_date", "maturity_date", False), ("open_date", "close_date", False)),
    "product_holdings": (("open_date", "close_date", False),),
    "financial_statements": (("report_period", "received_date", False),),
    "bureau_records": (("first_credit_date", "query_date", False),),
    "interactions": (("interaction_time", "next_visit_date", False),),
    "opportunities": (("offered_date", "outcome_date", False),),
    "coverage": (("from_date", "to_date", False),),
    "service_requests": (
        ("opened_time", "first_response_time", False),
        ("opened_time", "resolved_time", False),
        ("first_response_time", "resolved_time", False),
    ),
    "surveys": (("sent_date", "response_date", False),),
}


def _strip(name: str) -> str:
    for suffix in ("_date", "_time"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _field_count_text(e: Extract) -> str:
    """How many fields a record has: one figure, or one per layout of the extract (columns added later)."""
    if not e.changes:
        return f"exactly {len(e.columns)} fields"
    dates = sorted({d for d, _ in e.changes})
    counts = [f"{len(e.as_of(dates[0] - dt.timedelta(days=1)).columns)} in files dated before {dates[0]}"]
    counts += [f"{len(e.as_of(d).columns)} from {d}" for d in dates]
    return f"exactly the fields of its layout on the file's business date ({', '.join(counts)})"


def record_rules(e: Extract) -> list[Rule]:
    return [
        Rule(
            f"{e.name}.record.field_count",
            e.name,
            "type",
            "critical",
            f"Each record must have {_field_count_text(e)}, as the interface specification says "
            "(记录字段数与接口规范不符).",
            ("_type_errors",),
            "field_count",
            {"regex": type_error_regex("_field_count")},
        )
    ]


def key_rules(e: Extract) -> list[Rule]:
    key = ", ".join(e.key)
    return [
        Rule(
            f"{e.name}.key.unique",
            e.name,
            "uniqueness",
            "critical",
            f"The key ({key}) must identify one row: every row of a duplicated key fails (主键重复).",
            tuple(e.key),
            "unique",
            {},
        )
    ]


def reference_rules(e: Extract) -> list[Rule]:
    out = []
    for fk in e.references:
        cols = "+".join(fk.columns)
        if fk.extract == "customer_master":
            target = "the customers or corporates extract"
            targets = list(CUSTOMER_MASTER)
        else:
            target = f"the {fk.extract} extract"
            targets = [fk.extract]
        out.append(
            Rule(
                f"{e.name}.fk.{cols}",
                e.name,
                "referential",
                "critical",
                f"{', '.join(column_label(e.column(c)) for c in fk.columns)} must exist as "
                f"{', '.join(fk.ref_columns)} in {target} of the same business date (关联主体不存在).",
                tuple(fk.columns),
                "reference",
                {"targets": targets, "ref_columns": list(fk.ref_columns)},
            )
        )
    return out


def date_rules(e: Extract) -> list[Rule]:
    out = []
    for earlier, later, strict in DATE_ORDER.get(e.name, ()):
        a, b = e.column(earlier), e.column(later)
        word = "before" if strict else "on or before"
        out.append(
            Rule(
                f"{e.name}.date_order.{_strip(earlier)}_before_{_strip(later)}",
                e.name,
                "date_order",
                "critical",
                f"{column_label(a)} must be {word} {column_label(b)} (日期先后顺序).",
                (earlier, later),
                "date_order",
                {"earlier": earlier, "later": later, "strict": strict},
            )
        )
    for col in NOT_AFTER_BUSINESS_DATE.get(e.name, ()):
        c = e.column(col)
        out.append(
            Rule(
                f"{e.name}.date_order.{_strip(col)}_not_after_business_date",
                e.name,
                "date_order",
                "critical",
                f"{column_label(c)} must not be after the business date of the file (不得晚于数据日期).",
                (col,),
                "not_after_business_date",
                {"column": col},
            )
        )
    return out


def bank_rules(e: Extract) -> list[Rule]:
    out = []
    if e.name == "loans":
        out.append(
            Rule(
                "loans.consistency.balance_within_contract",
                "loans",
                "consistency",
                "critical",
                "贷款余额 (balance) must not exceed 合同金额 (contract_amount) (余额不得超过合同金额).",
                ("balance", "contract_amount"),
                "not_greater",
                {"value": "balance", "limit": "contract_amount"},
            )
        )
    if e.name == "txn_monthly":
        out.append(
            Rule(
                "txn_monthly.consistency.top_counterparty_within_amount",
                "txn_monthly",
                "consistency",
                "critical",
                "最大交易对手金额 (top_counterparty_amount) must not exceed 交易金额 (amount) of its group "
                "(最大交易对手金额不得超过交易金额).",
                ("top_counterparty_amount", "amount"),
                "not_greater",
                {"value": "top_counterparty_amount", "limit": "amount"},
            )
        )
        out.append(
            Rule(
                "txn_monthly.consistency.counterparties_within_count",
                "txn_monthly",
                "consistency",
                "critical",
                "交易对手数 (counterparty_count) must not exceed 交易笔数 (txn_count) of its group "
                "(交易对手数不得超过交易笔数).",
                ("counterparty_count", "txn_count"),
                "not_greater",
                {"value": "counterparty_count", "limit": "txn_count"},
            )
        )
    if e.name == "opportunities":
        # an outcome is dated once it is reached; an accepted proposal names the contract or holding it became
        for col, outcomes, zh in (
            ("outcome_date", ["A", "D", "X"], "已接受、已拒绝或已失效的商机必须有结果日期"),
            ("contract_id", ["A"], "已接受的商机必须有成交合同号或持有编号"),
        ):
            out.append(
                Rule(
                    f"opportunities.consistency.{col}_required_when_outcome",
                    "opportunities",
                    "consistency",
                    "critical",
                    f"{column_label(e.column(col))} is required when 营销结果 (outcome) is one of "
                    f"{', '.join(outcomes)} ({zh}).",
                    (col, "outcome"),
                    "required_when",
                    {"column": col, "when_column": "outcome", "when_values": outcomes},
                )
            )
    if e.name == "referrals":
        # a customer cannot refer themselves
        out.append(
            Rule(
                "referrals.consistency.referrer_not_referred",
                "referrals",
                "consistency",
                "critical",
                f"{column_label(e.column('referrer_customer_id'))} must differ from "
                f"{column_label(e.column('referred_customer_id'))} (客户不能推荐自己).",
                ("referrer_customer_id", "referred_customer_id"),
                "not_equal",
                {"column": "referrer_customer_id", "other": "referred_customer_id"},
            )
        )
    if e.name in ("loans", "loan_performance"):
        out.append(
            Rule(
                f"{e.name}.consistency.five_class_vs_overdue",
                e.name,
                "consistency",
                "warning",
                "The reported five-category class (五级分类) must be at least what overdue days imply under the "
                "2023 rule: overdue > 0 days => 关注 (2) or worse; > 90 => 次级 (3); > 270 => 可疑 (4); "
                "> 360 => 损失 (5). A difference is reported for reconciliation, not quarantined.",
                ("five_class", "overdue_days"),
                "five_class",
                {
                    "class_column": "five_class",
                    "overdue_column": "overdue_days",
                    "floor": [list(x) for x in FIVE_CLASS_FLOOR],
                },
            )
        )
    if e.name == "financial_statements":
        out.append(
            Rule(
                "financial_statements.consistency.balance_sheet_identity",
                e.name,
                "consistency",
                "critical",
                "资产总计 (total_assets) must equal 负债合计 (total_liabilities) + 所有者权益合计 (equity) within "
                f"{number_text(BALANCE_SHEET_TOLERANCE)} yuan (资产负债表恒等式).",
                ("total_assets", "total_liabilities", "equity"),
                "balance_identity",
                {
                    "assets": "total_assets",
                    "liabilities": "total_liabilities",
                    "equity": "equity",
                    "tolerance": BALANCE_SHEET_TOLERANCE,
                },
            )
        )
    if e.name == "customers":
        out.append(
            Rule(
                "customers.consistency.birth_date_matches_id",
                e.name,
                "consistency",
                "warning",
                "出生日期 (birth_date) must equal the birth date encoded in an 18-digit resident ID (ID type 01).",
                ("birth_date", "id_number", "id_type"),
                "id_birth_date",
                {"id_column": "id_number", "birth_column": "birth_date", "when": {"id_type": "01"}},
            )
        )
        out.append(
            Rule(
                "customers.consistency.gender_matches_id",
                e.name,
                "consistency",
                "warning",
                "性别 (gender) must match the 17th digit of an 18-digit resident ID (odd = male 1, even = female 2).",
                ("gender", "id_number", "id_type"),
                "id_gender",
                {
                    "id_column": "id_number",
                    "gender_column": "gender",
                    "male": "1",
                    "female": "2",
                    "when": {"id_type": "01"},
                },
            )
        )
    return out

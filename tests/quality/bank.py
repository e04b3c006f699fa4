"""A tiny, clean, hand-made bank: every extract of one month-end business date, consistent across extracts,
passed through the real extract writer and parser so the frames look exactly like the raw zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
from stdnum import luhn
from stdnum.cn import ric, uscc

from crm.contract import BY_NAME
from crm.ingest.fileformat import read_extract, write_extract

BUSINESS_DATE = dt.date(2026, 1, 31)


def rid(area: str, birth: str, seq: str) -> str:
    body = area + birth + seq
    return body + ric.calc_check_digit(body + "0")


def cc(org: str, area: str = "310115") -> str:
    body = "91" + area + org
    return body + uscc.calc_check_digit(body)


def card(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def D(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


def frames_by_hand() -> dict[str, pd.DataFrame]:
    """Contract columns only, clean."""
    f: dict[str, pd.DataFrame] = {}
    f["branches"] = pd.DataFrame(
        {
            "branch_id": ["0000", "0100", "0101"],
            "branch_name": ["总行", "上海分行", "上海浦东支行"],
            "parent_branch_id": [None, "0000", "0100"],
            "branch_level": ["HO", "BR", "SB"],
            "province": ["北京市", "上海市", "上海市"],
            "city": ["北京市", "上海市", "上海市"],
            "opened_date": [D("1993-06-18"), D("1995-03-01"), D("2001-09-30")],
            "status": ["A", "A", "A"],
        }
    )
    f["staff"] = pd.DataFrame(
        {
            "staff_id": ["S000001", "S000002", "S000003"],
            "staff_name": ["王芳", "李强", "赵敏"],
            "role": ["RM", "BH", "RO"],
            "branch_id": ["0101", "0101", "0100"],
            "email": ["wang.fang@bank.example.cn", "li.qiang@bank.example.cn", "zhao.min@bank.example.cn"],
            "mobile": ["13800138000", None, "19912345678"],
            "hire_date": [D("2015-07-01"), D("2010-03-15"), D("2018-09-01")],
            "status": ["A", "A", "A"],
        }
    )
    f["customers"] = pd.DataFrame(
        {
            "customer_id": ["100000000001", "100000000002", "100000000003", "100000000004"],
            "customer_name": ["张伟", "刘洋", "陈静", "Smith John"],
            "id_type": ["01", "01", "01", "02"],
            "id_number": [
                rid("310115", "19850312", "123"),
                rid("110101", "19920704", "046"),
                rid("440305", "19780101", "001"),
                "E12345678",
            ],
            "gender": ["1", "2", "1", "1"],
            "birth_date": [D("1985-03-12"), D("1992-07-04"), D("1978-01-01"), D("1980-05-05")],
            "mobile": ["13912345678", "15800001111", "18612340000", "17700000001"],
            "address": ["上海市浦东新区世纪大道100号", None, "深圳市南山区科技园1栋", None],
            "province": ["上海市", "北京市", "广东省", None],
            "city": ["上海市", "北京市", "深圳市", None],
            "occupation": ["2", "3", "4", None],
            "employer": ["上海某某科技有限公司", None, "个体经营", None],
            "annual_income": [250000.0, 120000.0, None, 500000.0],
            "education": ["20", "30", None, "10"],
            "marital_status": ["20", "10", "20", None],
            "branch_id": ["0101", "0101", "0101", "0101"],
            "manager_id": ["S000001", "S000001", "S000001", "S000001"],
            "onboarding_date": [D("2012-05-01"), D("2019-11-11"), D("2008-02-29"), D("2024-12-31")],
            "status": ["A", "A", "D", "A"],
        }
    )
    f["corporates"] = pd.DataFrame(
        {
            "customer_id": ["200000000001", "200000000002"],
            "company_name": ["上海浦江精密制造有限公司", "上海东方贸易股份有限公司"],
            "uscc": [cc("MA1FL2K3X"), cc("123456789", "310101")],
            "legal_rep_name": ["周杰", "吴敏"],
            "legal_rep_id_number": [rid("310104", "19700101", "011"), None],
            "industry": ["C", "F"],
            "enterprise_size": ["M", "S"],
            "registered_capital": [10_000_000.0, 5_000_000.0],
            "established_date": [D("2005-06-01"), D("2015-01-20")],
            "registered_address": ["上海市闵行区莘庄工业区1号", None],
            "province": ["上海市", "上海市"],
            "city": ["上海市", "上海市"],
            "employees": [450, 60],
            "annual_revenue": [120_000_000.0, 18_000_000.0],
            "branch_id": ["0101", "0101"],
            "manager_id": ["S000001", "S000001"],
            "onboarding_date": [D("2010-03-03"), D("2016-04-04")],
            "status": ["A", "A"],
        }
    )
    f["contacts"] = pd.DataFrame(
        {
            "contact_id": ["CT0000000000001", "CT0000000000002", "CT0000000000003"],
            "customer_id": ["100000000001", "100000000002", "200000000001"],
            "contact_type": ["FAMILY", "EMERGENCY", "FINANCE"],
            "relationship": ["SPOUSE", "FRIEND", "CFO"],
            "contact_name": ["李娜", "孙磊", "钱芳"],
            "contact_id_number": [rid("310115", "19870605", "022"), None, None],
            "contact_mobile": ["13700001234", "13600002222", "18900003333"],
            "is_primary": ["Y", "Y", "Y"],
        }
    )
    f["related_parties"] = pd.DataFrame(
        {
            "relation_id": ["RL00000000000001", "RL00000000000002"],
            "customer_id": ["200000000001", "200000000001"],
            "relation_type": ["SHAREHOLDER", "GUARANTOR"],
            "party_type": ["I", "C"],
            "related_customer_id": [None, "200000000002"],
            "related_name": ["周杰", "上海东方贸易股份有限公司"],
            "related_cert_number": [rid("310104", "19700101", "011"), cc("123456789", "310101")],
            "share_ratio": [60.0, None],
            "amount": [None, 3_000_000.0],
            "start_date": [D("2005-06-01"), D("2023-01-01")],
            "end_date": [None, D("2027-12-31")],
        }
    )
    f["loans"] = pd.DataFrame(
        {
            "loan_id": ["L00000000000001", "L00000000000002", "L00000000000003", "L00000000000004"],
            "contract_id": [
                "HT202000000000000001",
                "HT202000000000000002",
                "HT202000000000000003",
                "HT202000000000000004",
            ],
            "customer_id": ["100000000001", "100000000002", "100000000003", "200000000001"],
            "product_code": ["RHL", "RCL", "RBL", "CWC"],
            "currency": ["CNY", "CNY", "CNY", "CNY"],
            "contract_amount": [1_000_000.0, 50_000.0, 200_000.0, 5_000_000.0],
            "balance": [850_000.55, 50_000.0, 150_000.0, 5_000_000.0],
            "interest_rate": [3.85, 6.5, 4.2, 3.45],
            "rate_type": ["LPR", "FIX", "LPR", "LPR"],
            "start_date": [D("2020-01-15"), D("2025-12-01"), D("2024-06-30"), D("2025-03-01")],
            "maturity_date": [D("2050-01-15"), D("2026-12-01"), D("2027-06-30"), D("2026-03-01")],
            "repayment_method": ["EPI", "EPI", "IOB", "IOB"],
            "guarantee_type": ["MO", "CR", "GU", "GU"],
            "five_class": ["1", "2", "3", "1"],
            "overdue_days": [0, 15, 120, 0],
            "overdue_principal": [0.0, 1_000.0, 30_000.0, 0.0],
            "overdue_interest": [0.0, 80.0, 2_000.0, 0.0],
            "restructured": ["N", "N", "Y", "N"],
            "status": ["N", "O", "O", "N"],
            "repay_card_no": [card("621799000000012"), card("622588123456789012"), None, None],
            "branch_id": ["0101", "0101", "0101", "0100"],
        }
    )
    f["repayments"] = pd.DataFrame(
        {
            "repayment_id": ["RP000000000000000001", "RP000000000000000002"],
            "loan_id": ["L00000000000001", "L00000000000002"],
            "customer_id": ["100000000001", "100000000002"],
            "period_no": [73, 2],
            "due_date": [D("2026-01-31"), D("2026-01-31")],
            "paid_date": [D("2026-01-31"), None],
            "principal_due": [2_000.0, 4_000.0],
            "interest_due": [2_700.0, 270.0],
            "principal_paid": [2_000.0, 0.0],
            "interest_paid": [2_700.0, 0.0],
            "penalty_paid": [0.0, 0.0],
            "days_late": [0, 0],
            "channel": ["AUTO", None],
        }
    )
    f["loan_performance"] = pd.DataFrame(
        {
            "snapshot_date": [D("2025-12-31"), D("2026-01-31"), D("2026-01-31")],
            "loan_id": ["L00000000000001", "L00000000000001", "L00000000000003"],
            "customer_id": ["100000000001", "100000000001", "100000000003"],
            "product_code": ["RHL", "RHL", "RBL"],
            "balance": [852_000.0, 850_000.55, 150_000.0],
            "overdue_days": [0, 0, 120],
            "overdue_amount": [0.0, 0.0, 32_000.0],
            "five_class": ["1", "1", "3"],
            "status": ["N", "N", "O"],
        }
    )
    f["deposits"] = pd.DataFrame(
        {
            "account_id": ["600101000000000001", "600101000000000002", "600101000000000003"],
            "customer_id": ["100000000001", "100000000002", "200000000001"],
            "card_number": [card("621799000000012"), card("622588123456789012"), None],
            "product_type": ["CUR", "FIX", "CUR"],
            "currency": ["CNY", "CNY", "CNY"],
            "open_date": [D("2012-05-01"), D("2025-01-10"), D("2010-03-03")],
            "maturity_date": [None, D("2026-01-10"), None],
            "close_date": [None, D("2026-01-10"), None],
            "balance": [35_000.12, 0.0, 2_500_000.0],
            "mtd_avg_balance": [33_000.0, 0.0, 2_300_000.0],
            "interest_rate": [0.2, 1.5, 0.2],
            "status": ["A", "C", "A"],
            "branch_id": ["0101", "0101", "0101"],
        }
    )
    f["deposit_balances"] = pd.DataFrame(
        {
            "snapshot_date": [D("2025-12-31"), D("2026-01-31"), D("2026-01-31"), D("2026-01-31")],
            "account_id": ["600101000000000001", "600101000000000001", "600101000000000002", "600101000000000003"],
            "customer_id": ["100000000001", "100000000001", "100000000002", "200000000001"],
            "product_type": ["CUR", "CUR", "FIX", "CUR"],
            "currency": ["CNY", "CNY", "CNY", "CNY"],
            "balance": [31_000.0, 35_000.12, 0.0, 2_500_000.0],
            "avg_balance": [30_500.5, 33_000.0, 12_000.0, 2_300_000.0],
            "interest_rate": [0.2, 0.2, 1.5, 0.2],
            "status": ["A", "A", "C", "A"],
            "branch_id": ["0101", "0101", "0101", "0101"],
        }
    )
    f["txn_monthly"] = pd.DataFrame(
        {
            "snapshot_date": [D("2025-12-31"), D("2026-01-31"), D("2026-01-31")],
            "customer_id": ["100000000001", "100000000001", "200000000001"],
            "txn_type": ["CON", "CON", "PAY"],
            "channel": ["MOB", "MOB", "API"],
            "direction": ["D", "D", "C"],
            "txn_count": [12, 9, 3],
            "amount": [3_210.4, 2_120.5, 180_000.0],
            "counterparty_count": [7, 5, 2],
            "top_counterparty_amount": [900.0, 640.0, 100_000.0],
        }
    )
    f["transactions"] = pd.DataFrame(
        {
            "txn_id": ["20260131000000000000001", "20260131000000000000002"],
            "account_id": ["600101000000000001", "600101000000000003"],
            "customer_id": ["100000000001", "200000000001"],
            "txn_time": [D("2026-01-31 09:15:00"), D("2026-01-31 23:59:59")],
            "direction": ["D", "C"],
            "amount": [120.5, 80_000.0],
            "balance_after": [35_000.12, 2_500_000.0],
            "channel": ["MOB", "API"],
            "txn_type": ["CON", "PAY"],
            "counterparty_name": ["某某超市", "上海东方贸易股份有限公司"],
            "counterparty_account": [None, card("622848000011112222")],
            "remark": ["消费", "货款"],
        }
    )
    f["deposit_balances"] = pd.DataFrame(
        {
            "snapshot_date": [D("2025-12-31"), D("2026-01-31"), D("2026-01-31"), D("2026-01-31")],
            "account_id": ["600101000000000001", "600101000000000001", "600101000000000002", "600101000000000003"],
            "customer_id": ["100000000001", "100000000001", "100000000002", "200000000001"],
            "product_type": ["CUR", "CUR", "FIX", "CUR"],
            "currency": ["CNY", "CNY", "CNY", "CNY"],
            "balance": [31_000.0, 35_000.12, 0.0, 2_500_000.0],
            "avg_balance": [30_500.0, 33_000.0, 0.0, 2_300_000.0],
            "interest_rate": [0.2, 0.2, 1.5, 0.2],
            "status": ["A", "A", "C", "A"],
            "branch_id": ["0101", "0101", "0101", "0101"],
        }
    )
    f["txn_monthly"] = pd.DataFrame(
        {
            "snapshot_date": [D("2026-01-31"), D("2026-01-31")],
            "customer_id": ["100000000001", "200000000001"],
            "txn_type": ["CON", "PAY"],
            "channel": ["MOB", "API"],
            "direction": ["D", "C"],
            "txn_count": [12, 3],
            "amount": [1_520.5, 240_000.0],
            "counterparty_count": [0, 2],
            "top_counterparty_amount": [None, 160_000.0],
        }
    )
    f["fee_ledger"] = pd.DataFrame(
        {
            "fee_id": ["FE20260130000000000001", "FE20260131000000000002"],
            "customer_id": ["200000000001", "200000000001"],
            "product_family": ["SETL", "SETL"],
            "product_code": ["SETL01", "SETL01"],
            "fee_type": ["SETL", "SETL"],
            "amount": [45.5, -45.5],
            "fee_date": [D("2026-01-30"), D("2026-01-31")],
            "account_id": ["600101000000000003", "600101000000000003"],
            "reversal_of": [None, "FE20260130000000000001"],
            "branch_id": ["0101", "0101"],
        }
    )
    f["product_holdings"] = pd.DataFrame(
        {
            "holding_id": ["HD00000000000000001", "HD00000000000000002"],
            "customer_id": ["100000000001", "100000000002"],
            "product_family": ["DEP", "WMP"],
            "product_code": ["CUR01", "WMP2025A"],
            "open_date": [D("2012-05-01"), D("2025-01-01")],
            "close_date": [None, D("2025-12-31")],
            "amount": [35_000.12, None],
            "status": ["A", "C"],
        }
    )
    f["fee_ledger"] = pd.DataFrame(
        {
            "fee_id": ["FE20260131000000000001", "FE20260131000000000002", "FE20260131000000000003"],
            "customer_id": ["100000000001", "200000000001", "100000000001"],
            "product_family": ["DEP", "DEP", "DEP"],
            "product_code": ["CUR01", None, "CUR01"],
            "fee_type": ["ACCT", "SETL", "ACCT"],
            "amount": [10.0, 1_250.0, -10.0],
            "fee_date": [D("2026-01-31"), D("2026-01-31"), D("2026-01-31")],
            "account_id": ["600101000000000001", "600101000000000003", "600101000000000001"],
            "reversal_of": [None, None, "FE20260131000000000001"],
            "branch_id": ["0101", "0101", "0101"],
        }
    )
    f["financial_statements"] = pd.DataFrame(
        {
            "statement_id": ["FS00000000000000001A", "FS00000000000000002Q"],
            "customer_id": ["200000000001", "200000000002"],
            "report_period": [D("2025-12-31"), D("2025-09-30")],
            "period_type": ["A", "Q"],
            "audited": ["Y", "N"],
            "received_date": [D("2026-01-20"), D("2026-01-05")],
            "cash": [5e6, 1e6],
            "receivables": [2e7, 3e6],
            "inventory": [1.5e7, 2e6],
            "current_assets": [4e7, 6e6],
            "fixed_assets": [6e7, 2e6],
            "total_assets": [100_000_000.0, 8_000_000.0],
            "short_term_debt": [1e7, 1e6],
            "current_liabilities": [3e7, 3e6],
            "long_term_debt": [2e7, 0.0],
            "total_liabilities": [60_000_000.0, 3_000_000.0],
            "equity": [40_000_000.0, 5_000_000.5],
            "revenue": [1.2e8, 1.8e7],
            "cost_of_sales": [9e7, 1.5e7],
            "operating_profit": [1.5e7, 1e6],
            "interest_expense": [1e6, 5e4],
            "net_profit": [1.1e7, 7e5],
            "operating_cash_flow": [1.3e7, 5e5],
            "investing_cash_flow": [-5e6, -1e5],
            "financing_cash_flow": [-2e6, 0.0],
        }
    )
    f["bureau_records"] = pd.DataFrame(
        {
            "report_id": ["CR2026013100000000000001"],
            "customer_id": ["100000000002"],
            "query_date": [D("2026-01-31")],
            "query_reason": ["02"],
            "first_credit_date": [D("2015-03-01")],
            "external_loan_count": [2],
            "external_loan_balance": [80_000.0],
            "card_credit_limit": [50_000.0],
            "card_utilisation": [45.5],
            "external_guarantee_amount": [None],
            "inquiries_3m": [1],
            "inquiries_12m": [3],
            "overdue_count_24m": [1],
            "worst_overdue_months_24m": [1],
            "current_overdue_amount": [0.0],
            "has_bad_debt": ["N"],
        }
    )
    f["interactions"] = pd.DataFrame(
        {
            "interaction_id": ["V20260131000000000001", "V20260131000000000002"],
            "customer_id": ["100000000003", "200000000001"],
            "staff_id": ["S000001", "S000001"],
            "interaction_time": [D("2026-01-31 10:00:00"), D("2026-01-31 15:30:00")],
            "channel": ["VISIT", "PHONE"],
            "purpose": ["COLLECT", "MARKET"],
            "duration_minutes": [45, 10],
            "notes": ["客户表示下月还款", None],
            "next_visit_date": [D("2026-02-15"), None],
        }
    )
    f["service_requests"] = pd.DataFrame(
        {
            "request_id": ["SR20260130000000000001", "SR20260130000000000002"],
            "customer_id": ["100000000001", "100000000004"],
            "opened_time": [D("2026-01-30 09:00:00"), D("2026-01-31 11:00:00")],
            "channel": ["PHONE", "APP"],
            "category": ["CMPL", "INQ"],
            "priority": ["P2", "P4"],
            "assigned_staff_id": ["S000001", None],
            "first_response_time": [D("2026-01-30 10:00:00"), None],
            "resolved_time": [D("2026-01-31 16:00:00"), None],
            "status": ["RSLV", "OPEN"],
            "description": ["对扣款有疑问", "咨询理财产品"],
        }
    )
    f["surveys"] = pd.DataFrame(
        {
            "survey_id": ["SV20260131000000000000001", "SV20260131000000000000002"],
            "customer_id": ["100000000003", "100000000001"],
            "staff_id": ["S000001", None],
            "channel": ["SMS", "APP"],
            "trigger": ["VISIT", "SR"],
            "related_id": ["V20260131000000000001", "SR20260130000000000001"],
            "product_family": ["LOAN", None],
            "sent_date": [D("2026-01-31"), D("2026-01-31")],
            "response_date": [D("2026-01-31"), None],
            "csat": [4, None],
            "nps": [8, None],
            "rating_responsiveness": [5, None],
            "rating_professionalism": [4, None],
            "rating_product": [3, None],
            "rating_pricing": [3, None],
            "rating_digital": [4, None],
            "comment": ["服务很好", None],
        }
    )
    f["opportunities"] = pd.DataFrame(
        {
            "opportunity_id": ["OP20260105000000000001", "OP20260112000000000002", "OP20260131000000000003"],
            "customer_id": ["100000000001", "200000000001", "100000000002"],
            "proposal_type": ["WEALTH", "RENEW", "DEPOSIT"],
            "product_family": ["WMP", "LOAN", "DEP"],
            "product_code": ["WMP2025A", None, None],
            "source": ["SYS", "SYS", "RM"],
            "offered_date": [D("2026-01-05"), D("2026-01-12"), D("2026-01-31")],
            "channel": ["PHONE", "VISIT", "BRANCH"],
            "staff_id": ["S000001", "S000001", "S000001"],
            "offered_amount": [200_000.0, 3_000_000.0, None],
            "outcome": ["A", "D", "P"],
            "outcome_date": [D("2026-01-20"), D("2026-01-30"), None],
            "contract_id": ["HD00000000000000002", None, None],
            "decline_reason": [None, "PRICE", None],
        }
    )
    f["coverage"] = pd.DataFrame(
        {
            "snapshot_date": [D("2026-01-31")] * 4,
            "coverage_id": ["CV0000000000000001", "CV0000000000000002", "CV0000000000000003", "CV0000000000000004"],
            "customer_id": ["200000000001", "200000000001", "200000000001", "100000000001"],
            "staff_id": ["S000001", "S000003", "S000001", "S000001"],
            "role": ["RM", "RO", "RM", "RM"],
            "from_date": [D("2025-06-01"), D("2024-03-01"), D("2020-01-01"), D("2021-05-10")],
            "to_date": [None, None, D("2025-05-31"), None],
        }
    )
    f["referrals"] = pd.DataFrame(
        {
            "referral_id": ["RF20260115000000000001"],
            "referrer_customer_id": ["100000000001"],
            "referred_customer_id": ["100000000002"],
            "referral_date": [D("2026-01-15")],
            "channel": ["RM"],
            "staff_id": ["S000001"],
        }
    )
    return f


def raw_frames(
    tmp: Path, frames: dict[str, pd.DataFrame] | None = None, business_date: dt.date = BUSINESS_DATE
) -> dict[str, pd.DataFrame]:
    """Write every frame as an extract file and parse it back: raw-zone frames with lineage columns."""
    frames = frames_by_hand() if frames is None else frames
    out = {}
    for name, df in frames.items():
        e = BY_NAME[name]
        path = write_extract(df[e.column_names], e, business_date, tmp)
        out[name] = read_extract(path, e).table.to_pandas()
    return out


def with_lineage(df: pd.DataFrame, extract: str, business_date: dt.date = BUSINESS_DATE) -> pd.DataFrame:
    """Lineage columns for a hand-made frame that did not go through a file."""
    e = BY_NAME[extract]
    out = df.copy()
    out["_source_file"] = e.file_name(business_date.isoformat(), 1)
    out["_sha256"] = "0" * 64
    out["_row_number"] = range(1, len(df) + 1)
    out["_business_date"] = business_date
    out["_type_errors"] = pa.nulls(len(df), pa.string()).to_pandas()
    return out

"""Small hand-made extract frames for format and load tests."""

import pandas as pd


def branches_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "branch_id": ["000", "310", "31001"],
            "branch_name": ["总行", "上海分行", '浦东|"陆家嘴"支行'],
            "parent_branch_id": [None, "000", "310"],
            "branch_level": ["HO", "BR", "SB"],
            "province": ["北京市", "上海市", "上海市"],
            "city": ["北京市", "上海市", "上海市"],
            "opened_date": pd.to_datetime(["1990-01-01", "1995-05-01", "2001-09-30"]),
            "status": ["A", "A", "A"],
        }
    )


def loans_frame(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": [f"L{i:04d}" for i in range(n)],
            "contract_id": [f"HT{i:04d}" for i in range(n)],
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "product_code": ["RHL"] * n,
            "currency": ["CNY"] * n,
            "contract_amount": [100000.0] * n,
            "balance": [1000.10 * (i + 1) for i in range(n)],
            "interest_rate": [3.85] * n,
            "rate_type": ["LPR"] * n,
            "start_date": pd.to_datetime(["2024-01-15"] * n),
            "maturity_date": pd.to_datetime(["2034-01-15"] * n),
            "repayment_method": ["EPI"] * n,
            "guarantee_type": ["MO"] * n,
            "five_class": ["1"] * n,
            "overdue_days": [0] * n,
            "overdue_principal": [0.0] * n,
            "overdue_interest": [0.0] * n,
            "restructured": ["N"] * n,
            "status": ["N"] * n,
            "repay_card_no": ["6228480402564890018"] * n,
            "branch_id": ["31001"] * n,
        }
    )

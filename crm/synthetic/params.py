"""Every constant of the generating process, in one place (``docs/synthetic.md`` explains them)."""

from __future__ import annotations

import datetime as dt

GENERATOR_VERSION = "1.3"  # 1.1: value-history extracts, own deposit rates, regular counterparties, wallet share;
# 1.2: customers' needs (seasonal cycles, growth spurts, concentrated counterparties, payroll starts, large inflows)
# and the front office (opportunities, take-up); 1.3: staff PS/CA, manager changes, coverage teams, churn with
# causes, service histories (value-added services, stage actions, green channel), referrals (issue 20)

# ---------------------------------------------------------------------------------------------- time
# The bank is anchored on a fixed calendar so a business date's data does not depend on the range asked
# for: ``--customers N`` is the number of customers who joined on or before REFERENCE_DATE; after it, a
# cohort of COHORT_RATE * N customers joins every month.
REFERENCE_DATE = dt.date(2026, 1, 1)
COHORT_RATE = 0.006
BASE_HISTORY_YEARS = 18.0  # base customers joined within this many years before the reference date
BASE_RECENCY_YEARS = 5.0  # ... with an exponential preference for recent years (mean age of relationship)
# Loan performance is simulated month by month from SIM_START (loans alive then start it current): business
# dates from SIM_START + 36 months on have a complete 36-month history.
SIM_START = dt.date(2019, 1, 1)
LOAN_HORIZON = dt.date(2031, 12, 31)  # no loan starts after this date
HISTORY_MONTHS = 36  # month-ends of history in the first LOAN_PERF file
# Initial loads of the value-history extracts (contract since 2024-01-01): month-ends of deposit balances,
# months of transaction aggregates and months of bureau pulls before the first file (``--history-months``
# overrides it), and months of fee records in the first fee-ledger file (at most the history months).
VALUE_HISTORY_MONTHS = 24
FEE_HISTORY_MONTHS = 12
STATEMENT_HISTORY_YEARS = 3  # statements history in the first FIN_STMT file

# ---------------------------------------------------------------------------------------------- structure
CORPORATE_SHARE = 0.15
CUSTOMERS_PER_RM = 320
CUSTOMERS_PER_SUB_BRANCH = 2500
ENTERPRISE_SIZES = ("L", "M", "S", "X")
ENTERPRISE_SIZE_WEIGHTS = (0.03, 0.15, 0.45, 0.37)
# employees (low, high) and revenue in yuan (low, high) per size, log-uniform
SIZE_EMPLOYEES = {"L": (1000, 8000), "M": (300, 1000), "S": (20, 300), "X": (3, 20)}
SIZE_REVENUE = {"L": (4e8, 5e9), "M": (2e7, 4e8), "S": (3e6, 2e7), "X": (5e5, 3e6)}
SIZE_RISK = {"L": -0.35, "M": -0.1, "S": 0.05, "X": 0.25}

# ---------------------------------------------------------------------------------------------- risk model
# Individuals: eta = sum(coef * driver) + EPS * noise, every driver a standardised latent that the bureau
# report, the application data and the account behaviour reveal with noise (see docs).
RISK_INDIVIDUAL = {
    "bureau_delinquency": 0.38,  # past overdue count / worst overdue months (bureau)
    "inquiries": 0.20,  # credit inquiries in the last 3 / 12 months (bureau)
    "utilisation": 0.30,  # credit-card utilisation (bureau)
    "debt_to_income": 0.20,  # external loan balance / income (bureau, application)
    "income": -0.25,  # log income relative to its expectation (application)
    "youth": 0.10,  # (35 - age) / 10, capped at +-2
}
RISK_CORPORATE = {
    "bureau_delinquency": 0.30,
    "inquiries": 0.14,
    "leverage": 0.32,  # liabilities / assets relative to the industry (statements)
    "profitability": -0.32,  # operating margin relative to the industry (statements)
    "growth": -0.18,  # revenue growth trend (statements)
    "guarantees": 0.14,  # external guarantees given (bureau)
}
RISK_NOISE = 0.45  # weight of the unobservable part
DECLINE_RISK = 0.9  # added to eta while the customer is in the lifecycle decline phase (behaviour)

# ---------------------------------------------------------------------------------------------- loans
# Roll-rate Markov chain on "instalments in arrears" s, one step per month at the due date.
#   s = 0: miss with p = sigmoid(MISS_INTERCEPT + eta)
#   s >= 1: roll (s+1) with p = sigmoid(ROLL[s] + ROLL_SLOPE * eta); otherwise cure (s -> 0) with
#           p = sigmoid(CURE[s] - CURE_SLOPE * eta); otherwise pay one instalment (stay at s).
MISS_INTERCEPT = -4.6
ROLL = (None, -0.9, 0.0, 0.8, 1.6, 1.9, 2.1, 2.3, 2.4, 2.5, 2.5, 2.5, 2.5)
ROLL_SLOPE = 0.35
CURE = (None, 1.2, 0.2, -0.5, -1.6, -2.0, -2.3, -2.5, -2.6, -2.7, -2.8, -2.9, -3.0)
CURE_SLOPE = 0.3
SHARED_SHOCK = 0.6  # share of a loan's monthly draws taken from the customer's (cross-default)
WRITE_OFF_FROM = 10  # months in arrears from which a loan may be written off
WRITE_OFF_RATE = 0.35  # per month
WRITE_OFF_FORCE = 18
RESTRUCTURE_RATE = 0.3  # share of cures from 3+ months in arrears that are restructurings
MISREPORT_RATE = 0.04  # loans whose reported class is one better than the rule when overdue
CONSERVATIVE_RATE = 0.12  # share of current high-risk loans (eta > 1) reported 关注 although not overdue
LATE_GRACE_RATE = 0.08  # paid instalments paid 1..7 days late (base, scaled by exp(0.5 eta))

# product: segment, terms (months) and weights, repayment methods and weights, guarantee types and weights,
# amount multiple of income/revenue (low, high), amount bounds, rate base (1Y or 5Y LPR) and spread range,
# risk-based spread per unit eta, rate type share FIX, renewal probability, months gap at renewal (max),
# monthly prepayment hazard, eta offset.
PRODUCTS = {
    "RHL": dict(
        seg="I",
        terms=((240, 300, 360), (0.3, 0.3, 0.4)),
        methods=(("EPI", "EPP"), (0.75, 0.25)),
        guarantees=(("MO",), (1.0,)),
        mult=(3.0, 9.0),
        bounds=(2e5, 8e6),
        lpr="5Y",
        spread=(-0.45, 0.4),
        risk_spread=0.1,
        fix=0.0,
        renew=0.0,
        gap=0,
        prepay=0.004,
        eta=-1.0,
    ),
    "RCL": dict(
        seg="I",
        terms=((12, 24, 36), (0.4, 0.35, 0.25)),
        methods=(("EPI", "IOB"), (0.8, 0.2)),
        guarantees=(("CR", "GU"), (0.85, 0.15)),
        mult=(0.1, 0.6),
        bounds=(1e4, 3e5),
        lpr="1Y",
        spread=(0.4, 6.0),
        risk_spread=1.2,
        fix=0.8,
        renew=0.6,
        gap=6,
        prepay=0.015,
        eta=0.35,
    ),
    "RBL": dict(
        seg="I",
        terms=((12, 24, 36), (0.5, 0.3, 0.2)),
        methods=(("IOB", "EPI", "EPP"), (0.5, 0.3, 0.2)),
        guarantees=(("MO", "GU", "CR"), (0.5, 0.3, 0.2)),
        mult=(0.5, 3.0),
        bounds=(5e4, 3e6),
        lpr="1Y",
        spread=(0.4, 2.5),
        risk_spread=0.6,
        fix=0.3,
        renew=0.7,
        gap=3,
        prepay=0.01,
        eta=0.35,
    ),
    "CWC": dict(
        seg="C",
        terms=((12,), (1.0,)),
        methods=(("IOB", "BUL"), (0.75, 0.25)),
        guarantees=(("GU", "MO", "CR", "PL"), (0.45, 0.3, 0.15, 0.1)),
        mult=(0.05, 0.25),
        bounds=(5e5, 5e8),
        lpr="1Y",
        spread=(0.0, 1.5),
        risk_spread=0.3,
        fix=0.3,
        renew=0.85,
        gap=0,
        prepay=0.004,
        eta=0.0,
    ),
    "CFA": dict(
        seg="C",
        terms=((36, 60, 84, 96), (0.3, 0.35, 0.2, 0.15)),
        methods=(("EPP", "IOB"), (0.6, 0.4)),
        guarantees=(("MO", "GU"), (0.8, 0.2)),
        mult=(0.1, 0.5),
        bounds=(1e6, 1e9),
        lpr="5Y",
        spread=(0.0, 1.0),
        risk_spread=0.3,
        fix=0.2,
        renew=0.0,
        gap=0,
        prepay=0.004,
        eta=-0.2,
    ),
    "CTF": dict(
        seg="C",
        terms=((3, 6), (0.5, 0.5)),
        methods=(("BUL",), (1.0,)),
        guarantees=(("PL", "GU", "CR"), (0.6, 0.2, 0.2)),
        mult=(0.02, 0.1),
        bounds=(2e5, 2e8),
        lpr="1Y",
        spread=(-0.3, 0.8),
        risk_spread=0.2,
        fix=0.5,
        renew=0.8,
        gap=1,
        prepay=0.0,
        eta=-0.4,
    ),
    "CSC": dict(
        seg="C",
        terms=((3, 6, 12), (0.4, 0.4, 0.2)),
        methods=(("BUL",), (1.0,)),
        guarantees=(("PL", "CR", "GU"), (0.4, 0.4, 0.2)),
        mult=(0.02, 0.08),
        bounds=(1e5, 1e8),
        lpr="1Y",
        spread=(0.2, 1.5),
        risk_spread=0.3,
        fix=0.5,
        renew=0.85,
        gap=0,
        prepay=0.0,
        eta=-0.3,
    ),
}
# probability that a customer has a line of each product (at most 3 lines, in this order)
LINE_PROBABILITY_INDIVIDUAL = {"RHL": 0.33, "RCL": 0.5, "RBL": 0.10}
LINE_PROBABILITY_SELF_EMPLOYED_RBL = 0.35
LINE_PROBABILITY_CORPORATE = {"CWC": 0.8, "CFA": 0.22, "CTF": 0.15, "CSC": 0.12}

# Loan prime rate (1Y, 5Y) with the date each became effective; benchmark rates before August 2019.
LPR = (
    (dt.date(1990, 1, 1), 4.35, 4.90),
    (dt.date(2019, 8, 20), 4.25, 4.85),
    (dt.date(2019, 9, 20), 4.20, 4.85),
    (dt.date(2019, 11, 20), 4.15, 4.80),
    (dt.date(2020, 2, 20), 4.05, 4.75),
    (dt.date(2020, 4, 20), 3.85, 4.65),
    (dt.date(2021, 12, 20), 3.80, 4.65),
    (dt.date(2022, 1, 20), 3.70, 4.60),
    (dt.date(2022, 5, 20), 3.70, 4.45),
    (dt.date(2022, 8, 22), 3.65, 4.30),
    (dt.date(2023, 6, 20), 3.55, 4.20),
    (dt.date(2023, 8, 21), 3.45, 4.20),
    (dt.date(2024, 2, 20), 3.45, 3.95),
    (dt.date(2024, 7, 22), 3.35, 3.85),
    (dt.date(2024, 10, 21), 3.10, 3.60),
    (dt.date(2025, 5, 20), 3.00, 3.50),
)

# ---------------------------------------------------------------------------------------------- lifecycle
DECLINE_HAZARD = 0.006  # per month, times exp(0.5 * eta)
DORMANT_SHARE = 0.45  # of decliners
CHURN_SHARE_DORMANT = 0.5
CHURN_SHARE_DECLINING = 0.35
DORMANT_STATUS_DAYS = 180  # customer status D after this long in dormancy
ACCOUNT_DORMANT_DAYS = 365  # account status D (久悬)
HOLDING_HISTORY_DAYS = 730  # closed holdings stay in the holdings extract this long
INTEREST_MONTHS = (3, 6, 9, 12)  # current-account interest is credited on the 21st of these months
QUARTER_INTEREST = 0.0005  # share of the balance credited as interest each quarter (about 0.2% a year)

# ---------------------------------------------------------------------------------------------- deposit rates
# The bank's board rates (挂牌利率, % a year) per product, valid up to the end of the year named (the last row for
# every later year). Time deposits add a term adjustment (deposits.FIX_TERM_ADJ: 3, 6, 12, 24, 36 months).
DEPOSIT_BOARD_RATES = (
    (2022, {"CUR": 0.30, "NTC": 0.55, "AGR": 1.00, "FIX": 1.75}),
    (2023, {"CUR": 0.25, "NTC": 0.45, "AGR": 0.90, "FIX": 1.65}),
    (2024, {"CUR": 0.20, "NTC": 0.35, "AGR": 0.80, "FIX": 1.45}),
    (2025, {"CUR": 0.10, "NTC": 0.25, "AGR": 0.60, "FIX": 1.30}),
    (9999, {"CUR": 0.05, "NTC": 0.15, "AGR": 0.45, "FIX": 1.10}),
)
USD_DEPOSIT_RATE = 0.05  # USD current accounts
DEPOSIT_RATE_FLOOR = 0.01
# Every account has its own executed rate: board rate (+ term adjustment) + the account's spread, drawn once
# per account (uniform within the range, percentage points). A time deposit is priced on the day its current
# term begins (opening or roll-over) and keeps that rate to maturity; the others follow the board rate of the
# year. Negotiated accounts get a premium: time and notice deposits of at least LARGE_DEPOSIT (principal or
# balance level; individuals 大额存单-like, corporates), every agreement deposit, and current accounts of
# L/M corporates; the premium of a corporate is scaled by its size. The others get a discount.
DEPOSIT_RATE_PREMIUM = {"FIX": (0.10, 0.45), "NTC": (0.05, 0.30), "AGR": (0.10, 0.60), "CUR": (0.02, 0.15)}
DEPOSIT_RATE_DISCOUNT = {"FIX": (0.0, 0.15), "NTC": (0.0, 0.10), "AGR": (0.0, 0.10), "CUR": (0.0, 0.0)}
LARGE_DEPOSIT = {"I": 200_000.0, "C": 3_000_000.0}
DEPOSIT_PREMIUM_SIZE = {"L": 1.0, "M": 0.8, "S": 0.55, "X": 0.35}

# ---------------------------------------------------------------------------------------------- counterparties
# Transfers, trade payments and salaries go to or come from a pool of regular counterparties per customer (the
# pool's first members get most of the traffic: index = floor(size x u^2)), the rest are one-off.
CP_RECURRING = {"I": 0.55, "C": 0.75}  # share of counterparty transactions with a regular counterparty
CP_POOL = {"I": 6, "C": 24, "SAL_C": 60}  # pool sizes: individuals, corporates, a corporate's payees of salaries

# ---------------------------------------------------------------------------------------------- fees
# Fee and commission income (the fee ledger). Amounts in yuan; rates as shares of the base named. Every fee
# is customer-specific: a negotiated factor exp(FEE_NEGOTIATION x z) per customer (corporates) or per contract.
FEE_NEGOTIATION = 0.3
FEE_ACCT_MONTHLY = {
    "L": 300.0,
    "M": 150.0,
    "S": 60.0,
    "X": 30.0,
}  # corporate account management, per current account a month
FEE_DEBIT_CARD_ANNUAL = 10.0  # individuals' debit card, on the opening anniversary, unless the month's average balance
FEE_DEBIT_CARD_WAIVER = 10_000.0  # ... reaches this
# settlement (transfers and trade payments sent): rate of the month's amount per channel, bounded per transaction
FEE_SETTLEMENT_RATE = {"CNTR": 0.0005, "NET": 0.0002, "API": 0.0001}
FEE_SETTLEMENT_BOUNDS = {"CNTR": (2.0, 50.0), "NET": (0.5, 25.0), "API": (0.5, 20.0)}
FEE_SETTLEMENT_INDIVIDUAL_CHANNELS = ("CNTR",)  # individuals pay for counter transfers only
FEE_CASH_MANAGEMENT = {"L": 2000.0, "M": 800.0}  # cash-management (CMS01) service fee a month
FEE_CASH_MANAGEMENT_PER_PAYMENT = 0.5  # ... plus this per trade payment (PAY) of the month
FEE_LOAN_ARRANGEMENT = {"CWC": 0.003, "CFA": 0.005, "CTF": 0.002, "RBL": 0.002}  # of the contract amount, at start
FEE_SCF_SERVICE = 0.004  # supply-chain finance service fee: of each supply-chain loan's amount, at start
FEE_CARD_ANNUAL = {"CCSTD01": 100.0, "CCGOLD01": 300.0, "CCPLAT01": 1000.0}  # on the card's anniversary ...
FEE_CARD_WAIVER = {"CCSTD01": 0.7, "CCGOLD01": 0.4, "CCPLAT01": 0.1}  # ... unless waived (probability, per year)
FEE_CARD_INSTALMENT_USERS = 0.3  # card holders who pay by instalments (more with high utilisation) ...
FEE_CARD_INSTALMENT_RATE = 0.006  # ... pay this share of the month-end card balance every month
FEE_WMP_RATE = 0.006  # wealth management: commission of the amount per year of the product's term, at subscription
FEE_FUND_SUBSCRIPTION = 0.015  # funds: subscription fee of the amount ...
FEE_FUND_DISCOUNT = (0.6, 0.1)  # ... with a 90% discount for this share of the subscriptions (online)
FEE_FUND_TRAILING = 0.005  # trailing commission of the fund value per year, booked monthly
FEE_INS_FIRST_YEAR = 0.2  # insurance: commission of the annual premium at sale ...
FEE_INS_RENEWAL = 0.03  # ... and at every anniversary
FEE_PAYROLL_RATE = 0.0005  # payroll service: of the month's salary payments (SAL debits) of the employer ...
FEE_PAYROLL_MIN = 50.0  # ... at least this a month when salaries were paid
FEE_FX_RATE = {"FXSPOT01": 0.001, "FXFWD01": 0.002}  # FX: of the month's converted volume (annual volume / 12)
FEE_ADVISORY_RATE = 0.1  # L corporates: yearly probability of a financial advisory mandate ...
FEE_ADVISORY_SHARE = 0.0005  # ... paid as this share of revenue (at most FEE_ADVISORY_MAX)
FEE_ADVISORY_MAX = 2_000_000.0
FEE_REVERSAL_RATE = 0.01  # share of fee records reversed ...
FEE_REVERSAL_LAG = 15  # ... 1 to this many days later

# ---------------------------------------------------------------------------------------------- external borrowing
# The bureau report's loans with other lenders relate to the customer's size and to our own exposure: each
# customer has a share s of their borrowing held with us. WALLET_ONLY_US: we are the only lender (s = 1, no
# external loan); the others draw s = sigmoid(WALLET_SHARE_MEAN + WALLET_SHARE_SD x z - WALLET_DTI x debt
# driver); those with s < 0.5 borrow mainly elsewhere (demo bank: 16% of the individual and 32% of the
# corporate borrowers, docs/synthetic.md). External balance = our
# exposure x (1 - s) / s, our exposure being our balance on the query day (or, before the first loan, 60% of
# the customer's lines); customers without a line with us borrow elsewhere only (the size-based amount).
WALLET_ONLY_US = {"I": 0.35, "C": 0.15}
WALLET_SHARE_MEAN = {"I": 0.9, "C": 0.3}
WALLET_SHARE_SD = 1.1
WALLET_DTI = 0.5
WALLET_MAX_EXTERNAL_MULTIPLE = 12.0  # external balance at most this multiple of our exposure
EXTERNAL_LOAN_UNIT = {"I": 150_000.0, "L": 30_000_000.0, "M": 6_000_000.0, "S": 1_500_000.0, "X": 400_000.0}

# ---------------------------------------------------------------------------------------------- service
SLA_RESPONSE_HOURS = {"P1": 1, "P2": 4, "P3": 24, "P4": 48}
SLA_RESOLUTION_HOURS = {"P1": 24, "P2": 72, "P3": 120, "P4": 240}
SURVEY_RESPONSE_RATE = {"SMS": 0.22, "APP": 0.3, "PHONE": 0.52, "WECHAT": 0.38}

# ---------------------------------------------------------------------------------------------- needs (issue 19)
# Customers whose needs are real in the data (crm/synthetic/needs.py builds them, crm/synthetic/truth.py says who
# has which need at a month end; docs/synthetic.md "Needs (issue 19)").
# Seasonal working capital: this share of the corporates of each industry (GB/T 4754 section) has a yearly
# cycle. Its peak starts in one of the industry's calendar months (uniform) and lasts one month or, for
# SEASONAL_TWO_MONTHS of them, two adjacent months. In the peak months every dynamic account's month-end balance
# is multiplied by the customer's dip (uniform in SEASONAL_DIP, times exp(SEASONAL_NOISE x z) per year, at most
# 0.9), the transactions' amounts by SEASONAL_TURNOVER (uniform per customer) relative to the undipped balance,
# and SEASONAL_PAY_SHARE of the debits are trade payments (PAY).
SEASONAL_SHARE = {"A": 0.6, "F": 0.3, "E": 0.35, "C": 0.15, "H": 0.25}
SEASONAL_PEAK_MONTHS = {
    "A": (3, 4, 9, 10),  # planting and harvest purchases
    "F": (9, 10, 11, 12),  # stocking for the year-end and Spring Festival sales
    "E": (3, 4, 5),  # the building season's materials
    "C": (6, 7, 8, 9),  # production for the year-end season
    "H": (6, 7),  # the summer season
}
SEASONAL_TWO_MONTHS = 0.4
SEASONAL_DIP = (0.3, 0.55)
SEASONAL_NOISE = 0.12
SEASONAL_TURNOVER = (1.8, 2.8)
SEASONAL_PAY_SHARE = 0.85
# Growth spurts: this share of the corporates grows its business by an extra GROWTH_RATE (log a year, uniform
# per firm) for GROWTH_YEARS from a day drawn uniformly in GROWTH_WINDOW: the statements' revenue and the
# deposit balances (hence the transactions' turnover) follow, the loans' contract amounts do not (they follow
# the firm's structural trend only). Such a firm outgrows its limits from a year into the spurt
# (GROWTH_TRUTH_MONTHS: 12) to half a year after it ends, while it has a live loan and is not declining.
GROWTH_SHARE = 0.2
GROWTH_RATE = (0.35, 0.6)
GROWTH_YEARS = 3
GROWTH_WINDOW = (dt.date(2023, 1, 1), dt.date(2027, 1, 1))
GROWTH_TRUTH_MONTHS = 12
# Firms without a spurt grow too (their trend and yearly noise): the truth counts those whose revenue of this
# fiscal year or the last (the statements' latest year, annual or interim) grew by at least GROWTH_TRUTH_REVENUE.
GROWTH_TRUTH_REVENUE = 0.2
# Counterparty concentration: this share of the corporates sends CONCENTRATION_TOP (uniform per firm) of its
# counterparty transactions (transfers, trade payments) in the direction(s) drawn (payments D, receipts C or
# both B) to its first two regular counterparties, CONCENTRATION_FIRST of them to the first.
CONCENTRATION_SHARE = 0.15
CONCENTRATION_DIRECTION = (("D", "C", "B"), (0.4, 0.4, 0.2))
CONCENTRATION_TOP = (0.8, 0.97)
CONCENTRATION_FIRST = 0.8
# Salaries: PAYROLL_SHARE of the employed individuals (occupations 1-4, 6) are paid through us from their first
# full month; PAYROLL_START_SHARE of the other employed start being paid through us in a month drawn uniformly in
# PAYROLL_START_WINDOW (about 8% of them a year): a salary credit (SAL, the individuals' only SAL credits) every
# month on the customer's payday (PAYROLL_DAY) of income / 12 x PAYROLL_SALARY_SHARE, spent by the month end
# (the month-end balance does not move), until the customer declines.
PAYROLL_SHARE = 0.5
PAYROLL_START_SHARE = 0.4
PAYROLL_START_WINDOW = (dt.date(2023, 1, 1), dt.date(2028, 1, 1))
PAYROLL_DAY = (5, 15)
PAYROLL_SALARY_SHARE = (0.6, 0.9)
# Large inflows: this share of the individuals receives one large credit (inheritance, property sale, bonus) on
# a day drawn uniformly in LARGE_INFLOW_WINDOW (days 22-28 of the month; about 6% a year): LARGE_INFLOW_MULTIPLE
# (log-uniform) x the customer's deposit level, at least LARGE_INFLOW_MIN; LARGE_INFLOW_KEEP of it stays on the
# current account after each month (spent or moved out gradually), none after LARGE_INFLOW_MONTHS.
LARGE_INFLOW_SHARE = 0.3
LARGE_INFLOW_WINDOW = (dt.date(2023, 1, 1), dt.date(2028, 1, 1))
LARGE_INFLOW_MULTIPLE = (6.0, 20.0)
LARGE_INFLOW_MIN = 50_000.0
LARGE_INFLOW_KEEP = 0.75
LARGE_INFLOW_MONTHS = 24
# The truth (crm.synthetic.truth.needs_truth) as of a month end m: a loan maturing within MATURITY_TRUTH_DAYS
# (not of MATURITY_TRUTH_EXCLUDED);
# a housing loan ended within the last or ending within the next MORTGAGE_END_TRUTH_DAYS; a payroll start or a
# large inflow in the last PAYROLL_START_TRUTH_MONTHS / LARGE_INFLOW_TRUTH_MONTHS months (m included); seasonal
# and concentrated customers with at least NEEDS_HISTORY_MONTHS months with us.
MATURITY_TRUTH_DAYS = 90
MATURITY_TRUTH_EXCLUDED = ("RHL",)  # housing loans end rather than renew: MORTGAGE_END
MORTGAGE_END_TRUTH_DAYS = 183
PAYROLL_START_TRUTH_MONTHS = 3
LARGE_INFLOW_TRUTH_MONTHS = 2
NEEDS_HISTORY_MONTHS = 13

# ---------------------------------------------------------------------------------------------- front office
# The bank's staff acting on the proposal list (crm/synthetic/marketing.py, docs/synthetic.md "Proposals, front
# office and take-up"). At each month end from MARKETING_FIRST_MONTH_END the generator lists its own candidates
# per proposal type (customers who really need the product, plus false positives drawn from those who do not),
# holds some out with crm.playbook.holdout (share and salt of [proposals.holdout] unless overridden), and the
# manager offers the rest in the first MARKETING_OFFER_DAYS days of the next month.
MARKETING_FIRST_MONTH_END = dt.date(2024, 12, 31)  # offers from January 2025 (the opportunities extract's since)
MARKETING_OFFER_DAYS = 21
# False positives: each month, this share of the customers of the type's population who do not need it is
# listed anyway (WEALTH: individuals without wealth products; PAYROLL: corporates under 20 employees; SETTLE:
# declining corporates; SCF: corporates without a supply-chain partner).
MARKETING_FALSE_POSITIVE = {"WEALTH": 0.01, "PAYROLL": 0.08, "SETTLE": 0.3, "SCF": 0.02}
# Needs the generator knows: wealth for individuals whose deposit level (latent level x lifecycle) reaches
# the first amount and for corporates reaching the second; supply-chain finance for corporates with a live
# supplier or buyer link of at least this annual volume; payroll for corporates of at least this many employees.
MARKETING_WEALTH_LEVEL = {"I": 150_000.0, "C": 2_000_000.0}
MARKETING_SCF_MIN_VOLUME = 1_000_000.0
MARKETING_PAYROLL_MIN_EMPLOYEES = 20
# The placebo type: RATE_SWITCH offered to every customer with a live loan; an accepted switch changes the
# rate type of an existing contract (no new product: the offer changes no take-up).
MARKETING_PLACEBO_SHARE = 0.5  # share of the borrowers listed each month
# Outcome of an offer: accepted with the probability of its fit (the need real or not), times
# (1 + MARKETING_PRICE_EFFECT x (0.5 - price sensitivity)); otherwise declined (share of the rest) or left to
# lapse after MARKETING_LAPSE_DAYS. Days from the offer to acceptance / decline (uniform within the range).
MARKETING_ACCEPT = {"need": 0.45, "no_need": 0.05, "placebo": 0.1}
MARKETING_PRICE_EFFECT = 0.4
MARKETING_DECLINE_SHARE = 0.6
MARKETING_LAPSE_DAYS = 90
MARKETING_ACCEPT_DAYS = (2, 35)
MARKETING_DECLINE_DAYS = (1, 30)
MARKETING_COOLDOWN_DAYS = 60  # after a decline or lapse the customer is not offered the type again this long
# Organic take-up: each month a customer of the type's population opens the product without any offer with
# this probability (need real / not), on a day of the next month; this share of them asked for it themselves
# (an opportunity record with source CUST, accepted the same day).
MARKETING_ORGANIC = {"need": 0.03, "no_need": 0.003}
MARKETING_CUSTOMER_ASKED = 0.3
MARKETING_RM_SHARE = 0.003  # managers' own offers (source RM) to customers not on the list, per type and month
# Decline reasons (base weights); PRICE grows with the customer's price sensitivity, NONEED is larger when the
# need is not real.
MARKETING_DECLINE_WEIGHTS = {"PRICE": 0.15, "NONEED": 0.2, "OTHERBANK": 0.15, "TERMS": 0.1, "TIMING": 0.15}
MARKETING_DECLINE_PRICE_SLOPE = 0.5
MARKETING_DECLINE_NONEED_EXTRA = 0.4
# channel of an offer by segment (interaction_channel codes and weights)
MARKETING_CHANNELS = {
    "I": (("PHONE", "WECHAT", "BRANCH", "VIDEO"), (0.4, 0.3, 0.25, 0.05)),
    "C": (("VISIT", "WECHAT", "PHONE", "VIDEO"), (0.5, 0.25, 0.15, 0.1)),
}

# ---------------------------------------------------------------------------------------------- coverage and churn (issue 20, synth-a)
# Staff: product specialists (PS) and credit approvers (CA) per branch, in proportion to the branch's managers,
# at least TEAM_STAFF_MIN_PER_BRANCH each, plus TEAM_STAFF_HEAD_OFFICE of each at head office; this share of
# them are leavers (and the last head-office one of each role).
PS_PER_RM = 1 / 6
CA_PER_RM = 1 / 10
TEAM_STAFF_MIN_PER_BRANCH = 2
TEAM_STAFF_HEAD_OFFICE = 2
TEAM_STAFF_LEAVER_SHARE = 0.06
# Leavers left between LEAVER_DAYS[1] and LEAVER_DAYS[0] days before the reference date (status L from then on).
# A leaving manager's book (a 1/(managers + 1) share of the sub-branch's customers onboarded before the leave
# day) moves to another manager of the sub-branch on the leave day.
LEAVER_DAYS = (30, 700)
# Portfolio rebalancing: from REASSIGN_SINCE (or onboarding) a customer's lead manager changes to another
# manager of the sub-branch at this yearly rate (a Poisson process), at most REASSIGN_SLOTS times; none after
# the customer closed.
REASSIGN_RATE = 0.08
REASSIGN_SINCE = dt.date(2019, 1, 1)
REASSIGN_SLOTS = 3
# Coverage teams for key-account-like customers: corporates of these sizes and individuals whose latent
# deposit level is at least TEAM_IND_MIN_DEP_LEVEL yuan. A team has a co-manager (CO, another manager of the
# sub-branch), a product specialist (PS), a risk officer (RO) and a credit approver (CA) of the branch, each
# joining within TEAM_JOIN_DAYS of onboarding; TEAM_INCOMPLETE_SHARE of the teams miss one of the four roles
# (chosen uniformly), the truth the pipeline's "incomplete team" finding should find.
TEAM_CORP_SIZES = ("L", "M")
TEAM_IND_MIN_DEP_LEVEL = 300_000.0
TEAM_JOIN_DAYS = 120
TEAM_INCOMPLETE_SHARE = 0.2
COVERAGE_HISTORY_MONTHS = 24  # ended assignments stay in the snapshot this many months
# Churn with causes. Latent drivers per customer: dissatisfaction (minus the survey disposition
# quality_pref, standardised; it also lowers CSAT/NPS) and complaint propensity (standard normal; the
# service-request complaint rate should scale by exp(COMPLAINT_RATE_SLOPE x it), crm.synthetic.churn
# .complaint_factor). An exit (going dormant, and for EXIT_CLOSE_SHARE of exits closing) comes from
#  - the base exit hazard EXIT_HAZARD per month x exp(EXIT_DISSAT_SLOPE x dissatisfaction
#    + EXIT_COMPLAINT_SLOPE x complaint propensity), from EXIT_MIN_AGE_DAYS after onboarding;
#  - a manager change: with probability MANAGER_CHANGE_EXIT x exp((EXIT_DISSAT_SLOPE x dissatisfaction
#    + EXIT_COMPLAINT_SLOPE x complaint propensity) / 2) (at most 0.9), an exit MANAGER_CHANGE_EXIT_DAYS
#    (uniform) after the change;
#  - the lifecycle decline (balance decline): DORMANT_SHARE of decliners go dormant DECLINE_DORMANT_DAYS[0]
#    + an exponential of mean DECLINE_DORMANT_DAYS[1] days after the decline starts; the dormant/closing
#    shares above (CHURN_SHARE_*) as before.
# An exit is a run-off for EXIT_RUNOFF_SHARE of them (balances decline from EXIT_RUNOFF_DAYS before the
# dormancy, with a decay of EXIT_RUNOFF_TAU months) and abrupt for the others (balances stay until the day
# the customer goes dormant and moves everything away: a balance-drop rule cannot see it coming).
# A dormant customer's balances fall to DORMANT_LEVEL of their level and transactions stop; a closing
# customer closes accounts and products EXIT_CLOSE_DAYS (uniform) after going dormant.
COMPLAINT_RATE_SLOPE = 0.6
EXIT_HAZARD = 0.0007
EXIT_DISSAT_SLOPE = 0.8
EXIT_COMPLAINT_SLOPE = 1.2
EXIT_MIN_AGE_DAYS = 90
MANAGER_CHANGE_EXIT = 0.12
MANAGER_CHANGE_EXIT_DAYS = (30, 180)
DECLINE_DORMANT_DAYS = (30, 120)
EXIT_RUNOFF_SHARE = 0.5
EXIT_RUNOFF_DAYS = (45, 120)
EXIT_RUNOFF_TAU = (1.5, 4.0)
EXIT_CLOSE_SHARE = 0.5
EXIT_CLOSE_DAYS = (15, 90)
DORMANT_LEVEL = 0.05
# ---------------------------------------------------------------------------------------------- service histories (issue 20)
# Key-account-like customers, value-added services, stage actions, the green channel and referrals
# (crm/synthetic/service.py; crm/synthetic/service_truth.py says who got what; docs/synthetic.md "Service histories,
# value-added services and referrals (issue 20)").
# Value band of a customer (the generator's latent value and size): 1 = top, 2 = high, 0 = the others.
# Corporates by enterprise size; individuals by their latent deposit level (yuan, before the lifecycle factor).
SERVICE_BAND_SIZE = {"L": 1, "M": 2}
SERVICE_BAND_DEPOSIT = ((1, 600_000.0), (2, 250_000.0))  # (band, deposit level at least), the first that holds
# Value-added services (interaction purposes BRIEF 行业资讯与简报, TRAIN 培训活动, EVENT 客户活动邀请, ADVISE 顾问咨询服务):
# yearly rates per band. A bank would plan about these; VAS_SHORTFALL_SHARE of the banded customers receive only
# VAS_SHORTFALL_FACTOR of them (their manager falls short of the plan).
VAS_RATES = {
    1: {"BRIEF": 6.0, "TRAIN": 2.0, "EVENT": 3.0, "ADVISE": 2.0},
    2: {"BRIEF": 3.0, "TRAIN": 1.0, "EVENT": 1.0, "ADVISE": 0.5},
}
VAS_SHORTFALL_SHARE = 0.3
VAS_SHORTFALL_FACTOR = 0.35
# channel of a value-added service (interaction_channel codes and weights)
VAS_CHANNELS = {
    "BRIEF": (("WECHAT", "VISIT", "VIDEO"), (0.5, 0.3, 0.2)),
    "TRAIN": (("BRANCH", "VIDEO"), (0.7, 0.3)),
    "EVENT": (("BRANCH", "VISIT"), (0.8, 0.2)),
    "ADVISE": (("VISIT", "VIDEO", "BRANCH"), (0.6, 0.2, 0.2)),
}
# Contact frequency: the regular interaction rate of a banded customer is multiplied by CONTACT_BOOST of its band;
# CONTACT_UNDER_SHARE of them are under-contacted instead (x CONTACT_UNDER_FACTOR, below an ordinary customer).
CONTACT_BOOST = {1: 2.0, 2: 1.5}
CONTACT_UNDER_SHARE = 0.2
CONTACT_UNDER_FACTOR = 0.5
# Stage actions. Each outcome (on time, late, never) with its share; an on-time action falls 1..WINDOW days after
# its trigger (uniform), a late one WINDOW+1..LATE_MAX days after it. None happens on or after the customer's churn.
# ONBOARD (新客户首访): trigger = the onboarding day.
ONBOARD_OUTCOME = (0.8, 0.1, 0.1)
ONBOARD_WINDOW_DAYS = 30
ONBOARD_LATE_MAX_DAYS = 75
ONBOARD_CHANNELS = {"C": (("VISIT", "VIDEO"), (0.85, 0.15)), "I": (("BRANCH", "VISIT", "VIDEO"), (0.5, 0.3, 0.2))}
# RETAIN (客户挽留): trigger = the decline becoming visible, RETAIN_VISIBLE_DAYS after the decline starts (about
# two month ends of falling balances).
RETAIN_VISIBLE_DAYS = 60
RETAIN_OUTCOME = (0.55, 0.15, 0.3)
RETAIN_WINDOW_DAYS = 14
RETAIN_LATE_MAX_DAYS = 45
RETAIN_CHANNELS = (("PHONE", "VISIT", "WECHAT"), (0.5, 0.35, 0.15))
# ALERT (预警核查): trigger = the due date of the first missed instalment of an overdue episode (a customer with no
# loan in arrears at the previous due date falls into arrears).
ALERT_OUTCOME = (0.7, 0.15, 0.15)
ALERT_WINDOW_DAYS = 7
ALERT_LATE_MAX_DAYS = 30
ALERT_CHANNELS = (("VISIT", "PHONE"), (0.4, 0.6))
# Green channel (绿色通道): a banded customer's service request is answered and resolved GREEN_FACTOR times the usual
# time, except GREEN_MISS_SHARE of their requests (the channel was not used: ordinary handling, breaches remain).
GREEN_FACTOR_RESPONSE = 0.4
GREEN_FACTOR_RESOLUTION = 0.5
GREEN_MISS_SHARE = 0.2
# Referrals (客户推荐). A customer is referred (on their onboarding day) with probability
# REFERRAL_SHARE[segment] x exp(REFERRAL_VALUE_TILT x z - REFERRAL_VALUE_TILT^2 / 2), z = the standardised log
# deposit level within the segment (so referred customers are more valuable on average, the share unchanged).
REFERRAL_SHARE = {"I": 0.12, "C": 0.08}
REFERRAL_VALUE_TILT = 0.25
# The referrer: an active customer (onboarded before the day, not declining, dormant or churned), drawn with weight
# exp(REFERRER_SATISFACTION x sat + REFERRER_VALUE x z), sat = the customer's persistent satisfaction (disposition
# + 0.45 x their manager's quality: the part of the survey satisfaction that does not change from survey to survey),
# from the referred customer's sub-branch for REFERRAL_SAME_BRANCH of the referrals (the whole bank otherwise).
REFERRER_SATISFACTION = 3.0
REFERRER_VALUE = 0.3
REFERRAL_SAME_BRANCH = 0.7
# a promoter: expected NPS of at least 9 (7.3 + 1.9 sat >= 8.5, the surveys' formula), i.e. sat >= PROMOTER_SAT
PROMOTER_SAT = (8.5 - 7.3) / 1.9
# channel of a referral (referral_channel codes and weights); the referrer's manager takes it except by APP
REFERRAL_CHANNELS = (("RM", "APP", "EVENT", "BRANCH"), (0.45, 0.3, 0.1, 0.15))

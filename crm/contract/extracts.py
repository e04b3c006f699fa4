"""The extract declarations: one :class:`Extract` per file the core systems send every business date.

Layouts follow what Chinese core-banking, credit-management and credit-bureau (人行征信二代) interfaces
carry, reduced to what a credit CRM needs. Money is in 元 with two decimals; rates in percent per year.
"""

from __future__ import annotations

import datetime as dt

from crm.contract.model import Column, Extract, ForeignKey


def s(name: str, title: str, **kw) -> Column:
    """A string column. Its text policy (control and format characters) unless given: none for a code set
    (only its codes pass anyway), ``strip`` for free text, ``reject`` for everything else."""
    if "text" not in kw and not kw.get("code_set"):
        kw["text"] = "strip" if kw.get("semantic") == "free_text" else "reject"
    return Column(name, "string", title, **kw)


def i(name: str, title: str, **kw) -> Column:
    return Column(name, "int", title, **kw)


def m(name: str, title: str, **kw) -> Column:
    """Money or other decimal."""
    return Column(name, "decimal", title, **kw)


def d(name: str, title: str, **kw) -> Column:
    return Column(name, "date", title, **kw)


def t(name: str, title: str, **kw) -> Column:
    return Column(name, "timestamp", title, **kw)


REQ = {"nullable": False}


def fk(cols: str | tuple[str, ...], extract: str, ref: str | tuple[str, ...] | None = None) -> ForeignKey:
    cols_t = (cols,) if isinstance(cols, str) else cols
    ref_t = cols_t if ref is None else ((ref,) if isinstance(ref, str) else ref)
    return ForeignKey(cols_t, extract, ref_t)


BRANCHES = Extract(
    name="branches",
    file_code="BRANCH",
    title="机构信息",
    description="Bank organisation: head office, branches (分行) and sub-branches (支行).",
    columns=(
        s("branch_id", "机构号", id_kind="branch", max_length=10, **REQ),
        s("branch_name", "机构名称", max_length=60, **REQ),
        s("parent_branch_id", "上级机构号", id_kind="branch", max_length=10),
        s("branch_level", "机构层级", code_set="branch_level", **REQ),
        s("province", "省份", max_length=20, **REQ),
        s("city", "城市", max_length=20, **REQ),
        d("opened_date", "成立日期", **REQ),
        s("status", "机构状态", code_set="branch_status", **REQ),
    ),
    key=("branch_id",),
    references=(fk("parent_branch_id", "branches", "branch_id"),),
)

STAFF = Extract(
    name="staff",
    file_code="STAFF",
    title="员工信息",
    description="Staff directory: relationship managers, branch heads, risk officers, auditors, with e-mail.",
    columns=(
        s("staff_id", "员工号", id_kind="staff", max_length=10, **REQ),
        s("staff_name", "员工姓名", max_length=30, pii="C2", semantic="person_name", **REQ),
        s("role", "岗位", code_set="staff_role", **REQ),
        s("branch_id", "所属机构", id_kind="branch", max_length=10, **REQ),
        s("email", "电子邮箱", max_length=80, pii="C2", semantic="email", **REQ),
        s("mobile", "手机号码", max_length=11, pii="C2", semantic="mobile"),
        d("hire_date", "入职日期", **REQ),
        s("status", "在职状态", code_set="staff_status", **REQ),
    ),
    key=("staff_id",),
    references=(fk("branch_id", "branches"),),
)

CUSTOMERS = Extract(
    name="customers",
    file_code="CUST_INDV",
    title="个人客户信息",
    description="Individual (retail and sole-proprietor) credit customers.",
    columns=(
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("customer_name", "客户姓名", max_length=30, pii="C2", semantic="person_name", **REQ),
        s("id_type", "证件类型", code_set="id_type", **REQ),
        s("id_number", "证件号码", id_kind="certificate", max_length=18, pii="C2", semantic="id_number", **REQ),
        s("gender", "性别", code_set="gender", **REQ),
        d("birth_date", "出生日期", pii="C2", semantic="birth_date", **REQ),
        s("mobile", "手机号码", max_length=11, pii="C2", semantic="mobile", **REQ),
        s("address", "居住地址", max_length=120, pii="C2", semantic="address"),
        s("province", "省份", max_length=20),
        s("city", "城市", max_length=20),
        s("occupation", "职业", code_set="occupation"),
        s("employer", "工作单位", max_length=60),
        m("annual_income", "年收入(元)", min_value=0, pii="C2"),
        s("education", "学历", code_set="education"),
        s("marital_status", "婚姻状况", code_set="marital_status"),
        s("branch_id", "归属机构", id_kind="branch", max_length=10, **REQ),
        s("manager_id", "客户经理", id_kind="staff", max_length=10, **REQ),
        d("onboarding_date", "建立关系日期", **REQ),
        s("status", "客户状态", code_set="customer_status", **REQ),
    ),
    key=("customer_id",),
    references=(fk("branch_id", "branches"), fk("manager_id", "staff", "staff_id")),
)

CORPORATES = Extract(
    name="corporates",
    file_code="CUST_CORP",
    title="对公客户信息",
    description="Corporate credit customers (enterprises), with the legal representative.",
    columns=(
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("company_name", "企业名称", max_length=80, semantic="company_name", **REQ),
        s("uscc", "统一社会信用代码", max_length=18, semantic="uscc", **REQ),
        s("legal_rep_name", "法定代表人", max_length=30, pii="C2", semantic="person_name", **REQ),
        s(
            "legal_rep_id_number",
            "法定代表人证件号码",
            id_kind="certificate",
            max_length=18,
            pii="C2",
            semantic="id_number",
        ),
        s("industry", "行业门类(GB/T 4754)", code_set="industry", **REQ),
        s("enterprise_size", "企业规模", code_set="enterprise_size", **REQ),
        m("registered_capital", "注册资本(元)", min_value=0, **REQ),
        d("established_date", "成立日期", **REQ),
        s("registered_address", "注册地址", max_length=120, semantic="address"),
        s("province", "省份", max_length=20),
        s("city", "城市", max_length=20),
        i("employees", "从业人数", min_value=0),
        m("annual_revenue", "上年营业收入(元)", min_value=0),
        s("branch_id", "归属机构", id_kind="branch", max_length=10, **REQ),
        s("manager_id", "客户经理", id_kind="staff", max_length=10, **REQ),
        d("onboarding_date", "建立关系日期", **REQ),
        s("status", "客户状态", code_set="customer_status", **REQ),
    ),
    key=("customer_id",),
    references=(fk("branch_id", "branches"), fk("manager_id", "staff", "staff_id")),
)

CONTACTS = Extract(
    name="contacts",
    file_code="CONTACT",
    title="客户联系人",
    description="Family members, emergency contacts, partners and finance officers of customers.",
    columns=(
        s("contact_id", "联系人编号", id_kind="contact", max_length=20, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("contact_type", "联系人类型", code_set="contact_type", **REQ),
        s("relationship", "关系", code_set="relationship", **REQ),
        s("contact_name", "联系人姓名", max_length=30, pii="C2", semantic="person_name", **REQ),
        s("contact_id_number", "联系人证件号码", id_kind="certificate", max_length=18, pii="C2", semantic="id_number"),
        s("contact_mobile", "联系人手机", max_length=11, pii="C2", semantic="mobile", **REQ),
        s("is_primary", "是否主要联系人", code_set="flag", **REQ),
    ),
    key=("contact_id",),
    references=(fk("customer_id", "customer_master"),),
)

RELATED_PARTIES = Extract(
    name="related_parties",
    file_code="REL_PARTY",
    title="关联方信息",
    description=(
        "Shareholders, actual controllers, guarantors, affiliates, suppliers and buyers of customers. "
        "related_customer_id is set when the party is itself a customer of the bank."
    ),
    columns=(
        s("relation_id", "关联关系编号", id_kind="relation", max_length=20, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("relation_type", "关联类型", code_set="relation_type", **REQ),
        s("party_type", "关联方类型", code_set="party_type", **REQ),
        s("related_customer_id", "关联方客户号", id_kind="customer", max_length=16),
        s("related_name", "关联方名称", max_length=80, pii="C2", semantic="person_name", **REQ),
        s("related_cert_number", "关联方证件号码/统一社会信用代码", id_kind="certificate", max_length=18, pii="C2"),
        m("share_ratio", "持股比例(%)", min_value=0, max_value=100),
        m("amount", "担保金额/年交易额(元)", min_value=0),
        d("start_date", "关系起始日", **REQ),
        d("end_date", "关系终止日"),
    ),
    key=("relation_id",),
    references=(fk("customer_id", "customer_master"),),
)

LOANS = Extract(
    name="loans",
    file_code="LOAN",
    title="贷款合同及借据",
    description="Loan contracts with their outstanding balance, overdue status and reported five-category class.",
    columns=(
        s("loan_id", "借据号", id_kind="loan", max_length=24, **REQ),
        s("contract_id", "合同号", id_kind="contract", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("product_code", "贷款品种", code_set="loan_product", **REQ),
        s("currency", "币种", code_set="currency", **REQ),
        m("contract_amount", "合同金额(元)", min_value=0, **REQ),
        m("balance", "贷款余额(元)", min_value=0, **REQ),
        m("interest_rate", "执行利率(%)", min_value=0, max_value=36, scale=4, **REQ),
        s("rate_type", "利率类型", code_set="rate_type", **REQ),
        d("start_date", "放款日期", **REQ),
        d("maturity_date", "到期日期", **REQ),
        s("repayment_method", "还款方式", code_set="repayment_method", **REQ),
        s("guarantee_type", "担保方式", code_set="guarantee_type", **REQ),
        s("five_class", "五级分类(报送)", code_set="five_class", **REQ),
        i("overdue_days", "逾期天数", min_value=0, **REQ),
        m("overdue_principal", "逾期本金(元)", min_value=0, **REQ),
        m("overdue_interest", "欠息(元)", min_value=0, **REQ),
        s("restructured", "是否重组", code_set="flag", **REQ),
        s("status", "借据状态", code_set="loan_status", **REQ),
        s("repay_card_no", "还款账号", max_length=19, pii="C2", semantic="card_number"),
        s("branch_id", "经办机构", id_kind="branch", max_length=10, **REQ),
    ),
    key=("loan_id",),
    control_sum_column="balance",
    references=(fk("customer_id", "customer_master"), fk("branch_id", "branches")),
)

REPAYMENTS = Extract(
    name="repayments",
    file_code="REPAY",
    title="还款流水",
    description="Instalments that fell due or were paid on the business date.",
    mode="delta",
    columns=(
        s("repayment_id", "还款流水号", id_kind="repayment", max_length=30, **REQ),
        s("loan_id", "借据号", id_kind="loan", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        i("period_no", "期次", min_value=1, **REQ),
        d("due_date", "应还日期", **REQ),
        d("paid_date", "实还日期"),
        m("principal_due", "应还本金(元)", min_value=0, **REQ),
        m("interest_due", "应还利息(元)", min_value=0, **REQ),
        m("principal_paid", "实还本金(元)", min_value=0, **REQ),
        m("interest_paid", "实还利息(元)", min_value=0, **REQ),
        m("penalty_paid", "实还罚息(元)", min_value=0, **REQ),
        i("days_late", "逾期天数", min_value=0, **REQ),
        s("channel", "还款渠道", code_set="repay_channel"),
    ),
    key=("repayment_id",),
    control_sum_column="principal_paid",
    business_date_column="due_date",
    references=(fk("loan_id", "loans"), fk("customer_id", "customer_master")),
)

LOAN_PERFORMANCE = Extract(
    name="loan_performance",
    file_code="LOAN_PERF",
    title="贷款月末表现",
    description=(
        "Month-end snapshot of every loan alive during the month. The first month-end file of an "
        "installation carries the 36 preceding month-ends as history (the initial load)."
    ),
    mode="snapshot",
    cadence="month_end",
    columns=(
        d("snapshot_date", "快照月末日", **REQ),
        s("loan_id", "借据号", id_kind="loan", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("product_code", "贷款品种", code_set="loan_product", **REQ),
        m("balance", "月末余额(元)", min_value=0, **REQ),
        i("overdue_days", "逾期天数", min_value=0, **REQ),
        m("overdue_amount", "逾期金额(元)", min_value=0, **REQ),
        s("five_class", "五级分类(报送)", code_set="five_class", **REQ),
        s("status", "借据状态", code_set="loan_status", **REQ),
    ),
    key=("snapshot_date", "loan_id"),
    control_sum_column="balance",
    references=(fk("customer_id", "customer_master"),),
)

DEPOSITS = Extract(
    name="deposits",
    file_code="DEPOSIT",
    title="存款账户",
    description="Deposit accounts with balance and month-to-date average daily balance (月日均).",
    columns=(
        s("account_id", "账号", id_kind="account", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("card_number", "卡号", max_length=19, pii="C2", semantic="card_number"),
        s("product_type", "存款品种", code_set="deposit_product", **REQ),
        s("currency", "币种", code_set="currency", **REQ),
        d("open_date", "开户日期", **REQ),
        d("maturity_date", "到期日期"),
        d("close_date", "销户日期"),
        m("balance", "账户余额(元)", min_value=0, **REQ),
        m("mtd_avg_balance", "月日均余额(元)", min_value=0, **REQ),
        m("interest_rate", "执行利率(%)", min_value=0, max_value=10, scale=4, **REQ),
        s("status", "账户状态", code_set="account_status", **REQ),
        s("branch_id", "开户机构", id_kind="branch", max_length=10, **REQ),
    ),
    key=("account_id",),
    control_sum_column="balance",
    references=(fk("customer_id", "customer_master"), fk("branch_id", "branches")),
)

# The history the value assessment needs (issue 18), added to the contract on 2024-01-01: an installation that
# starts later receives the initial load with its first files (see each description).
VALUE_HISTORY_SINCE = dt.date(2024, 1, 1)

DEPOSIT_BALANCES = Extract(
    name="deposit_balances",
    file_code="DEP_BAL",
    title="存款账户月末余额",
    description=(
        "Month-end balance, the month's average daily balance (月日均) and the executed rate of every deposit "
        "account open during the month. The first month-end file of an installation carries the 24 preceding "
        "month-ends as history (the initial load); each later file carries its month."
    ),
    mode="snapshot",
    cadence="month_end",
    columns=(
        d("snapshot_date", "快照月末日", **REQ),
        s("account_id", "账号", id_kind="account", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("product_type", "存款品种", code_set="deposit_product", **REQ),
        s("currency", "币种", code_set="currency", **REQ),
        m("balance", "月末余额(元)", min_value=0, **REQ),
        m("avg_balance", "月日均余额(元)", min_value=0, **REQ),
        m("interest_rate", "执行利率(%)", min_value=0, max_value=10, scale=4, **REQ),
        s("status", "账户状态", code_set="account_status", **REQ),
        s("branch_id", "开户机构", id_kind="branch", max_length=10, **REQ),
    ),
    key=("snapshot_date", "account_id"),
    control_sum_column="balance",
    references=(fk("customer_id", "customer_master"), fk("branch_id", "branches")),
    since=VALUE_HISTORY_SINCE,
)

TRANSACTIONS = Extract(
    name="transactions",
    file_code="TXN",
    title="交易流水",
    description="Posted deposit-account transactions of the business date.",
    mode="delta",
    columns=(
        s("txn_id", "交易流水号", id_kind="transaction", max_length=32, **REQ),
        s("account_id", "账号", id_kind="account", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        t("txn_time", "交易时间", **REQ),
        s("direction", "借贷方向", code_set="txn_direction", **REQ),
        m("amount", "交易金额(元)", min_value=0, **REQ),
        m("balance_after", "交易后余额(元)"),
        s("channel", "交易渠道", code_set="txn_channel", **REQ),
        s("txn_type", "交易类型", code_set="txn_type", **REQ),
        s("counterparty_name", "对方户名", max_length=80, pii="C2", semantic="person_name"),
        s("counterparty_account", "对方账号", max_length=24, pii="C2", semantic="card_number"),
        s("remark", "摘要", max_length=60, semantic="free_text"),
    ),
    key=("txn_id",),
    control_sum_column="amount",
    business_date_column="txn_time",
    references=(fk("account_id", "deposits"), fk("customer_id", "customer_master")),
)

TXN_MONTHLY = Extract(
    name="txn_monthly",
    file_code="TXN_MON",
    title="交易月度汇总",
    description=(
        "Posted deposit-account transactions of each customer per calendar month, by transaction type, channel "
        "and direction: count, amount, how many distinct counterparties and the amount exchanged with the "
        "largest one (counterparties are counted, never named). The first month-end file of an installation "
        "carries the 24 preceding months as history (the initial load); each later file carries its month."
    ),
    mode="snapshot",
    cadence="month_end",
    columns=(
        d("snapshot_date", "月末日", **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("txn_type", "交易类型", code_set="txn_type", **REQ),
        s("channel", "交易渠道", code_set="txn_channel", **REQ),
        s("direction", "借贷方向", code_set="txn_direction", **REQ),
        i("txn_count", "交易笔数", min_value=1, **REQ),
        m("amount", "交易金额(元)", min_value=0, **REQ),
        i("counterparty_count", "交易对手数", min_value=0, **REQ),
        m("top_counterparty_amount", "最大交易对手金额(元)", min_value=0),
    ),
    key=("snapshot_date", "customer_id", "txn_type", "channel", "direction"),
    control_sum_column="amount",
    references=(fk("customer_id", "customer_master"),),
    since=VALUE_HISTORY_SINCE,
)

PRODUCT_HOLDINGS = Extract(
    name="product_holdings",
    file_code="HOLDING",
    title="产品持有",
    description="Every product a customer holds or held with the bank, by product family.",
    columns=(
        s("holding_id", "持有编号", id_kind="holding", max_length=30, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("product_family", "产品大类", code_set="product_family", **REQ),
        s("product_code", "产品代码", id_kind="product", max_length=12, **REQ),
        d("open_date", "开立日期", **REQ),
        d("close_date", "结清日期"),
        m("amount", "持有金额(元)", min_value=0),
        s("status", "持有状态", code_set="holding_status", **REQ),
    ),
    key=("holding_id",),
    control_sum_column="amount",
    references=(fk("customer_id", "customer_master"),),
)

FEE_LEDGER = Extract(
    name="fee_ledger",
    file_code="FEE",
    title="中间业务收入明细",
    description=(
        "Fee and commission income (手续费及佣金收入) booked on the business date, per customer, product and fee "
        "type; a reversal is booked as a negative amount that names the record it reverses. The first file of "
        "an installation carries the 12 preceding months as history (the initial load)."
    ),
    mode="delta",
    columns=(
        s("fee_id", "收费流水号", id_kind="fee", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("product_family", "产品大类", code_set="product_family", **REQ),
        s("product_code", "产品代码", id_kind="product", max_length=12),
        s("fee_type", "收费类型", code_set="fee_type", **REQ),
        m("amount", "收入金额(元)", min_value=-1_000_000_000, **REQ),
        d("fee_date", "入账日期", **REQ),
        s("account_id", "收费账号", id_kind="account", max_length=24),
        s("reversal_of", "冲正原流水号", id_kind="fee", max_length=24),
        s("branch_id", "入账机构", id_kind="branch", max_length=10, **REQ),
    ),
    key=("fee_id",),
    control_sum_column="amount",
    business_date_column="fee_date",
    references=(fk("customer_id", "customer_master"), fk("branch_id", "branches")),
    since=VALUE_HISTORY_SINCE,
)

FINANCIAL_STATEMENTS = Extract(
    name="financial_statements",
    file_code="FIN_STMT",
    title="企业财务报表",
    description=(
        "Balance sheet, income statement and cash flow of corporate customers, as collected by the bank. "
        "Each month-end file carries the statements received during the month; the first carries "
        "three years of history."
    ),
    mode="delta",
    cadence="month_end",
    columns=(
        s("statement_id", "报表编号", id_kind="statement", max_length=30, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        d("report_period", "报告期末日", **REQ),
        s("period_type", "报表类型", code_set="period_type", **REQ),
        s("audited", "是否审计", code_set="flag", **REQ),
        d("received_date", "收到日期", **REQ),
        m("cash", "货币资金"),
        m("receivables", "应收账款"),
        m("inventory", "存货"),
        m("current_assets", "流动资产合计"),
        m("fixed_assets", "固定资产"),
        m("total_assets", "资产总计", min_value=0, **REQ),
        m("short_term_debt", "短期借款"),
        m("current_liabilities", "流动负债合计"),
        m("long_term_debt", "长期借款"),
        m("total_liabilities", "负债合计", min_value=0, **REQ),
        m("equity", "所有者权益合计", **REQ),
        m("revenue", "营业收入"),
        m("cost_of_sales", "营业成本"),
        m("operating_profit", "营业利润"),
        m("interest_expense", "利息费用"),
        m("net_profit", "净利润"),
        m("operating_cash_flow", "经营活动现金流量净额"),
        m("investing_cash_flow", "投资活动现金流量净额"),
        m("financing_cash_flow", "筹资活动现金流量净额"),
    ),
    key=("statement_id",),
    control_sum_column="total_assets",
    business_date_column="received_date",
    references=(fk("customer_id", "corporates"),),
)

BUREAU_RECORDS = Extract(
    name="bureau_records",
    file_code="CREDIT_RPT",
    title="征信报告摘要",
    description=(
        "Summary of the credit-bureau report (人行征信) pulled for a customer on the business date: "
        "external debt, utilisation, inquiries and worst delinquency."
    ),
    mode="delta",
    columns=(
        s("report_id", "报告编号", id_kind="bureau_report", max_length=30, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        d("query_date", "查询日期", **REQ),
        s("query_reason", "查询原因", code_set="query_reason", **REQ),
        d("first_credit_date", "首笔信贷发放日期"),
        i(
            "external_loan_count",
            "他行贷款笔数",
            description="Loans with other lenders (a count of loans, not of lenders: two loans at one bank count two).",
            min_value=0,
            **REQ,
        ),
        m("external_loan_balance", "他行贷款余额(元)", min_value=0, **REQ),
        m("card_credit_limit", "信用卡授信总额(元)", min_value=0),
        m("card_utilisation", "信用卡使用率(%)", min_value=0, max_value=200),
        m("external_guarantee_amount", "对外担保金额(元)", min_value=0),
        i("inquiries_3m", "近3个月审批查询次数", min_value=0, **REQ),
        i("inquiries_12m", "近12个月审批查询次数", min_value=0, **REQ),
        i("overdue_count_24m", "近24个月逾期次数", min_value=0, **REQ),
        i("worst_overdue_months_24m", "近24个月最长逾期月数", min_value=0, max_value=7, **REQ),
        m("current_overdue_amount", "当前逾期金额(元)", min_value=0, **REQ),
        s("has_bad_debt", "是否有呆账", code_set="flag", **REQ),
    ),
    key=("report_id",),
    business_date_column="query_date",
    references=(fk("customer_id", "customer_master"),),
)

INTERACTIONS = Extract(
    name="interactions",
    file_code="VISIT",
    title="客户拜访与接触",
    description="Visits, calls and messages between managers and customers, with the manager's notes.",
    mode="delta",
    columns=(
        s("interaction_id", "接触编号", id_kind="interaction", max_length=30, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("staff_id", "员工号", id_kind="staff", max_length=10, **REQ),
        t("interaction_time", "接触时间", **REQ),
        s("channel", "接触方式", code_set="interaction_channel", **REQ),
        s("purpose", "接触目的", code_set="interaction_purpose", **REQ),
        i("duration_minutes", "时长(分钟)", min_value=0, max_value=600),
        s("notes", "拜访记录", max_length=500, pii="C2", semantic="free_text"),
        d("next_visit_date", "计划下次拜访日期"),
    ),
    key=("interaction_id",),
    business_date_column="interaction_time",
    references=(fk("customer_id", "customer_master"), fk("staff_id", "staff")),
)

SERVICE_REQUESTS = Extract(
    name="service_requests",
    file_code="SVC_REQ",
    title="服务请求",
    description=(
        "Service requests and complaints. A request is sent when it opens and again whenever it changes; "
        "the latest record per request_id is its state."
    ),
    mode="delta",
    columns=(
        s("request_id", "工单号", id_kind="request", max_length=30, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        t("opened_time", "受理时间", **REQ),
        s("channel", "受理渠道", code_set="sr_channel", **REQ),
        s("category", "工单类别", code_set="sr_category", **REQ),
        s("priority", "优先级", code_set="priority", **REQ),
        s("assigned_staff_id", "处理人", id_kind="staff", max_length=10),
        t("first_response_time", "首次响应时间"),
        t("resolved_time", "解决时间"),
        s("status", "工单状态", code_set="sr_status", **REQ),
        s("description", "问题描述", max_length=500, pii="C2", semantic="free_text"),
    ),
    key=("request_id",),
    references=(fk("customer_id", "customer_master"), fk("assigned_staff_id", "staff", "staff_id")),
)

SURVEYS = Extract(
    name="surveys",
    file_code="SURVEY",
    title="满意度调查",
    description=(
        "Satisfaction surveys sent and answered on the business date: CSAT (1-5), NPS likelihood (0-10), "
        "attribute ratings (1-5) and a free-text comment. Unanswered surveys have no response date."
    ),
    mode="delta",
    columns=(
        s("survey_id", "问卷编号", id_kind="survey", max_length=30, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("staff_id", "服务客户经理", id_kind="staff", max_length=10),
        s("channel", "调查渠道", code_set="survey_channel", **REQ),
        s("trigger", "触发场景", code_set="survey_trigger", **REQ),
        s("related_id", "关联拜访/工单号", id_kind=("interaction", "request", "loan"), max_length=30),
        s("product_family", "涉及产品大类", code_set="product_family"),
        d("sent_date", "发送日期", **REQ),
        d("response_date", "回复日期"),
        i("csat", "总体满意度(1-5)", min_value=1, max_value=5),
        i("nps", "推荐意愿(0-10)", min_value=0, max_value=10),
        i("rating_responsiveness", "响应及时性(1-5)", min_value=1, max_value=5),
        i("rating_professionalism", "专业能力(1-5)", min_value=1, max_value=5),
        i("rating_product", "产品满意度(1-5)", min_value=1, max_value=5),
        i("rating_pricing", "价格与费率(1-5)", min_value=1, max_value=5),
        i("rating_digital", "线上渠道体验(1-5)", min_value=1, max_value=5),
        s("comment", "意见与建议", max_length=500, pii="C2", semantic="free_text"),
    ),
    key=("survey_id",),
    business_date_column="sent_date",
    references=(fk("customer_id", "customer_master"), fk("staff_id", "staff")),
)

# The bank's marketing and opportunity records (营销商机) are sent from 2025-01-01 (contract version of that date).
OPPORTUNITIES_SINCE = dt.date(2025, 1, 1)

OPPORTUNITIES = Extract(
    name="opportunities",
    file_code="OPPTY",
    title="营销商机记录",
    description=(
        "Proposals offered to customers (营销方案与商机) and their outcome: who offered what, when, through which "
        "channel, and whether the customer accepted (with the resulting contract or holding), declined (with the "
        "reason) or is still deciding. A record is sent on the day the proposal is offered and again whenever "
        "its outcome changes; the latest record per opportunity_id is its state. Customers held out of a "
        "proposal (the control group) have no record: their take-up is read from the products they open."
    ),
    mode="delta",
    columns=(
        s("opportunity_id", "商机编号", id_kind="opportunity", max_length=24, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("proposal_type", "方案类型", code_set="proposal_type", **REQ),
        s("product_family", "产品大类", code_set="product_family", **REQ),
        s("product_code", "产品代码", id_kind="product", max_length=12),
        s("source", "商机来源", code_set="opportunity_source", **REQ),
        d("offered_date", "推荐日期", **REQ),
        s("channel", "推荐渠道", code_set="interaction_channel", **REQ),
        s("staff_id", "推荐人", id_kind="staff", max_length=10, **REQ),
        m("offered_amount", "推荐金额(元)", min_value=0),
        s("outcome", "营销结果", code_set="opportunity_outcome", **REQ),
        d("outcome_date", "结果日期"),
        s("contract_id", "成交合同号/持有编号", id_kind=("contract", "holding"), max_length=24),
        s("decline_reason", "拒绝原因", code_set="decline_reason"),
    ),
    key=("opportunity_id",),
    references=(fk("customer_id", "customer_master"), fk("staff_id", "staff")),
    since=OPPORTUNITIES_SINCE,
)

# Coverage teams and referrals (issue 20) are sent from 2025-01-01, the contract version of the opportunities.
COVERAGE_SINCE = OPPORTUNITIES_SINCE
REFERRALS_SINCE = OPPORTUNITIES_SINCE

COVERAGE = Extract(
    name="coverage",
    file_code="COVER",
    title="客户服务团队",
    description=(
        "Who serves each customer (客户服务团队): the lead relationship manager and, for the customers who have "
        "them, co-managers, product specialists, risk officers and credit approvers, each assignment with its "
        "from and to dates. A month-end snapshot of every assignment active at the month end or ended in the "
        "preceding 24 months, so a manager change and its date can be read from the lead-manager rows."
    ),
    mode="snapshot",
    cadence="month_end",
    columns=(
        d("snapshot_date", "快照月末日", **REQ),
        s("coverage_id", "服务关系编号", id_kind="coverage", max_length=20, **REQ),
        s("customer_id", "客户号", id_kind="customer", max_length=16, **REQ),
        s("staff_id", "员工号", id_kind="staff", max_length=10, **REQ),
        s("role", "团队角色", code_set="coverage_role", **REQ),
        d("from_date", "起始日期", **REQ),
        d("to_date", "终止日期"),
    ),
    key=("snapshot_date", "coverage_id"),
    references=(fk("customer_id", "customer_master"), fk("staff_id", "staff")),
    since=COVERAGE_SINCE,
)

REFERRALS = Extract(
    name="referrals",
    file_code="REFER",
    title="客户推荐记录",
    description=(
        "Who referred whom (客户推荐): a record is sent on the day a referred customer opens their relationship, "
        "naming the referring customer, the channel the referral came through and the staff member who took it. "
        "A small extract of its own, so the customer extracts' layouts do not change."
    ),
    mode="delta",
    columns=(
        s("referral_id", "推荐编号", id_kind="referral", max_length=22, **REQ),
        s("referrer_customer_id", "推荐人客户号", id_kind="customer", max_length=16, **REQ),
        s("referred_customer_id", "被推荐客户号", id_kind="customer", max_length=16, **REQ),
        d("referral_date", "推荐日期", **REQ),
        s("channel", "推荐渠道", code_set="referral_channel", **REQ),
        s("staff_id", "受理员工", id_kind="staff", max_length=10),
    ),
    key=("referral_id",),
    business_date_column="referral_date",
    references=(
        fk("referrer_customer_id", "customer_master", "customer_id"),
        fk("referred_customer_id", "customer_master", "customer_id"),
        fk("staff_id", "staff"),
    ),
    since=REFERRALS_SINCE,
)

EXTRACTS: tuple[Extract, ...] = (
    BRANCHES,
    STAFF,
    CUSTOMERS,
    CORPORATES,
    CONTACTS,
    RELATED_PARTIES,
    LOANS,
    REPAYMENTS,
    LOAN_PERFORMANCE,
    DEPOSITS,
    DEPOSIT_BALANCES,
    TRANSACTIONS,
    TXN_MONTHLY,
    PRODUCT_HOLDINGS,
    FEE_LEDGER,
    FINANCIAL_STATEMENTS,
    BUREAU_RECORDS,
    INTERACTIONS,
    SERVICE_REQUESTS,
    SURVEYS,
    OPPORTUNITIES,
    COVERAGE,
    REFERRALS,
)

# "customer_master" in a ForeignKey means: a customer_id of either customers or corporates.
CUSTOMER_MASTER = ("customers", "corporates")

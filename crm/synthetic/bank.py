"""The synthetic bank: its static universe plus per-date state, with small caches for consecutive dates."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

import numpy as np

from crm.synthetic import (
    cal,
    churn,
    coverage,
    deposits,
    events,
    fees,
    holdings,
    loans,
    marketing,
    needs,
    params,
    profiles,
    relations,
    world,
)
from crm.synthetic.world import NS


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class Bank:
    def __init__(
        self,
        seed: int,
        customers: int,
        start: dt.date,
        end: dt.date,
        history_months: int = params.VALUE_HISTORY_MONTHS,
        masking_key=None,
        holdout_share: float | None = None,
        holdout_salt: str | None = None,
    ):
        """``masking_key``: the key ring the pipeline tokenises customers with (a KeyRing or a spec
        ``crm.privacy.tokens.load_ring`` takes; None: the front office's fixed ring); ``holdout_share`` and
        ``holdout_salt``: the proposals' hold-out (default ``[proposals.holdout]`` of the playbook config)."""
        self.seed, self.n = int(seed), int(customers)
        self.history_months = int(history_months)
        self.start_day, self.end_day = cal.day(start), cal.day(end)
        ref = cal.day(params.REFERENCE_DATE)
        self.org = world.build_org(self.seed, self.n)
        c = world.build_customers(self.seed, self.n, self.end_day, self.org)
        base_sb = np.bincount(c.sb[c.uid < self.n], minlength=len(self.org.sb_rows))
        world.build_staff(self.seed, self.org, base_sb)
        # lead managers over time: leavers' books moved, portfolio rebalancing (issue 20)
        coverage.build_manager_history(self.seed, self.org, c)
        self.c = c
        self.ind = profiles.build_individuals(self.seed, c, ref)
        self.corp = profiles.build_corporates(self.seed, c, ref)
        world.build_lifecycle(self.seed, c, self.ind, self.corp)
        # churn with causes (issue 20): dissatisfaction, complaints, manager changes besides the decline; then
        # no manager change after closing, and the coverage teams of key-account-like customers
        churn.build(self.seed, c)
        coverage.truncate_after(c)
        self.teams = coverage.build_teams(self.seed, self.org, c, self.corp)
        self.acc = deposits.build_accounts(self.seed, c, self.ind, self.corp)
        # customers' latent needs (issue 19): seasonal cycles, growth spurts, concentration, life events
        needs.build(self.seed, c, self.ind, self.corp, self.acc)
        # loans starting up to a month after the range: their approval queries fall inside it
        self.loans = loans.build_loans(self.seed, c, self.ind, self.corp, self.end_day + 31)
        # states from the oldest month any file of the range reads: loan performance's history, or the bureau
        # window (24 months) of the oldest pull of the bureau initial load
        first_m = int(cal.month_of(self.start_day)) - max(params.HISTORY_MONTHS, self.history_months + 24) - 2
        loans.simulate(self.seed, self.loans, c, int(cal.month_of(self.end_day)), first_m)
        self.contacts = relations.build_contacts(self.seed, c, self.ind, self.corp)
        self.related = relations.build_related(self.seed, c, self.ind, self.corp, self.loans)
        self.holdings = holdings.build_holdings(self.seed, c, self.ind, self.corp, self.acc, self.loans)
        self.names = deposits.counterparty_vocab(self.seed, c, self.ind, self.corp)
        self.size = np.full(len(c.uid), "", dtype=object)
        self.size[self.corp.pos] = self.corp.size
        # the front office works the proposal lists; the products it sells (and organic take-up) join the holdings
        self.ring = marketing.resolve_ring(masking_key)
        self.holdout_share, self.holdout_salt = marketing.holdout_settings(holdout_share, holdout_salt)
        self.front_office = marketing.simulate(self, self.ring, self.holdout_share, self.holdout_salt)
        self.holdings = marketing.merge_holdings(self.holdings, self.front_office.holdings)
        # names and contact data per customer, for free text
        n = len(c.uid)
        self.display_name = np.empty(n, dtype=object)
        self.person_name = np.empty(n, dtype=object)
        self.mobile = np.empty(n, dtype=object)
        self.id_number = np.full(n, None, dtype=object)
        self.display_name[self.ind.pos] = self.ind.name
        self.person_name[self.ind.pos] = self.ind.name
        self.mobile[self.ind.pos] = self.ind.mobile
        self.id_number[self.ind.pos] = self.ind.id_number
        self.display_name[self.corp.pos] = self.corp.name
        self.person_name[self.corp.pos] = self.corp.rep_name
        self.id_number[self.corp.pos] = self.corp.rep_id
        fin = self.contacts.contact_type == "FINANCE"
        self.mobile[self.contacts.cust[fin]] = self.contacts.mobile[fin]
        # per customer: enterprise size ("" for individuals), revenue, card utilisation; per loan line: the
        # supply-chain finance product of the line (fees)
        self.revenue = np.zeros(n)
        self.revenue[self.corp.pos] = self.corp.revenue0
        self.card_util = np.zeros(n)
        self.card_util[self.ind.pos] = self.ind.util
        self.scf_code = np.full(len(self.loans.line_uid), "SCFAR01", dtype=object)
        h = self.holdings
        scf = (h.source == 10) & (h.src_row >= 0)  # a line's limit (the front office's SCF holdings have none)
        self.scf_code[h.src_row[scf]] = h.code_vocab[h.code_idx[scf]]
        # the borrowing drivers of the wallet share (individuals' debt to income, corporates' leverage) and our
        # reference exposure before a customer's first loan (60% of the first amounts of the customer's lines)
        self.debt_driver = np.zeros(n)
        self.debt_driver[self.ind.pos] = self.ind.d_dti
        self.debt_driver[self.corp.pos] = self.corp.d_lev
        self.line_reference = 0.6 * np.bincount(self.loans.line_cust, weights=self.loans.line_amount0, minlength=n)
        self._loan_state = _LRU(3)
        self._status = _LRU(3)
        self._bridge = _LRU(1)
        self._interactions = _LRU(3)
        self._sr = _LRU(events.SR_WINDOW + 3)
        self._txn_month = _LRU(2)
        self._fees = _LRU(params.FEE_REVERSAL_LAG + 3)

    # ------------------------------------------------------------------ per-date state (cached)
    def loan_state(self, t: int) -> NS:
        return self._loan_state.get_or(t, lambda: loans.state_on(self.seed, self.loans, t))

    def customer_status(self, t: int) -> NS:
        def make():
            c = self.c
            st = self.loan_state(t)
            n = len(c.uid)
            live = ~st.ended
            alive_loans = np.bincount(self.loans.cust[st.rows[live]], minlength=n)
            arrears = np.zeros(n, dtype=np.int64)
            np.maximum.at(arrears, self.loans.cust[st.rows], st.arrears)
            od = np.zeros(n, dtype=np.int64)
            np.maximum.at(od, self.loans.cust[st.rows], st.overdue_days)
            status = np.where(
                (t >= c.t_churn) & (alive_loans == 0),
                "C",
                np.where(t >= c.t_dorm + params.DORMANT_STATUS_DAYS, "D", "A"),
            ).astype(object)
            return NS(status=status, alive_loans=alive_loans, arrears=arrears, overdue_days=od)

        return self._status.get_or(t, make)

    def bridge(self, m: int) -> deposits.MonthBridge:
        return self._bridge.get_or(m, lambda: deposits.MonthBridge(self.seed, self.c, self.acc, m))

    def interactions(self, t: int) -> NS:
        return self._interactions.get_or(t, lambda: self._serving(events.interactions(self, t), t))

    def sr_openings(self, d: int) -> NS:
        return self._sr.get_or(d, lambda: self._serving(events.sr_openings(self, d), d))

    def _serving(self, ev: NS, t: int) -> NS:
        """Events naming the customer's first manager (``c.manager``) name the manager serving on ``t``
        (:func:`crm.synthetic.coverage.manager_at`); a no-op once the events ask ``manager_at`` themselves."""
        if len(ev.rows):
            first = self.c.manager[ev.rows]
            ev.staff = np.where(ev.staff == first, coverage.manager_at(self, ev.rows, t), ev.staff)
        return ev

    def txn_month(self, m: int) -> NS:
        return self._txn_month.get_or(m, lambda: deposits.month_aggregates(self.seed, self.c, self.acc, self.bridge(m)))

    def fees(self, d: int) -> NS:
        return self._fees.get_or(d, lambda: fees.originals(self, d))

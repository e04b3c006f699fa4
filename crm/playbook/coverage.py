"""Coverage teams, relationship map, value-added services and contact plans of key accounts (issue 20; docs/
playbook.md "Coverage teams, relationship map and service plans"). Plain pandas, vectorised; every rule in
``config.toml`` ([coverage], [service_plan], [contact_plan]).

Inputs (staged, masked):

- ``coverage``: the month-end snapshot (snapshot_date, coverage_id, customer_id, staff_id, role, from_date,
  to_date). An assignment is **active at a day** when ``from_date <= day`` and ``to_date`` is empty or
  ``to_date >= day``: an assignment whose to_date has passed does not count.
- ``accounts``: the key accounts (customer_value rows with ``key_account``): customer_id, tier, manager_id,
  branch_id (:func:`key_accounts`).
- ``interactions``: customer_id, interaction_time, channel, purpose (this year's).
- ``contacts`` and ``related_parties``: staged snapshots; only masked or coded columns are read (contact_type,
  relationship, the masked contact_name, is_primary; relation_type, party_type, the masked related_name, the
  related customer's token, share_ratio, amount, dates). Contact ID numbers and phones are never read.

Outputs (one frame each; the asset stamps month_end and the configuration version):

- :func:`active_team` -> ``coverage_teams``: the active assignments at the month end.
- :func:`manager_changes` -> ``manager_changes``: per customer with a lead manager, the current lead manager,
  since when, ``manager_changes_12m`` and ``last_manager_change`` (a change = a lead-manager assignment that
  starts with a different staff member than the customer's previous lead-manager assignment).
- :func:`team_completeness` -> ``key_account_coverage``: per key account the roles required by its tier, those
  held, those missing, complete or not, and the relationship map's counts.
- :func:`service_delivery` -> ``service_delivery``: per key account and service type (plan ``service``) or
  channel group (plan ``contact``): delivered, planned (pro-rated), gap, shortfall.
- :func:`findings` -> ``key_account_findings``: one row per missing role, service shortfall and contact
  shortfall.
- :func:`relationship_map` -> ``relationship_map``: per key account its team, contacts and related parties
  (guarantors and what it guarantees), coded and masked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

TEAM_COLUMNS = ["customer_id", "staff_id", "role", "from_date", "to_date"]
CHANGE_COLUMNS = ["customer_id", "lead_manager_id", "lead_since", "manager_changes_12m", "last_manager_change"]
ACCOUNT_COLUMNS = ["customer_id", "tier", "manager_id", "branch_id"]
COMPLETENESS_COLUMNS = [
    *ACCOUNT_COLUMNS,
    "required_roles",
    "present_roles",
    "missing_roles",
    "missing_count",
    "team_size",
    "complete",
]
DELIVERY_COLUMNS = [
    *ACCOUNT_COLUMNS,
    "plan",
    "item",
    "period_start",
    "per_period",
    "planned",
    "delivered",
    "gap",
    "shortfall",
]
FINDING_COLUMNS = [*ACCOUNT_COLUMNS, "finding", "code", "planned", "delivered", "gap"]
MAP_COLUMNS = ["customer_id", "section", "code", "member", "detail", "party_ref", "amount", "share_ratio", "since"]
# findings in the order a reader sees them: an incomplete team first
FINDINGS = ("missing_role", "service_shortfall", "contact_shortfall")
SECTIONS = ("team", "contact", "guarantor", "related", "guarantees")


def _empty(columns: list[str], types: dict[str, str] | None = None) -> pd.DataFrame:
    types = types or {}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "object")) for c in columns})


def _day(value: Any) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def key_accounts(value: pd.DataFrame) -> pd.DataFrame:
    """The key accounts of a month's customer_value (``key_account`` true): customer_id, tier, manager_id,
    branch_id."""
    if value.empty:
        return _empty(ACCOUNT_COLUMNS)
    keys = value[value["key_account"].fillna(False).astype(bool)]
    return keys[ACCOUNT_COLUMNS].reset_index(drop=True)


def active_team(coverage: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The assignments active at ``day`` (from_date <= day, to_date empty or >= day), one row per customer,
    staff member and role (the earliest from_date when listed twice), sorted by customer, role, staff."""
    if coverage.empty:
        return _empty(TEAM_COLUMNS, {"from_date": "datetime64[ns]", "to_date": "datetime64[ns]"})
    d = _day(day)
    start = pd.to_datetime(coverage["from_date"]).dt.normalize()
    end = pd.to_datetime(coverage["to_date"]).dt.normalize()
    on = (start <= d) & (end.isna() | (end >= d))
    team = coverage.loc[on, ["customer_id", "staff_id", "role"]].assign(from_date=start[on], to_date=end[on])
    team = team.sort_values(["customer_id", "role", "staff_id", "from_date"], kind="stable")
    team = team.drop_duplicates(["customer_id", "staff_id", "role"], keep="first")
    return team[TEAM_COLUMNS].reset_index(drop=True)


def manager_changes(coverage: pd.DataFrame, day: dt.date, config: dict[str, Any]) -> pd.DataFrame:
    """Per customer with an active lead manager at ``day``: ``lead_manager_id``, ``lead_since`` (the start of
    the current lead's unbroken run), ``manager_changes_12m`` (changes of lead manager starting in the
    ``change_window_months`` up to ``day``) and ``last_manager_change`` (the latest change's date, none when the
    snapshot shows none). A change is a lead-manager assignment starting on or before ``day`` whose staff member
    differs from the customer's previous lead-manager assignment (by from_date); the first assignment is no
    change, nor is a renewed assignment of the same manager."""
    cc = config["coverage"]
    types = {"lead_since": "datetime64[ns]", "last_manager_change": "datetime64[ns]", "manager_changes_12m": "int64"}
    if coverage.empty:
        return _empty(CHANGE_COLUMNS, types)
    d = _day(day)
    lead = coverage[coverage["role"] == cc["lead_role"]]
    start = pd.to_datetime(lead["from_date"]).dt.normalize()
    lead = lead.assign(_from=start, _to=pd.to_datetime(lead["to_date"]).dt.normalize())[start <= d]
    lead = lead.sort_values(["customer_id", "_from", "coverage_id"], kind="stable")
    previous = lead.groupby("customer_id", sort=False)["staff_id"].shift(1)
    changed = previous.notna() & (previous != lead["staff_id"])
    first = pd.Timestamp(d) - pd.DateOffset(months=int(cc["change_window_months"]))
    lead = lead.assign(_change=changed, _recent=changed & (lead["_from"] > first))
    # the start of each unbroken run of the same manager
    run = (lead["staff_id"] != previous).cumsum()
    run_start = lead.groupby(["customer_id", run], sort=False)["_from"].transform("min")
    lead = lead.assign(_run_start=run_start)
    active = lead[lead["_to"].isna() | (lead["_to"] >= d)]
    current = active.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    g = lead.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {
            "manager_changes_12m": g["_recent"].sum().astype("int64"),
            "last_manager_change": lead["_from"].where(lead["_change"]).groupby(lead["customer_id"]).max(),
        }
    )
    out = out.join(current[["staff_id", "_run_start"]], how="inner")
    out = out.rename(columns={"staff_id": "lead_manager_id", "_run_start": "lead_since"})
    out = out.rename_axis("customer_id").reset_index()
    return out[CHANGE_COLUMNS].astype(types)


def team_completeness(team: pd.DataFrame, accounts: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Per key account: ``required_roles`` (its tier's [coverage.required_roles], comma-separated in that
    order), ``present_roles`` (active roles, in coverage_role order), ``missing_roles``, ``missing_count``,
    ``team_size`` (active staff members) and ``complete`` (no required role missing)."""
    if accounts.empty:
        return _empty(COMPLETENESS_COLUMNS, {"missing_count": "int64", "team_size": "int64", "complete": "bool"})
    from crm.contract.codes import CODE_SETS

    order = list(CODE_SETS["coverage_role"])
    required = config["coverage"]["required_roles"]
    mine = team[team["customer_id"].isin(accounts["customer_id"])]
    held = pd.get_dummies(mine["role"]).groupby(mine["customer_id"].to_numpy()).any()
    held = held.reindex(columns=order, fill_value=False).reindex(accounts["customer_id"], fill_value=False)
    need = pd.DataFrame(
        {r: accounts["tier"].isin([t for t, roles in required.items() if r in roles]).to_numpy() for r in order},
        index=accounts["customer_id"],
    )
    missing = need & ~held.to_numpy()

    def joined(mask: pd.DataFrame) -> np.ndarray:
        """The roles of each row's true cells, comma-separated in coverage_role order (column by column)."""
        text = pd.Series("", index=range(len(mask)), dtype=object)
        for r in order:  # five roles: a loop over columns, not rows
            text = text + np.where(mask[r].to_numpy(), r + ",", "")
        return text.str.rstrip(",").to_numpy(dtype=object)

    size = mine.groupby("customer_id")["staff_id"].nunique().reindex(accounts["customer_id"], fill_value=0)
    out = (
        accounts[ACCOUNT_COLUMNS]
        .reset_index(drop=True)
        .assign(
            required_roles=joined(need),
            present_roles=joined(held),
            missing_roles=joined(missing),
            missing_count=missing.to_numpy().sum(axis=1).astype("int64"),
            team_size=size.to_numpy().astype("int64"),
        )
    )
    out["complete"] = out["missing_count"] == 0
    return out[COMPLETENESS_COLUMNS]


def _prorated(per_period: pd.Series, elapsed: int, months: int) -> pd.Series:
    """floor(per_period * elapsed / months) in integers (no float rounding at the boundary)."""
    return (per_period.astype("int64") * elapsed) // months


def service_delivery(
    interactions: pd.DataFrame, accounts: pd.DataFrame, day: dt.date, config: dict[str, Any]
) -> pd.DataFrame:
    """Per key account: the value-added services delivered this year against the tier's pro-rated yearly
    plan (plan ``service``, item = purpose) and the contacts this quarter against the tier's pro-rated
    quarterly plan (plan ``contact``, item = channel group). Only items with a plan for the tier (per_period
    > 0) are listed. ``gap`` = max(planned - delivered, 0); ``shortfall`` = delivered < planned."""
    types = {
        "period_start": "datetime64[ns]",
        "per_period": "int64",
        "planned": "int64",
        "delivered": "int64",
        "gap": "int64",
        "shortfall": "bool",
    }
    if accounts.empty:
        return _empty(DELIVERY_COLUMNS, types)
    d = _day(day)
    year_start = pd.Timestamp(d.year, 1, 1)
    quarter_first_month = 3 * ((d.month - 1) // 3) + 1
    quarter_start = pd.Timestamp(d.year, quarter_first_month, 1)
    when = pd.to_datetime(interactions["interaction_time"]).dt.normalize() if len(interactions) else pd.Series()
    mine = interactions.assign(_d=when) if len(interactions) else interactions.assign(_d=pd.Series(dtype="M8[ns]"))
    mine = mine[mine["customer_id"].isin(accounts["customer_id"]) & (mine["_d"] <= d)]

    sp, cp = config["service_plan"], config["contact_plan"]
    services = mine[(mine["_d"] >= year_start) & mine["purpose"].isin(sp["purposes"])]
    served = services.groupby(["customer_id", "purpose"]).size()
    group_of = {ch: g for g, chans in cp["groups"].items() for ch in chans}
    contacts = mine[(mine["_d"] >= quarter_start) & ~mine["purpose"].isin(cp["excluded_purposes"])]
    contacts = contacts.assign(_g=contacts["channel"].map(group_of)).dropna(subset=["_g"])
    contacted = contacts.groupby(["customer_id", "_g"]).size()

    def plan_rows(plan: str, section: dict, items: list[str], counts: pd.Series, start, elapsed: int, months: int):
        tiers = [t for t in section if t != "groups" and isinstance(section[t], dict)]
        per = pd.DataFrame(
            [(t, i, int(section[t].get(i, 0))) for t in tiers for i in items],  # the configuration's plan
            columns=["tier", "item", "per_period"],
        )
        grid = accounts[ACCOUNT_COLUMNS].merge(per[per["per_period"] > 0], on="tier", how="inner")
        idx = pd.MultiIndex.from_arrays([grid["customer_id"], grid["item"]])
        delivered = counts.reindex(idx, fill_value=0).to_numpy() if len(counts) else np.zeros(len(grid), int)
        return grid.assign(
            plan=plan,
            period_start=start,
            planned=_prorated(grid["per_period"], elapsed, months),
            delivered=delivered.astype("int64"),
        )

    service_items = list(sp["purposes"])
    contact_items = list(cp["groups"])
    rows = pd.concat(
        [
            plan_rows("service", sp, service_items, served, year_start, d.month, 12),
            plan_rows("contact", cp, contact_items, contacted, quarter_start, d.month - quarter_first_month + 1, 3),
        ],
        ignore_index=True,
    )
    rows["gap"] = (rows["planned"] - rows["delivered"]).clip(lower=0)
    rows["shortfall"] = rows["delivered"] < rows["planned"]
    return rows[DELIVERY_COLUMNS].astype(types).reset_index(drop=True)


def findings(completeness: pd.DataFrame, delivery: pd.DataFrame) -> pd.DataFrame:
    """One row per finding: ``missing_role`` (code = the role; planned 1, delivered 0, gap 1) per role a key
    account lacks, ``service_shortfall`` (code = the purpose) and ``contact_shortfall`` (code = the channel
    group) per shortfall of :func:`service_delivery`. Sorted: finding kind (incomplete teams first), customer,
    code."""
    types = {"planned": "int64", "delivered": "int64", "gap": "int64"}
    parts = []
    gaps = completeness[completeness["missing_count"] > 0] if len(completeness) else completeness
    if len(gaps):
        roles = gaps.assign(code=gaps["missing_roles"].str.split(",")).explode("code")
        parts.append(roles[ACCOUNT_COLUMNS + ["code"]].assign(finding="missing_role", planned=1, delivered=0, gap=1))
    short = delivery[delivery["shortfall"]] if len(delivery) else delivery
    if len(short):
        kind = short["plan"].map({"service": "service_shortfall", "contact": "contact_shortfall"})
        parts.append(
            short[ACCOUNT_COLUMNS + ["planned", "delivered", "gap"]].assign(finding=kind.to_numpy(), code=short["item"])
        )
    if not parts:
        return _empty(FINDING_COLUMNS, types)
    out = pd.concat(parts, ignore_index=True)
    rank = out["finding"].map({f: i for i, f in enumerate(FINDINGS)})
    out = out.assign(_r=rank).sort_values(["_r", "customer_id", "code"], kind="stable")
    return out[FINDING_COLUMNS].astype(types).reset_index(drop=True)


def customer_ref(customer_id: pd.Series) -> pd.Series:
    """A customer's short reference (the last 8 characters of its token; the reports' reference,
    crm.reports.lookups.customer_ref), never the token itself."""
    return customer_id.astype(str).str[-8:]


def _active_on(start: pd.Series, end: pd.Series, d: pd.Timestamp) -> pd.Series:
    """Related-party rows active at ``d`` the way :func:`crm.scoring.graph.build_graphs` reads them: started on
    or before it and not ended on or before it."""
    s = pd.to_datetime(start).dt.normalize()
    e = pd.to_datetime(end).dt.normalize()
    return (s.isna() | (s <= d)) & (e.isna() | (e > d))


def relationship_map(
    team: pd.DataFrame,
    contacts: pd.DataFrame,
    related: pd.DataFrame,
    accounts: pd.DataFrame,
    day: dt.date,
    config: dict[str, Any],
) -> pd.DataFrame:
    """Per key account its relationship map as rows of ``section``:

    - ``team``: code = role, member = staff_id (the reports show the staff member's masked name), since =
      from_date; the whole active team.
    - ``contact``: code = contact_type, detail = relationship, member = the masked contact name (staged
      contacts' contact_name, masked by the privacy policy), amount = 1 for the primary contact; primary first.
    - ``guarantor``: GUARANTOR relations of the account (who guarantees it), ``related``: its other relations
      (code = relation_type, detail = party_type), member = the masked related name, party_ref = the related
      customer's reference (last 8 characters of its token) when the party is a customer, amount, share_ratio,
      since = start_date; largest amount first.
    - ``guarantees``: relations in which the account is the GUARANTOR of another customer (member = none,
      party_ref = that customer's reference, amount).

    Contacts and related parties keep at most [coverage] ``map_rows`` rows per account and section.
    """
    types = {"amount": "float64", "share_ratio": "float64", "since": "datetime64[ns]"}
    if accounts.empty:
        return _empty(MAP_COLUMNS, types)
    d = _day(day)
    keep = int(config["coverage"]["map_rows"])
    ids = accounts["customer_id"]
    parts = []
    t = team[team["customer_id"].isin(ids)]
    if len(t):
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": t["customer_id"],
                    "section": "team",
                    "code": t["role"],
                    "member": t["staff_id"],
                    "since": pd.to_datetime(t["from_date"]),
                }
            )
        )
    c = contacts[contacts["customer_id"].isin(ids)] if len(contacts) else contacts
    if len(c):
        # is_primary is the contract's flag code set ("Y"/"N"); a boolean column (hand-built frames) reads the same
        primary = (
            c["is_primary"].astype("string").str.upper().isin(["Y", "TRUE"]).fillna(False).astype(bool)
            if "is_primary" in c
            else False
        )
        c = pd.DataFrame(
            {
                "customer_id": c["customer_id"],
                "section": "contact",
                "code": c["contact_type"],
                "detail": c["relationship"],
                "member": c["contact_name"],
                "amount": np.where(primary, 1.0, 0.0),
            }
        ).sort_values(["customer_id", "amount", "code"], ascending=[True, False, True], kind="stable")
        parts.append(c.groupby("customer_id", sort=False).head(keep))
    if len(related):
        on = _active_on(related["start_date"], related["end_date"], d)
        r = related[on]
        own = r[r["customer_id"].isin(ids)]
        party = own["related_customer_id"]
        ref = customer_ref(party).where(party.notna(), None)
        sec = np.where(own["relation_type"] == "GUARANTOR", "guarantor", "related")
        rows = pd.DataFrame(
            {
                "customer_id": own["customer_id"],
                "section": sec,
                "code": own["relation_type"],
                "detail": own["party_type"],
                "member": own["related_name"],
                "party_ref": ref,
                "amount": pd.to_numeric(own["amount"], errors="coerce"),
                "share_ratio": pd.to_numeric(own["share_ratio"], errors="coerce"),
                "since": pd.to_datetime(own["start_date"]),
            }
        )
        given = r[(r["relation_type"] == "GUARANTOR") & r["related_customer_id"].isin(ids)]
        rows_given = pd.DataFrame(
            {
                "customer_id": given["related_customer_id"],
                "section": "guarantees",
                "code": given["relation_type"],
                "detail": given["party_type"],
                "party_ref": customer_ref(given["customer_id"]),
                "amount": pd.to_numeric(given["amount"], errors="coerce"),
                "since": pd.to_datetime(given["start_date"]),
            }
        )
        for part in (rows, rows_given):
            if len(part):
                part = part.sort_values(
                    ["customer_id", "section", "amount"], ascending=[True, True, False], na_position="last"
                )
                parts.append(part.groupby(["customer_id", "section"], sort=False).head(keep))
    if not parts:
        return _empty(MAP_COLUMNS, types)
    out = pd.concat([p.reindex(columns=MAP_COLUMNS).astype(object) for p in parts], ignore_index=True)
    rank = out["section"].map({s: i for i, s in enumerate(SECTIONS)})
    out = out.assign(_r=rank).sort_values(["customer_id", "_r"], kind="stable").drop(columns="_r")
    return out[MAP_COLUMNS].astype(types).reset_index(drop=True)


def map_counts(contacts: pd.DataFrame, related: pd.DataFrame, accounts: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Per key account (index customer_id): ``contacts`` (all, before the map's cut), ``contact_types`` (distinct
    types, of FAMILY, EMERGENCY, PARTNER, FINANCE), ``related_parties`` (active relations but guarantees),
    ``guarantors``, ``guarantees_given`` (customers it guarantees), ``guaranteed_amount`` (sum of its
    guarantors' amounts)."""
    ids = accounts["customer_id"]
    out = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    c = contacts[contacts["customer_id"].isin(ids)] if len(contacts) else contacts
    out["contacts"] = c.groupby("customer_id").size() if len(c) else 0
    out["contact_types"] = c.groupby("customer_id")["contact_type"].nunique() if len(c) else 0
    if len(related):
        r = related[_active_on(related["start_date"], related["end_date"], _day(day))]
        own = r[r["customer_id"].isin(ids)]
        g = own["relation_type"] == "GUARANTOR"
        out["related_parties"] = own[~g].groupby("customer_id").size()
        out["guarantors"] = own[g].groupby("customer_id").size()
        out["guaranteed_amount"] = (
            pd.to_numeric(own.loc[g, "amount"], errors="coerce").groupby(own.loc[g, "customer_id"]).sum()
        )
        given = r[(r["relation_type"] == "GUARANTOR") & r["related_customer_id"].isin(ids)]
        out["guarantees_given"] = given.groupby("related_customer_id").size()
    for col in ("contacts", "contact_types", "related_parties", "guarantors", "guarantees_given"):
        out[col] = out.get(col, 0)
        out[col] = out[col].fillna(0).astype("int64")
    out["guaranteed_amount"] = out.get("guaranteed_amount", 0.0)
    out["guaranteed_amount"] = out["guaranteed_amount"].fillna(0.0).astype("float64")
    return out


def key_account_coverage(
    completeness: pd.DataFrame,
    changes: pd.DataFrame,
    delivery: pd.DataFrame,
    counts: pd.DataFrame,
    reach: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The key_account_coverage mart: :func:`team_completeness` with the account's manager changes, the
    relationship map's counts (:func:`map_counts`), the guarantee reach of the related-party graph
    (``downstream``: customers and parties it backs directly or through others, ``upstream``: those standing
    behind it; :func:`crm.scoring.graph.guarantee_reach`), and its services and contacts delivered and
    planned (sums over items) with the number of items short."""
    out = completeness.merge(
        changes[["customer_id", "manager_changes_12m", "last_manager_change"]], on="customer_id", how="left"
    )
    out["manager_changes_12m"] = out["manager_changes_12m"].fillna(0).astype("int64")
    out["last_manager_change"] = pd.to_datetime(out["last_manager_change"])
    out = out.merge(counts, left_on="customer_id", right_index=True, how="left")
    if reach is not None and len(reach):
        r = reach.rename(columns={"node": "customer_id"})[["customer_id", "downstream", "upstream"]]
        out = out.merge(r, on="customer_id", how="left")
    for col in ("downstream", "upstream"):
        out[col] = out[col].fillna(0).astype("int64") if col in out else np.zeros(len(out), dtype="int64")
    for plan in ("service", "contact"):
        p = delivery[delivery["plan"] == plan] if len(delivery) else delivery
        g = p.groupby("customer_id")[["delivered", "planned"]].sum() if len(p) else pd.DataFrame()
        short = p.groupby("customer_id")["shortfall"].sum() if len(p) else pd.Series(dtype="int64")
        out[f"{plan}_delivered"] = out["customer_id"].map(g["delivered"]).fillna(0).astype("int64") if len(g) else 0
        out[f"{plan}_planned"] = out["customer_id"].map(g["planned"]).fillna(0).astype("int64") if len(g) else 0
        out[f"{plan}_short"] = out["customer_id"].map(short).fillna(0).astype("int64") if len(short) else 0
        for col in (f"{plan}_delivered", f"{plan}_planned", f"{plan}_short"):
            out[col] = out[col].astype("int64")
    return out.reset_index(drop=True)

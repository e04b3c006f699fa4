"""Apply the privacy policy to rows leaving the raw zone: every column kept, dropped, tokenised, masked,
generalised or scrubbed as ``policy.toml`` says. Vectorised per column."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from crm.privacy.masks import age_band, mask
from crm.privacy.policy import Policy, load_policy
from crm.privacy.tokens import KeyRing, tokenise

LINEAGE = ("_source_file", "_sha256", "_row_number", "_business_date", "_type_errors")


def protect(
    frame: pd.DataFrame,
    extract: str,
    ring: KeyRing,
    business_date: dt.date,
    *,
    names: pd.Series | None = None,
    policy: Policy | None = None,
    version: str | None = None,
) -> pd.DataFrame:
    """The staged form of ``frame`` (raw rows of ``extract``): columns in contract order as the policy
    makes them, then the lineage columns. ``names``: per row, the personal names free text must lose (the
    customer's and its contacts'; see :func:`crm.privacy.scrub.names_by_customer`). ``version``: the key
    version to tokenise with (default: the ring's current one).

    First, the free-text columns of the contract (text policy ``strip``) lose their control and format
    characters (:func:`crm.text.strip_frame`), so every path to the staged zone (staging, the
    re-tokenisation after a key rotation) cleans them the same way; per column (rows cleaned, characters
    taken out) is in ``result.attrs["text_stripped"]``."""
    from crm.contract import BY_NAME
    from crm.text import strip_frame

    policy = policy or load_policy()
    frame, stripped = strip_frame(frame, [c.name for c in BY_NAME[extract].columns if c.text == "strip"])
    out: dict[str, object] = {}
    for column, p in policy.for_extract(extract).items():
        s = frame[column]
        t = p.treatment
        if t == "keep":
            out[column] = s
        elif t == "drop":
            continue
        elif t == "token":
            out[column] = tokenise(s, p.domain, ring, version)
            if p.display:
                out[f"{column}_masked"] = mask(s, p.display)
        elif t == "mask":
            out[column] = mask(s, p.mask)
        elif t == "generalise" and p.to == "age_band":
            out["age_band"] = age_band(s, business_date)
        elif t == "generalise":  # to city: the row's city column stands in for the address
            out[column] = frame[p.source].where(s.notna(), None)
        elif t == "scrub":
            from crm.privacy.scrub import scrub_text

            out[column] = scrub_text(s, names)
        else:  # the policy loader admits nothing else
            raise ValueError(f"{extract}.{column}: unknown treatment {t!r}")
    for c in LINEAGE:
        if c in frame.columns:
            out[c] = frame[c]
    result = pd.DataFrame(out, index=frame.index, copy=False)  # no block consolidation: written out as is
    result.attrs["privacy_policy"] = policy.version
    result.attrs["text_stripped"] = stripped
    return result

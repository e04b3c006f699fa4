"""The ``crm scorecard`` commands: fit a generic scorecard on a CSV, apply it to a CSV, and list and approve
the pipeline's trained scorecard versions. Registered on the ``crm`` group by :mod:`crm.cli`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crm.zones import CrmHome


@click.group()
def scorecard():
    """Generic scorecards: fit on a development CSV, apply to a CSV (conventions in crm.scoring.scorecard)."""


def _read_csv(path: str):
    import pandas as pd

    try:
        return pd.read_csv(path, low_memory=False)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"cannot read {path} as CSV: {exc}") from None


def _trend(_ctx, _param, values):
    out = {}
    for v in values:
        col, sep, trend = v.partition("=")
        if not sep or trend not in ("ascending", "descending"):
            raise click.BadParameter(f"expected COLUMN=ascending|descending, got {v!r}")
        out[col] = trend
    return out


@scorecard.command("fit")
@click.option(
    "--data", type=click.Path(exists=True, dir_okay=False), required=True, help="Development sample, CSV with a header."
)
@click.option("--target", required=True, help="Target column: 1/0 (1 = bad), or the labels good/bad.")
@click.option("--exclude", multiple=True, help="Column that is not a characteristic (repeatable).")
@click.option("--categorical", multiple=True, help="Numeric column to bin as categories (repeatable).")
@click.option(
    "--trend",
    multiple=True,
    callback=_trend,
    help="COLUMN=ascending|descending: the bad rate rises/falls with the value (repeatable).",
)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="New model directory.")
@click.option("--base-points", type=float, default=600.0, show_default=True)
@click.option("--base-odds", type=float, default=50.0, show_default=True, help="Good:bad odds at base points.")
@click.option("--pdo", type=float, default=20.0, show_default=True, help="Points to double the odds.")
def scorecard_fit(data, target, exclude, categorical, trend, out, base_points, base_odds, pdo):
    """Fit a scorecard on DATA and write OUT: model, scorecard.json, scorecard table and model card."""
    from crm.scoring.scorecard import ScorecardConfig, ScorecardInputError, fit_scorecard

    if Path(out, "scorecard.json").exists():
        raise click.ClickException(f"{out} already holds a scorecard; choose a new directory")
    frame = _read_csv(data)
    config = ScorecardConfig(
        base_points=base_points, base_odds=base_odds, pdo=pdo, categorical=list(categorical), monotonic=trend
    )
    try:
        sc = fit_scorecard(frame, target, exclude=exclude, config=config)
    except ScorecardInputError as exc:
        raise click.ClickException(str(exc)) from None
    sc.save(out)
    m = sc.metrics
    click.echo(f"scorecard {sc.version}: {len(sc.features)} characteristics ({', '.join(sc.features)})")
    for col, reason in sorted(sc.excluded.items()):
        click.echo(f"  excluded {col}: {reason}")
    click.echo(
        f"training {m['training_rows']:,} rows (bad rate {m['training_bad_rate']:.2%}), "
        f"hold-out {m['holdout_rows']:,} rows (bad rate {m['holdout_bad_rate']:.2%})"
    )
    click.echo(f"hold-out AUC {m['auc']:.3f}  KS {m['ks']:.3f}  Gini {m['gini']:.3f}")
    click.echo(f"wrote {out} (scorecard_table.csv, model_card.html, scorecard.json, model.joblib)")


@scorecard.command("apply")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False),
    required=True,
    help="Model directory written by `crm scorecard fit`.",
)
@click.option("--data", type=click.Path(exists=True, dir_okay=False), required=True, help="CSV to score.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Scored CSV to write.")
@click.option("--points", is_flag=True, help="Also write the points of each characteristic.")
@click.option(
    "--raw",
    is_flag=True,
    help="Write text cells exactly as read. Default: formula-safe for Excel/WPS, a text cell (or column "
    "name) starting with = + - @ tab or CR gets a leading ' (numbers stay numbers), and "
    "the file starts with the UTF-8 byte order mark (Excel reads it as UTF-8).",
)
def scorecard_apply(model_dir, data, out, points, raw):
    """Score DATA with the model: the input columns plus score, pd, grade and reason_1..reason_4.

    The scored CSV is meant to be opened in a spreadsheet, so it is formula-safe unless --raw is given
    (OWASP's CSV-injection rule; see crm.exports)."""
    import pandas as pd

    from crm.exports import write_csv
    from crm.scoring.scorecard import Scorecard, ScorecardInputError

    try:
        sc = Scorecard.load(model_dir)
    except (ValueError, KeyError, OSError) as exc:  # ScorecardInputError is a ValueError
        raise click.ClickException(f"cannot load the scorecard in {model_dir}: {exc}") from None
    frame = _read_csv(data)
    try:
        scored = sc.score(frame)
    except ScorecardInputError as exc:
        raise click.ClickException(str(exc)) from None
    if not points:
        scored = scored.drop(columns=[c for c in scored.columns if c.startswith("points_")])
    clash = [c for c in scored.columns if c in frame.columns]
    if clash:
        raise click.ClickException(f"{data} already has the columns {', '.join(clash)}; score the unscored file")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_csv(pd.concat([frame, scored], axis=1), out, raw=raw)
    counts = scored["grade"].value_counts().reindex([g for g, _ in _master_scale()], fill_value=0)
    click.echo(f"scored {len(frame):,} rows with scorecard {sc.version}: mean PD {scored['pd'].mean():.2%}")
    click.echo("grades: " + ", ".join(f"{g} {n:,}" for g, n in counts.items() if n))
    click.echo(f"wrote {out}" + (" (raw text cells)" if raw else " (formula-safe text cells)"))


def _master_scale():
    from crm.scoring.scorecard import MASTER_SCALE

    return MASTER_SCALE


@scorecard.command("versions")
@click.option(
    "--segment",
    type=click.Choice(["retail", "corporate", "churn"]),
    required=True,
    help="A credit scorecard segment, or churn (the churn model).",
)
@click.pass_obj
def scorecard_versions(home: CrmHome, segment):
    """List the pipeline's trained scorecard versions of a segment (CRM_HOME/models) and which is approved."""
    from crm.scoring.models import approved_version, segment_dir, version_dir, versions

    approved = approved_version(home.models, segment)
    for v in versions(home.models, segment):
        card = version_dir(home.models, segment, v, origin="a folder of the scorecard registry") / "scorecard.json"
        metrics = json.loads(card.read_text())["metrics"]
        mark = "*" if v == approved else " "
        oot = f"  out-of-time AUC {metrics['oot_auc']:.3f}" if "oot_auc" in metrics else ""  # the churn model's
        click.echo(
            f"{mark} {v}  AUC {metrics.get('auc', float('nan')):.3f}  KS {metrics.get('ks', float('nan')):.3f}{oot}"
        )
    click.echo(
        f"approved: {approved or 'none'}; model cards: {segment_dir(home.models, segment)}/<version>/model_card.html"
    )


@scorecard.command("approve")
@click.option(
    "--segment",
    type=click.Choice(["retail", "corporate", "churn"]),
    required=True,
    help="A credit scorecard segment, or churn (the churn model).",
)
@click.option("--version", "version", required=True, help="A version listed by `crm scorecard versions`.")
@click.pass_obj
def scorecard_approve(home: CrmHome, segment, version):
    """Approve a trained scorecard version: the monthly scoring uses it from its next run."""
    from crm.scoring.models import approve

    try:
        approve(home.models, segment, version)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{segment}: approved {version}")

"""bankcrm clv: fit the BG/NBD and Gamma-Gamma lifetime-value models to an RFM table."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, console, fail

if TYPE_CHECKING:
    from bankcrm.analytics.clv import BGNBDFit, GammaGammaFit

REQUIRED_COLUMNS = ("customer_id", "frequency", "recency", "T")
MONETARY_COLUMN = "monetary_value"

clv_app = typer.Typer(help="Customer lifetime-value models (BG/NBD, Gamma-Gamma).", no_args_is_help=True)


class RFMInputError(ValueError):
    """A problem in the RFM file, with the file, line and column in the message."""


@dataclass(frozen=True)
class RFMTable:
    """Parsed RFM rows; monetary_value is None when the file has no such column."""

    customer_id: list[str]
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary_value: np.ndarray | None


def _number(path: Path, line: int, column: str, text: str) -> float:
    where = f"{path}, line {line}, column {column}"
    if text.strip() == "":
        raise RFMInputError(f"{where}: empty value")
    try:
        value = float(text)
    except ValueError:
        raise RFMInputError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RFMInputError(f"{where}: {text!r} is not a finite number")
    if value < 0:
        raise RFMInputError(f"{where}: must not be negative, got {text.strip()}")
    return value


def read_rfm(path: Path) -> RFMTable:
    """Read and check `customer_id, frequency, recency, T[, monetary_value]`; errors name line and column."""
    try:
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = _parse_rows(path, fh)
    except OSError as exc:
        raise RFMInputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RFMInputError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise RFMInputError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise RFMInputError(f"{path}: no customer rows after the header")
    has_monetary = rows[0][4] is not None
    return RFMTable(
        customer_id=[r[0] for r in rows],
        frequency=np.array([r[1] for r in rows], dtype=np.float64),
        recency=np.array([r[2] for r in rows], dtype=np.float64),
        T=np.array([r[3] for r in rows], dtype=np.float64),
        # frequency-0 rows may leave the spend empty; it is never used for them
        monetary_value=np.array([r[4] or 0.0 for r in rows], dtype=np.float64) if has_monetary else None,
    )


def _parse_rows(path: Path, fh: TextIO) -> list[tuple[str, float, float, float, float | None]]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None:
        raise RFMInputError(f"{path}: empty file, expected a header line with {', '.join(REQUIRED_COLUMNS)}")
    names = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise RFMInputError(f"{path}, line 1: missing column(s) {', '.join(missing)}; found {', '.join(names)}")
    col = {name: names.index(name) for name in (*REQUIRED_COLUMNS, MONETARY_COLUMN) if name in names}
    has_monetary = MONETARY_COLUMN in col
    seen: dict[str, int] = {}
    out: list[tuple[str, float, float, float, float | None]] = []
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(names):
            raise RFMInputError(f"{path}, line {line}: expected {len(names)} fields, found {len(fields)}")
        customer_id = fields[col["customer_id"]].strip()
        if not customer_id:
            raise RFMInputError(f"{path}, line {line}, column customer_id: empty value")
        if customer_id in seen:
            raise RFMInputError(
                f"{path}, line {line}, column customer_id: customer {customer_id!r} already on line {seen[customer_id]}"
            )
        seen[customer_id] = line
        frequency = _number(path, line, "frequency", fields[col["frequency"]])
        if frequency != round(frequency):
            raise RFMInputError(
                f"{path}, line {line}, column frequency: must be a whole number of repeat purchases, "
                f"got {fields[col['frequency']].strip()}"
            )
        recency = _number(path, line, "recency", fields[col["recency"]])
        big_t = _number(path, line, "T", fields[col["T"]])
        if recency > big_t:
            raise RFMInputError(
                f"{path}, line {line}, column recency: the last purchase ({recency:g}) "
                f"cannot be later than T ({big_t:g})"
            )
        monetary: float | None = None
        if has_monetary:
            text = fields[col[MONETARY_COLUMN]]
            if frequency == 0 and text.strip() == "":
                monetary = 0.0
            else:
                monetary = _number(path, line, MONETARY_COLUMN, text)
                if frequency > 0 and monetary == 0:
                    raise RFMInputError(
                        f"{path}, line {line}, column {MONETARY_COLUMN}: must be positive when frequency > 0 "
                        "(the Gamma-Gamma model describes the spend per repeat purchase)"
                    )
        out.append((customer_id, frequency, recency, big_t, monetary))
    return out


def _bgnbd_json(fit: BGNBDFit) -> dict[str, object]:
    return {
        "r": fit.r,
        "alpha": fit.alpha,
        "a": fit.a,
        "b": fit.b,
        "log_likelihood": fit.log_likelihood,
        "n_customers": fit.n,
        "converged": fit.converged,
    }


def _gamma_gamma_json(fit: GammaGammaFit) -> dict[str, object]:
    return {
        "p": fit.p,
        "q": fit.q,
        "gamma": fit.gamma,
        "log_likelihood": fit.log_likelihood,
        "n_customers": fit.n,
        "converged": fit.converged,
    }


def _horizon_label(h: float) -> str:
    return f"{h:g}".replace(".", "_")


def write_predictions(
    out: Path, table: RFMTable, bgnbd: BGNBDFit, gamma_gamma: GammaGammaFit | None, horizons: list[float]
) -> None:
    """One row per customer: p_alive, expected purchases and survival per horizon, expected spend."""
    x, t_x, big_t = table.frequency, table.recency, table.T
    columns: dict[str, np.ndarray] = {"p_alive": bgnbd.p_alive(x, t_x, big_t)}
    for h in horizons:
        label = _horizon_label(h)
        columns[f"expected_purchases_{label}"] = bgnbd.expected_purchases(h, x, t_x, big_t)
        columns[f"p_alive_after_{label}"] = bgnbd.p_alive_after(h, x, t_x, big_t)
    if gamma_gamma is not None and table.monetary_value is not None:
        columns["expected_average_profit"] = gamma_gamma.conditional_expected_average_profit(x, table.monetary_value)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", *columns])
        for i, customer_id in enumerate(table.customer_id):
            writer.writerow([customer_id, *(format(float(v[i]), ".10g") for v in columns.values())])


def _print_tables(bgnbd: BGNBDFit, gamma_gamma: GammaGammaFit | None) -> None:
    t = Table(title=f"BG/NBD ({bgnbd.n:,} customers)")
    t.add_column("parameter")
    t.add_column("estimate", justify="right")
    for name, value in (("r", bgnbd.r), ("α", bgnbd.alpha), ("a", bgnbd.a), ("b", bgnbd.b)):
        t.add_row(name, f"{value:.4f}")
    t.add_row("log-likelihood", f"{bgnbd.log_likelihood:.2f}")
    console.print(t)
    if not bgnbd.converged:
        console.print("[yellow]warning:[/] the BG/NBD optimiser did not converge; treat the estimates with care")
    if gamma_gamma is None:
        return
    g = Table(title=f"Gamma-Gamma ({gamma_gamma.n:,} repeat buyers)")
    g.add_column("parameter")
    g.add_column("estimate", justify="right")
    for name, value in (("p", gamma_gamma.p), ("q", gamma_gamma.q), ("γ", gamma_gamma.gamma)):
        g.add_row(name, f"{value:.4f}")
    g.add_row("log-likelihood", f"{gamma_gamma.log_likelihood:.2f}")
    console.print(g)
    if not gamma_gamma.converged:
        console.print("[yellow]warning:[/] the Gamma-Gamma optimiser did not converge; treat the estimates with care")


@clv_app.command("fit")
def fit(
    rfm_file: Annotated[
        Path, typer.Argument(metavar="RFM_FILE", help="CSV with customer_id, frequency, recency, T[, monetary_value]")
    ],
    json_output: Annotated[bool, typer.Option("--json", help="print the parameters as JSON")] = False,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", metavar="OUT_CSV", help="write per-customer predictions to this CSV")
    ] = None,
    horizon: Annotated[
        list[float] | None,
        typer.Option(
            "--horizon", metavar="H", help="prediction horizon in the file's time unit (repeatable; default 1)"
        ),
    ] = None,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Fit BG/NBD (and Gamma-Gamma when monetary_value is present); print parameters and log-likelihood."""
    # --home/--database-url are accepted like every command's; this tool works on the file alone
    del home, database_url
    # SciPy loads here, not when the CLI starts, so other commands stay quick
    from bankcrm.analytics.clv import CLVFitError, fit_bgnbd, fit_gamma_gamma

    horizons = horizon or [1.0]
    if any(not math.isfinite(h) or h <= 0 for h in horizons):
        raise fail("--horizon must be positive")
    try:
        table = read_rfm(rfm_file)
    except RFMInputError as exc:
        # the message quotes file names and cell values, which must not be read as Rich markup
        raise fail(escape(str(exc))) from None
    try:
        bgnbd = fit_bgnbd(table.frequency, table.recency, table.T)
        gamma_gamma = (
            fit_gamma_gamma(table.frequency, table.monetary_value) if table.monetary_value is not None else None
        )
    except CLVFitError as exc:
        raise fail(escape(f"{rfm_file}: {exc}")) from None
    if predictions is not None:
        try:
            write_predictions(predictions, table, bgnbd, gamma_gamma, horizons)
        except OSError as exc:
            raise fail(escape(f"{predictions}: cannot write predictions ({exc.strerror or exc})")) from None
    if json_output:
        result: dict[str, object] = {"n_customers": len(table.customer_id), "bgnbd": _bgnbd_json(bgnbd)}
        if gamma_gamma is not None:
            result["gamma_gamma"] = _gamma_gamma_json(gamma_gamma)
        typer.echo(json.dumps(result))
    else:
        _print_tables(bgnbd, gamma_gamma)
        if predictions is not None:
            console.print(escape(f"predictions for {len(table.customer_id):,} customers written to {predictions}"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(clv_app, name="clv")

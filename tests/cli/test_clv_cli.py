"""`bankcrm clv fit` from the outside: JSON shape, the table, predictions, and every kind of bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bankcrm.cli.main import app

DATA = Path(__file__).resolve().parents[1] / "data"


def _cdnow_rfm(tmp_path: Path, *, monetary: bool) -> Path:
    """The CDNOW sample with the column names `bankcrm clv fit` reads."""
    source = DATA / ("cdnow_customers_summary_with_transactions.csv" if monetary else "cdnow_customers_summary.csv")
    rows = source.read_text().splitlines()[1:]
    header = "customer_id,frequency,recency,T" + (",monetary_value" if monetary else "")
    out = tmp_path / ("cdnow_spend.csv" if monetary else "cdnow.csv")
    out.write_text("\n".join([header, *rows]) + "\n")
    return out


def _squash(text: str) -> str:
    """Output without whitespace, so Rich's line wrapping cannot split what a test looks for."""
    return "".join(text.split())


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_with_monetary_value_reproduces_cdnow(tmp_path: Path) -> None:
    code, out, err = _invoke("clv", "fit", str(_cdnow_rfm(tmp_path, monetary=True)), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"n_customers", "bgnbd", "gamma_gamma"}
    assert {"r", "alpha", "a", "b", "log_likelihood"} <= set(result["bgnbd"])
    assert {"p", "q", "gamma", "log_likelihood"} <= set(result["gamma_gamma"])
    assert result["n_customers"] == 2357
    bg = result["bgnbd"]
    assert [round(bg[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert round(bg["log_likelihood"], 1) == -9582.4
    gg = result["gamma_gamma"]
    assert gg["n_customers"] == 946
    assert [gg[k] for k in ("p", "q", "gamma")] == pytest.approx([6.25, 3.74, 15.44], abs=0.01)
    assert isinstance(gg["log_likelihood"], float)


def test_without_monetary_value_there_is_no_gamma_gamma(tmp_path: Path) -> None:
    rfm = _cdnow_rfm(tmp_path, monetary=False)
    code, out, err = _invoke("clv", "fit", str(rfm), "--json", "--home", str(tmp_path / "h"), "--database-url", "")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"n_customers", "bgnbd"}
    assert round(result["bgnbd"]["r"], 3) == 0.243


def test_table_and_predictions(tmp_path: Path) -> None:
    rfm = _cdnow_rfm(tmp_path, monetary=True)
    out_csv = tmp_path / "pred.csv"
    code, out, err = _invoke(
        "clv", "fit", str(rfm), "--predictions", str(out_csv), "--horizon", "39", "--horizon", "52"
    )
    assert code == 0, err
    assert "BG/NBD" in out and "Gamma-Gamma" in out
    assert "0.2426" in out and "-9582.43" in out and "6.2488" in out
    with out_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2357
    assert list(rows[0]) == [
        "customer_id",
        "p_alive",
        "expected_purchases_39",
        "p_alive_after_39",
        "expected_purchases_52",
        "p_alive_after_52",
        "expected_average_profit",
    ]
    first = rows[0]
    assert first["customer_id"] == "1"
    # customer 1 is the paper's example: 2 repeat purchases, last at 30.43, T = 38.86 → 1.226 in 39 weeks
    assert float(first["expected_purchases_39"]) == pytest.approx(1.226, abs=1e-3)
    assert 0 < float(first["p_alive_after_52"]) < float(first["p_alive_after_39"]) < float(first["p_alive"]) <= 1
    never_again = next(r for r in rows if r["customer_id"] == "2357")  # frequency 0
    assert float(never_again["p_alive"]) == 1.0


HEADER = "customer_id,frequency,recency,T,monetary_value\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("customer_id,frequency,T\n1,2,3\n", "line 1: missing column(s) recency"),
        (HEADER + "1,2,30,38,10\n2,abc,3,38,10\n", "line 3, column frequency: 'abc' is not a number"),
        (HEADER + "1,[bold]2,30,38,10\n", "line 2, column frequency: '[bold]2' is not a number"),
        (HEADER + "1,2,30,38,10\n2,1,-3,38,10\n", "line 3, column recency: must not be negative"),
        (HEADER + "1,2,40,38,10\n", "line 2, column recency: the last purchase (40) cannot be later than T (38)"),
        (HEADER + "1,2.5,30,38,10\n", "line 2, column frequency: must be a whole number"),
        (HEADER + "1,2,30,,10\n", "line 2, column T: empty value"),
        (HEADER + "1,2,30,38,nan\n", "line 2, column monetary_value: 'nan' is not a finite number"),
        (HEADER + "1,2,30,38,0\n", "line 2, column monetary_value: must be positive when frequency > 0"),
        (HEADER + "1,2,30,38,-5\n", "line 2, column monetary_value: must not be negative"),
        (HEADER + "1,2,30,38,10\n1,1,3,38,10\n", "line 3, column customer_id: customer '1' already on line 2"),
        (HEADER + ",2,30,38,10\n", "line 2, column customer_id: empty value"),
        (HEADER + "1,2,30,38\n", "line 2: expected 5 fields, found 4"),
        (HEADER, "no customer rows"),
        ("", "empty file"),
        (HEADER + "1,0,0,38,0\n2,0,0,20,\n", "no customer has a repeat purchase"),
    ],
)
def test_bad_input_names_file_line_and_column(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "rfm.csv"
    path.write_text(content)
    code, out, err = _invoke("clv", "fit", str(path), "--json")
    assert code == 2
    assert out == ""
    assert _squash(f"{path}") in _squash(err)
    assert _squash(expected) in _squash(err)


def test_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    code, _, err = _invoke("clv", "fit", str(tmp_path / "nope.csv"))
    assert code == 2
    assert "cannot read the file" in _squash(err).replace("cannotreadthefile", "cannot read the file")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "客户,1,1,2,3\n".encode("gb18030"))
    code, _, err = _invoke("clv", "fit", str(latin))
    assert code == 2
    assert _squash("not UTF-8 text") in _squash(err)


def test_byte_order_mark_and_extra_columns_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    rows = "".join(f"c{i},{i % 4},{(i % 4) * 5},{30 + i % 7},,{i}\n" for i in range(40))
    path.write_text("\ufeffcustomer_id,frequency,recency,T,branch,note\n" + rows, encoding="utf-8")
    code, out, err = _invoke("clv", "fit", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["n_customers"] == 40


def test_horizon_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "rfm.csv"
    path.write_text(HEADER + "1,2,30,38,10\n")
    code, _, err = _invoke("clv", "fit", str(path), "--horizon", "0")
    assert code == 2
    assert "--horizon" in err

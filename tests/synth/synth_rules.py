"""SPEC rules recomputed independently with DuckDB over a generated CSV bundle (test helpers)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

AS_OF = date(2026, 11, 25)


def connect_csv(bundle: Path) -> duckdb.DuckDBPyConnection:
    """Views over a CSV bundle with SPEC types; tx_date/event_date are the local (Asia/Shanghai) dates."""
    con = duckdb.connect()

    def src(name: str) -> str:
        return f"read_csv('{bundle / (name + '.csv')}', header=true, all_varchar=true)"

    statements = [
        f"""create table customers as select * replace (birth_date::date as birth_date,
              onboard_date::date as onboard_date, risk_assessed_on::date as risk_assessed_on)
            from {src("customers")}""",
        f"create table products as select * from {src('products')}",
        f"create table br as select * from {src('branches')}",
        f"create table st as select * from {src('staff')}",
        f"""create table accounts as select a.* replace (opened_on::date as opened_on, maturity_on::date as maturity_on,
              closed_on::date as closed_on, next_due_on::date as next_due_on, days_past_due::int as days_past_due),
              p.category, p.risk_level as product_risk
            from {src("accounts")} a left join products p using (product_id)""",
        f"""create table balances as select account_id, date::date as date, balance::double as balance
            from {src("balances")}""",
        f"create table transactions_raw as select * from {src('transactions')}",
        """create table transactions as select t.* replace (amount::double as amount),
              substr(ts, 1, 10)::date as tx_date, a.customer_id
            from transactions_raw t join accounts a using (account_id)""",
        f"""create table behavior_events as select *, substr(ts, 1, 10)::date as event_date
            from {src("behavior_events")}""",
    ]
    for sql in statements:
        con.execute(sql)
    return con


def prepare_rules(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Daily balances and AUM (SPEC 4.1) over the 120 days the rules look back, as shared tables."""
    a = f"date '{as_of}'"
    con.execute(
        f"""
        create table days as select (d::date) as d
            from range({a} - interval 120 day, {a} + interval 1 day, interval 1 day) t(d);
        create table daily_bal as
        select g.account_id, g.customer_id, g.category, g.d,
               case when g.closed_on is not null and g.d >= g.closed_on then 0 else coalesce(b.balance, 0) end as bal
        from (select ac.account_id, ac.customer_id, ac.category, ac.closed_on, days.d from accounts ac cross join days
              where ac.category in
                ('deposit_current','deposit_time','wealth','fund','insurance','precious_metal','bond')) g
        asof left join balances b on g.account_id = b.account_id and g.d >= b.date;
        create table aum as select customer_id, d, sum(bal) as aum from daily_bal group by all;
        create table open_accounts as select * from accounts
            where opened_on <= {a} and (closed_on is null or closed_on > {a});
        create table initiated as select * from transactions
            where category not in ('interest', 'fee') and channel <> 'auto' and tx_date <= {a};
        """
    )


def aum_avg_30d(con: duckdb.DuckDBPyConnection, at: str) -> str:
    return f"(select customer_id, avg(aum) as v from aum where d between {at} - 29 and {at} group by all)"


def rule_hits(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, set[str]]:
    """Customers hit by each SPEC 5.3/5.4 rule at as_of, following the SPEC wording."""
    a = f"date '{as_of}'"
    m0 = f"date_trunc('month', {a})::date"
    q: dict[str, str] = {
        "birthday": f"""select customer_id from customers,
              (select unnest([0, 1]) as k) y
            where (birth_date + to_years(year({a})::int - year(birth_date)::int + k)::interval) > {a}
              and (birth_date + to_years(year({a})::int - year(birth_date)::int + k)::interval) <= {a} + 7""",
        "maturity": f"""select customer_id from open_accounts where category in ('deposit_time','wealth')
            and maturity_on > {a} and maturity_on <= {a} + 15""",
        "repayment_due": f"""select customer_id from open_accounts
            where category in ('loan_mortgage','loan_consumer','loan_business','credit_card')
              and next_due_on > {a} and next_due_on <= {a} + 3""",
        "overdue": """select customer_id from open_accounts
            where category in ('loan_mortgage','loan_consumer','loan_business','credit_card') and days_past_due > 0""",
        "large_outflow": f"""select t.customer_id from transactions t
            where t.category = 'transfer_out' and t.tx_date = {a}
              and not exists (select 1 from transactions o where o.customer_id = t.customer_id
                              and o.counterparty = t.counterparty and o.tx_date between {a} - 180 and {a} - 1)
            group by t.customer_id, t.counterparty having sum(abs(t.amount)) >= 500000""",
        "risky_concentration": f"""select customer_id from (
              select customer_id, ts, tx_date, ac.product_risk,
                     row_number() over (partition by customer_id order by ts desc) as rn
              from transactions t join accounts ac using (account_id, customer_id)
              where t.category = 'investment' and t.tx_date <= {a})
            where rn <= 3 group by customer_id
            having count(*) = 3 and bool_and(product_risk in ('R4','R5')) and max(tx_date) >= {a} - 30""",
        "assessment_expiry": f"""select o.customer_id from open_accounts o join customers c using (customer_id)
            where o.category in ('wealth','fund','precious_metal','bond')
              and (c.risk_assessed_on is null or c.risk_assessed_on < {a} - 365)""",
        "nav_move": f"""select o.customer_id from open_accounts o
            join daily_bal now on now.account_id = o.account_id and now.d = {a}
            join daily_bal was on was.account_id = o.account_id and was.d = {a} - 30
            where o.category = 'fund' and was.bal >= 1000
              and (now.bal / was.bal - 1 >= 0.15 or now.bal / was.bal - 1 <= -0.10)
              and not exists (select 1 from transactions t where t.account_id = o.account_id
                              and t.category in ('investment','redemption') and t.tx_date between {a} - 30 and {a})""",
        "attrition_risk": f"""select n.customer_id from {aum_avg_30d(con, a)} n join {aum_avg_30d(con, f"({a} - 90)")} b
            using (customer_id) where b.v >= 10000 and n.v <= 0.5 * b.v""",
        "dormancy": f"""select c.customer_id from customers c left join
              (select customer_id, max(tx_date) as last from initiated group by all) l using (customer_id)
            where c.onboard_date < {a} - 180 and (l.last is null or {a} - l.last >= 180)""",
        "need_mortgage": f"""select e.customer_id from behavior_events e
            where e.event = 'view_mortgage_rate' and e.event_date between {a} - 29 and {a}
            group by e.customer_id having count(*) >= 3
               and (select coalesce(sum(bal), 0) from daily_bal b where b.customer_id = e.customer_id and b.d = {a}
                    and b.category in ('deposit_current','deposit_time')) >= 200000""",
        "need_education": f"""select customer_id from transactions
            where category = 'purchase' and merchant_group = 'baby'
              and tx_date >= {m0} - interval 3 month and tx_date < {m0}
            group by all having count(distinct date_trunc('month', tx_date)) = 3""",
        "need_salary_plan": f"""select customer_id from transactions
            where category = 'payroll' and amount > 0 and tx_date >= {m0} - interval 3 month and tx_date < {m0}
              and customer_id not in (select customer_id from open_accounts where category = 'fund')
            group by all having count(distinct date_trunc('month', tx_date)) = 3""",
        "need_reinvest": f"""select o.customer_id from open_accounts o
            join daily_bal b on b.account_id = o.account_id and b.d = {a}
            where o.category = 'deposit_time' and o.maturity_on > {a} and o.maturity_on <= {a} + 15
              and b.bal >= 50000""",
        "need_retirement": f"""select customer_id from customers
            where date_diff('year', birth_date, {a})
                  - (case when strftime(birth_date, '%m%d') > strftime({a}, '%m%d') then 1 else 0 end)
                  between 50 and 60
              and customer_id not in (select customer_id from open_accounts where category = 'insurance')""",
        "need_private_corporate": """select c.customer_id from customers c join open_accounts o using (customer_id)
            where c.occupation = 'executive' and o.category = 'loan_business'""",
    }
    return {rule: {r[0] for r in con.execute(sql).fetchall()} for rule, sql in q.items()}

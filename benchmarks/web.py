"""Web benchmark: 20 concurrent API clients against the RM customer list and the customer 360 JSON.

    python benchmarks/web.py [--customers 1000000] [--clients 20] [--duration 60] [--workers 2]
                             [--database bench_web] [--server-url postgresql://postgres@127.0.0.1:5432]
                             [--work DIR] [--bundle DIR] [--reuse]

1. Builds the bank (skipped with ``--reuse`` when the database already holds a published run):
   creates the PostgreSQL database, then ``bankcrm generate`` (6 months, as of 2026-11-25,
   Parquet; ``--bundle`` reuses one) → ``bankcrm db upgrade`` → ``bankcrm ingest`` →
   ``bankcrm run``, each timed.
2. Adds one ``rm`` login per client for the relationship managers with the most customers, each
   with a bearer API token (``customers:read``), and samples customer ids in each one's scope.
   When the server runs without autovacuum, the database is vacuumed and analysed first.
3. Starts the app with uvicorn (``--workers``, default 2 for a 2-core machine) and waits for it.
4. Runs one phase per endpoint, ``--duration`` seconds each after a short warm-up, with
   ``--clients`` threads on keep-alive connections, every client acting as its own RM:
   - ``list``: ``GET /api/v1/customers`` with a random filter (tier, segment, value class, two of
     them, maturing within 30 days, or none), a random sort and one of the first pages, 20 rows a page;
   - ``360``: ``GET /api/v1/customers/{id}`` for a customer of that RM.
   and prints p50/p95/p99/max latency, requests per second and errors (anything but 200) per
   phase (for the list also p50/p95 per filter kind), as Markdown, with the targets (zero
   errors, p95 ≤ 100 ms, ≥ 200 requests/s for the 360). Results are also written as JSON
   (``web-results.json`` in the work folder).

Every request goes through the whole stack: token check, record scope, masking (field
decryption) and the audit row that every list and view writes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

AS_OF = "2026-11-25"
MONTHS = 6
DEFAULT_WORK = Path("benchmarks/out/web")
RESULTS_NAME = "web-results.json"
TARGET_P95_MS = 100.0
TARGET_360_RPS = 200.0
IDS_PER_RM = 300
FILTERS: tuple[dict[str, str], ...] = (
    {},
    {"tier": "vip"},
    {"tier": "potential"},
    {"tier": "ordinary"},
    {"segment": "A"},
    {"segment": "B"},
    {"segment": "C"},
    {"segment": "D"},
    {"value_class": "high_value"},
    {"value_class": "micro_profit"},
    {"value_class": "loss"},
    {"tier": "ordinary", "segment": "C"},
    {"tier": "potential", "value_class": "breakeven"},
    {"maturing_within_days": "30"},
)


# ---- building the bank --------------------------------------------------------------------------


def bankcrm(args: list[str], env: dict[str, str], *, capture: Path | None = None) -> float:
    """Run one bankcrm command; returns its wall time."""
    exe = Path(sys.executable).with_name("bankcrm")
    started = time.perf_counter()
    if capture is None:
        subprocess.run([str(exe), *args], env=env, check=True)
    else:
        with capture.open("w") as out:
            subprocess.run([str(exe), *args], env=env, check=True, stdout=out)
    return time.perf_counter() - started


def database_url(server_url: str, database: str) -> str:
    return f"{server_url.rstrip('/')}/{database}"


def ensure_database(server_url: str, database: str) -> None:
    import psycopg

    with psycopg.connect(database_url(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'create database "{database}"')


def has_published_run(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("select value from app_state where key = 'current_run_id'").fetchone()
    except psycopg.Error:
        return False
    return row is not None


def build_bank(opts: argparse.Namespace, env: dict[str, str], url: str) -> dict[str, float]:
    """generate → db upgrade → ingest → run; returns the seconds of each step."""
    work: Path = opts.work
    times: dict[str, float] = {}
    bundle = opts.bundle or work / "bundle"
    if opts.bundle is None:
        print(f"generating {opts.customers:,} customers × {MONTHS} months into {bundle}", flush=True)
        times["generate"] = bankcrm(
            [
                "generate",
                str(bundle),
                "--customers",
                str(opts.customers),
                "--months",
                str(MONTHS),
                "--as-of",
                opts.as_of,
                "--format",
                "parquet",
            ],
            env,
        )
    print("db upgrade, ingest, nightly run", flush=True)
    times["db_upgrade"] = bankcrm(["db", "upgrade"], env)
    times["ingest"] = bankcrm(["ingest", str(bundle), "--json"], env, capture=work / "ingest.json")
    times["run"] = bankcrm(["run", "--as-of", opts.as_of, "--json"], env, capture=work / "run.json")
    return times


def vacuum_if_no_autovacuum(url: str) -> bool:
    """VACUUM ANALYZE when the server runs without autovacuum, as one with it would have by now."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("show autovacuum").fetchone()
        if row is None or row[0] == "on":
            return False
        conn.execute("vacuum analyze")
    return True


# ---- logins for the load ------------------------------------------------------------------------


@dataclass
class BenchLogin:
    username: str
    staff_id: str
    token: str
    customer_ids: list[str]


def prepare_logins(url: str, home: Path, clients: int) -> list[BenchLogin]:
    """One rm login with an API token per client, for the RMs with the most customers."""
    from sqlalchemy import func, select

    from bankcrm.audit.service import Actor
    from bankcrm.config import Settings
    from bankcrm.customers.models import Customer
    from bankcrm.db.engine import make_engine, session_factory, session_scope
    from bankcrm.security import repository as security_repo
    from bankcrm.security import service as security
    from bankcrm.security.passwords import hasher_for

    settings = Settings(home=home, database_url=url)
    engine = make_engine(settings)
    hasher = hasher_for(settings)
    logins: list[BenchLogin] = []
    try:
        with session_scope(session_factory(engine)) as s:
            busiest = s.execute(
                select(Customer.rm_id)
                .where(Customer.rm_id.is_not(None))
                .group_by(Customer.rm_id)
                .order_by(func.count().desc(), Customer.rm_id)
                .limit(clients)
            ).scalars()
            for n, staff_id in enumerate(busiest, start=1):
                username = f"bench.rm.{n:02d}"
                if security_repo.get_user_by_username(s, username) is None:
                    security.create_user(
                        s,
                        username=username,
                        password=secrets.token_urlsafe(18) + "-Aa1",
                        role="rm",
                        staff_id=staff_id,
                        hasher=hasher,
                        actor=Actor.cli(),
                    )
                _, token = security.create_api_token(
                    s,
                    username,
                    name="web benchmark",
                    scopes=["customers:read"],
                    actor=Actor.cli(),
                    expires_in=timedelta(days=1),
                )
                ids = list(
                    s.scalars(
                        select(Customer.customer_id)
                        .where(Customer.rm_id == staff_id)
                        .order_by(Customer.customer_id)
                        .limit(IDS_PER_RM)
                    )
                )
                logins.append(BenchLogin(username, staff_id, token, ids))
    finally:
        engine.dispose()
    if len(logins) < clients:
        raise SystemExit(f"only {len(logins)} relationship managers with customers; need {clients}")
    return logins


# ---- the server ---------------------------------------------------------------------------------


def start_server(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bankcrm.web:app_from_environment",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    out = log.open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                conn.close()
                time.sleep(2 if workers > 1 else 0)  # let every worker finish starting
                return proc
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"uvicorn did not answer on port {port} within 120 s; see {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---- CPU accounting (the machine is shared, so CPU per request says more than wall time) ---------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in the process group (uvicorn and its workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (f := _stat_fields(int(entry.name))) and int(f[2]) == pgid:
            total += int(f[11]) + int(f[12])
    return total / CLOCK_TICKS


def backend_cpu_seconds(url: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the benchmark database."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
            )
        ]
    out = {}
    for pid in pids:
        if f := _stat_fields(pid):
            out[pid] = (int(f[11]) + int(f[12])) / CLOCK_TICKS
    return out


def database_blocks(url: str) -> tuple[int, int]:
    """(blocks read from outside shared buffers, buffer hits) of the benchmark database so far."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select blks_read, blks_hit from pg_stat_database where datname = current_database()"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


class BackendSampler(threading.Thread):
    """Samples pg_stat_activity twice a second: how many backends run a query, and how many of them wait on a lock."""

    def __init__(self, url: str, until: float) -> None:
        super().__init__(daemon=True)
        self.url, self.until = url, until
        self.active: list[int] = []
        self.lock_waits: list[int] = []

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while time.perf_counter() < self.until:
                active, waiting = conn.execute(
                    "select count(*) filter (where state = 'active'),"
                    " count(*) filter (where state = 'active' and wait_event_type = 'Lock')"
                    " from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
                ).fetchone() or (0, 0)
                self.active.append(active)
                self.lock_waits.append(waiting)
                time.sleep(0.5)


# ---- the load -----------------------------------------------------------------------------------


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # list phase: latencies per filter kind
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


def list_path(rng: random.Random) -> tuple[str, str]:
    """A list request and its filter kind (the filter names joined by ``+``, ``none`` without one)."""
    chosen = rng.choice(FILTERS)
    params = dict(chosen)
    params["sort"] = rng.choice(("value_index", "aum"))
    params["page"] = str(rng.choice((1, 1, 1, 2, 3)))
    params["page_size"] = "20"
    return "/api/v1/customers?" + "&".join(f"{k}={v}" for k, v in params.items()), "+".join(chosen) or "none"


def client_loop(
    port: int, login: BenchLogin, phase: str, until: float, record_after: float, seed: int, out: Samples
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {login.token}", "Accept": "application/json"}
    conn: http.client.HTTPConnection | None = None
    while True:
        now = time.perf_counter()
        if now >= until:
            break
        path, kind = list_path(rng) if phase == "list" else (f"/api/v1/customers/{rng.choice(login.customer_ids)}", "")
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            conn = None
            if started >= record_after:
                out.error(type(exc).__name__)
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        if started < record_after:
            continue
        if status == 200:
            out.latencies_ms.append(elapsed_ms)
            if kind:
                out.by_kind.setdefault(kind, []).append(elapsed_ms)
        else:
            out.error(str(status))
    if conn is not None:
        conn.close()


def run_phase(
    port: int, logins: list[BenchLogin], phase: str, duration: float, warmup: float, *, server_pgid: int, url: str
) -> dict[str, Any]:
    start = time.perf_counter()
    record_after = start + warmup
    until = record_after + duration
    per_client = [Samples() for _ in logins]
    threads = [
        threading.Thread(target=client_loop, args=(port, lg, phase, until, record_after, n, per_client[n]))
        for n, lg in enumerate(logins)
    ]
    load_before = os.getloadavg()
    for t in threads:
        t.start()
    time.sleep(max(0.0, record_after - time.perf_counter()))
    app_cpu_before, db_cpu_before = group_cpu_seconds(server_pgid), backend_cpu_seconds(url)
    blocks_before = database_blocks(url)
    sampler = BackendSampler(url, until)
    sampler.start()
    for t in threads:
        t.join()
    sampler.join()
    app_cpu = group_cpu_seconds(server_pgid) - app_cpu_before
    db_cpu_after = backend_cpu_seconds(url)
    db_cpu = sum(v - db_cpu_before.get(pid, 0.0) for pid, v in db_cpu_after.items())
    blocks_after = database_blocks(url)
    latencies = sorted(x for s in per_client for x in s.latencies_ms)
    errors = sum(s.errors for s in per_client)
    kinds: dict[str, int] = {}
    for s in per_client:
        for k, v in s.error_kinds.items():
            kinds[k] = kinds.get(k, 0) + v

    def pct(p: float, values: list[float] = latencies) -> float:
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]

    by_kind: dict[str, list[float]] = {}
    for s in per_client:
        for kind, values in s.by_kind.items():
            by_kind.setdefault(kind, []).extend(values)
    per_kind = {}
    for kind in sorted(by_kind):
        values = sorted(by_kind[kind])
        per_kind[kind] = {"requests": len(values), "p50_ms": pct(50, values), "p95_ms": pct(95, values)}

    return {
        "phase": phase,
        "clients": len(logins),
        "seconds": duration,
        "requests": len(latencies) + errors,
        "ok": len(latencies),
        "errors": errors,
        "error_kinds": kinds,
        "rps": len(latencies) / duration,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
        "busy_backends_avg": statistics.fmean(sampler.active) if sampler.active else 0.0,
        "lock_waiting_backends_avg": statistics.fmean(sampler.lock_waits) if sampler.lock_waits else 0.0,
        "app_cpu_ms_per_request": app_cpu * 1000 / max(1, len(latencies)),
        "db_cpu_ms_per_request": db_cpu * 1000 / max(1, len(latencies)),
        # the measured window's requests only approximately: a request in flight at either edge counts too
        "blocks_read_per_request": (blocks_after[0] - blocks_before[0]) / max(1, len(latencies)),
        "blocks_hit_per_request": (blocks_after[1] - blocks_before[1]) / max(1, len(latencies)),
        "loadavg_before": load_before[0],
        "loadavg_after": os.getloadavg()[0],
        "by_filter": per_kind,
    }


ENDPOINTS = {
    "list": "`GET /api/v1/customers?…` (filtered, paged)",
    "360": "`GET /api/v1/customers/{id}` (360 JSON)",
}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| endpoint | clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms "
        "| app CPU ms/req | PostgreSQL CPU ms/req | blocks read / hit per req "
        "| queries running / waiting on a lock | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {ENDPOINTS[r['phase']]} | {r['clients']} | {r['requests']:,} | {r['errors']} | {r['rps']:.0f} "
            f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.0f} "
            f"| {r['app_cpu_ms_per_request']:.1f} | {r['db_cpu_ms_per_request']:.1f} "
            f"| {r['blocks_read_per_request']:,.0f} / {r['blocks_hit_per_request']:,.0f} "
            f"| {r['busy_backends_avg']:.1f} / {r['lock_waiting_backends_avg']:.1f} "
            f"| {r['loadavg_before']:.1f}→{r['loadavg_after']:.1f} |"
        )
    for r in results:
        if r.get("by_filter"):
            lines += ["", "| list filter | requests | p50 ms | p95 ms |", "|---|---:|---:|---:|"]
            for kind, k in r["by_filter"].items():
                lines.append(f"| {kind} | {k['requests']:,} | {k['p50_ms']:.1f} | {k['p95_ms']:.1f} |")
    return "\n".join(lines)


def verdicts(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in results:
        checks = [
            f"errors {r['errors']} ({'met' if r['errors'] == 0 else 'missed'})",
            f"p95 {r['p95_ms']:.1f} ms ≤ {TARGET_P95_MS:.0f} ({'met' if r['p95_ms'] <= TARGET_P95_MS else 'missed'})",
        ]
        if r["phase"] == "360":
            ok = r["rps"] >= TARGET_360_RPS
            checks.append(f"{r['rps']:.0f} req/s ≥ {TARGET_360_RPS:.0f} ({'met' if ok else 'missed'})")
        out.append(f"- {r['phase']}: " + "; ".join(checks))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring, per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (one per core)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--phases", default="list,360", help="comma-separated: list, 360")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", help="database name (default bench_web_<customers>)")
    parser.add_argument("--work", type=Path, help="home, bundle and results (default benchmarks/out/web/<customers>)")
    parser.add_argument("--bundle", type=Path, help="reuse this generated bundle instead of generating one")
    parser.add_argument("--as-of", default=AS_OF, help="the bundle's last day and the nightly run's date")
    parser.add_argument("--reuse", action="store_true", help="skip the build when the database has a published run")
    opts = parser.parse_args(argv)
    opts.database = opts.database or f"bench_web_{opts.customers}"
    opts.work = (opts.work or DEFAULT_WORK / str(opts.customers)).resolve()
    opts.work.mkdir(parents=True, exist_ok=True)
    home = opts.work / "home"
    url = database_url(opts.server_url, opts.database)
    env = {**os.environ, "BANKCRM_HOME": str(home), "BANKCRM_DATABASE_URL": url}

    build_times: dict[str, float] = {}
    ensure_database(opts.server_url, opts.database)
    if opts.reuse and has_published_run(url):
        print(f"reusing the bank in {opts.database}", flush=True)
        bankcrm(["db", "upgrade"], env)  # the schema follows the code being measured
    else:
        build_times = build_bank(opts, env, url)
        print("build: " + ", ".join(f"{k} {v:.0f} s" for k, v in build_times.items()), flush=True)

    started = time.perf_counter()
    if vacuum_if_no_autovacuum(url):
        print(
            f"autovacuum is off on this server: VACUUM ANALYZE took {time.perf_counter() - started:.0f} s", flush=True
        )
    logins = prepare_logins(url, home, opts.clients)
    per_rm = statistics.median(len(lg.customer_ids) for lg in logins)
    print(f"{len(logins)} rm logins with API tokens (median {per_rm:.0f} sampled customers each)", flush=True)

    server = start_server(env, opts.port, opts.workers, opts.work / "uvicorn.log")
    results: list[dict[str, Any]] = []
    try:
        for phase in [p.strip() for p in opts.phases.split(",") if p.strip()]:
            if phase not in ENDPOINTS:
                raise SystemExit(f"unknown phase {phase!r}; use {', '.join(ENDPOINTS)}")
            print(
                f"phase {phase}: {opts.clients} clients, {opts.warmup:.0f} s warm-up + {opts.duration:.0f} s",
                flush=True,
            )
            results.append(
                run_phase(opts.port, logins, phase, opts.duration, opts.warmup, server_pgid=server.pid, url=url)
            )
    finally:
        stop_server(server)

    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    print()
    print(f"{opts.customers:,} customers in PostgreSQL ({opts.database}); uvicorn --workers {opts.workers}; {machine}")
    print(markdown(results))
    print("\n".join(verdicts(results)))
    payload = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "customers": opts.customers,
        "database": opts.database,
        "workers": opts.workers,
        "machine": machine,
        "build_seconds": build_times,
        "results": results,
    }
    (opts.work / RESULTS_NAME).write_text(json.dumps(payload, indent=2))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The civicdesk benchmark: one command, `python3 bench/run.py` (or `bash bench/run.sh`).

Builds in release mode, prepares its own databases, starts the server, loads data, measures with wrk (HTTP) and
pgbench (the same SQL straight against PostgreSQL), and prints a Markdown table; everything runs on loopback,
bounded in time, and everything it started is stopped. Results also go to bench/results/latest.md, with the EXPLAIN
plans of the read queries in bench/results/plans.txt.

Scenarios:
1. ticket submission through the API at concurrency 1, 16 and 64, beside the pgbench ceiling of the same statements;
   the same at 16 against two server processes sharing the database;
2. reads at 10,000 and 1,000,000 tickets (an advisor's queue, a country+status filter, a full-text search, a ticket
   with its messages, a page deep in a cursor walk), each beside the same query run raw with pgbench;
3. email: `cargo bench --bench email` (notifications/s through one worker, inbound replies/s);
4. memory: server RSS idle and after submission at concurrency 64.

Needs PostgreSQL at 127.0.0.1:5432 with trust auth for user postgres (BENCH_PG to change), wrk and pgbench
(`apt-get install wrk postgresql-contrib` or your distribution's equivalent).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "civicdesk"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
RESULTS = ROOT / "bench" / "results"
PORT = int(os.environ.get("BENCH_PORT", "18181"))


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def url(db):
    return f"{PG}/{db}"


def psql(db, sql=None, file=None, variables=None):
    command = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url(db)]
    for key, value in (variables or {}).items():
        command += ["-v", f"{key}={value}"]
    command += ["-f", str(file)] if file else ["-c", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def civicdesk(db, *args, env=None):
    environment = dict(os.environ, DATABASE_URL=url(db), RUST_LOG="warn", **(env or {}))
    return subprocess.run([str(BIN), *args], check=True, capture_output=True, text=True, env=environment).stdout


def recreate(db):
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    civicdesk(db, "migrate")
    civicdesk(db, "seed", "--demo")


def new_token():
    secret = "cd_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    return secret, hashlib.sha256(secret.encode()).hexdigest()


def issue_tokens(db, role_filter, limit):
    """Gives `limit` users matching `role_filter` a token; returns (user id, secret) pairs."""
    rows = psql(db, f"SELECT id FROM users WHERE {role_filter} ORDER BY id LIMIT {limit}").split()
    tokens = []
    values = []
    for user_id in rows:
        secret, digest = new_token()
        tokens.append((user_id, secret))
        values.append(f"(gen_random_uuid(), '{user_id}', 'bench', decode('{digest}', 'hex'), '{secret[:10]}')")
    psql(db, "INSERT INTO api_tokens (id, user_id, label, token_hash, token_prefix) VALUES " + ",".join(values))
    return tokens


class Server:
    """One `civicdesk serve` process."""

    def __init__(self, db, port, env=None):
        environment = dict(
            os.environ,
            DATABASE_URL=url(db),
            LISTEN_ADDRESS=f"127.0.0.1:{port}",
            OUTBOX_WORKER="false",
            # Per-request log lines off: the figures are for the service, not for its logging.
            RUST_LOG="error",
            **(env or {}),
        )
        self.port = port
        self.process = subprocess.Popen([str(BIN), "serve"], env=environment, stdout=subprocess.DEVNULL)
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not become ready")

    def rss_mb(self):
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def millis(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(port, path, connections, seconds, token=None, script=None, env=None):
    threads = max(1, min(2, connections))
    command = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    if script:
        command += ["-s", str(script)]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=dict(os.environ, **(env or {}))).stdout
    percentile = lambda p: millis(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": percentile(50),
        "p99": percentile(99),
        "errors": errors,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def pgbench(db, script, connections, seconds, variables=None):
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(connections), "-j", str(max(1, min(2, connections))),
               "-T", str(seconds), "-f", str(script)]
    for key, value in (variables or {}).items():
        command += ["-D", f"{key}={value}"]
    command.append(url(db))
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


# The columns of a ticket as the API selects them (src/models/ticket.rs), for the raw queries.
FIRST_STATE = """CASE WHEN tickets.first_response_due_at IS NULL THEN 'none'
    WHEN tickets.first_response_breached_at IS NOT NULL THEN 'breached'
    WHEN tickets.first_response_at IS NOT NULL OR tickets.status IN ('resolved', 'closed') THEN 'met'
    WHEN tickets.first_response_due_at <= now() THEN 'breached'
    WHEN tickets.first_response_warn_at <= now() THEN 'at_risk' ELSE 'running' END"""
RESOLUTION_STATE = """CASE WHEN tickets.resolution_due_at IS NULL THEN 'none'
    WHEN tickets.resolution_breached_at IS NOT NULL THEN 'breached'
    WHEN tickets.status IN ('resolved', 'closed') THEN 'met' WHEN tickets.status = 'pending' THEN 'paused'
    WHEN tickets.resolution_due_at <= now() THEN 'breached'
    WHEN tickets.resolution_warn_at <= now() THEN 'at_risk' ELSE 'running' END"""
TICKET_COLUMNS = f"""tickets.id, tickets.reference, tickets.subject, tickets.status, tickets.priority, tickets.category,
  tickets.country, tickets.organization_id, tickets.requester_id, tickets.assignee_id, tickets.office_id,
  tickets.channel, tickets.created_at, tickets.updated_at, tickets.first_response_at, tickets.resolved_at,
  tickets.closed_at, tickets.follow_up_of, tickets.sla_policy_id, tickets.first_response_due_at, {FIRST_STATE},
  tickets.resolution_due_at, {RESOLUTION_STATE}, tickets.first_response_warn_at, tickets.first_response_warned_at,
  tickets.first_response_breached_at, tickets.resolution_warn_at, tickets.resolution_warned_at,
  tickets.resolution_breached_at, tickets.sla_paused_at, tickets.sla_paused_seconds, tickets.first_response_seconds,
  tickets.resolution_seconds, (SELECT r.rating FROM satisfaction_ratings r WHERE r.ticket_id = tickets.id)"""
ORDER = "ORDER BY tickets.created_at DESC, tickets.id DESC LIMIT 26"


def read_queries(db):
    """The read scenarios: (name, API path, token kind, raw SQL, values).

    The raw SQL is the API's statement: the values the API binds are pgbench variables (`:name`, bound as
    parameters with `-M prepared`), the page size is written in as the API writes it.
    """
    advisor, office = psql(db, """SELECT t.assignee_id, t.office_id FROM tickets t WHERE t.status = 'open'
        AND t.assignee_id IS NOT NULL GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1""").split("|")
    country = psql(db, f"SELECT country FROM offices WHERE id = '{office}'")
    middle = psql(db, "SELECT count(*) / 2 FROM tickets")
    deep_at, deep_id = psql(db, f"""SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), id
        FROM tickets ORDER BY created_at DESC, id DESC OFFSET {middle} LIMIT 1""").split("|")
    ticket = psql(db, f"SELECT id FROM tickets WHERE status = 'closed' ORDER BY created_at OFFSET {middle} / 2 LIMIT 1")
    cursor = base64.urlsafe_b64encode(json.dumps({"sort": "-created_at", "at": deep_at, "id": deep_id},
                                                 separators=(",", ":")).encode()).decode().rstrip("=")
    return advisor, [
        ("advisor queue", "/api/v1/tickets?assignee=me&status=open", "advisor",
         f"SELECT {TICKET_COLUMNS} FROM tickets WHERE tickets.status = :status AND tickets.assignee_id = :advisor "
         f"{ORDER}", {"status": "open", "advisor": advisor}),
        ("country + status", f"/api/v1/tickets?country={country}&status=open", "coordinator",
         f"SELECT {TICKET_COLUMNS} FROM tickets WHERE tickets.status = :status AND tickets.country = :country {ORDER}",
         {"status": "open", "country": country}),
        ("full-text search", "/api/v1/tickets?q=budget", "coordinator",
         f"SELECT {TICKET_COLUMNS} FROM tickets WHERE tickets.search_vector @@ civicdesk_search_query(:q) {ORDER}",
         {"q": "budget"}),
        ("ticket + messages", f"/api/v1/tickets/{ticket}/messages", "coordinator",
         f"SELECT {TICKET_COLUMNS} FROM tickets WHERE tickets.id = :ticket LIMIT 1;\n"
         f"SELECT m.*, u.name, u.role FROM messages m JOIN users u ON u.id = m.author_id "
         f"WHERE m.ticket_id = :ticket ORDER BY m.created_at, m.id;\n"
         f"SELECT a.id, a.message_id, a.filename, a.content_type, a.size FROM attachments a "
         f"WHERE a.message_id = ANY(ARRAY(SELECT id FROM messages WHERE ticket_id = :ticket))",
         {"ticket": ticket}),
        ("deep cursor page", f"/api/v1/tickets?cursor={cursor}", "coordinator",
         f"SELECT {TICKET_COLUMNS} FROM tickets WHERE (tickets.created_at, tickets.id) < "
         f"(:at::timestamptz, :id::uuid) {ORDER}", {"at": deep_at, "id": deep_id}),
    ]


def with_values(sql, values):
    """The SQL with its pgbench variables written in, for EXPLAIN."""
    for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
        sql = sql.replace(f":{name}", f"'{value}'")
    return sql


def prepare_read_db(db, tickets, fresh):
    if not fresh:
        try:
            if psql(db, "SELECT tickets FROM bench_meta") == str(tickets):
                log(f"{db}: reusing {tickets} tickets (pass --fresh to rebuild)")
                return
        except subprocess.CalledProcessError:
            pass
    log(f"{db}: loading {tickets} tickets with messages and events (SQL, not the API)")
    started = time.time()
    recreate(db)
    psql(db, file=ROOT / "bench" / "sql" / "load.sql", variables={"tickets": tickets})
    psql(db, f"CREATE TABLE bench_meta AS SELECT {tickets} AS tickets")
    log(f"{db}: loaded in {time.time() - started:.0f} s")


def scenario_reads(sizes, seconds, connections, fresh, plans):
    rows = []
    for tickets in sizes:
        db = f"civicdesk_bench_{tickets}"
        prepare_read_db(db, tickets, fresh)
        advisor, queries = read_queries(db)
        coordinator = psql(db, "SELECT id FROM users WHERE role = 'coordinator' AND active ORDER BY id LIMIT 1")
        psql(db, "DELETE FROM api_tokens WHERE label = 'bench'")
        tokens = {
            "advisor": issue_tokens(db, f"id = '{advisor}'", 1)[0][1],
            "coordinator": issue_tokens(db, f"id = '{coordinator}'", 1)[0][1],
        }
        server = Server(db, PORT)
        try:
            for name, path, who, sql, values in queries:
                wrk(PORT, path, connections, 2, token=tokens[who])  # warm-up
                api = wrk(PORT, path, connections, seconds, token=tokens[who])
                script = RESULTS / "read.sql"
                script.write_text(sql + ";\n")
                raw = pgbench(db, script, connections, seconds, values)
                if tickets == max(sizes):
                    plans.append(f"-- {name} ({tickets} tickets)\n" + "\n".join(
                        psql(db, f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {statement}")
                        for statement in with_values(sql, values).split(";\n")) + "\n")
                rows.append((tickets, name, api, raw))
                log(f"{tickets} {name}: {api['rps']:.0f} req/s p99 {api['p99']:.1f} ms, raw {raw:.0f}/s")
        finally:
            server.stop()
    return rows


def scenario_submit(seconds, levels):
    db = "civicdesk_bench_submit"
    log(f"{db}: preparing (demo network, 600 CSOs with a token each)")
    recreate(db)
    psql(db, file=ROOT / "bench" / "sql" / "load.sql", variables={"tickets": 0})
    tokens = issue_tokens(db, "role = 'requester' AND email LIKE 'req-%@bench.example.org'", 600)
    token_file = RESULTS / "tokens.txt"
    token_file.write_text("\n".join(secret for _, secret in tokens) + "\n")
    psql(db, "CREATE TABLE bench_requesters AS SELECT row_number() OVER (ORDER BY t.id) AS n, t.token_hash "
             "FROM api_tokens t WHERE t.label = 'bench'")
    script = ROOT / "bench" / "wrk" / "submit.lua"
    env = {"BENCH_TOKENS": str(token_file)}
    rows = []
    server = Server(db, PORT)
    memory = {"idle": server.rss_mb()}
    try:
        wrk(PORT, "/api/v1/tickets", 4, 2, script=script, env=env)  # warm-up
        for connections in levels:
            api = wrk(PORT, "/api/v1/tickets", connections, seconds, script=script, env=env)
            ceiling = pgbench(db, ROOT / "bench" / "sql" / "submit.sql", connections, seconds,
                              {"requesters": len(tokens)})
            rows.append((f"{connections}", api, ceiling))
            log(f"submit c={connections}: {api['rps']:.0f} req/s (p50 {api['p50']:.1f}, p99 {api['p99']:.1f} ms, "
                f"{api['errors']} errors), ceiling {ceiling:.0f}/s")
        memory["after c=64"] = server.rss_mb()
        # Two processes sharing the database, 8 connections each.
        second = Server(db, PORT + 1)
        try:
            results = []
            processes = []
            for port in (PORT, PORT + 1):
                command = ["wrk", "--latency", "-t1", "-c8", f"-d{seconds}s", "-s", str(script),
                           f"http://127.0.0.1:{port}/api/v1/tickets"]
                processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                                                  env=dict(os.environ, **env)))
            for process in processes:
                out, _ = process.communicate()
                results.append(out)
            total = sum(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) for out in results)
            p99 = max(millis(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)) for out in results)
            errors = sum(int(n) for out in results for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
            ceiling = pgbench(db, ROOT / "bench" / "sql" / "submit.sql", 16, seconds, {"requesters": len(tokens)})
            rows.append(("16 (2 processes x 8)", {"rps": total, "p50": None, "p99": p99, "errors": errors},
                         ceiling))
            log(f"submit two processes: {total:.0f} req/s, p99 {p99:.1f} ms, {errors} errors")
        finally:
            second.stop()
    finally:
        server.stop()
    return rows, memory


def scenario_email():
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "email"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement (default 10)")
    parser.add_argument("--sizes", default="10000,1000000", help="ticket counts of the read scenario")
    parser.add_argument("--fresh", action="store_true", help="reload the read databases even if they exist")
    parser.add_argument("--skip", default="", help="comma-separated scenarios to skip: submit, reads, email")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    RESULTS.mkdir(exist_ok=True)
    log("building in release mode")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "civicdesk"], cwd=ROOT, check=True)

    report = [f"# civicdesk benchmark, {time.strftime('%Y-%m-%d %H:%M')}", "",
              f"{os.cpu_count()} cores; {subprocess.run(['psql', '--version'], capture_output=True, text=True).stdout.strip()}; "
              f"{args.seconds} s per measurement; wrk and pgbench on the same machine.", ""]
    if "submit" not in skip:
        rows, memory = scenario_submit(args.seconds, [1, 16, 64])
        report += ["## Ticket submission (POST /api/v1/tickets)", "",
                   "| concurrency | API req/s | p50 ms | p99 ms | errors | pgbench ceiling tx/s | API / ceiling |",
                   "| --- | --- | --- | --- | --- | --- | --- |"]
        for level, api, ceiling in rows:
            p50 = "-" if api["p50"] is None else f"{api['p50']:.1f}"
            report.append(f"| {level} | {api['rps']:.0f} | {p50} | {api['p99']:.1f} | {api['errors']} | "
                          f"{ceiling:.0f} | {api['rps'] / ceiling:.0%} |")
        report += ["", "| server RSS | MB |", "| --- | --- |"]
        report += [f"| {name} | {value:.1f} |" for name, value in memory.items()]
        report.append("")
    if "reads" not in skip:
        plans = []
        sizes = [int(size) for size in args.sizes.split(",")]
        rows = scenario_reads(sizes, args.seconds, 16, args.fresh, plans)
        report += ["## Reads at scale (concurrency 16)", "",
                   "| tickets | query | API req/s | p50 ms | p99 ms | errors | raw pgbench q/s | API / raw |",
                   "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for tickets, name, api, raw in rows:
            report.append(f"| {tickets:,} | {name} | {api['rps']:.0f} | {api['p50']:.1f} | {api['p99']:.1f} | "
                          f"{api['errors']} | {raw:.0f} | {api['rps'] / raw:.0%} |")
        if len(sizes) > 1:
            report += ["", "| query | p99 at largest / p99 at smallest |", "| --- | --- |"]
            for name in dict.fromkeys(name for _, name, _, _ in rows):
                small = next(api for t, n, api, _ in rows if n == name and t == min(sizes))
                large = next(api for t, n, api, _ in rows if n == name and t == max(sizes))
                report.append(f"| {name} | {large['p99'] / small['p99']:.2f} |")
        (RESULTS / "plans.txt").write_text("\n".join(plans))
        seq_scans = [plan.splitlines()[0] for plan in plans if "Seq Scan on tickets" in plan]
        report += ["", f"Sequential scans on tickets in the plans: {len(seq_scans)} (bench/results/plans.txt)", ""]
    if "email" not in skip:
        report += ["## Email (cargo bench --bench email)", "", "```", scenario_email(), "```", ""]
    text = "\n".join(report)
    (RESULTS / "latest.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

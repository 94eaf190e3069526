#!/usr/bin/env python3
"""The civicdesk benchmark: one command, `python3 bench/run.py` (or `bash bench/run.sh`).

Builds in release mode (unless --no-build), starts a PostgreSQL cluster of its own, prepares its own databases,
starts the server, loads data, measures with wrk (HTTP) and pgbench (SQL straight against PostgreSQL), and prints a
Markdown table; everything runs on loopback, bounded in time, and everything it started is stopped, the cluster
included (also on errors and Ctrl-C). Results go to bench/results/latest.md, with the EXPLAIN plans of the read
queries in bench/results/plans.txt and the statements one submission runs in bench/results/statements.txt.

Scenarios:
1. submit: ticket submission through the API (POST /api/v1/tickets) at concurrency 1, 16 and 64, beside two pgbench
   ceilings: the minimal one (bench/sql/submit_minimal.sql, the least SQL a routed submission needs on the current
   schema) and the replayed one (bench/sql/submit.sql, the statements the API ran before issue #13, kept as the
   historical comparison); then two server processes x 8 connections against one process at 16; the statements
   per submission (pg_stat_statements over the measured run at 16);
2. reads at 10,000 and 1,000,000 tickets (an advisor's queue, a country+status filter, a full-text search, a ticket
   with its messages, a page deep in a cursor walk), each beside the same query run raw with pgbench;
3. scale: submission at 16 against the database with --scale-tickets tickets (the reads' 1,000,000-ticket one by
   default), beside the figure on the submission database; the tickets it adds are removed afterwards;
4. email: `cargo bench --bench email` (notifications/s through one worker, inbound replies/s), and webhooks:
   `cargo bench --bench webhooks` (deliveries/s through one worker, beside its PostgreSQL ceiling); not with
   --no-build;
5. memory: server RSS idle and after submission at concurrency 64 (with submit).

The cluster: bench/results/pg, created on the first run (initdb, as the postgres account when run as root) and
reused after, so the loaded databases survive between runs; it listens on 127.0.0.1:BENCH_PG_PORT (default 15432)
only, with pg_stat_statements preloaded and the stock durability (fsync and synchronous_commit on). The server
binaries are found like .ci/schema-check finds them: POSTGRES_BIN_DIR, initdb on PATH, `pg_config --bindir`, then
/usr/lib/postgresql/*/bin, newest first. Set BENCH_PG (a URL without a database, e.g.
postgres://postgres@127.0.0.1:5432) to use a running server instead; it needs pg_stat_statements in
shared_preload_libraries for the statement counts.

Environment: BENCH_BIN (default target/release/civicdesk), BENCH_PORT (the API's port, default 18181),
BENCH_RATE_LIMIT (the server's RATE_LIMIT, default off; with on, set RATE_LIMIT_READS_PER_MINUTE and
RATE_LIMIT_WRITES_PER_MINUTE high enough for the load to measure the limiter's own cost),
BENCH_PG_PORT, BENCH_PG, POSTGRES_BIN_DIR. BENCH_TRIAL=1 lets a binary from before issue #13 run the scenarios
(adds advisor_profiles.open_tickets when missing, recounts it in SQL when `admin repair-open-counts` is missing):
for trying the script out only, its figures are not the service's.

Needs wrk, pgbench and psql, and the PostgreSQL server binaries with the pg_stat_statements extension (`apt-get
install wrk postgresql postgresql-contrib` or your distribution's equivalent; Debian and Ubuntu ship the extension
with the server package).
"""

import argparse
import base64
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("BENCH_BIN", str(ROOT / "target" / "release" / "civicdesk"))).resolve()
PG = os.environ.get("BENCH_PG", "").rstrip("/")  # set by main() when the benchmark runs its own cluster
RESULTS = ROOT / "bench" / "results"
PORT = int(os.environ.get("BENCH_PORT", "18181"))
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "15432"))
TRIAL = os.environ.get("BENCH_TRIAL") == "1"
SQL = ROOT / "bench" / "sql"
SUBMIT_LUA = ROOT / "bench" / "wrk" / "submit.lua"
ACTIVE = "('new', 'open', 'pending')"
# Marks the benchmark's own queries, so that the statement counts leave them out.
OWN = "/* civicdesk-bench */"

# The libpq variables that could redirect or alter the benchmark's connections.
for _name in ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS", "PGSERVICE", "PGSSLMODE"):
    os.environ.pop(_name, None)


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(command, **kwargs):
    """subprocess.run that fails with the command's own error output."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    result = subprocess.run([str(part) for part in command], **kwargs)
    if result.returncode != 0:
        output = ((result.stderr or "") + (result.stdout or "")).strip()
        raise RuntimeError(f"{Path(str(command[0])).name} {' '.join(str(c) for c in command[1:])[:300]}\n"
                           f"exited with {result.returncode}:\n{output[-3000:]}")
    return result


def url(db):
    return f"{PG}/{db}"


def psql(db, sql=None, file=None, variables=None):
    command = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url(db)]
    for key, value in (variables or {}).items():
        command += ["-v", f"{key}={value}"]
    command += ["-f", str(file)] if file else ["-c", sql]
    return run(command).stdout.strip()


def civicdesk(db, *args, env=None):
    environment = dict(os.environ, DATABASE_URL=url(db), RUST_LOG="warn", **(env or {}))
    return run([BIN, *args], env=environment).stdout


# --- The cluster ------------------------------------------------------------------------------------------------------

def server_bindir():
    """The PostgreSQL server binaries, searched as .ci/schema-check (and civicdesk's embedded server) search."""
    if os.environ.get("POSTGRES_BIN_DIR"):
        candidates = [Path(os.environ["POSTGRES_BIN_DIR"])]
    else:
        candidates = []
        initdb = shutil.which("initdb")
        if initdb:
            candidates.append(Path(os.path.realpath(initdb)).parent)
        try:
            candidates.append(Path(run(["pg_config", "--bindir"]).stdout.strip()))
        except (OSError, RuntimeError):
            pass
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                          key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0], reverse=True)
        candidates += versions
    for directory in candidates:
        if os.access(directory / "initdb", os.X_OK) and os.access(directory / "pg_ctl", os.X_OK):
            return directory
    raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql (and postgresql-contrib "
                       "where pg_stat_statements is separate), set POSTGRES_BIN_DIR, or set BENCH_PG to a server")


class Cluster:
    """The benchmark's own PostgreSQL cluster in bench/results/pg, kept between runs."""

    SETTINGS = """
# civicdesk benchmark (bench/run.py): loopback only, statement statistics, the stock durability.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
shared_buffers = 512MB
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
fsync = on
synchronous_commit = on
"""

    def __init__(self, port):
        self.port = port
        self.data = RESULTS / "pg"
        self.log_file = self.data / "server.log"
        self.bindir = server_bindir()
        # PostgreSQL refuses to run as root: the cluster belongs to the postgres account then.
        self.as_owner = []
        self.owner = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root needs a postgres system account for the cluster") from None
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.started = False

    def ctl(self, *args, check=True):
        # In a session of its own: a Ctrl-C meant for the benchmark must not cut pg_ctl short (the server it starts
        # is in a session of its own too, and is stopped by the benchmark's cleanup).
        command = [*self.as_owner, self.bindir / "pg_ctl", *args]
        if check:
            return run(command, cwd="/", start_new_session=True)
        return subprocess.run([str(c) for c in command], cwd="/", capture_output=True, text=True,
                              start_new_session=True)

    def initdb(self):
        staging = RESULTS / "pg.init"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(mode=0o700)
        if self.owner:
            os.chown(staging, self.owner.pw_uid, self.owner.pw_gid)
        log(f"creating the benchmark's PostgreSQL cluster in {self.data.relative_to(ROOT)} ({self.bindir})")
        run([*self.as_owner, self.bindir / "initdb", "-D", staging, "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--no-locale"], cwd="/")
        with open(staging / "postgresql.conf", "a") as conf:
            conf.write(self.SETTINGS.format(port=self.port))
        # Complete or absent: an interrupted initdb leaves pg.init, which the next run starts again.
        staging.rename(self.data)

    def running_port(self):
        """The port of the cluster's running server, or None when it is not running."""
        if self.ctl("status", "-D", self.data, check=False).returncode != 0:
            return None
        lines = (self.data / "postmaster.pid").read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self):
        if not (self.data / "PG_VERSION").exists():
            self.initdb()
        running = self.running_port()
        if running is not None and running != self.port:
            log(f"the cluster is running on port {running}: restarting it on {self.port}")
            self.stop()
            running = None
        self.started = True  # from here on it is stopped at the end, also when it was found running
        if running is None:
            log(f"starting PostgreSQL on 127.0.0.1:{self.port}")
            try:
                self.ctl("start", "-D", self.data, "-w", "-t", "120", "-l", self.log_file, "-o", f"-p {self.port}")
            except RuntimeError as error:
                tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
                raise RuntimeError(f"{error}\n{self.log_file}:\n{tail}\n(pg_stat_statements missing? install "
                                   "postgresql-contrib; port taken? set BENCH_PG_PORT)") from None
        else:
            log(f"PostgreSQL already running on 127.0.0.1:{self.port}: using it (it is stopped at the end)")
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def stop(self):
        if self.ctl("status", "-D", self.data, check=False).returncode == 0:
            log("stopping PostgreSQL")
            result = self.ctl("stop", "-D", self.data, "-m", "fast", "-w", "-t", "120", check=False)
            if result.returncode != 0:
                log(f"pg_ctl stop: {result.stderr.strip()}")


def ensure_extension(db):
    try:
        psql(db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    except RuntimeError as error:
        log(f"{db}: no pg_stat_statements ({error.args[0].splitlines()[-1]}); statement counts will be missing")


# --- Databases --------------------------------------------------------------------------------------------------------

def trial_schema(db):
    """BENCH_TRIAL=1 with a binary from before issue #13: the counter column its migrations do not add."""
    if TRIAL:
        psql(db, "ALTER TABLE advisor_profiles ADD COLUMN IF NOT EXISTS open_tickets integer NOT NULL DEFAULT 0")


def recreate(db):
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    civicdesk(db, "migrate")
    trial_schema(db)
    civicdesk(db, "seed", "--demo")
    ensure_extension(db)


def repair_open_counts(db):
    """`civicdesk admin repair-open-counts`: every profile's open_tickets from the tickets; returns its output."""
    try:
        return civicdesk(db, "admin", "repair-open-counts").strip()
    except RuntimeError:
        if not TRIAL:
            raise
        log(f"{db}: BENCH_TRIAL=1: this binary has no `admin repair-open-counts`; counting in SQL instead")
        psql(db, f"""UPDATE advisor_profiles p SET open_tickets = (SELECT count(*) FROM tickets t
                     WHERE t.assignee_id = p.user_id AND t.status IN {ACTIVE})""")
        return "(trial: recounted in SQL)"


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


def bench_requesters(db, name):
    """A token for every bench requester (100 CSOs per national office, so every country), in bench/results/<name>
    for wrk and numbered in the table bench_requesters for pgbench; returns their number."""
    psql(db, "DELETE FROM api_tokens WHERE label = 'bench'")
    tokens = issue_tokens(db, "role = 'requester' AND email LIKE 'req-%@bench.example.org'", 100000)
    (RESULTS / name).write_text("\n".join(secret for _, secret in tokens) + "\n")
    psql(db, "DROP TABLE IF EXISTS bench_requesters")
    psql(db, "CREATE TABLE bench_requesters AS SELECT row_number() OVER (ORDER BY t.id) AS n, t.token_hash "
             "FROM api_tokens t WHERE t.label = 'bench'")
    return len(tokens)


def ticket_counts(db, since):
    """(tickets, unassigned tickets) created since `since`."""
    total, unassigned = psql(db, f"SELECT {OWN} count(*), count(*) FILTER (WHERE assignee_id IS NULL) FROM tickets "
                                 f"WHERE created_at >= '{since}'").split("|")
    return int(total), int(unassigned)


def now(db):
    return psql(db, f"SELECT {OWN} now()")


# --- Load generators --------------------------------------------------------------------------------------------------

class Server:
    """One `civicdesk serve` process."""

    def __init__(self, db, port, env=None):
        environment = dict(
            os.environ,
            DATABASE_URL=url(db),
            LISTEN_ADDRESS=f"127.0.0.1:{port}",
            OUTBOX_WORKER="false",
            # The hourly cap per recipient (60) would drop most notifications within seconds at these rates, and
            # the API would write fewer outbox rows than the ceilings do; see fresh_hour().
            NOTIFICATIONS_PER_HOUR="1000000",
            # Per-request log lines off: the figures are for the service, not for its logging.
            RUST_LOG="error",
            # 700 tokens at these rates would each pass the default budgets (600 reads, 120 writes a minute); the
            # limiter's own cost (one upsert per request) is measured with BENCH_RATE_LIMIT=on and high budgets.
            RATE_LIMIT=os.environ.get("BENCH_RATE_LIMIT", "off"),
            **(env or {}),
        )
        self.port = port
        self.process = subprocess.Popen([str(BIN), "serve"], env=environment, stdout=subprocess.DEVNULL)
        for _ in range(400):
            if self.process.poll() is not None:
                raise RuntimeError(f"civicdesk serve exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the server did not become ready")

    def rss_mb(self):
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def peak_mb(self):
        """The most memory the process has held since it started (VmHWM)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self):
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def millis(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}[unit]


def parse_wrk(out):
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
        "seconds": millis(re.search(r"\d+ requests in ([\d.]+(?:us|ms|s|m|h))", out).group(1)) / 1000,
    }


def wrk_command(port, path, connections, seconds, token=None, script=None, threads=None):
    threads = threads or max(1, min(2, connections))
    command = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    if script:
        command += ["-s", str(script)]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    return command + [f"http://127.0.0.1:{port}{path}"]


def wrk(port, path, connections, seconds, token=None, script=None, env=None):
    out = run(wrk_command(port, path, connections, seconds, token, script),
              env=dict(os.environ, **(env or {}))).stdout
    return parse_wrk(out)


def pgbench(db, script, connections, seconds, variables=None):
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(connections), "-j", str(max(1, min(2, connections))),
               "-T", str(seconds), "-f", str(script)]
    for key, value in (variables or {}).items():
        command += ["-D", f"{key}={value}"]
    command.append(url(db))
    out = run(command).stdout
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed.group(1)):
        log(f"pgbench {Path(script).name}: {failed.group(1)} failed transactions")
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


# --- Statements per submission ----------------------------------------------------------------------------------------

def reset_statements(db):
    try:
        psql(db, "SELECT pg_stat_statements_reset()")
        return True
    except RuntimeError as error:
        log(f"statement counts unavailable: {error.args[0].splitlines()[-1]}")
        return False


def statements_per_submission(db, tickets):
    """The statements the database ran since the reset, per ticket created: (summary, breakdown lines)."""
    toplevel = psql(db, f"SELECT {OWN} count(*) FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass "
                        "AND attname = 'toplevel' AND NOT attisdropped") == "1"
    rows = psql(db, f"""SELECT {'s.toplevel' if toplevel else 'true'}, s.calls,
            regexp_replace(s.query, '\\s+', ' ', 'g') FROM pg_stat_statements s
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND s.query NOT LIKE '%pg_stat_statements%' AND s.query NOT LIKE '%civicdesk-bench%'
        ORDER BY s.calls DESC, 3""")
    # The body of an SQL function the planner runs to fold a constant argument (civicdesk_search_vector of a
    # literal, with a custom plan) is recorded as top-level: pg_stat_statements counts nesting in the executor
    # only. Such statements are told apart by their text.
    shape = lambda text: re.sub(r"\s+", " ", re.sub(r"'(?:[^']|'')*'|\$\d+|\b\d+\b", "?", text)).strip(" ;")
    bodies = {shape(body) for body in psql(db, f"""SELECT {OWN} replace(p.prosrc, E'\\n', ' ') FROM pg_proc p
        JOIN pg_language l ON l.oid = p.prolang WHERE l.lanname = 'sql'
        AND p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)""").splitlines()}
    statements = []
    for line in rows.splitlines():
        top, calls, query = line.split("|", 2)
        statements.append((top == "t" and shape(query) not in bodies, int(calls), query))
    per = lambda calls: calls / tickets if tickets else 0.0
    top_calls = sum(calls for top, calls, _ in statements if top)
    nested_calls = sum(calls for top, calls, _ in statements if not top)
    token_calls = sum(calls for top, calls, query in statements if top and "api_tokens" in query)
    tx_calls = sum(calls for top, calls, query in statements
                   if top and re.match(r"(?i)\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b", query))
    summary = {"tickets": tickets, "per": per(top_calls), "tokens": per(token_calls), "tx": per(tx_calls),
               "nested": per(nested_calls)}
    lines = [f"Statements per submission: {tickets} tickets created in one measured wrk run at 16 clients, "
             f"pg_stat_statements reset just before it (the benchmark's own queries left out).",
             f"{per(top_calls):.2f} statements per submission sent by the server "
             f"({per(tx_calls):.2f} of them BEGIN/COMMIT/ROLLBACK, {per(token_calls):.2f} token look-ups or updates "
             f"the token cache did not save); {per(nested_calls):.2f} nested (run inside functions or triggers).",
             "", "calls/submission  calls  level   statement"]
    for top, calls, query in statements:
        shortened = query if len(query) <= 220 else query[:217] + "..."
        lines.append(f"{per(calls):16.3f}  {calls:5d}  {'top' if top else 'nested'}  {shortened}")
    return summary, lines


# --- Scenarios --------------------------------------------------------------------------------------------------------

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
  tickets.resolution_seconds, (SELECT r.rating FROM satisfaction_ratings r WHERE r.ticket_id = tickets.id),
  tickets.tags, tickets.custom_fields, tickets.time_spent_minutes, tickets.merged_into"""
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
        # Issue #15: a tag on 1% of the tickets, and a custom field value on 0.1% (bench/sql/load.sql).
        ("tag filter", "/api/v1/tickets?tag=grant:7", "coordinator",
         f"SELECT {TICKET_COLUMNS} FROM tickets WHERE tickets.tags && ARRAY[:tag]::text[] {ORDER}",
         {"tag": "grant:7"}),
        ("custom field filter", "/api/v1/tickets?cf.grant_code=G-7", "coordinator",
         f"SELECT {TICKET_COLUMNS} FROM tickets WHERE tickets.custom_fields @> :cf::jsonb {ORDER}",
         {"cf": '{"grant_code":"G-7"}'}),
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
                ensure_extension(db)
                return
        except RuntimeError:
            pass
    log(f"{db}: loading {tickets} tickets with messages and events (SQL, not the API)")
    started = time.time()
    recreate(db)
    psql(db, file=SQL / "load.sql", variables={"tickets": tickets})
    psql(db, f"CREATE TABLE bench_meta AS SELECT {tickets} AS tickets")
    log(f"{db}: loaded in {time.time() - started:.0f} s")


def scenario_reads(sizes, seconds, connections, fresh, plans, loaded):
    rows = []
    for tickets in sizes:
        db = f"civicdesk_bench_{tickets}"
        prepare_read_db(db, tickets, fresh)
        loaded.add(db)
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


def checkpoint(db):
    """A checkpoint before a measurement, so that each starts in the same state: right after one, the first change
    to every page writes the whole page to the WAL, and a run that happens to meet a checkpoint (or follow a bulk
    load) would pay for it alone."""
    try:
        psql(db, f"CHECKPOINT {OWN}")
    except RuntimeError as error:
        log(f"{db}: no CHECKPOINT ({error.args[0].splitlines()[-1]})")


def fresh_hour(db):
    """Moves the notifications the benchmark queued back by two hours, so that each measurement starts with every
    recipient's hourly count at zero (as on a real desk) and counts only its own."""
    psql(db, f"UPDATE {OWN} outbox SET created_at = created_at - interval '2 hours' "
             "WHERE created_at > now() - interval '1 hour'")


def upload_memory(db, token, size=25 * 1024 * 1024):
    """A fresh server's peak memory before and while it takes one upload of `size` bytes (POST /api/v1/uploads);
    the upload is removed afterwards."""
    server = Server(db, PORT + 2)
    try:
        before = server.peak_mb()
        body = b"%PDF-1.7\n" + os.urandom(size - 9)
        request = urllib.request.Request(
            f"http://127.0.0.1:{PORT + 2}/api/v1/uploads", data=body, method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf",
                     "Content-Disposition": "attachment; filename=bench.pdf"})
        with urllib.request.urlopen(request, timeout=300) as answer:
            if answer.status != 201:
                raise RuntimeError(f"the upload answered {answer.status}")
        peak = server.peak_mb()
    finally:
        server.stop()
    psql(db, f"{OWN} DELETE FROM uploads WHERE filename = 'bench.pdf'")
    psql(db, f"{OWN} DELETE FROM files f WHERE NOT EXISTS (SELECT 1 FROM uploads u WHERE u.sha256 = f.sha256) "
             "AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = f.sha256)")
    log(f"upload of {size / 1024 / 1024:.0f} MB: peak memory {before:.1f} MB before, {peak:.1f} MB with it")
    return {"fresh process, peak before a 25 MB upload": before, "fresh process, peak with a 25 MB upload": peak}


def scenario_submit(seconds, levels):
    """Returns (rows, two-process row, memory, statements summary, c=16 run with tickets/s)."""
    db = "civicdesk_bench_submit"
    log(f"{db}: preparing (demo network with the bench advisors, 700 CSOs with a token each)")
    recreate(db)
    psql(db, file=SQL / "load.sql", variables={"tickets": 0})
    requesters = bench_requesters(db, "tokens.txt")
    since = now(db)
    env = {"BENCH_TOKENS": str(RESULTS / "tokens.txt")}
    ceilings = {"requesters": requesters}
    rows = []
    statements = None
    at16 = None
    server = Server(db, PORT)
    memory = {"idle": server.rss_mb()}
    try:
        wrk(PORT, "/api/v1/tickets", 4, 2, script=SUBMIT_LUA, env=env)  # warm-up
        for connections in levels:
            fresh_hour(db)
            checkpoint(db)
            before = ticket_counts(db, since)
            measured = connections == 16 and reset_statements(db)
            api = wrk(PORT, "/api/v1/tickets", connections, seconds, script=SUBMIT_LUA, env=env)
            after = ticket_counts(db, since)
            api["tickets"] = after[0] - before[0]
            api["unassigned"] = after[1] - before[1]
            api["tickets_per_s"] = api["tickets"] / api["seconds"]
            if measured:
                statements, lines = statements_per_submission(db, api["tickets"])
                (RESULTS / "statements.txt").write_text("\n".join(lines) + "\n")
            if connections == 16:
                at16 = api
            before = ticket_counts(db, since)
            minimal = pgbench(db, SQL / "submit_minimal.sql", connections, seconds, ceilings)
            after = ticket_counts(db, since)
            minimal_unassigned = after[1] - before[1]
            replayed = pgbench(db, SQL / "submit.sql", connections, seconds, ceilings)
            rows.append((f"{connections}", api, minimal, replayed))
            log(f"submit c={connections}: {api['rps']:.0f} req/s (p50 {api['p50']:.1f}, p99 {api['p99']:.1f} ms, "
                f"{api['errors']} errors, {api['unassigned']} of {api['tickets']} tickets unassigned), "
                f"minimal ceiling {minimal:.0f}/s ({minimal_unassigned} of {after[0] - before[0]} unassigned), "
                f"replayed ceiling {replayed:.0f}/s")
        memory["after c=64"] = server.rss_mb()
        # Two processes sharing the database, 8 connections each.
        second = Server(db, PORT + 1)
        try:
            fresh_hour(db)
            processes = [subprocess.Popen(wrk_command(port, "/api/v1/tickets", 8, seconds, script=SUBMIT_LUA,
                                                      threads=1),
                                          stdout=subprocess.PIPE, text=True, env=dict(os.environ, **env))
                         for port in (PORT, PORT + 1)]
            results = [parse_wrk(process.communicate()[0]) for process in processes]
            two = {"rps": sum(r["rps"] for r in results), "p50": None, "p99": max(r["p99"] for r in results),
                   "errors": sum(r["errors"] for r in results)}
            log(f"submit two processes: {two['rps']:.0f} req/s, p99 {two['p99']:.1f} ms, {two['errors']} errors")
        finally:
            second.stop()
    finally:
        server.stop()
    token = (RESULTS / "tokens.txt").read_text().split()[0]
    memory.update(upload_memory(db, token))
    return rows, two, memory, statements, at16


def remove_submitted(db, since):
    """Deletes the tickets created since `since` with everything that refers to them, so that the scale database
    stays as loaded. Foreign keys to tickets and messages are found in the catalogue; their checks and the
    append-only trigger of ticket_events are off for the transaction (session_replication_role, superuser only)."""
    sql = f"""BEGIN;
SET LOCAL session_replication_role = replica;
CREATE TEMP TABLE bench_new_tickets ON COMMIT DROP AS SELECT id FROM tickets WHERE created_at >= '{since}';
CREATE TEMP TABLE bench_new_messages ON COMMIT DROP AS
    SELECT id FROM messages WHERE ticket_id IN (SELECT id FROM bench_new_tickets);
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.conrelid::regclass AS referring, a.attname AS col, c.confrelid = 'tickets'::regclass AS to_ticket
             FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
             WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
               AND c.confrelid IN ('tickets'::regclass, 'messages'::regclass)
               AND c.conrelid NOT IN ('tickets'::regclass, 'messages'::regclass)
    LOOP
        EXECUTE format('DELETE FROM %s WHERE %I IN (SELECT id FROM %I)', r.referring, r.col,
                       CASE WHEN r.to_ticket THEN 'bench_new_tickets' ELSE 'bench_new_messages' END);
    END LOOP;
END $$;
DELETE FROM messages WHERE id IN (SELECT id FROM bench_new_messages);
DELETE FROM tickets WHERE id IN (SELECT id FROM bench_new_tickets);
COMMIT;"""
    script = RESULTS / "remove_submitted.sql"
    script.write_text(sql + "\n")
    try:
        psql(db, file=script)
        return True
    except RuntimeError as error:
        log(f"{db}: could not remove the benchmark's tickets ({error.args[0].splitlines()[-1]}): "
            f"the database keeps them")
        return False


def scenario_scale(tickets, seconds, fresh, loaded):
    db = f"civicdesk_bench_{tickets}"
    if db not in loaded:
        prepare_read_db(db, tickets, fresh)
        loaded.add(db)
    trial_schema(db)
    total, active = psql(db, f"SELECT count(*), count(*) FILTER (WHERE status IN {ACTIVE}) FROM tickets").split("|")
    started = time.time()
    repaired = repair_open_counts(db)
    log(f"{db}: {int(total):,} tickets, {int(active):,} active; repair-open-counts in {time.time() - started:.1f} s: "
        f"{len(repaired.splitlines())} line(s) of output")
    loads = psql(db, """SELECT max(p.open_tickets), min(p.capacity),
            count(*) FILTER (WHERE p.open_tickets >= p.capacity)
        FROM advisor_profiles p JOIN users u ON u.id = p.user_id WHERE u.role = 'advisor' AND u.active""").split("|")
    log(f"{db}: advisors' open tickets at most {loads[0]} (capacity {loads[1]}); {loads[2]} advisor(s) at capacity")
    requesters = bench_requesters(db, "tokens_scale.txt")
    env = {"BENCH_TOKENS": str(RESULTS / "tokens_scale.txt")}
    since = now(db)
    server = Server(db, PORT)
    try:
        # A longer warm-up than on the small database: the read scenario has just filled the cache with other pages.
        wrk(PORT, "/api/v1/tickets", 16, 5, script=SUBMIT_LUA, env=env)
        fresh_hour(db)
        checkpoint(db)
        before = ticket_counts(db, since)
        api = wrk(PORT, "/api/v1/tickets", 16, seconds, script=SUBMIT_LUA, env=env)
        after = ticket_counts(db, since)
        api["tickets"] = after[0] - before[0]
        api["unassigned"] = after[1] - before[1]
        api["tickets_per_s"] = api["tickets"] / api["seconds"]
    finally:
        server.stop()
    minimal = pgbench(db, SQL / "submit_minimal.sql", 16, seconds, {"requesters": requesters})
    log(f"scale {int(total):,} tickets, c=16: {api['tickets_per_s']:.0f} tickets/s ({api['rps']:.0f} req/s, "
        f"p99 {api['p99']:.1f} ms, {api['errors']} errors, {api['unassigned']} unassigned), "
        f"minimal ceiling {minimal:.0f}/s")
    if remove_submitted(db, since):
        repair_open_counts(db)
    return {"tickets": int(total), "active": int(active), "api": api, "minimal": minimal}


def scenario_email():
    environment = dict(os.environ, BENCH_DATABASE_URL=url("civicdesk_bench_outbox"))
    out = run(["cargo", "bench", "--quiet", "--bench", "email"], cwd=ROOT, env=environment)
    return out.stdout.strip()


def scenario_webhooks():
    environment = dict(os.environ, BENCH_DATABASE_URL=url("civicdesk_bench_webhooks"))
    out = run(["cargo", "bench", "--quiet", "--bench", "webhooks"], cwd=ROOT, env=environment)
    return out.stdout.strip()


# --- Report -----------------------------------------------------------------------------------------------------------

def ratio(a, b):
    return f"{a / b:.0%}" if b else "-"


def submit_report(rows, two, memory, statements):
    report = ["## Ticket submission (POST /api/v1/tickets)", "",
              "Ceilings, run by pgbench -M prepared at the same concurrency: **minimal** is "
              "`bench/sql/submit_minimal.sql`, the least SQL a routed submission needs on the current schema "
              "(caller cached; one statement picks, locks and counts an advisor with SKIP LOCKED; ticket, message, "
              "event, two outbox rows). **Replayed** is `bench/sql/submit.sql`, the statements the API ran before "
              "issue #13 (office-wide advisor locks, loads counted from the tickets), kept unchanged as the "
              "historical comparison.", "",
              "| concurrency | API req/s | p50 ms | p99 ms | errors | minimal ceiling tx/s | API / minimal | "
              "replayed ceiling tx/s | API / replayed |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for level, api, minimal, replayed in rows:
        report.append(f"| {level} | {api['rps']:.0f} | {api['p50']:.1f} | {api['p99']:.1f} | {api['errors']} | "
                      f"{minimal:.0f} | {ratio(api['rps'], minimal)} | {replayed:.0f} | "
                      f"{ratio(api['rps'], replayed)} |")
    one = next((api for level, api, _, _ in rows if level == "16"), None)
    report += ["", "| at 16 clients | API req/s | p99 ms | errors |", "| --- | --- | --- | --- |"]
    if one:
        report.append(f"| one process, 16 connections | {one['rps']:.0f} | {one['p99']:.1f} | {one['errors']} |")
    report.append(f"| two processes x 8 connections | {two['rps']:.0f} | {two['p99']:.1f} | {two['errors']} |")
    if one:
        report += ["", f"Two processes / one process: {ratio(two['rps'], one['rps'])}."]
    unassigned = [(level, api) for level, api, _, _ in rows if api.get("unassigned")]
    if unassigned:
        report += ["", "Tickets left unassigned by routing: " + ", ".join(
            f"{api['unassigned']} of {api['tickets']} at {level}" for level, api in unassigned) + "."]
    report += [""]
    if statements:
        report += ["### Statements per submission", "",
                   f"**{statements['per']:.2f}** statements per submission (pg_stat_statements, reset just before "
                   f"the measured run at 16 clients, over the {statements['tickets']} tickets it created; the "
                   f"benchmark's own queries left out): {statements['tx']:.2f} of them BEGIN/COMMIT, "
                   f"{statements['tokens']:.2f} token look-ups or updates. The API authenticates a token per "
                   f"request but caches tokens, so this is the real figure with 700 tokens in turn; "
                   f"{statements['nested']:.2f} more ran nested inside functions or triggers. "
                   "The minimal ceiling runs 8 (the caller look-up, BEGIN, the pick, ticket, message, event, "
                   "outbox, COMMIT; 9 when every eligible advisor was held and the pick runs again, waiting). "
                   "Per statement: `bench/results/statements.txt`.", ""]
    else:
        report += ["Statements per submission: unavailable (pg_stat_statements not loaded).", ""]
    report += ["| server RSS | MB |", "| --- | --- |"]
    report += [f"| {name} | {value:.1f} |" for name, value in memory.items()]
    report.append("")
    return report


def scale_report(scale, at16):
    api = scale["api"]
    report = ["## Submission at scale (16 clients)", "",
              f"On the database with {scale['tickets']:,} tickets ({scale['active']:,} of them new, open or "
              "pending; counters set by `civicdesk admin repair-open-counts` after the load), beside the "
              "submission database (demo network, started empty). The tickets the run adds are removed after.", "",
              "| database | tickets/s | API req/s | p50 ms | p99 ms | errors | minimal ceiling tx/s |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    if at16:
        empty, minimal16 = at16
        report.append(f"| submission (started empty) | {empty['tickets_per_s']:.0f} | {empty['rps']:.0f} | "
                      f"{empty['p50']:.1f} | {empty['p99']:.1f} | {empty['errors']} | {minimal16:.0f} |")
    report.append(f"| {scale['tickets']:,} tickets | {api['tickets_per_s']:.0f} | {api['rps']:.0f} | "
                  f"{api['p50']:.1f} | {api['p99']:.1f} | {api['errors']} | {scale['minimal']:.0f} |")
    if at16:
        report += ["", f"At {scale['tickets']:,} tickets / started empty: "
                       f"{ratio(api['tickets_per_s'], at16[0]['tickets_per_s'])} of the tickets/s "
                       f"(target: within 10%), {ratio(scale['minimal'], at16[1])} of the minimal ceiling."]
    report.append("")
    return report


def reads_report(rows, sizes, plans):
    report = ["## Reads at scale (concurrency 16)", "",
              "| tickets | query | API req/s | p50 ms | p99 ms | errors | raw pgbench q/s | API / raw |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for tickets, name, api, raw in rows:
        report.append(f"| {tickets:,} | {name} | {api['rps']:.0f} | {api['p50']:.1f} | {api['p99']:.1f} | "
                      f"{api['errors']} | {raw:.0f} | {ratio(api['rps'], raw)} |")
    if len(sizes) > 1:
        report += ["", "| query | p99 at largest / p99 at smallest |", "| --- | --- |"]
        for name in dict.fromkeys(name for _, name, _, _ in rows):
            small = next(api for t, n, api, _ in rows if n == name and t == min(sizes))
            large = next(api for t, n, api, _ in rows if n == name and t == max(sizes))
            report.append(f"| {name} | {large['p99'] / small['p99']:.2f} |")
    seq_scans = [plan.splitlines()[0] for plan in plans if "Seq Scan on tickets" in plan]
    report += ["", f"Sequential scans on tickets in the plans: {len(seq_scans)} (bench/results/plans.txt)", ""]
    return report


def benchmark(args, skip):
    report = [f"# civicdesk benchmark, {time.strftime('%Y-%m-%d %H:%M')}", "",
              f"{os.cpu_count()} cores; {psql('postgres', 'SELECT version()').split(' on ')[0]}; "
              f"{args.seconds} s per measurement; wrk and pgbench on the same machine; binary {BIN}"
              + (" (BENCH_TRIAL=1: not the service's figures)" if TRIAL else "") + ".", ""]
    loaded = set()
    at16 = None
    if "submit" not in skip:
        rows, two, memory, statements, api16 = scenario_submit(args.seconds, [1, 16, 64])
        report += submit_report(rows, two, memory, statements)
        at16 = (api16, next(minimal for level, _, minimal, _ in rows if level == "16"))
    if "reads" not in skip:
        plans = []
        sizes = [int(size) for size in args.sizes.split(",")]
        rows = scenario_reads(sizes, args.seconds, 16, args.fresh, plans, loaded)
        (RESULTS / "plans.txt").write_text("\n".join(plans))
        reads = reads_report(rows, sizes, plans)
    else:
        reads = []
    if "scale" not in skip:
        report += scale_report(scenario_scale(args.scale_tickets, args.seconds, args.fresh, loaded), at16)
    report += reads
    if "email" not in skip:
        if args.no_build:
            log("email: skipped (cargo bench builds, and --no-build was given)")
        else:
            report += ["## Email (cargo bench --bench email)", "", "```", scenario_email(), "```", ""]
    if "webhooks" not in skip:
        if args.no_build:
            log("webhooks: skipped (cargo bench builds, and --no-build was given)")
        else:
            report += ["## Webhooks (cargo bench --bench webhooks)", "", "```", scenario_webhooks(), "```", ""]
    return "\n".join(report)


def main():
    global PG
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement (default 10)")
    parser.add_argument("--sizes", default="10000,1000000", help="ticket counts of the read scenario")
    parser.add_argument("--scale-tickets", type=int, default=1000000,
                        help="tickets in the database of the scale scenario (default 1000000)")
    parser.add_argument("--fresh", action="store_true", help="reload the read databases even if they exist")
    parser.add_argument("--skip", default="", help="comma-separated scenarios to skip: submit, reads, scale, email, webhooks")
    parser.add_argument("--no-build", action="store_true", help="use BENCH_BIN as it is (no cargo build; no email)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    unknown = skip - {"submit", "reads", "scale", "email", "webhooks"}
    if unknown:
        parser.error(f"unknown scenario(s) to skip: {', '.join(sorted(unknown))}")
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            parser.error(f"{tool} is not installed")
    RESULTS.mkdir(parents=True, exist_ok=True)

    # SIGTERM and SIGHUP end the run like Ctrl-C: through the finally blocks, which stop what was started.
    def interrupted(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    if not args.no_build:
        log("building in release mode")
        run(["cargo", "build", "--release", "--quiet", "--bin", "civicdesk"], cwd=ROOT, capture_output=False)
    if not os.access(BIN, os.X_OK):
        parser.error(f"no civicdesk binary at {BIN} (set BENCH_BIN, or build without --no-build)")

    cluster = None
    code = 0
    try:
        if not PG:
            cluster = Cluster(PG_PORT)
            PG = cluster.start()
        text = benchmark(args, skip)
    except KeyboardInterrupt:
        log("interrupted")
        code = 130
    except SystemExit as exit:
        log("terminated")
        code = exit.code
    except RuntimeError as error:
        log(f"failed: {error}")
        code = 1
    finally:
        # The cleanup is not to be interrupted in turn.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        if cluster and cluster.started:
            cluster.stop()
    if code:
        sys.exit(code)
    (RESULTS / "latest.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Email throughput: how many notifications one outbox worker delivers per second to a local SMTP sink.
# Builds in release mode, prepares its own database (civicdesk_bench_outbox), starts a sink on loopback,
# measures, prints a table, and stops the sink. Needs PostgreSQL at 127.0.0.1:5432 and python3 (3.11: smtpd).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${BENCH_SMTP_PORT:-2525}
python3 bench/smtp_sink.py "$port" &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5
BENCH_SMTP_URL="smtp://127.0.0.1:$port" cargo bench --quiet --bench outbox

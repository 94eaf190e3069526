#!/usr/bin/env bash
# Email throughput: notifications one outbox worker delivers per second to a local SMTP sink, and replies per
# second the inbound core takes in (parse, match by signed token, strip, store, notify), and the time and peak
# memory of a 10 MB HTML part (converted alone, and read as a whole quoted-printable message).
# Builds in release mode, prepares its own database (civicdesk_bench_outbox), runs a loopback SMTP sink in the
# benchmark process, measures and prints a table. Needs PostgreSQL at 127.0.0.1:5432 (BENCH_DATABASE_URL to change).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --quiet --bench email

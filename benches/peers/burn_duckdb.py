"""Peer for benches/burn.rs: the same burn-rate computation in DuckDB SQL (pip install duckdb).

Usage: burn_duckdb.py PARQUET RUNS. Loads the file into an in-memory table (not timed), then runs
the query RUNS times and prints one JSON object:
{"seconds": [per run], "threads": N, "fired": {tenant: [[count, first, last] per tier]}}.

Every window of the SRE Workbook's four tiers for a 30-day 99.9% SLO, at every sample of every
tenant: a tier fires at a sample when the burn rate over its long window and over its short
window both reach its factor. Windows are (t - w, t], as in deployclaw.
"""
import json
import sys
import time

import duckdb

path, runs = sys.argv[1], int(sys.argv[2])
BUDGET = 0.001
TIERS = [(14.4, 3600, 300), (6.0, 21600, 1800), (3.0, 86400, 7200), (1.0, 259200, 21600)]
windows = sorted({w for _, long, short in TIERS for w in (long, short)})

con = duckdb.connect()
con.execute(f"CREATE TABLE m AS SELECT time, tenant, total - good AS bad, total FROM read_parquet('{path}')")

sums = ",\n    ".join(
    f"SUM(bad) OVER w{w} AS b{w}, SUM(total) OVER w{w} AS t{w}" for w in windows
)
named = ",\n  ".join(
    f"w{w} AS (PARTITION BY tenant ORDER BY time RANGE BETWEEN {w - 1} PRECEDING AND CURRENT ROW)" for w in windows
)
conds = ",\n    ".join(
    f"(b{long} / NULLIF(t{long}, 0) / {BUDGET} >= {f} * (1 - 1e-9) AND "
    f"b{short} / NULLIF(t{short}, 0) / {BUDGET} >= {f} * (1 - 1e-9)) AS f{i}"
    for i, (f, long, short) in enumerate(TIERS)
)
aggs = ",\n  ".join(
    f"COUNT(*) FILTER (WHERE f{i}) AS n{i}, MIN(time) FILTER (WHERE f{i}) AS first{i}, "
    f"MAX(time) FILTER (WHERE f{i}) AS last{i}"
    for i in range(len(TIERS))
)
query = f"""
WITH w AS (
  SELECT tenant, time,
    {sums}
  FROM m
  WINDOW {named}
), f AS (
  SELECT tenant, time,
    {conds}
  FROM w
)
SELECT tenant,
  {aggs}
FROM f GROUP BY tenant ORDER BY tenant
"""

seconds = []
rows = None
for _ in range(runs):
    start = time.perf_counter()
    rows = con.execute(query).fetchall()
    seconds.append(time.perf_counter() - start)

fired = {}
for row in rows:
    tenant, rest = row[0], row[1:]
    fired[tenant] = [[rest[3 * i] or 0, rest[3 * i + 1], rest[3 * i + 2]] for i in range(len(TIERS))]
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
print(json.dumps({"seconds": seconds, "threads": threads, "fired": fired}))

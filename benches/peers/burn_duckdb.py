"""Peer for benches/burn.rs: the same burn-rate computation in DuckDB SQL (pip install duckdb).

Usage: burn_duckdb.py PARQUET RUNS. Loads the file into an in-memory table (not timed), then runs
the query RUNS times and prints one JSON object:
{"seconds": [per run], "threads": N, "fired": {tenant: [[count, first, last] per tier]},
 "range_check": {"tenants": N, "agree": true}}.

Every window of the SRE Workbook's four tiers for a 30-day 99.9% SLO, at every sample of every
tenant: a tier fires at a sample when the burn rate over its long window and over its short
window both reach its factor. Windows are (t - w, t], as in deployclaw.

The query is written the way DuckDB runs it fastest: one running sum per column per tenant
(`ROWS UNBOUNDED PRECEDING`, a single streaming pass), and each window's sum as the running sum
minus its value w/step rows back (`LAG`). That needs one row per step per tenant, which the
script checks before timing anything. The `RANGE BETWEEN w-1 PRECEDING` frames that say the same
thing without the density assumption are run once on a few tenants to show both agree; they are
two orders of magnitude slower, so they are not what is timed.
"""
import json
import sys
import time

import duckdb

path, runs = sys.argv[1], int(sys.argv[2])
BUDGET = 0.001
TIERS = [(14.4, 3600, 300), (6.0, 21600, 1800), (3.0, 86400, 7200), (1.0, 259200, 21600)]
WINDOWS = sorted({w for _, long, short in TIERS for w in (long, short)})
CHECKED_TENANTS = 5

con = duckdb.connect()
con.execute(f"CREATE TABLE m AS SELECT time, tenant, total - good AS bad, total FROM read_parquet('{path}')")

# The LAG formulation counts rows, so the samples must be one step apart with none missing.
step, dense = con.execute(
    """
    WITH d AS (SELECT tenant, time - LAG(time) OVER (PARTITION BY tenant ORDER BY time) AS gap FROM m)
    SELECT MIN(gap), MIN(gap) = MAX(gap) FROM d WHERE gap IS NOT NULL
    """
).fetchone()
if not dense or step is None or any(w % step for w in WINDOWS):
    sys.exit(f"{path}: samples are not evenly spaced (step {step}); the LAG formulation does not apply")


def tier_conditions():
    return ",\n    ".join(
        f"(b{long} / NULLIF(t{long}, 0) / {BUDGET} >= {f} * (1 - 1e-9) AND "
        f"b{short} / NULLIF(t{short}, 0) / {BUDGET} >= {f} * (1 - 1e-9)) AS f{i}"
        for i, (f, long, short) in enumerate(TIERS)
    )


def per_tenant(windowed):
    aggs = ",\n  ".join(
        f"COUNT(*) FILTER (WHERE f{i}) AS n{i}, MIN(time) FILTER (WHERE f{i}) AS first{i}, "
        f"MAX(time) FILTER (WHERE f{i}) AS last{i}"
        for i in range(len(TIERS))
    )
    return f"""
{windowed}, f AS (
  SELECT tenant, time,
    {tier_conditions()}
  FROM w
)
SELECT tenant,
  {aggs}
FROM f GROUP BY tenant ORDER BY tenant
"""


def running_sums(source):
    lags = ",\n    ".join(
        f"cb - COALESCE(LAG(cb, {w // step}) OVER t, 0) AS b{w}, ct - COALESCE(LAG(ct, {w // step}) OVER t, 0) AS t{w}"
        for w in WINDOWS
    )
    return per_tenant(
        f"""
WITH c AS (
  SELECT tenant, time,
    SUM(bad) OVER t AS cb, SUM(total) OVER t AS ct
  FROM {source}
  WINDOW t AS (PARTITION BY tenant ORDER BY time ROWS UNBOUNDED PRECEDING)
), w AS (
  SELECT tenant, time,
    {lags}
  FROM c
  WINDOW t AS (PARTITION BY tenant ORDER BY time)
)"""
    )


def range_frames(source):
    sums = ",\n    ".join(f"SUM(bad) OVER w{w} AS b{w}, SUM(total) OVER w{w} AS t{w}" for w in WINDOWS)
    named = ",\n  ".join(
        f"w{w} AS (PARTITION BY tenant ORDER BY time RANGE BETWEEN {w - 1} PRECEDING AND CURRENT ROW)"
        for w in WINDOWS
    )
    return per_tenant(
        f"""
WITH w AS (
  SELECT tenant, time,
    {sums}
  FROM {source}
  WINDOW {named}
)"""
    )


def fired_of(rows):
    return {
        row[0]: [[row[1 + 3 * i] or 0, row[2 + 3 * i], row[3 + 3 * i]] for i in range(len(TIERS))] for row in rows
    }


query = running_sums("m")
seconds = []
rows = None
for _ in range(runs):
    start = time.perf_counter()
    rows = con.execute(query).fetchall()
    seconds.append(time.perf_counter() - start)
fired = fired_of(rows)

# Both formulations on the same few tenants (the first ones, and any whose alerts fire).
firing = sorted(t for t, tiers in fired.items() if any(n for n, _, _ in tiers))
first = [r[0] for r in con.execute(f"SELECT DISTINCT tenant FROM m ORDER BY tenant LIMIT {CHECKED_TENANTS}").fetchall()]
checked = sorted(set(first) | set(firing))
con.execute("CREATE TABLE few AS SELECT * FROM m WHERE tenant IN (SELECT UNNEST(?))", [checked])
by_range = fired_of(con.execute(range_frames("few")).fetchall())
agree = all(by_range.get(t) == fired.get(t) for t in checked)

threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
print(
    json.dumps(
        {"seconds": seconds, "threads": threads, "fired": fired, "range_check": {"tenants": len(checked), "agree": agree}}
    )
)

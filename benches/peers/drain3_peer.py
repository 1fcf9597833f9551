"""Peer for benches/templates.rs: Drain3 (pip install drain3) with its default configuration.

Reads one message per line from stdin, mines them in order, and prints one JSON object:
{"seconds": time spent in add_log_message, "clusters": [cluster id per line]}.
"""
import json
import sys
import time

from drain3 import TemplateMiner

lines = sys.stdin.read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
miner = TemplateMiner()
start = time.perf_counter()
ids = [miner.add_log_message(line)["cluster_id"] for line in lines]
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "clusters": ids}))

"""Peer for benches/templates_cli.rs: what `deployclaw logs templates FILE --json` does, with
Drain3 (pip install drain3, default configuration), written for a file larger than one wants in
memory: stream the file once to mine, keeping one cluster id per line in a compact array, then
stream it again and write each line's final template as JSON Lines.

Usage: drain3_file.py FILE > out.jsonl
"""
import json
import sys
from array import array

from drain3 import TemplateMiner

path = sys.argv[1]
miner = TemplateMiner()
clusters = array("I")
with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
        clusters.append(miner.add_log_message(line.rstrip("\r\n"))["cluster_id"])

templates = {c.cluster_id: json.dumps(c.get_template()) for c in miner.drain.clusters}
out = sys.stdout
for number, cluster in enumerate(clusters, start=1):
    out.write(f'{{"line":{number},"template":{templates[cluster]},"template_id":{cluster}}}\n')

"""Peer for benches/log.rs: the same hash chain in Python (canonical JSON via sort_keys and
compact separators, SHA-256 of each line, one write per entry). It does not sign: it is the
floor a scripting-language implementation of the chain alone would reach.

    python3 benches/peer_log.py append|verify N DIR   -> prints µs/entry or entries/s
"""
import hashlib, json, os, sys, time

SOURCE = 'let hot = pools.filter("in_use >= max * 0.9").sort("in_use", true);'


def entry(seq, prev):
    return {
        "seq": seq, "prev": prev, "kind": "statement", "time": "2026-11-22T00:00:00.000000Z",
        "source": SOURCE, "start": "2026-11-22T00:00:00.000000Z", "duration_us": 840,
        "outcome": {"status": "ok", "type": "Frame", "shape": [120, 4], "sha256": "ab" * 32},
    }


def append(n, path):
    prev = "0" * 64
    with open(path, "wb", buffering=0) as f:
        for seq in range(n):
            line = json.dumps(entry(seq, prev), sort_keys=True, separators=(",", ":")).encode()
            prev = hashlib.sha256(line).hexdigest()
            f.write(line + b"\n")


def verify(path):
    prev = "0" * 64
    count = 0
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            e = json.loads(line)
            assert e["prev"] == prev and e["seq"] == count
            prev = hashlib.sha256(line).hexdigest()
            count += 1
    return count


def main():
    mode, n, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    path = os.path.join(d, "peer.jsonl")
    if mode == "append":
        start = time.perf_counter()
        append(n, path)
        print((time.perf_counter() - start) / n * 1e6)
    else:
        append(n, path)
        start = time.perf_counter()
        count = verify(path)
        print(count / (time.perf_counter() - start))


main()

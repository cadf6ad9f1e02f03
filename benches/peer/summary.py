#!/usr/bin/env python3
"""Minimum and median time per request (and requests/s) of each bench in
target/criterion/peer, from criterion's raw samples, with the factors
against jwt-authorizer of the same round. Run after `cargo bench`."""
import json, pathlib, statistics

root = pathlib.Path(__file__).parent / "target" / "criterion" / "peer"
rows = {}
for sample in sorted(root.glob("*/new/sample.json")):
    # criterion stores `name/round` as `name_round`
    name, _, round_ = sample.parts[-3].rpartition("_")
    data = json.loads(sample.read_text())
    per_iter = [t / n for t, n in zip(data["times"], data["iters"])]
    rows[(round_, name)] = (min(per_iter), statistics.median(per_iter))
for (round_, name), (lo, med) in sorted(rows.items()):
    peer = rows.get((round_, "jwt_authorizer_rs256"))
    factor = f"  x{peer[1] / med:.2f} (median) x{peer[0] / lo:.2f} (min) vs jwt-authorizer" if peer else ""
    print(f"round {round_} {name:30} min {lo / 1000:8.2f} us  median {med / 1000:8.2f} us"
          f"  {1e9 / med:9.0f} req/s{factor}")

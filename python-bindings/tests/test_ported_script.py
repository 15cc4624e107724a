"""A whole script written for a list of dicts, run with `[]` and with `DictList()`.

The script does what such scripts do: loads a CSV with `csv.DictReader`, converts and
adds fields in place, deletes keys, filters with `rows[:] = [...]`, sorts and groups,
buckets records in a `defaultdict`, de-duplicates through a set of tuples, deep-copies
a slice and edits the copies, feeds sqlite3, and dumps its findings as JSON. Both runs
must print the same text.
"""

from __future__ import annotations

import collections
import copy
import csv
import io
import itertools
import json
import operator
import random
import sqlite3
import statistics

import memslim
import pytest

CARRIERS = ["UA", "AA", "B6", "DL", "EV", "MQ"]
AIRPORTS = ["EWR", "JFK", "LGA", "ATL", "ORD", "LAX", "SFO", "BOS"]


def flights_csv(n: int, seed: int) -> str:
    rnd = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "year",
            "month",
            "day",
            "carrier",
            "flight",
            "tailnum",
            "origin",
            "dest",
            "dep_delay",
            "arr_delay",
            "air_time",
            "distance",
        ]
    )
    for _ in range(n):
        cancelled = rnd.random() < 0.05
        w.writerow(
            [
                2013,
                rnd.randint(1, 12),
                rnd.randint(1, 28),
                rnd.choice(CARRIERS),
                rnd.randint(1, 400),
                f"N{rnd.randint(100, 140)}",
                rnd.choice(AIRPORTS[:3]),
                rnd.choice(AIRPORTS[3:]),
                "NA" if cancelled else rnd.randint(-20, 300),
                "NA" if cancelled else rnd.randint(-40, 320),
                "NA" if cancelled else rnd.randint(30, 400),
                rnd.randint(100, 2600),
            ]
        )
    return out.getvalue()


def load(text: str, rows):
    for r in csv.DictReader(io.StringIO(text)):
        for k in (
            "year",
            "month",
            "day",
            "flight",
            "dep_delay",
            "arr_delay",
            "air_time",
            "distance",
        ):
            r[k] = None if r[k] == "NA" else int(r[k])
        r["route"] = r["origin"] + "-" + r["dest"]
        rows.append(r)
    return rows


def transform(rows) -> str:
    for r in rows:
        r["late"] = (r["arr_delay"] or 0) > 15
        if r["air_time"]:
            r["speed"] = round(r["distance"] / r["air_time"] * 60, 1)
        r.pop("tailnum", None)
        r.setdefault("note", "")
        if r["late"] and r["carrier"] == "UA":
            r["note"] += "late UA"
    rows[:] = [r for r in rows if r["dep_delay"] is not None]
    rows.sort(key=operator.itemgetter("carrier", "month"))
    groups = []
    for (carrier, month), grp in itertools.groupby(
        rows, key=operator.itemgetter("carrier", "month")
    ):
        grp = list(grp)
        groups.append(
            {
                "carrier": carrier,
                "month": month,
                "n": len(grp),
                "late": sum(r["late"] for r in grp),
                "mean_delay": round(statistics.fmean(r["dep_delay"] for r in grp), 6),
                "worst": dict(max(grp, key=lambda r: (r["dep_delay"], r["flight"]))),
            }
        )
    by_route = collections.defaultdict(list)
    for r in rows:
        by_route[r["route"]].append(r)
    top = sorted(by_route.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
    routes = [{"route": k, "n": len(v), "first": {**v[0]}, "keys": list(v[-1])} for k, v in top]
    seen, uniq = set(), []
    for r in rows:
        key = (r["carrier"], r["flight"], r["month"], r["day"])
        if key not in seen:
            seen.add(key)
            uniq.append(r)
    sample = copy.deepcopy(rows[:50])
    for s in sample:
        s["carrier"] = s["carrier"].lower()
    rows[0]["flight"] += 10_000
    db = sqlite3.connect(":memory:")
    db.execute("create table f (carrier, dep_delay)")
    db.executemany("insert into f values (?, ?)", [(r["carrier"], r["dep_delay"]) for r in rows])
    total = db.execute("select sum(dep_delay) from f").fetchone()[0]
    return json.dumps(
        {
            "groups": groups,
            "routes": routes,
            "uniq": len(uniq),
            "total": total,
            "sample": [dict(s) for s in sample[:3]],
            "first": dict(rows[0]),
            "uniq_first": dict(uniq[0]),
            "n": len(rows),
            "keys": sorted({k for r in rows for k in r}),
            "last": dict(rows[-1]),
        },
        sort_keys=True,
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_script_prints_the_same_with_a_dictlist(seed):
    text = flights_csv(3000, seed)
    assert transform(load(text, memslim.DictList())) == transform(load(text, []))

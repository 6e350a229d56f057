"""The results store: one SQLite file per results folder, written as the run goes.

Tables (docs/results.md has the full schema):
- ``runs``: one row per ``benchbench run`` invocation, with its environment.
- ``results``: one row per model x task attempt: status, metrics, measurements,
  settings, the settings signature, counts and model info (JSON columns).
- ``predictions``: one row per scored example, committed batch by batch, so a crash
  loses at most the batch in flight and a later resume can skip finished examples.

WAL mode lets a reader (report, load_results) look while a run writes.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from benchbench.numbers import finite_tree

SCHEMA_VERSION = 1
DB_NAME = "benchbench.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, suite_name TEXT NOT NULL, suite_path TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
    command TEXT, environment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    result_id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(run_id),
    signature TEXT NOT NULL, suite_name TEXT NOT NULL, model_name TEXT NOT NULL,
    task_name TEXT NOT NULL, task_type TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
    metrics TEXT NOT NULL DEFAULT '{}', intervals TEXT NOT NULL DEFAULT '{}', measurements TEXT NOT NULL DEFAULT '{}',
    settings TEXT NOT NULL DEFAULT '{}', counts TEXT NOT NULL DEFAULT '{}',
    model_info TEXT NOT NULL DEFAULT '{}', started_at TEXT NOT NULL, finished_at TEXT);
CREATE INDEX IF NOT EXISTS results_by_signature ON results(signature);
CREATE TABLE IF NOT EXISTS predictions (
    result_id INTEGER NOT NULL REFERENCES results(result_id), example_index INTEGER NOT NULL,
    input TEXT, prediction TEXT, reference TEXT, details TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (result_id, example_index));
"""

STATUSES = ("running", "ok", "unavailable", "error", "oom", "crashed")
_JSON_COLUMNS = ("metrics", "intervals", "measurements", "settings", "counts", "model_info")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def to_json(value: Any) -> str:
    """JSON with NaN/inf written as null (strict JSON readers reject NaN)."""
    return json.dumps(finite_tree(value), sort_keys=True, default=str)


def database_path(results: str | Path) -> Path:
    """The SQLite file for a results folder (or the file itself)."""
    path = Path(results)
    return path if path.suffix == ".sqlite" else path / DB_NAME


class Store:
    """Append-only writer/reader of one results database."""

    def __init__(self, results: str | Path) -> None:
        self.path = database_path(results)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self.db:
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row["value"]) > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} was written by a newer benchbench "
                                   f"(schema {row['value']} > {SCHEMA_VERSION}); upgrade benchbench")

    def close(self) -> None:
        self.db.close()

    def begin_run(self, run_id: str, suite_name: str, suite_path: str, command: str,
                  environment: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?)",
                            (run_id, suite_name, suite_path, now(), None, "running", command,
                             to_json(environment)))

    def finish_run(self, run_id: str, status: str) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET finished_at=?, status=? WHERE run_id=?",
                            (now(), status, run_id))

    def begin_result(self, run_id: str, signature: str, suite_name: str, model_name: str,
                     task_name: str, task_type: str) -> int:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO results (run_id, signature, suite_name, model_name, task_name, task_type,"
                " status, started_at) VALUES (?,?,?,?,?,?,'running',?)",
                (run_id, signature, suite_name, model_name, task_name, task_type, now()))
        return int(cursor.lastrowid)

    def find_result(self, signature: str, statuses: tuple[str, ...], model_name: str, task_name: str,
                    exclude: Iterable[int] = ()) -> dict[str, Any] | None:
        """The latest result with this signature and one of these statuses, preferring one of
        the same model and task name (two tasks of a suite may share a signature), and none
        of `exclude` (results another task already took)."""
        marks, skip = ",".join("?" * len(statuses)), list(exclude)
        row = self.db.execute(
            f"SELECT * FROM results WHERE signature=? AND status IN ({marks}) "
            f"AND result_id NOT IN ({','.join('?' * len(skip))}) "
            "ORDER BY (model_name=? AND task_name=?) DESC, result_id DESC LIMIT 1",
            (signature, *statuses, *skip, model_name, task_name)).fetchone()
        return _decode(dict(row)) if row else None

    def adopt_result(self, result_id: int, run_id: str) -> None:
        """Continue an interrupted result in this run (its stored predictions are kept)."""
        with self.db:
            self.db.execute("UPDATE results SET run_id=?, status='running' WHERE result_id=?", (run_id, result_id))

    def add_predictions(self, result_id: int, rows: Iterable[dict[str, Any]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO predictions VALUES (?,?,?,?,?,?)",
                [(result_id, r["index"], r["input"], to_json(r["prediction"]),
                  to_json(r["reference"]), to_json(r["details"])) for r in rows])

    def finish_result(self, result_id: int, status: str, reason: str | None = None,
                      **fields: dict[str, Any]) -> None:
        """Record the outcome; `fields` are any of the JSON columns (metrics, intervals,
        measurements, settings, counts, model_info)."""
        assert status in STATUSES, status
        columns = ["status=?", "reason=?", "finished_at=?"]
        values: list[Any] = [status, reason, now()]
        for name in _JSON_COLUMNS:
            if name in fields:
                columns.append(f"{name}=?")
                values.append(to_json(fields[name]))
        with self.db:
            self.db.execute(f"UPDATE results SET {', '.join(columns)} WHERE result_id=?",
                            (*values, result_id))

    def results(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM results ORDER BY result_id").fetchall()
        return [_decode(dict(row)) for row in rows]

    def predictions(self, result_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM predictions WHERE result_id=? ORDER BY example_index",
                               (result_id,)).fetchall()
        return [{**dict(row), **{k: json.loads(row[k]) for k in ("prediction", "reference", "details")}}
                for row in rows]

    def runs(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY started_at").fetchall()
        return [{**dict(row), "environment": json.loads(row["environment"])} for row in rows]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for name in _JSON_COLUMNS:
        row[name] = json.loads(row[name]) if row[name] else {}
    return row

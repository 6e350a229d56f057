"""The results store: one SQLite file per results folder, written as the run goes.

Tables (docs/results.md has the full schema):
- ``runs``: one row per ``benchbench run`` invocation, with its environment.
- ``results``: one row per model x task attempt: status, metrics, measurements,
  settings, the settings signature, counts and model info (JSON columns).
- ``predictions``: one row per scored example, committed batch by batch, so a crash
  loses at most the batch in flight and a later resume can skip finished examples.

WAL mode lets a reader (report, load_results) look while a run writes. Several runs may
write one store at once: each claims a task's result in one write transaction (`claim`), and
a `running` result belongs to its run while the run is alive (lease.py). A store that is
not one, or that a newer benchbench wrote, is refused before anything is written to it; an
older one is migrated.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from benchbench.errors import BenchbenchError
from benchbench.lease import Owner, now
from benchbench.numbers import finite_tree

SCHEMA_VERSION = 2
DB_NAME = "benchbench.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, suite_name TEXT NOT NULL, suite_path TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
    command TEXT, environment TEXT NOT NULL,
    host TEXT, pid INTEGER, process_started TEXT, heartbeat_at TEXT);
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

# Version 1 -> 2: the runs' lease (lease.py), so concurrent runs do not take each other's work.
_MIGRATIONS = {1: ["ALTER TABLE runs ADD COLUMN host TEXT", "ALTER TABLE runs ADD COLUMN pid INTEGER",
                   "ALTER TABLE runs ADD COLUMN process_started TEXT", "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT"]}

STATUSES = ("running", "ok", "unavailable", "unsupported", "error", "oom", "crashed", "incomplete", "eliminated")
# an interrupted result that a later run continues: the examples stored there are kept, the rest
# (those in flight when it stopped, or whose requests to a server failed) are computed again
RESUMABLE = ("running", "crashed", "incomplete", "eliminated")  # eliminated: a full run scores the rest


class StoreError(BenchbenchError):
    """The results store cannot be used: not a store, written by a newer benchbench, not writable."""


@dataclass(frozen=True)
class Claim:
    """What a run gets when it claims a model x task: `new` (a fresh result), `resume` (an
    interrupted one to continue), `reuse` (a finished one), or `elsewhere` (a live run is
    computing it)."""

    kind: str
    result_id: int
    owner: dict[str, Any] | None = None  # for `elsewhere`: the run that holds it
    status: str = "ok"  # for `reuse`: the stored result's status (a race reuses `eliminated` too)
_JSON_COLUMNS = ("metrics", "intervals", "measurements", "settings", "counts", "model_info")


def to_json(value: Any) -> str:
    """JSON with NaN/inf written as null (strict JSON readers reject NaN)."""
    return json.dumps(finite_tree(value), sort_keys=True, default=str)


def database_path(results: str | Path) -> Path:
    """The SQLite file for a results folder (or the file itself)."""
    path = Path(results)
    return path if path.suffix == ".sqlite" else path / DB_NAME


class Store:
    """Writer/reader of one results database (results are never deleted)."""

    def __init__(self, results: str | Path, read_only: bool = False) -> None:
        self.path = database_path(results)
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.is_file():
                raise StoreError(f"no benchbench results at {self.path}")
            self.db = self._connect(read_only)
            version = self._version()  # read first: nothing is written to a store that is refused
            if not read_only:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self._migrate(version)
        except (OSError, sqlite3.Error, StoreError) as exc:
            if getattr(self, "db", None) is not None:
                self.db.close()  # an open file would keep a refused store (and its disk) busy
            raise StoreError(_explain(self.path, exc)) from None

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        if not read_only:
            db = sqlite3.connect(self.path, timeout=30)
        else:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            try:
                db.execute("SELECT 1 FROM sqlite_master LIMIT 1")
            except sqlite3.OperationalError:  # WAL on a read-only medium: no one can be writing it
                db.close()
                db = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def _version(self) -> int | None:
        """The store's schema version; None for a new (empty) file."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if not {"meta", "runs", "results", "predictions"} <= tables:
            raise StoreError(f"{self.path} is an SQLite file but not a benchbench results store (tables: "
                             f"{', '.join(sorted(tables))}); choose another --results folder")
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row["value"]) if row else 1
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer benchbench (store schema {version}, this "
                             f"benchbench reads up to {SCHEMA_VERSION}); upgrade benchbench "
                             f"(pip install -U benchbench) or use another --results folder")
        return version

    def _migrate(self, version: int | None) -> None:
        with self.db:
            if version is None:
                self.db.executescript(_SCHEMA)
            for step in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    self.db.execute(statement)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def begin_run(self, run_id: str, suite_name: str, suite_path: str, command: str,
                  environment: dict[str, Any], owner: Owner) -> None:
        with self.db:
            self.db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                            (run_id, suite_name, suite_path, now(), None, "running", command,
                             to_json(environment), owner.host, owner.pid, owner.process_started, now()))

    def finish_run(self, run_id: str, status: str) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET finished_at=?, status=? WHERE run_id=?",
                            (now(), status, run_id))

    def begin_result(self, run_id: str, signature: str, suite_name: str, model_name: str,
                     task_name: str, task_type: str) -> int:
        with self.db:
            return self._insert_result(run_id, signature, suite_name, model_name, task_name, task_type)

    def _insert_result(self, run_id: str, signature: str, suite_name: str, model_name: str,
                       task_name: str, task_type: str) -> int:
        """A new 'running' result row, inside the caller's transaction."""
        cursor = self.db.execute(
            "INSERT INTO results (run_id, signature, suite_name, model_name, task_name, task_type,"
            " status, started_at) VALUES (?,?,?,?,?,?,'running',?)",
            (run_id, signature, suite_name, model_name, task_name, task_type, now()))
        return int(cursor.lastrowid)

    def claim(self, run_id: str, signature: str, identity: tuple[str, str, str, str], fresh: bool,
              alive: Callable[[dict[str, Any]], bool], exclude: Iterable[int] = (),
              final: tuple[str, ...] = ("ok",)) -> Claim:
        """Decide, in one write transaction (so two runs cannot both take it), what this run does
        for a model x task: reuse a finished result of this signature, leave it to the live run
        computing it, continue an interrupted one, or start a new one (`fresh`: always new).
        Results of the same model and task name come first (two tasks may share a signature);
        `exclude`: results this run already took for another task. `identity`: suite, model,
        task name, task type. `final`: the statuses reused as they are (a race also keeps the
        results it eliminated)."""
        suite, model, task, task_type = identity
        skip = list(exclude)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            rows = [] if fresh else [dict(r) for r in self.db.execute(
                "SELECT r.result_id, r.status, r.run_id, u.status AS run_status, u.host, u.pid, "
                "u.process_started, u.heartbeat_at FROM results r JOIN runs u ON u.run_id = r.run_id "
                f"WHERE r.signature=? AND r.status IN ({','.join('?' * (1 + len(RESUMABLE)))}) "
                f"AND r.result_id NOT IN ({','.join('?' * len(skip))}) "
                "ORDER BY (r.model_name=? AND r.task_name=?) DESC, r.result_id DESC",
                (signature, "ok", *RESUMABLE, *skip, model, task))]
            claim = self._decide(rows, run_id, alive, final)
            if claim is None:
                claim = Claim("new", self._insert_result(run_id, signature, suite, model, task, task_type))
            elif claim.kind == "resume":
                self.db.execute("UPDATE results SET run_id=?, status='running' WHERE result_id=?",
                                (run_id, claim.result_id))
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return claim

    @staticmethod
    def _decide(rows: list[dict[str, Any]], run_id: str, alive: Callable[[dict[str, Any]], bool],
                final: tuple[str, ...]) -> Claim | None:
        finished = next((r for r in rows if r["status"] in final), None)
        if finished:
            return Claim("reuse", finished["result_id"], status=finished["status"])
        live = {r["result_id"] for r in rows if r["status"] == "running" and alive({**r, "status": r["run_status"]})}
        owned = next((r for r in rows if r["result_id"] in live and r["run_id"] != run_id), None)
        if owned:
            return Claim("elsewhere", owned["result_id"], {k: owned[k] for k in ("run_id", "host", "pid")})
        interrupted = next((r for r in rows if r["status"] in RESUMABLE and r["result_id"] not in live), None)
        return Claim("resume", interrupted["result_id"]) if interrupted else None

    def mark_started(self, result_id: int) -> None:
        """A worker turned to the result's task: its start time is now (not when it was claimed,
        which for a model queued on a cluster can be long before)."""
        with self.db:
            self.db.execute("UPDATE results SET started_at=? WHERE result_id=?", (now(), result_id))

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


def _explain(path: Path, exc: BaseException) -> str:
    """A store that cannot be opened, in words a user can act on."""
    if isinstance(exc, StoreError):
        return str(exc)
    text = str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) or (path.parent.exists() and not path.parent.is_dir()):
        return f"the results folder {path.parent} is a file, not a folder; give a folder for --results"
    if "not a database" in text or "malformed" in text:
        return (f"{path} is not a readable benchbench results store (SQLite: {text}); move it away or "
                f"choose another --results folder")
    if "readonly" in text or "unable to open" in text or isinstance(exc, PermissionError):
        return (f"cannot write the results store {path} ({text}); make the folder writable or choose "
                f"another --results folder")
    return f"cannot open the results store {path}: {type(exc).__name__}: {text}"

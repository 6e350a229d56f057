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
import operator
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

from benchbench.errors import BenchbenchError
from benchbench.numbers import finite_tree
from benchbench.store.claims import Claim, claim_result
from benchbench.store.lease import Owner, now
from benchbench.store.records import Outcome, ResultRecord, ResultSettings, Status, StoredStats

SCHEMA_VERSION = 3
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
    input TEXT, prediction TEXT, reference TEXT, details TEXT NOT NULL DEFAULT '{}', score REAL,
    PRIMARY KEY (result_id, example_index));
CREATE TABLE IF NOT EXISTS example_stats (
    result_id INTEGER NOT NULL REFERENCES results(result_id), metric TEXT NOT NULL, scorer TEXT NOT NULL,
    examples INTEGER NOT NULL, columns INTEGER NOT NULL, indices BLOB NOT NULL, stats BLOB NOT NULL,
    PRIMARY KEY (result_id, metric));
"""

_EXAMPLE_STATS = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS example_stats"):]
# Version 1 -> 2: the runs' lease (lease.py), so concurrent runs do not take each other's work.
# Version 2 -> 3: per-example statistics and scores stored when a task is scored (results read
# them instead of scoring stored predictions again; older results get them when first read).
_MIGRATIONS = {1: ["ALTER TABLE runs ADD COLUMN host TEXT", "ALTER TABLE runs ADD COLUMN pid INTEGER",
                   "ALTER TABLE runs ADD COLUMN process_started TEXT", "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT"],
               2: ["ALTER TABLE predictions ADD COLUMN score REAL", _EXAMPLE_STATS]}


class StoreError(BenchbenchError):
    """The results store cannot be used: not a store, written by a newer benchbench, not writable."""


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
            self.version = self._version()  # read first: nothing is written to a store that is refused
            if not read_only:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
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

    def _migrate(self) -> None:
        """Create or migrate the schema in one write transaction (SQLite's DDL is transactional):
        a run that dies midway, or two runs migrating at once, leave the store as it was or done."""
        if self.version == SCHEMA_VERSION:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()  # again, inside the transaction: another run may have migrated it
            statements = [s for s in _SCHEMA.split(";") if s.strip()] if version is None else \
                [s for step in range(version, SCHEMA_VERSION) for s in _MIGRATIONS[step]]
            for statement in statements:
                self.db.execute(statement)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        self.version = SCHEMA_VERSION

    @classmethod
    def for_reading(cls, results: str | Path) -> "Store":
        """The store opened to read. One of an older schema is migrated first when its folder can
        be written (so readers find what the new schema adds); else it is read as it is."""
        store = cls(results, read_only=True)
        if store.version is not None and store.version < SCHEMA_VERSION:
            try:
                cls(results).close()
            except StoreError:
                return store  # a read-only medium: read the older schema
            store.close()
            store = cls(results, read_only=True)
        return store

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
              final: tuple[Status, ...] = (Status.OK,)) -> Claim:
        """What this run does for a model x task, decided in one write transaction (claims.py)."""
        return claim_result(self.db, self._insert_result, run_id, signature, identity, fresh, alive, exclude, final)

    def mark_started(self, result_id: int) -> None:
        """A worker turned to the result's task: its start time is now (not when it was claimed,
        which for a model queued on a cluster can be long before)."""
        with self.db:
            self.db.execute("UPDATE results SET started_at=? WHERE result_id=?", (now(), result_id))

    def add_predictions(self, result_id: int, rows: Iterable[dict[str, Any]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO predictions (result_id, example_index, input, prediction, reference, details) "
                "VALUES (?,?,?,?,?,?)",
                [(result_id, r["index"], r["input"], to_json(r["prediction"]),
                  to_json(r["reference"]), to_json(r["details"])) for r in rows])

    def finish_result(self, result_id: int, outcome: Outcome) -> None:
        """Record a task's outcome (its status, reason and the result's JSON columns)."""
        columns = {name: to_json(value) for name, value in outcome.columns().items()}
        with self.db:
            self.db.execute(f"UPDATE results SET status=?, reason=?, finished_at=?, "
                            f"{', '.join(f'{name}=?' for name in columns)} WHERE result_id=?",
                            (Status(outcome.status).value, outcome.reason, now(), *columns.values(), result_id))

    def results(self) -> list[ResultRecord]:
        """Every stored attempt, oldest first, each with the environment it was measured in."""
        environments = {run["run_id"]: run["environment"] for run in self.runs()}
        return [_record(dict(row), environments) for row in
                self.db.execute("SELECT * FROM results ORDER BY result_id").fetchall()]

    def result(self, result_id: int) -> ResultRecord:
        """One stored result (with its run's environment)."""
        row = self.db.execute("SELECT * FROM results WHERE result_id=?", (_integer(result_id),)).fetchone()
        if row is None:
            raise KeyError(f"no result {result_id} in {self.path}")
        run = self.db.execute("SELECT environment FROM runs WHERE run_id=?", (row["run_id"],)).fetchone()
        return _record(dict(row), {row["run_id"]: json.loads(run["environment"]) if run else {}})

    def predictions(self, result_id: int) -> list[dict[str, Any]]:
        """The stored examples of a result, in example order (`result_id`: any integer, numpy's too)."""
        rows = self.db.execute("SELECT * FROM predictions WHERE result_id=? ORDER BY example_index",
                               (_integer(result_id),)).fetchall()
        return [{**dict(row), **{k: json.loads(row[k]) for k in ("prediction", "reference", "details")}}
                for row in rows]

    def example_rows(self, result_id: int, start: int = 0, stop: int | None = None) -> list[sqlite3.Row]:
        """A result's examples with an index in [start, stop) for display, undecoded (example_index,
        input, and prediction and reference as JSON text) with their score (None where it was not
        stored), in example order: a report of thousands of examples reads and decodes only those
        it embeds."""
        score = "score" if (self.version or SCHEMA_VERSION) >= 3 else "NULL AS score"
        return self.db.execute(f"SELECT example_index, input, prediction, reference, {score} FROM predictions "
                               f"WHERE result_id=? AND example_index>=? AND example_index<? ORDER BY example_index",
                               (_integer(result_id), start, 2 ** 62 if stop is None else stop)).fetchall()

    def example_extent(self, result_ids: Iterable[int]) -> tuple[set[int], int, int]:
        """Of these results: those with stored examples, how many distinct example indices they
        hold together, and one past the largest."""
        ids = [_integer(i) for i in result_ids]
        if not ids:
            return set(), 0, 0
        marks = ",".join("?" * len(ids))
        holding = {row[0] for row in self.db.execute(
            f"SELECT DISTINCT result_id FROM predictions WHERE result_id IN ({marks})", ids)}
        distinct, largest = self.db.execute(f"SELECT COUNT(DISTINCT example_index), MAX(example_index) FROM predictions "
                                            f"WHERE result_id IN ({marks})", ids).fetchone()
        return holding, distinct, 0 if largest is None else largest + 1

    def set_example_scores(self, result_id: int, scores: dict[int, float | None]) -> None:
        """Each example's own score (the report's side-by-side view), stored when the task is scored."""
        with self.db:
            self.db.executemany("UPDATE predictions SET score=? WHERE result_id=? AND example_index=?",
                                [(score, result_id, index) for index, score in scores.items()])

    def add_example_stats(self, result_id: int, stats: Iterable[StoredStats]) -> None:
        """A result's per-example statistics, one row per metric (replacing what was there)."""
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO example_stats VALUES (?,?,?,?,?,?,?)",
                                [(result_id, s.metric, json.dumps(s.scorer, sort_keys=True), s.examples, s.columns,
                                  s.indices, s.values) for s in stats])

    def example_stats(self, result_ids: Iterable[int]) -> dict[int, list[StoredStats]]:
        """The stored per-example statistics of these results (a result without any is absent; an
        older store, read where it cannot be migrated, has none)."""
        wanted = [_integer(r) for r in result_ids]
        out: dict[int, list[StoredStats]] = {}
        if (self.version or SCHEMA_VERSION) < 3:
            return out
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[start:start + 500]
            for row in self.db.execute(f"SELECT * FROM example_stats WHERE result_id IN "
                                       f"({','.join('?' * len(chunk))})", chunk):
                out.setdefault(row["result_id"], []).append(StoredStats(
                    row["metric"], json.loads(row["scorer"]), row["examples"], row["columns"], row["indices"],
                    row["stats"]))
        return out

    def runs(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY started_at").fetchall()
        return [{**dict(row), "environment": json.loads(row["environment"])} for row in rows]


def _integer(value: Any) -> int:
    """A result id given as any integer type (a numpy integer from a DataFrame included)."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"a result id is an integer, not {type(value).__name__} {value!r}") from None


def _record(row: dict[str, Any], environments: dict[str, dict[str, Any]]) -> ResultRecord:
    decoded = {name: json.loads(row[name]) if row[name] else {} for name in _JSON_COLUMNS}
    measurements = decoded["measurements"]
    return ResultRecord(
        result_id=row["result_id"], run_id=row["run_id"], signature=row["signature"], suite=row["suite_name"],
        model=row["model_name"], task=row["task_name"], task_type=row["task_type"], status=Status(row["status"]),
        reason=row["reason"], metrics=decoded["metrics"], intervals=decoded["intervals"], measurements=measurements,
        settings=ResultSettings.from_dict(decoded["settings"]), counts=decoded["counts"],
        model_info=decoded["model_info"], started_at=row["started_at"], finished_at=row["finished_at"],
        # a result measured on another machine (a Ray worker) carries its own environment; each records
        # the threads torch computed with (measure/threads.py)
        environment=(measurements.get("environment") or environments.get(row["run_id"], {}))
        | ({"threads": measurements["threads"]} if "threads" in measurements else {}))


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

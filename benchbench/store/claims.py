"""Claiming a model x task for a run, in one write transaction, so that runs sharing a results
folder split the work and never compute a result twice.

A run reuses a finished result of the same settings signature, leaves one that a live run is
computing to that run, continues an interrupted one, or starts a new one. A finished result
stored under another model or task name (the same checkpoint listed under two names, or a model
renamed in the suite) is copied under this run's names, with its examples and statistics, so
both names are candidates in every table; an interrupted one is continued only under its own
names.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

from benchbench.store.lease import now
from benchbench.store.records import RESUMABLE, Status


@dataclass(frozen=True)
class Claim:
    """What a run gets when it claims a model x task: `new` (a fresh result), `resume` (an
    interrupted one to continue), `reuse` (a finished one; `copied_from`: the result of another
    name it copies), or `elsewhere` (a live run is computing it)."""

    kind: Literal["new", "resume", "reuse", "elsewhere"]
    result_id: int
    owner: dict[str, Any] | None = None  # for `elsewhere`: the run that holds it
    status: Status = Status.OK  # for `reuse`: the stored result's status (a race reuses `eliminated` too)
    copied_from: int | None = None


def claim_result(db: sqlite3.Connection, insert: Callable[..., int], run_id: str, signature: str,
                 identity: tuple[str, str, str, str], fresh: bool, alive: Callable[[dict[str, Any]], bool],
                 exclude: Iterable[int], final: tuple[Status, ...]) -> Claim:
    """Decide what this run does for a model x task (`fresh`: always a new result). Results of the
    same model and task name come first (two tasks may share a signature); `exclude`: results this
    run already took for another task; `identity`: suite, model, task name, task type; `final`:
    the statuses reused as they are (a race also keeps the results it eliminated); `insert`: the
    store's way to add a new running result inside this transaction."""
    suite, model, task, task_type = identity
    skip = list(exclude)
    statuses = [Status.OK.value, *(s.value for s in RESUMABLE)]
    db.execute("BEGIN IMMEDIATE")
    try:
        rows = [] if fresh else [dict(r) for r in db.execute(
            "SELECT r.result_id, r.status, r.run_id, r.model_name, r.task_name, u.status AS run_status, u.host, "
            "u.pid, u.process_started, u.heartbeat_at FROM results r JOIN runs u ON u.run_id = r.run_id "
            f"WHERE r.signature=? AND r.status IN ({','.join('?' * len(statuses))}) "
            f"AND r.result_id NOT IN ({','.join('?' * len(skip))}) "
            "ORDER BY (r.model_name=? AND r.task_name=?) DESC, r.result_id DESC",
            (signature, *statuses, *skip, model, task))]
        claim = _decide(rows, run_id, alive, final, (model, task))
        if claim is None:
            claim = Claim("new", insert(run_id, signature, suite, model, task, task_type))
        elif claim.kind == "resume":
            db.execute("UPDATE results SET run_id=?, status=? WHERE result_id=?",
                       (run_id, Status.RUNNING.value, claim.result_id))
        elif claim.kind == "reuse" and claim.copied_from is not None:
            claim = Claim("reuse", _copy(db, claim.copied_from, run_id, identity), status=claim.status,
                          copied_from=claim.copied_from)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return claim


def _decide(rows: list[dict[str, Any]], run_id: str, alive: Callable[[dict[str, Any]], bool],
            final: tuple[Status, ...], names: tuple[str, str]) -> Claim | None:
    finals = {Status(s).value for s in final}
    finished = next((r for r in rows if r["status"] in finals), None)
    if finished:
        other = (finished["model_name"], finished["task_name"]) != names
        return Claim("reuse", finished["result_id"], status=Status(finished["status"]),
                     copied_from=finished["result_id"] if other else None)
    live = {r["result_id"] for r in rows if r["status"] == Status.RUNNING.value and alive({**r, "status": r["run_status"]})}
    owned = next((r for r in rows if r["result_id"] in live and r["run_id"] != run_id), None)
    if owned:
        return Claim("elsewhere", owned["result_id"], {k: owned[k] for k in ("run_id", "host", "pid")})
    interrupted = next((r for r in rows if Status(r["status"]).resumable and r["result_id"] not in live
                        and (r["model_name"], r["task_name"]) == names), None)
    return Claim("resume", interrupted["result_id"]) if interrupted else None


def _copy(db: sqlite3.Connection, source: int, run_id: str, identity: tuple[str, str, str, str]) -> int:
    """A finished result copied under this run's suite, model and task names (inside the caller's
    transaction), its counts saying which result it copies."""
    suite, model, task, task_type = identity
    row = dict(db.execute("SELECT * FROM results WHERE result_id=?", (source,)).fetchone())
    counts = json.loads(row["counts"] or "{}") | {"copied_from": source}
    measurements = json.loads(row["measurements"] or "{}")
    if "environment" not in measurements:  # where the copied figures were measured: the source run's machine
        run = db.execute("SELECT environment FROM runs WHERE run_id=?", (row["run_id"],)).fetchone()
        measurements["environment"] = json.loads(run[0]) if run else {}
    cursor = db.execute(
        "INSERT INTO results (run_id, signature, suite_name, model_name, task_name, task_type, status, reason, "
        "metrics, intervals, measurements, settings, counts, model_info, started_at, finished_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (run_id, row["signature"], suite, model, task, task_type, row["status"], row["reason"], row["metrics"],
         row["intervals"], json.dumps(measurements, sort_keys=True), row["settings"], json.dumps(counts, sort_keys=True),
         row["model_info"], now(), now()))
    copy = int(cursor.lastrowid)
    db.execute("INSERT INTO predictions SELECT ?, example_index, input, prediction, reference, details, score "
               "FROM predictions WHERE result_id=?", (copy, source))
    db.execute("INSERT INTO example_stats SELECT ?, metric, scorer, examples, columns, indices, stats "
               "FROM example_stats WHERE result_id=?", (copy, source))
    return copy

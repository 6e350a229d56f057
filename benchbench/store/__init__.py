"""The results store: one SQLite file per results folder, written as the run goes (database.py),
the typed records it holds (records.py), how a run claims a result (claims.py) and the lease a
running result is held by (lease.py). docs/results.md has the schema.

The records are what workers send and readers get; they import nothing else, so the worker
side (which never opens the store) can use them without loading the database code: the
database's names are imported when first used.
"""

from importlib import import_module
from typing import Any

from benchbench.store.records import RESUMABLE, Outcome, RaceVerdict, ResultRecord, ResultSettings, Status, StoredStats

_DATABASE = {"Claim": "benchbench.store.claims", "DB_NAME": "benchbench.store.database",
             "SCHEMA_VERSION": "benchbench.store.database", "Store": "benchbench.store.database",
             "StoreError": "benchbench.store.database", "database_path": "benchbench.store.database",
             "to_json": "benchbench.store.database"}
__all__ = [*_DATABASE, "RESUMABLE", "Outcome", "RaceVerdict", "ResultRecord", "ResultSettings", "Status", "StoredStats"]


def __getattr__(name: str) -> Any:
    if name in _DATABASE:
        return getattr(import_module(_DATABASE[name]), name)
    raise AttributeError(f"module 'benchbench.store' has no attribute {name!r}")

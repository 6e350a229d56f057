"""The store survives SIGKILL in the middle of its writes: every trial leaves a database that
passes SQLite's integrity check, holds whole batches only, and takes the next run's writes."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time

from benchbench.store import Store
from benchbench.store.lease import Owner

BATCH = 25
WRITER = f"""
import sys
from benchbench.store.lease import Owner
from benchbench.store import Store
store = Store(sys.argv[1])
store.begin_run("writer", "s", "s.yaml", "writer", {{}}, Owner.me())
result = store.claim("writer", "sig", ("s", "m", "t", "translation"), True, lambda run: False).result_id
print("ready", flush=True)
index = 0
while True:  # batches of {BATCH} examples, each committed in one transaction, as the driver does
    store.add_predictions(result, [{{"index": index + i, "input": "x" * 500, "prediction": "y" * 200,
                                     "reference": ["z"], "details": {{"prompt_tokens": i}}}} for i in range({BATCH})])
    index += {BATCH}
"""


def test_sigkill_mid_write_never_corrupts_the_store(tmp_path):
    rng = random.Random(7)
    for trial in range(20):
        folder = tmp_path / f"trial{trial}"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        database = folder / "benchbench.sqlite"
        with sqlite3.connect(database) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",), trial
            count, highest = db.execute("SELECT COUNT(*), MAX(example_index) FROM predictions").fetchone()
        assert count % BATCH == 0 and (count == 0 or highest == count - 1), (trial, count)  # whole batches only
        store = Store(folder)  # and the next run opens it and writes on
        store.begin_run(f"next{trial}", "s", "s.yaml", "next", {}, Owner.me())
        claim = store.claim(f"next{trial}", "sig", ("s", "m", "t", "translation"), False, lambda run: False)
        assert claim.kind == "resume" and len(store.predictions(claim.result_id)) == count
        store.close()

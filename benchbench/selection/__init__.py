"""The choosing side: everything after the store, behind one front door (front.Selection).

- records and example sets: which stored results are compared (examplesets.py), as typed
  records or as a DataFrame (results.py: load_results, load_comparisons);
- evidence: each task's per-example statistics, pairing its models (evidence.py, with the
  tests in statistics.py);
- figures a model is chosen on (figures.py), the limits and their one table (constraints.py),
  the ranking (ranking.py), the decision map (decision.py) and `recommend` (recommend.py).

This package imports neither torch nor pandas at import time (results.py imports pandas
where a DataFrame is asked for).
"""

from benchbench.selection.constraints import Limits
from benchbench.selection.front import Selection
from benchbench.selection.recommend import Recommendation
from benchbench.selection.results import load_comparisons, load_results

__all__ = ["Limits", "Recommendation", "Selection", "load_comparisons", "load_results"]

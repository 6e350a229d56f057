"""Model backends: how a model answers the requests tasks make.

``base.py``: the core every backend implements (ModelBackend) and the typed requests and
responses; ``capabilities.py``: one small protocol per capability, of which a backend
implements those it serves; ``registry.py``: backends by name (``hf``: transformers models
from the hub, local folders, GGUF files and packaged models; ``api``: a model behind an
OpenAI-compatible server; and installed plugins'), each with its suite keys and typed spec.
This package imports no torch: a backend's engine is imported when a model is opened.
"""

from __future__ import annotations

from benchbench.backends.registry import open_backend

__all__ = ["open_backend"]

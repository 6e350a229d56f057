"""Model backends: how a model answers the requests tasks make (base.ModelBackend).

``hf``: transformers models from the hub, local folders, GGUF files and packaged models;
``api``: a model behind an OpenAI-compatible server (the suite's ``api:`` models). This
package imports no torch: a backend's engine is imported when a model is opened.
"""

from __future__ import annotations

from benchbench.backends.base import ModelBackend
from benchbench.spec import ModelSpec, Runtime


def open_backend(spec: ModelSpec, runtime: Runtime, device: str) -> ModelBackend:
    """The backend for a suite model; reads what it needs to know before loading weights.
    Raises ModelUnavailable when the model cannot be found or read."""
    if spec.api is not None:
        from benchbench.backends.api.backend import ApiBackend

        return ApiBackend(spec.name, spec.api, runtime.seed)
    from benchbench.backends.hf.backend import HFBackend

    return HFBackend(spec, device, runtime.dtype, no_weights=runtime.no_weights)

"""Model references, loading for the three families, and what we record about a model."""

from benchbench.models.loading import (
    HEADS,
    LoadedModel,
    ModelInfo,
    inspect_config,
    load_model,
)

__all__ = ["HEADS", "LoadedModel", "ModelInfo", "inspect_config", "load_model"]

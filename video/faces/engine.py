"""Load face_recognition once, and fail loudly when the install is broken.

`import face_recognition` does not raise when its models package cannot load: it prints a
hint to install from git and calls `quit()`, so the process ends with status 0 as if all
went well. That happens when setuptools >= 82 is installed (no `pkg_resources`, which
`face_recognition_models` needs). We import the models package first ourselves, and turn
any failure, `SystemExit` included, into `FaceEngineError` with the real fix.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import warnings
from types import ModuleType

_FIX = (
    "reinstall the pinned requirements: pip install 'setuptools<82' face_recognition_models==0.3.0 "
    "face_recognition==1.3.0 (dlib comes from the prebuilt dlib-bin wheel via deps/dlib)"
)


class FaceEngineError(RuntimeError):
    """face_recognition cannot be used in this environment; the message says how to fix it."""


_api: ModuleType | None = None


def face_api() -> ModuleType:
    """The `face_recognition` module, imported on first use."""
    global _api
    if _api is not None:
        return _api
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation notice on every start
        try:
            importlib.import_module("pkg_resources")
        except ImportError as exc:
            raise FaceEngineError(
                "face_recognition_models needs pkg_resources, which setuptools >= 82 no longer "
                f"ships; {_FIX}"
            ) from exc
        try:
            models = importlib.import_module("face_recognition_models")
            model_file = models.face_recognition_model_location()
        except Exception as exc:
            raise FaceEngineError(f"face_recognition_models does not load ({exc}); {_FIX}") from exc
        hint = io.StringIO()
        try:
            with contextlib.redirect_stdout(hint):
                api = importlib.import_module("face_recognition")
        except SystemExit as exc:
            raise FaceEngineError(
                f"face_recognition quit on import ({hint.getvalue().strip()!r}); {_FIX}"
            ) from exc
        except ImportError as exc:
            raise FaceEngineError(f"face_recognition does not import ({exc}); {_FIX}") from exc
    if not hasattr(api, "face_encodings"):
        raise FaceEngineError(f"face_recognition imported without its API (models at {model_file}); {_FIX}")
    _api = api
    return api

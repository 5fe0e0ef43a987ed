"""onnxruntime settings shared by the plate models (detector, reader, province reader)."""

from __future__ import annotations

import onnxruntime as ort


def session_options(threads: int = 1) -> ort.SessionOptions:
    """`threads` intra-op threads and one inter-op thread: cameras, not threads inside one
    model, are the parallelism (a second thread only spins against the first on a busy core)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return options

"""ONNX Runtime sessions as hoidap runs them: on the CPU, one question's work at a time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def cpu_session(onnx_file: Path, threads: int) -> Any:
    """An ``onnxruntime.InferenceSession`` over ``onnx_file`` with ``threads`` intra-op threads
    (onnxruntime raises its own error types)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def cpu_threads() -> int:
    """The cores this process may run on (2 on the project's machine)."""
    return len(os.sched_getaffinity(0))

"""Where to embed: a pure choice (unit-tested on CPU) plus a probe that imports torch only on GPU boxes."""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tracker.errors import TrackerError


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    half_precision: bool
    batch_size: int


DEFAULT_BATCH = {"cuda": 256, "mps": 64, "cpu": 16}
CUDA_HELP = (
    'install the gpu extra (pip install -e ".[gpu]"; for another CUDA version first pip install torch '
    "--index-url https://download.pytorch.org/whl/cu126) or set embedding.device: cpu"
)


def choose_device(
    requested: str | None, cuda_available: bool, mps_available: bool, batch_size: int | None = None
) -> DeviceChoice:
    """Pick where to embed: an explicit request wins (and must be possible), else CUDA > MPS > CPU."""
    wanted = (requested or "auto").strip().lower()
    kind = "cuda" if wanted.startswith("cuda") else wanted
    if kind not in {"auto", "cpu", "cuda", "mps"} or (kind == "cuda" and not re.fullmatch(r"cuda(:\d+)?", wanted)):
        raise TrackerError(f"embedding.device must be cpu, cuda, cuda:N, mps or empty (automatic), not {requested!r}")
    if kind == "cuda" and not cuda_available:
        raise TrackerError(f"embedding.device is {requested!r} but torch sees no CUDA GPU: {CUDA_HELP}")
    if kind == "mps" and not mps_available:
        raise TrackerError(f"embedding.device is {requested!r} but torch has no MPS backend here; use cpu")
    if kind == "auto":
        kind = wanted = "cuda" if cuda_available else "mps" if mps_available else "cpu"
    if batch_size is not None and batch_size < 1:
        raise TrackerError(f"embedding.batch_size must be a positive number, not {batch_size}")
    return DeviceChoice(device=wanted, half_precision=kind == "cuda", batch_size=batch_size or DEFAULT_BATCH[kind])


def detect_accelerators() -> tuple[bool, bool]:
    """(cuda, mps) availability; imports torch only where an accelerator could exist."""
    could_cuda = Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None
    could_mps = sys.platform == "darwin"
    if not (could_cuda or could_mps):
        return False, False
    try:
        import torch
    except ImportError:
        return False, False
    return bool(torch.cuda.is_available()), bool(torch.backends.mps.is_available())

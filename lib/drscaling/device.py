"""Where and in what precision a run computes: the GPU if there is one, else the CPU with the
profile's thread count; bf16 only where the hardware has it."""

from __future__ import annotations

import os
import warnings

import torch

from .config import TrainingConfig


def device_for(cfg: TrainingConfig) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    return torch.device("cpu")


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX512-BF16 or AMX); without them autocast
    emulates bf16, which is slower than fp32."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without these probes
        return False


def training_precision(cfg: TrainingConfig, device: torch.device) -> str:
    """"bf16" (autocast) or "fp32" for the training steps: ``bf16`` on a GPU, ``cpu_bf16`` on a
    CPU that has bf16 instructions. A CPU without them trains in fp32, with a warning; the
    result records which was used."""
    if device.type == "cuda":
        return "bf16" if cfg.bf16 else "fp32"
    if not cfg.cpu_bf16:
        return "fp32"
    if not cpu_has_bf16():
        warnings.warn("training.cpu_bf16 is set but this CPU has no bf16 instructions (AVX512-BF16 or AMX): "
                      "training in fp32 instead")
        return "fp32"
    return "bf16"

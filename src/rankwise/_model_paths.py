"""Up-front checks of where a local model comes from and where it runs.

A model argument is either a Hugging Face repo id (``name`` or ``namespace/name``) or a local
folder. Handed a folder that does not exist, ``from_pretrained`` mistakes it for a repo id
and fails with a hub error ("Repo id must be in the form ...") that hides the typo;
:func:`check_model_path` says "no such model folder" instead. :func:`check_device` turns a
CUDA device on a machine without CUDA into a ValueError at construction, not a torch error at
the first forward pass.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["check_device", "check_model_path", "looks_like_path"]

# What huggingface_hub accepts as a repo id: one optional namespace, no "..", no "--".
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[\w.-]{1,96}$")


def looks_like_path(name: str) -> bool:
    """Whether ``name`` can only mean a local folder (not a hub repo id)."""
    if name.startswith(("/", "./", "../", "~", ".\\", "..\\")) or "\\" in name:
        return True
    if os.path.isabs(name) or name in (".", ".."):
        return True
    return not _REPO_ID.match(name) or ".." in name or "--" in name


def check_model_path(name: str, argument: str = "model_name") -> str:
    """``name`` unchanged, or ValueError ``"<argument>: no such model folder: <path>"`` when it
    is a path to a folder that does not exist (or to a file)."""
    if Path(name).is_dir():
        return name
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if looks_like_path(name) or Path(name).exists():
        raise ValueError(f"{argument}: no such model folder: {name}")
    return name


def check_device(device: str, argument: str = "device") -> str:
    """``device`` unchanged, or ValueError when it names CUDA (or MPS) that is not there."""
    kind = device.split(":", 1)[0].strip().lower()
    if kind not in ("cuda", "mps"):
        return device
    import torch

    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{argument}={device!r} but CUDA is not available here (torch "
            f"{torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
            "use device='cpu' or device=None"
        )
    if kind == "cuda" and ":" in device:
        index = device.split(":", 1)[1]
        if index.isdigit() and int(index) >= torch.cuda.device_count():
            raise ValueError(
                f"{argument}={device!r} but only {torch.cuda.device_count()} CUDA device(s) "
                "are visible"
            )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{argument}={device!r} but MPS is not available here; use 'cpu'")
    return device

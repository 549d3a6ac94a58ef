"""How many CPU cores this process may run on: what "all cores" means for search threads and
for ``rankwise serve --workers auto`` alike."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores of this process's CPU affinity (a container or ``taskset`` limit counts),
    ``os.cpu_count()`` where the platform has no affinity; at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["usable_cores"]

"""A small tmpfs mounted for a test: a full /dev/shm without filling the real one."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest


@contextmanager
def small_tmpfs(size: str) -> Iterator[str]:
    """Mount a tmpfs of ``size`` (e.g. ``"48m"``) and yield its path; skip when not root."""
    path = os.path.join("/tmp", f"aeronpy-tmpfs-{uuid.uuid4().hex[:8]}")
    os.makedirs(path)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True, text=True)
    if result.returncode != 0:
        os.rmdir(path)
        pytest.skip(f"cannot mount a small tmpfs to simulate a full /dev/shm: {result.stderr.strip() or result.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)

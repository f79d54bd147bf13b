"""A SIGBUS on a mapped file ends the process with a line that says why."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import mmap, os, sys
    import aeronpy
    from aeronpy.concurrent.atomic_buffer import AtomicBuffer
    if sys.argv[2] == "report":
        assert aeronpy.install_sigbus_report() is True
        assert aeronpy.install_sigbus_report() is False  # idempotent
    path = sys.argv[1]
    with open(path, "wb") as f:
        f.truncate(1 << 16)
    f = open(path, "r+b")
    m = mmap.mmap(f.fileno(), 1 << 16)
    buf = AtomicBuffer(m)
    buf.put_int64(60000, 1)
    os.truncate(path, 4096)  # another process shrinks the file under the mapping
    print("reading", flush=True)
    buf.get_int64(60000)
    print("survived", flush=True)
    """
)


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "fault.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "mapped.dat"), mode],
        capture_output=True, text=True, timeout=60,
    )


def test_sigbus_on_a_truncated_mapping_is_reported_clearly(tmp_path: Path) -> None:
    r = _run(tmp_path, "report")
    assert "reading" in r.stdout and "survived" not in r.stdout
    assert r.returncode == -signal.SIGBUS
    assert "aeronpy: fatal SIGBUS accessing a memory-mapped file at 0x" in r.stderr
    assert "was truncated or deleted" in r.stderr
    assert "Fatal Python error: Bus error" in r.stderr  # faulthandler's traceback follows


def test_without_the_report_the_process_just_dies(tmp_path: Path) -> None:
    r = _run(tmp_path, "plain")
    assert r.returncode == -signal.SIGBUS
    assert "aeronpy: fatal SIGBUS" not in r.stderr


def test_the_aeronpy_commands_install_it() -> None:
    code = "import aeronpy.cli, aeronpy._logbuffer as lb, sys; sys.argv=['aeronpy','--help']\n" \
           "try:\n    aeronpy.cli.main(['--version'])\nexcept SystemExit:\n    pass\n" \
           "print(lb.install_sigbus_handler())"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().splitlines()[-1] == "False", r.stdout + r.stderr

"""Demo: start a media driver, then move messages between two processes over IPC.

Run with ``python examples/demo.py``.  It prints what happened at each step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import aeronpy


def main() -> int:
    aeron_dir = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(), f"aeronpy-demo-{os.getpid()}")
    count, size = 100_000, 64
    ctx = aeronpy.DriverContext.from_properties(aeron_dir=aeron_dir, dir_delete_on_shutdown=True)
    with aeronpy.MediaDriver.launch(ctx) as driver:
        print(f"1. media driver started in this process: dir={driver.aeron_dir}, threading={aeronpy.ThreadingMode(ctx.threading_mode).value}")
        cli = [sys.executable, "-m", "aeronpy"]
        sub = subprocess.Popen(
            cli + ["sub", "--dir", aeron_dir, "--channel", "aeron:ipc", "--stream", "1001", "--count", str(count)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        print(f"2. subscriber process started (pid {sub.pid}), waiting for it to subscribe")
        assert sub.stdout is not None
        print("   sub> " + sub.stdout.readline().strip())
        pub = subprocess.run(
            cli + ["pub", "--dir", aeron_dir, "--channel", "aeron:ipc", "--stream", "1001",
                   "--count", str(count), "--size", str(size)],
            capture_output=True, text=True, timeout=120,
        )
        print(f"3. publisher process sent {count} messages of {size} bytes")
        print("   pub> " + (pub.stdout.strip() or pub.stderr.strip()))
        out, _ = sub.communicate(timeout=120)
        print("4. subscriber verified them:")
        print("   sub> " + out.strip().replace("\n", "\n   sub> "))
        stat = subprocess.run(cli + ["stat", "--dir", aeron_dir], capture_output=True, text=True, timeout=30)
        print("5. the driver's non-zero counters now (from `aeronpy stat`):")
        lines = stat.stdout.splitlines()
        for line in lines[:2] + [l for l in lines[2:] if not l.split(":", 1)[1].strip().startswith("0 -")]:
            print("   " + line)
        ok = pub.returncode == 0 and sub.returncode == 0
    print("6. driver shut down; demo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

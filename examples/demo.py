"""Demo: start a media driver, then move messages between two processes over IPC and UDP.

Run with ``python examples/demo.py``.  It prints what happened at each step.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile

import aeronpy

CLI = [sys.executable, "-m", "aeronpy"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exchange(step: int, aeron_dir: str, channel: str, stream: int, count: int, size: int) -> bool:
    """A subscriber process and a publisher process exchange ``count`` sample messages."""
    print(f"{step}. {count:,} messages of {size} bytes on {channel} (stream {stream}), between two processes")
    sub = subprocess.Popen(
        CLI + ["sub", "--dir", aeron_dir, "--channel", channel, "--stream", str(stream),
               "--count", str(count), "--size", str(size), "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert sub.stdout is not None
    print(f"   sub> {sub.stdout.readline().strip()}   (subscriber pid {sub.pid})")
    pub = subprocess.run(
        CLI + ["pub", "--dir", aeron_dir, "--channel", channel, "--stream", str(stream),
               "--count", str(count), "--size", str(size)],
        capture_output=True, text=True, timeout=120,
    )
    print("   pub> " + (pub.stdout.strip() or pub.stderr.strip()))
    out, _ = sub.communicate(timeout=120)
    print("   sub> " + out.strip().replace("\n", "\n   sub> "))
    return pub.returncode == 0 and sub.returncode == 0


def main() -> int:
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    aeron_dir = os.path.join(base, f"aeronpy-demo-{os.getpid()}")
    ctx = aeronpy.DriverContext.from_properties(aeron_dir=aeron_dir, dir_delete_on_shutdown=True)
    with aeronpy.MediaDriver.launch(ctx) as driver:
        print(f"1. media driver started in this process: dir={driver.aeron_dir}, "
              f"threading={aeronpy.ThreadingMode(ctx.threading_mode).value}")
        ok = exchange(2, aeron_dir, "aeron:ipc", 1001, 100_000, 64)
        ok = exchange(3, aeron_dir, f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}", 1002, 20_000, 64) and ok
        stat = subprocess.run(CLI + ["stat", "--dir", aeron_dir], capture_output=True, text=True, timeout=30)
        print("4. the driver's non-zero counters now (from `aeronpy stat`):")
        lines = stat.stdout.splitlines()
        for line in lines[:2] + [l for l in lines[2:] if not l.split(":", 1)[1].strip().startswith("0 -")]:
            print("   " + line)
    print("5. driver shut down; demo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""One cluster member in a process of its own (driver + archive + consensus module + service),
taking the same arguments as ``aeronpy cluster-node``, so the Jepsen and netns tests can run
while that command is not built; ``python -m tests.cluster.jepsen.member_process ...``.

Runs until SIGTERM/SIGINT (or until killed with -9, which is the point)."""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import threading
from typing import Any

from aeronpy.testing.jepsen import MemberSet


def _service(name: str) -> Any:
    if name == "kv":
        from aeronpy.cluster.examples.kv import KeyValueService

        return KeyValueService()
    from aeronpy.cluster.examples.echo import EchoService

    return EchoService()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--member-id", type=int, required=True)
    p.add_argument("--members", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--service", default="echo")
    p.add_argument("-D", dest="define", action="append", default=[])
    a = p.parse_args(argv)
    from aeronpy.archive.archive import Archive
    from aeronpy.archive.context import ArchiveContext
    from aeronpy.cluster.consensus.consensus_module import ConsensusModule
    from aeronpy.cluster.consensus.context import ConsensusModuleContext
    from aeronpy.cluster.members import parse_members
    from aeronpy.cluster.service import ClusteredServiceContainer, ServiceContainerContext
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    me = parse_members(a.members)[a.member_id]
    host = me.archive_endpoint.rsplit(":", 1)[0]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
    aeron_dir = os.path.join(shm, "aeronpy-jm-" + hashlib.sha1(os.path.abspath(a.dir).encode()).hexdigest()[:12])
    cluster_dir = os.path.join(a.dir, "cluster")
    props = {
        "aeron.cluster.ingress.channel": "aeron:udp?term-length=128k",
        "aeron.cluster.replication.channel": f"aeron:udp?endpoint={host}:0",
        "aeron.cluster.idle.strategy": "backoff",
        "aeron.cluster.election.status.interval": "50ms",
    }
    for pair in a.define:
        k, _, v = pair.partition("=")
        props[k] = v
    props["aeron.cluster.members"] = a.members
    props["aeron.cluster.member.id"] = str(a.member_id)
    parts: list[Any] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        parts.append(MediaDriver.launch(DriverContext.from_properties(
            env={}, aeron_dir=aeron_dir, threading_mode="SHARED", dir_delete_on_start=True, term_buffer_sparse_file=True,
            ipc_term_buffer_length=256 * 1024, dir_mode=0o700, file_mode=0o600)))
        parts.append(Archive.launch(ArchiveContext.from_properties(
            env={}, aeron_dir=aeron_dir, archive_dir=os.path.join(a.dir, "archive"),
            control_channel=f"aeron:udp?endpoint={me.archive_endpoint}",
            replication_channel=f"aeron:udp?endpoint={host}:0", threading_mode="SHARED",
            segment_file_length=4 * 1024 * 1024, low_storage_space_threshold=0, idle_strategy="backoff",
            archive_id=a.member_id)))
        cm = ConsensusModule.launch(ConsensusModuleContext.from_properties(
            props, env={}, aeron_dir=aeron_dir, cluster_dir=cluster_dir))
        parts.append(cm)
        parts.append(ClusteredServiceContainer(ServiceContainerContext.from_properties(
            env={}, aeron_dir=aeron_dir, cluster_dir=cluster_dir, idle_strategy=props["aeron.cluster.idle.strategy"]),
            _service(a.service)).start())
        print(f"member {a.member_id} up: aeron dir {aeron_dir}", flush=True)
        reported = 0
        while not stop.wait(0.5):
            for e in cm.errors[reported:]:
                print(f"member {a.member_id}: {type(e).__name__}: {e}", flush=True)
            reported = len(cm.errors)
            if cm.is_closed:
                print(f"member {a.member_id}: consensus module closed", flush=True)
                return 1
        return 0
    finally:
        for part in reversed(parts):
            try:
                part.close()
            except Exception:  # noqa: BLE001
                pass


class ProcessMemberSet(MemberSet):
    """:class:`MemberSet` running this module instead of ``aeronpy cluster-node``."""

    def argv(self, member_id: int) -> list[str]:
        argv = super().argv(member_id)
        i = argv.index("cluster-node")
        return [sys.executable, "-m", "tests.cluster.jepsen.member_process", *argv[i + 1 :]]


if __name__ == "__main__":
    sys.exit(main())

"""ClusterTool (cluster.md §7): inspect and control one cluster member from its cluster directory.

Three mechanisms, as in Aeron: files of the cluster directory (mark files, ``recording.log``);
the member's counters in its driver's ``cnc.dat`` (node role, consensus-module state, the
control toggles, which a command CASes from NEUTRAL and then waits to see return); and a
``ClusterMembersQuery`` on the control channel (stream ids and channel from the mark file).

:func:`run` executes one command and returns its exit status: 0 success, 1 "not leader" for
``is-leader``, 255 (Java's -1) for a failed command.  A missing or corrupt directory or file
raises :class:`ClusterFileError` naming it; the CLI prints that on one line.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from aeronpy.cluster import counters as cc
from aeronpy.cluster.codecs import CLUSTER_SCHEMA, MARK_FILE_HEADER, BooleanType, T
from aeronpy.cluster.errors import ClusterError, ClusterFileError
from aeronpy.cluster.mark_file import (
    FILE_NAME as MARK_FILE_NAME,
)
from aeronpy.cluster.mark_file import (
    SERVICE_FILE_NAME_PREFIX,
    ClusterMarkFile,
    MarkFileContents,
    resolve_mark_file_dir,
)
from aeronpy.cluster.recording_log import (
    CONSENSUS_MODULE_SERVICE_ID,
    FILE_NAME as RECORDING_LOG_FILE_NAME,
)
from aeronpy.cluster.tool_cli import COMMANDS
from aeronpy.cluster.recording_log import (
    Entry,
    EntryType,
    RecordingLog,
)
from aeronpy.protocol import sbe

__all__ = [
    "COMMANDS",
    "SUCCESS",
    "FAILURE",
    "ToolSettings",
    "ClusterMembership",
    "run",
    "query_cluster_members",
    "describe_mark_file",
]

SUCCESS = 0
FAILURE = 255
NOT_LEADER = 1
ELECTION_CLOSED = 17  # ElectionState.CLOSED, the value of counter 207 outside elections



@dataclass(frozen=True)
class ToolSettings:
    """``aeron.cluster.tool.*`` (cluster.md §6.4); timeouts in ms."""

    timeout_ms: int = 0
    replay_channel: str = "aeron:ipc"
    replay_stream_id: int = 103
    epoch_clock: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)


@dataclass
class ClusterMembership:
    """The answer to a ClusterMembersQuery."""

    leader_member_id: int = -1
    member_id: int = -1
    current_time_ns: int = -1
    active_members: list[dict[str, Any]] = field(default_factory=list)
    active_members_text: str = ""

    def __str__(self) -> str:
        members = ", ".join(
            f"ClusterMember{{id={m['member_id']}, leadershipTermId={m['leadership_term_id']}, "
            f"logPosition={m['log_position']}, timeOfLastAppendNs={m['time_of_last_append_ns']}, "
            f"ingressEndpoint={m['ingress_endpoint']}, consensusEndpoint={m['consensus_endpoint']}, "
            f"logEndpoint={m['log_endpoint']}, catchupEndpoint={m['catchup_endpoint']}, "
            f"archiveEndpoint={m['archive_endpoint']}}}"
            for m in self.active_members
        )
        shown = f"[{members}]" if self.active_members else self.active_members_text
        return (f"currentTimeNs={self.current_time_ns}, leaderMemberId={self.leader_member_id}, "
                f"memberId={self.member_id}, activeMembers={shown}")


# -- files ------------------------------------------------------------------------------------


def _mark_path(cluster_dir: str) -> str:
    return os.path.join(resolve_mark_file_dir(cluster_dir), MARK_FILE_NAME)


def _read_mark(cluster_dir: str) -> MarkFileContents | None:
    path = _mark_path(cluster_dir)
    if not os.path.exists(path):
        return None
    return ClusterMarkFile.read(path)


def _require_mark(cluster_dir: str) -> MarkFileContents:
    m = _read_mark(cluster_dir)
    if m is None:
        raise ClusterFileError(f"{MARK_FILE_NAME} does not exist in {resolve_mark_file_dir(cluster_dir)}")
    return m


def _services_dir(cluster_dir: str, mark: MarkFileContents | None) -> str:
    if mark is not None and mark["services_cluster_dir"]:
        return str(mark["services_cluster_dir"])
    return cluster_dir


def _service_mark_paths(services_dir: str) -> list[str]:
    """Service mark files of ``services_dir`` (a ``.lnk`` wins over a ``.dat`` of the same name)."""
    try:
        names = sorted(os.listdir(services_dir))
    except OSError:
        return []
    found: dict[str, str] = {}
    for name in names:
        if name.startswith(SERVICE_FILE_NAME_PREFIX) and name.endswith(".lnk"):
            stem = name[:-4]
            found[stem] = os.path.join(resolve_mark_file_dir(services_dir, name), stem + ".dat")
    for name in names:
        if name.startswith(SERVICE_FILE_NAME_PREFIX) and name.endswith(".dat"):
            found.setdefault(name[:-4], os.path.join(services_dir, name))
    return [found[k] for k in sorted(found)]


def _local(ms: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    try:
        return datetime.fromtimestamp(ms / 1000).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return str(ms)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(r.capitalize() for r in rest)


def describe_mark_file(m: MarkFileContents, now_ms: int) -> str:
    """Two lines, as ClusterTool prints a mark file: type and times, then the decoded header."""
    head = (f"Type: {m.component_type} {_local(now_ms, '%H:%M:%S')} (start: {_local(int(m['start_timestamp']))}, "
            f"activity: {_local(int(m['activity_timestamp']))})")
    parts = []
    for k, v in m.values.items():
        if k == "component_type":
            parts.append(f"componentType={m.component_type}")
        elif isinstance(v, str):
            parts.append(f"{_camel(k)}='{v}'")
        else:
            parts.append(f"{_camel(k)}={v}")
    spec = MARK_FILE_HEADER
    body = (f"[MarkFileHeader](sbeTemplateId={spec.template_id}|sbeSchemaId={spec.schema_id}|"
            f"sbeSchemaVersion={spec.version}|sbeBlockLength={spec.block_length}):" + "|".join(parts))
    return head + "\n" + body


def _print_errors(out: IO[str], m: MarkFileContents) -> None:
    out.write(f"{m.component_type} component error log:\n")
    errors = m.errors()
    for count, first, last, text in errors:
        out.write(f"***\n{count} observations from {_local(first)} to {_local(last)} for:\n {text.rstrip()}\n")
    out.write(f"\n{len(errors)} distinct errors observed.\n")


def _print_driver_errors(out: IO[str], aeron_dir: str) -> None:
    from aeronpy.cnc import CncFile, cnc_file_path
    from aeronpy.errors import CncError
    from aeronpy.tools.errors import format_errors

    out.write(f"Aeron driver error log (directory: {aeron_dir}):\n")
    try:
        cnc = CncFile.map(cnc_file_path(aeron_dir))
    except CncError as e:
        out.write(f"{e}\n")
        return
    try:
        out.write("\n".join(format_errors(cnc)) + "\n")
    finally:
        cnc.close()


def _open_log(cluster_dir: str, read_only: bool = True) -> RecordingLog:
    return RecordingLog(cluster_dir, create=False, read_only=read_only)


def _refuse_if_active(cluster_dir: str, now_ms: int, what: str) -> None:
    m = _read_mark(cluster_dir)
    if m is not None and m.is_active(now_ms):
        raise ClusterError(
            f"cannot {what} while the consensus module is running (pid {m['pid']}, "
            f"activity {now_ms - int(m['activity_timestamp'])} ms ago): stop the node first"
        )


def _seed_entries(log: RecordingLog) -> list[Entry]:
    entries = log.entries
    index = next((i for i in range(len(entries) - 1, -1, -1)
                  if entries[i].is_valid and entries[i].entry_type == EntryType.SNAPSHOT
                  and entries[i].service_id == CONSENSUS_MODULE_SERVICE_ID), -1)
    if index < 0:
        return []
    seeded: list[Entry] = []
    service_id = CONSENSUS_MODULE_SERVICE_ID
    for i in range(index, -1, -1):
        e = entries[i]
        if not (e.is_valid and e.entry_type == EntryType.SNAPSHOT and e.service_id == service_id):
            break
        seeded.append(Entry(e.recording_id, e.leadership_term_id, 0, 0, e.timestamp, e.service_id, e.entry_type,
                            True, -1))
        service_id += 1
    seeded.reverse()
    return seeded


# -- counters ---------------------------------------------------------------------------------


class _Counters:
    """The member driver's counters, mapped straight from ``cnc.dat``."""

    def __init__(self, aeron_dir: str) -> None:
        from aeronpy.cnc import CncFile, cnc_file_path
        from aeronpy.concurrent.counters import CountersReader
        from aeronpy.errors import CncError

        path = cnc_file_path(aeron_dir)
        try:
            self._cnc = CncFile.map(path)
        except CncError as e:
            raise ClusterError(f"unable to locate the media driver of the node: {e}") from None
        self.reader = CountersReader(self._cnc.counters_metadata_buffer, self._cnc.counters_values_buffer)

    def find(self, type_id: int, cluster_id: int) -> int:
        return cc.find_counter(self.reader, type_id, cluster_id)

    def value(self, counter_id: int) -> int:
        return int(self.reader.get_counter_value(counter_id))

    def compare_and_set(self, counter_id: int, expected: int, update: int) -> bool:
        return bool(self._cnc.counters_values_buffer.compare_and_set_int64(
            self.reader.counter_offset(counter_id), expected, update))

    def close(self) -> None:
        self._cnc.close()


def _backup_query(out: IO[str], cluster_dir: str, args: Sequence[str]) -> int:
    """``backup-query [delayMs]``: print, or set to now + delay, the backup's next query time
    (its "next query deadline in ms" counter, type 210)."""
    from aeronpy.cluster.backup.agent import QUERY_DEADLINE_TYPE_ID

    if len(args) > 1 or (args and not args[0].isdigit()):
        raise ValueError(f"backup-query takes an optional delay in ms, got {' '.join(args)!r}")
    mark = _read_mark(cluster_dir)
    if mark is None:
        out.write(f"{MARK_FILE_NAME} does not exist.\n")
        return FAILURE
    counters = _Counters(str(mark["aeron_directory"]))
    try:
        counter_id = counters.find(QUERY_DEADLINE_TYPE_ID, int(mark["cluster_id"]))
        if counter_id < 0:
            out.write("no backup query deadline counter: is the cluster backup running?\n")
            return FAILURE
        now_ms = time.time_ns() // 1_000_000
        verb = "next"
        if args:
            target = now_ms + int(args[0])
            while True:
                current = counters.value(counter_id)
                if counters.compare_and_set(counter_id, current, target):
                    break
            verb = "setting next"
        deadline = counters.value(counter_id)
    finally:
        counters.close()

    def stamp(ms: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))

    out.write(f"{stamp(now_ms)} {verb}: {stamp(deadline)}\n")
    return SUCCESS


# -- control channel --------------------------------------------------------------------------


def query_cluster_members(
    aeron_dir: str, control_channel: str, service_stream_id: int, consensus_module_stream_id: int,
    timeout_ms: int, extended: bool = True,
) -> ClusterMembership | None:
    """Send a ClusterMembersQuery to the consensus module; None if no answer within the timeout."""
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.logbuffer.fragment_assembler import FragmentAssembler

    deadline = time.monotonic() + timeout_ms / 1000
    try:
        aeron = Aeron.connect(Context.from_properties(aeron_dir=aeron_dir, client_name="cluster-tool"))
    except Exception as e:  # noqa: BLE001 - any failure to reach the driver is reported as such
        raise ClusterError(f"unable to connect to the media driver in {aeron_dir}: {e}") from None
    try:
        sub = aeron.add_subscription(control_channel, service_stream_id)
        pub = aeron.add_publication(control_channel, consensus_module_stream_id)
        correlation_id = aeron.next_correlation_id()
        result: list[ClusterMembership] = []

        def on_message(buffer: Any, offset: int, length: int, header: Any) -> None:
            data = buffer.get_bytes(offset, length)
            try:
                d = sbe.decode(CLUSTER_SCHEMA, data)
            except sbe.CodecError:
                return
            if d is None or d.values.get("correlation_id") != correlation_id:
                return
            if d.spec.name == "ClusterMembersExtendedResponse":
                members = d.get_group("active_members")
                text = "|".join(
                    f"{m['member_id']},{m['ingress_endpoint']},{m['consensus_endpoint']},{m['log_endpoint']},"
                    f"{m['catchup_endpoint']},{m['archive_endpoint']}" for m in members)
                result.append(ClusterMembership(d.get_int("leader_member_id"), d.get_int("member_id"),
                                                d.get_int("current_time_ns"), members, text))
            elif d.spec.name == "ClusterMembersResponse":
                result.append(ClusterMembership(d.get_int("leader_member_id"),
                                                active_members_text=d.get_str("active_members")))

        assembler = FragmentAssembler(on_message)
        query = sbe.encode(T.ClusterMembersQuery, correlation_id=correlation_id,
                           extended=BooleanType.TRUE if extended else BooleanType.FALSE)
        while not (pub.is_connected and sub.image_count > 0):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.001)
        while pub.offer(query) < 0:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.001)
        while not result:
            if sub.poll(assembler.on_fragment, 10) == 0:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.001)
        return result[0]
    finally:
        aeron.close()


def _query(mark: MarkFileContents, timeout_ms: int) -> ClusterMembership | None:
    return query_cluster_members(str(mark["aeron_directory"]), str(mark["control_channel"]),
                                 int(mark["service_stream_id"]), int(mark["consensus_module_stream_id"]), timeout_ms)


def _toggle(
    out: IO[str], cluster_dir: str, settings: ToolSettings, target: int, target_name: str,
    expected_state: cc.ConsensusModuleState, wait: bool, default_timeout_ms: int, node_toggle: bool = False,
) -> int:
    mark = _require_mark(cluster_dir)
    cluster_id = int(mark["cluster_id"])
    membership = _query(mark, max(1000, settings.timeout_ms))
    if membership is None:
        out.write("Timed out querying cluster.\n")
        return FAILURE
    prefix = f"Member [{membership.member_id}]: "
    if not node_toggle and membership.leader_member_id != membership.member_id:
        out.write(f"{prefix}Current node is not the leader (leaderMemberId = {membership.leader_member_id}), "
                  f"unable to {target_name}\n")
        return FAILURE
    counters = _Counters(str(mark["aeron_directory"]))
    try:
        state_id = counters.find(cc.CONSENSUS_MODULE_STATE_TYPE_ID, cluster_id)
        if state_id < 0:
            out.write(f"{prefix}Unable to resolve state of consensus module.\n")
            return FAILURE
        state_value = counters.value(state_id)
        try:
            state_name = cc.ConsensusModuleState(state_value).name
        except ValueError:
            state_name = str(state_value)
        if state_value != expected_state:
            out.write(f"{prefix}Unable to {target_name} as the state of the consensus module is {state_name}, "
                      f"but needs to be {expected_state.name}\n")
            return FAILURE
        toggle_type = cc.NODE_CONTROL_TOGGLE_TYPE_ID if node_toggle else cc.CONTROL_TOGGLE_TYPE_ID
        toggle_id = counters.find(toggle_type, cluster_id)
        if toggle_id < 0:
            out.write(f"{prefix}Failed to find control toggle\n")
            return FAILURE
        neutral = int(cc.NodeControlToggle.NEUTRAL if node_toggle else cc.ToggleState.NEUTRAL)
        applied = False
        if not node_toggle and target == cc.ToggleState.RESUME:
            applied = counters.compare_and_set(toggle_id, cc.ToggleState.SUSPEND, target)
        if not applied:
            applied = counters.compare_and_set(toggle_id, neutral, target)
        if not applied:
            out.write(f"{prefix}Failed to apply {target_name}, current toggle value = "
                      f"{_toggle_name(counters.value(toggle_id), node_toggle)}\n")
            return FAILURE
        if wait:
            timeout_ms = max(default_timeout_ms, settings.timeout_ms)
            deadline = time.monotonic() + timeout_ms / 1000
            while counters.value(toggle_id) != neutral:
                if time.monotonic() > deadline:
                    out.write(f"{prefix}Timed out after {timeout_ms}ms waiting for {target_name} to complete.\n")
                    return FAILURE
                time.sleep(0.001)
        out.write(f"{prefix}{target_name} applied successfully\n")
        return SUCCESS
    finally:
        counters.close()


def _toggle_name(value: int, node_toggle: bool) -> str:
    try:
        return (cc.NodeControlToggle(value) if node_toggle else cc.ToggleState(value)).name
    except ValueError:
        return str(value)


# -- snapshot dump ----------------------------------------------------------------------------


def _describe_latest_cm_snapshot(out: IO[str], cluster_dir: str, settings: ToolSettings) -> int:
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.logbuffer.fragment_assembler import FragmentAssembler

    with _open_log(cluster_dir) as log:
        entry = log.latest_snapshot(CONSENSUS_MODULE_SERVICE_ID)
    if entry is None:
        out.write("Snapshot not found\n")
        return FAILURE
    mark = _require_mark(cluster_dir)
    aeron_dir = str(mark["aeron_directory"])
    timeout_s = max(10_000, settings.timeout_ms) / 1000
    try:
        aeron = Aeron.connect(Context.from_properties(aeron_dir=aeron_dir, client_name="cluster-tool"))
    except Exception as e:  # noqa: BLE001
        raise ClusterError(f"unable to connect to the media driver in {aeron_dir}: {e}") from None
    try:
        archive = AeronArchive.connect(AeronArchiveContext(
            aeron_dir=aeron_dir, aeron=aeron, client_name="cluster-tool", control_channel="aeron:ipc",
            control_stream_id=int(mark["archive_stream_id"]), control_response_channel="aeron:ipc",
            control_response_stream_id=_tool_response_stream(),
        ))
        try:
            replay_session_id = archive.start_replay(entry.recording_id, settings.replay_channel,
                                                     settings.replay_stream_id, 0)
            session_id = replay_session_id & 0xFFFFFFFF
            if session_id >= 1 << 31:
                session_id -= 1 << 32
            sep = "&" if "?" in settings.replay_channel else "?"
            channel = f"{settings.replay_channel}{sep}session-id={session_id}".replace("&", "|")
            sub = aeron.add_subscription(channel, settings.replay_stream_id)
            done = [False]

            def on_message(buffer: Any, offset: int, length: int, header: Any) -> None:
                if done[0]:
                    return
                data = buffer.get_bytes(offset, length)
                try:
                    d = sbe.decode(CLUSTER_SCHEMA, data)
                except sbe.CodecError as e:
                    out.write(f"undecodable record of {length} bytes: {e}\n")
                    return
                if d is None:
                    out.write(f"unknown template of {length} bytes\n")
                    return
                fields = " ".join(f"{_camel(k)}={v.hex() if isinstance(v, bytes) else v}" for k, v in d.values.items())
                out.write(f"{d.spec.name}: {fields}\n")
                if d.spec.name == "SnapshotMarker" and d.get_int("mark") == 2 and d.get_int("type_id") == 1:
                    done[0] = True

            assembler = FragmentAssembler(on_message)
            deadline = time.monotonic() + timeout_s
            position = 0
            while not done[0]:
                if sub.poll(assembler.on_fragment, 10) == 0:
                    images = sub.images
                    if images and images[0].is_closed:
                        raise ClusterError(f"snapshot ended unexpectedly at position {images[0].position}")
                    if time.monotonic() > deadline:
                        raise ClusterError(f"timed out replaying snapshot recording {entry.recording_id}")
                    time.sleep(0.001)
            images = sub.images
            position = images[0].position if images else 0
            out.write(f"Consensus Module Snapshot End: memberId={mark['member_id']} recordingId={entry.recording_id} "
                      f"length={position}\n")
            sub.close()
        finally:
            archive.close()
    finally:
        aeron.close()
    return SUCCESS


def _tool_response_stream() -> int:
    return 0x4000_0000 + (os.getpid() & 0xFFFFFF)


# -- the commands -----------------------------------------------------------------------------


def _archive_lookup(mark: MarkFileContents, settings: ToolSettings) -> tuple[Any, Callable[[int], Any]]:
    from aeronpy.archive.client import AeronArchive, AeronArchiveContext

    try:
        archive = AeronArchive.connect(AeronArchiveContext(
            aeron_dir=str(mark["aeron_directory"]), client_name="cluster-tool", control_channel="aeron:ipc",
            control_stream_id=int(mark["archive_stream_id"]), control_response_channel="aeron:ipc",
            control_response_stream_id=_tool_response_stream(),
            message_timeout_ns=max(5000, settings.timeout_ms) * 1_000_000,
        ))
    except Exception as e:  # noqa: BLE001 - reported as one clear line
        raise ClusterError(f"unable to connect to the member's archive (aeron dir {mark['aeron_directory']}): {e}") \
            from None
    return archive, archive.list_recording


def run(
    cluster_dir: str, command: str, args: Sequence[str], out: IO[str], settings: ToolSettings | None = None
) -> int:
    """Run one command against the member whose cluster directory is ``cluster_dir``."""
    settings = settings or ToolSettings()
    if command not in COMMANDS:
        raise ClusterError(f"unknown command: {command} (one of {', '.join(COMMANDS)})")
    if not os.path.isdir(cluster_dir):
        raise ClusterFileError(f"cluster directory not found: {os.path.abspath(cluster_dir)}")
    now = settings.epoch_clock()

    if command == "describe":
        mark = _read_mark(cluster_dir)
        if mark is None:
            out.write(f"{MARK_FILE_NAME} does not exist.\n")
            status = FAILURE
        else:
            out.write(describe_mark_file(mark, now) + "\n")
            status = SUCCESS
        for path in _service_mark_paths(_services_dir(cluster_dir, mark)):
            out.write(describe_mark_file(ClusterMarkFile.read(path), now) + "\n")
        return status
    if command == "pid":
        out.write(f"{_require_mark(cluster_dir)['pid']}\n")
        return SUCCESS
    if command == "recovery-plan":
        if len(args) != 1 or not args[0].isdigit():
            raise ClusterError("recovery-plan needs SERVICE_COUNT, a number 0..10")
        service_count = int(args[0])
        with _open_log(cluster_dir) as log:
            archive, lookup = _archive_lookup(_require_mark(cluster_dir), settings)
            try:
                out.write(f"{log.create_recovery_plan(lookup, service_count)}\n")
            finally:
                archive.close()
        return SUCCESS
    if command == "recording-log":
        with _open_log(cluster_dir) as log:
            out.write(f"{log}\n")
        return SUCCESS
    if command == "sort-recording-log":
        _refuse_if_active(cluster_dir, now, "sort the recording log")
        with _open_log(cluster_dir, read_only=False) as log:
            if all(e.entry_index == i for i, e in enumerate(log.entries)):
                out.write("recording log is already sorted\n")
                return FAILURE
            log.rewrite(log.entries)
        out.write("recording log sorted\n")
        return SUCCESS
    if command == "seed-recording-log-from-snapshot":
        _refuse_if_active(cluster_dir, now, "seed the recording log")
        path = os.path.join(cluster_dir, RECORDING_LOG_FILE_NAME)
        with _open_log(cluster_dir, read_only=False) as log:
            seeded = _seed_entries(log)
            shutil.copy2(path, path + ".bak")
            if seeded:
                log.rewrite(seeded)
        if not seeded:
            os.remove(path)
            out.write(f"no valid snapshot: {path} removed (saved as {RECORDING_LOG_FILE_NAME}.bak)\n")
        else:
            out.write(f"recording log seeded with {len(seeded)} snapshot entries (previous one saved as "
                      f"{RECORDING_LOG_FILE_NAME}.bak)\n")
        return SUCCESS
    if command == "errors":
        mark = _read_mark(cluster_dir)
        if mark is None:
            out.write(f"{MARK_FILE_NAME} does not exist.\n")
        else:
            out.write(describe_mark_file(mark, now).split("\n")[0] + "\n")
            _print_errors(out, mark)
            out.write("\n")
            _print_driver_errors(out, str(mark["aeron_directory"]))
        for path in _service_mark_paths(_services_dir(cluster_dir, mark)):
            service = ClusterMarkFile.read(path)
            out.write(describe_mark_file(service, now).split("\n")[0] + "\n")
            _print_errors(out, service)
        return SUCCESS
    if command == "list-members":
        membership = _query(_require_mark(cluster_dir), max(1000, settings.timeout_ms))
        if membership is None:
            out.write("timeout waiting for response from node\n")
            return FAILURE
        out.write(f"{membership}\n")
        return SUCCESS
    if command == "backup-query":
        mark = _require_mark(cluster_dir)
        if mark.component_type != "BACKUP":
            out.write("not a cluster backup node\n")
            return FAILURE
        return _backup_query(out, cluster_dir, args)
    if command == "invalidate-latest-snapshot":
        _refuse_if_active(cluster_dir, now, "invalidate a snapshot")
        with _open_log(cluster_dir, read_only=False) as log:
            result = log.invalidate_latest_snapshot()
        out.write(f" invalidate latest snapshot: {str(result).lower()}\n")
        return SUCCESS if result else FAILURE
    if command == "is-leader":
        mark = _read_mark(cluster_dir)
        if mark is None:
            out.write(f"{MARK_FILE_NAME} does not exist.\n")
            return FAILURE
        counters = _Counters(str(mark["aeron_directory"]))
        try:
            cid = int(mark["cluster_id"])
            role_id = counters.find(cc.NODE_ROLE_TYPE_ID, cid)
            election_id = counters.find(cc.ELECTION_STATE_TYPE_ID, cid)
            role = counters.value(role_id) if role_id >= 0 else -1
            election = counters.value(election_id) if election_id >= 0 else -1
        finally:
            counters.close()
        return SUCCESS if role == cc.Role.LEADER and election == ELECTION_CLOSED else NOT_LEADER
    if command == "describe-latest-cm-snapshot":
        return _describe_latest_cm_snapshot(out, cluster_dir, settings)
    if command == "validate-recording-log":
        return _toggle(out, cluster_dir, settings, cc.NodeControlToggle.VALIDATE_RECORDING_LOG,
                       "VALIDATE_RECORDING_LOG", cc.ConsensusModuleState.ACTIVE, True, 30_000, node_toggle=True)
    toggles = {
        "snapshot": (cc.ToggleState.SNAPSHOT, cc.ConsensusModuleState.ACTIVE, True, 30_000),
        "suspend": (cc.ToggleState.SUSPEND, cc.ConsensusModuleState.ACTIVE, False, 1_000),
        "resume": (cc.ToggleState.RESUME, cc.ConsensusModuleState.SUSPENDED, True, 1_000),
        "shutdown": (cc.ToggleState.SHUTDOWN, cc.ConsensusModuleState.ACTIVE, False, 1_000),
        "abort": (cc.ToggleState.ABORT, cc.ConsensusModuleState.ACTIVE, False, 1_000),
    }
    target, expected, wait, default_timeout = toggles[command]
    return _toggle(out, cluster_dir, settings, target, target.name, expected, wait, default_timeout)

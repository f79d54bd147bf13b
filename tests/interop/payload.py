"""The sample payload format shared by every interop client (C reference and aeronpy).

Message ``seq`` (0, 1, 2, ...) of ``size`` bytes (``size >= 8``):

* bytes 0..7: ``seq`` as a little-endian int64;
* byte ``i >= 8``: ``(seq + i) & 0xFF``.
"""

from __future__ import annotations

MIN_SIZE = 8


class PayloadCodec:
    """Builds and verifies sample payloads; caches a 256-periodic pattern for speed."""

    def __init__(self, max_size: int = 4096) -> None:
        self._pattern = b""
        self._ensure(max_size)

    def _ensure(self, size: int) -> None:
        needed = size + 256
        if len(self._pattern) < needed:
            self._pattern = bytes(i & 0xFF for i in range(max(needed, 2 * len(self._pattern))))

    def make(self, seq: int, size: int) -> bytes:
        if size < MIN_SIZE:
            raise ValueError(f"payload size must be >= {MIN_SIZE}, got {size}")
        self._ensure(size)
        shift = seq & 0xFF
        return seq.to_bytes(8, "little", signed=True) + self._pattern[MIN_SIZE + shift : size + shift]

    def check(self, data: bytes, expected_seq: int, expected_size: int | None = None) -> str | None:
        """Return None when ``data`` is message ``expected_seq``, else a reason."""
        length = len(data)
        if length < MIN_SIZE:
            return f"corruption: message {expected_seq} has length {length} < {MIN_SIZE}"
        if expected_size is not None and length != expected_size:
            return f"corruption: message {expected_seq} has length {length}, expected {expected_size}"
        seq = int.from_bytes(data[:MIN_SIZE], "little", signed=True)
        if seq != expected_seq:
            kind = "gap" if seq > expected_seq else "out of order/duplicate"
            return f"{kind}: expected message {expected_seq}, got {seq}"
        self._ensure(length)
        shift = seq & 0xFF
        if data[MIN_SIZE:] != self._pattern[MIN_SIZE + shift : length + shift]:
            body = data[MIN_SIZE:]
            want = self._pattern[MIN_SIZE + shift : length + shift]
            first = next(i for i in range(len(body)) if body[i] != want[i]) + MIN_SIZE
            return (
                f"corruption: message {seq} (length {length}) byte {first} is {data[first]:#04x}, "
                f"expected {(seq + first) & 0xFF:#04x}"
            )
        return None


_default = PayloadCodec()


def make_payload(seq: int, size: int) -> bytes:
    return _default.make(seq, size)


def check_payload(data: bytes, expected_seq: int, expected_size: int | None = None) -> str | None:
    return _default.check(data, expected_seq, expected_size)

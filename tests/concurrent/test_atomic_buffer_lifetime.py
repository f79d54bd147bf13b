"""Views of a released AtomicBuffer stay valid: the mapping lives until the last view goes."""

from __future__ import annotations

import gc
import mmap

import pytest

from aeronpy.concurrent.atomic_buffer import AtomicBuffer


def test_release_without_views_lets_go_of_the_mmap() -> None:
    m = mmap.mmap(-1, 4096)
    buffer = AtomicBuffer(m)
    assert buffer.release() is True
    m.close()  # no BufferError: nothing holds it any more
    with pytest.raises(ValueError):
        buffer.get_int32(0)


def test_views_survive_release_and_close_attempts() -> None:
    m = mmap.mmap(-1, 4096)
    buffer = AtomicBuffer(m)
    buffer.put_int64(8, 1234)
    view = memoryview(buffer)[8:16]
    assert buffer.exports == 1
    assert buffer.release() is False  # deferred: a view is alive
    with pytest.raises(BufferError):
        m.close()  # the mapping is still held for the view
    assert int.from_bytes(view, "little") == 1234  # still valid memory
    with pytest.raises(ValueError):
        buffer.get_int64(8)  # but the buffer object itself is done
    view.release()
    assert buffer.exports == 0
    m.close()  # now it can go


def test_log_buffers_close_with_a_live_view(tmp_path: object) -> None:
    import os

    from aeronpy.logbuffer.log_buffers import LogBuffers

    path = os.path.join(str(tmp_path), "1.logbuffer")
    log = LogBuffers.create(path, 65536)
    log.term_buffers[0].put_int32(0, 77)
    kept = memoryview(log.term_buffers[0])[0:4]
    log.close()  # must not raise, must not unmap under the view
    assert int.from_bytes(kept, "little") == 77
    del kept
    gc.collect()

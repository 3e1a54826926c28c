"""The scan's threads: frames decoded ahead keep their order and their errors, the online
callback runs behind the detector in order and its errors reach the caller."""
import threading

import numpy as np
import pytest

from starpose.video.reader import FrameSource, VideoError, VideoInfo
from starpose.video.scan import read_ahead, scan_video


def _frames(n, fail_at=None):
    for k in range(n):
        if k == fail_at:
            raise VideoError("clip.mp4: the stream breaks off at frame 3 (truncated)")
        yield k, np.full((4, 4, 3), k, np.uint8)


def test_read_ahead_keeps_order_and_raises_the_decoders_error_in_place():
    seconds = {"decode": 0.0}
    got = []
    with pytest.raises(VideoError, match="truncated"):
        for number, rgb in read_ahead(_frames(10, fail_at=3), seconds):
            got.append((number, int(rgb[0, 0, 0])))
    assert got == [(0, 0), (1, 1), (2, 2)]
    assert [n for n, _ in read_ahead(_frames(50), seconds, depth=2)] == list(range(50))


def test_read_ahead_stops_its_thread_when_the_reader_stops_early():
    before = threading.active_count()
    for number, _ in read_ahead(_frames(1000), {"decode": 0.0}, depth=2):
        if number == 5:
            break
    assert threading.active_count() == before


class _OnePerson:
    def detect(self, rgb):
        k = float(rgb[0, 0, 0])
        person = np.zeros((1, 17, 3), np.float32)
        person[0, :, 0], person[0, :, 1], person[0, :, 2] = 100 + k + np.arange(17), 200, 0.9
        return person


def _source(n):
    return FrameSource(VideoInfo("clip.mp4", 4, 4, 25.0, n, "h264"), _frames(n))


def test_on_frame_runs_in_frame_order_behind_the_detector():
    seen = []
    scan = scan_video(_source(30), _OnePerson(), on_frame=lambda n, rgb, pairs: seen.append(
        (n, threading.current_thread() is threading.main_thread(), len(pairs))))
    assert [n for n, _, _ in seen] == list(range(30)) and scan.num_frames == 30
    assert not any(main for _, main, _ in seen) and all(p == 1 for _, _, p in seen)


def test_an_error_in_on_frame_reaches_the_caller():
    def fail(number, rgb, pairs):
        if number == 4:
            raise RuntimeError("lifter broke at frame 4")

    with pytest.raises(RuntimeError, match="frame 4"):
        scan_video(_source(30), _OnePerson(), on_frame=fail)

"""Following a log like tail -F: growth, partial lines, rotation and truncation, no line twice or lost."""

from __future__ import annotations

import os
from pathlib import Path

from stream.publish import FollowedFile


def test_a_rotated_log_is_read_to_its_end_before_the_new_one_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1\n2\n3-par")
    followed = FollowedFile(log)
    assert followed.take() == [b"1", b"2"]
    with log.open("ab") as old:  # written just before logrotate renames it
        old.write(b"tial\n4\n")
    os.rename(log, tmp_path / "queue_log.1")
    assert followed.take() == [b"3-partial", b"4"]  # the path is empty: keep reading the old file
    log.write_bytes(b"5\n6")
    assert followed.take() == [b"5"]
    with log.open("ab") as new:
        new.write(b"\n7\n")
    assert followed.take() == [b"6", b"7"] and followed.take() == []
    followed.close()


def test_a_log_truncated_in_place_is_read_again_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_bytes(b"1\n2\n")
    followed = FollowedFile(log)
    assert followed.take() == [b"1", b"2"]
    log.write_bytes(b"3\n")  # copytruncate: same file, shorter
    assert followed.take() == [b"3"]
    followed.close()


def test_a_log_that_is_not_there_yet_is_read_once_it_is(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    followed = FollowedFile(log)
    assert followed.take() == []
    log.write_bytes(b"1\n")
    assert followed.take() == [b"1"]
    followed.close()

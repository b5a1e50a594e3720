"""Reading users' files: the one function every scenario, grid, trace, profile and log file goes through.

Only regular files are read (a FIFO would block forever, ``/dev/zero`` would fill
memory), up to :data:`MAX_FILE_BYTES`, as UTF-8 text (a leading byte-order mark
is dropped).  Error messages quote at most :data:`EXCERPT_CHARS` characters of a
file's line, so an error never echoes a whole line of a file that is not data.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import stat
from pathlib import Path

#: The largest file read (bytes): 256 MiB, about ten years of minute samples as CSV.
MAX_FILE_BYTES = 256 * 1024 * 1024
#: At most this many characters of a file's line appear in an error message.
EXCERPT_CHARS = 40


class FileReadError(ValueError):
    """A file could not be read as text: ``rule`` says why, ``fix`` how (both plain words)."""

    def __init__(self, path, rule: str, fix: str | None = None):
        super().__init__(f"{path}: {rule}" + (f" ({fix})" if fix else ""))
        self.path, self.rule, self.fix = str(path), rule, fix


_RECORDERS: list[dict[str, str]] = []


@contextlib.contextmanager
def recording_reads():
    """Collect ``{absolute path: sha256 of its bytes}`` of every file :func:`read_text` reads
    in the block (what a study's checkpoint fingerprint covers)."""
    reads: dict[str, str] = {}
    _RECORDERS.append(reads)
    try:
        yield reads
    finally:
        _RECORDERS.remove(reads)


def note_read(path, data: bytes | None = None) -> None:
    """Record ``path`` as read (its bytes ``data``, else read here: a file read some other way,
    e.g. a user's Python module) in every :func:`recording_reads` block that is open."""
    if not _RECORDERS:
        return
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return
    digest = hashlib.sha256(data).hexdigest()
    for reads in _RECORDERS:
        reads[str(Path(path).resolve())] = digest


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``text`` (a file's line), marked with ... when cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_text(path, *, limit: int = MAX_FILE_BYTES, what: str = "text") -> str:
    """The text of the regular file ``path`` (UTF-8, BOM dropped); FileReadError if it is
    missing, not a regular file, larger than ``limit`` bytes or not UTF-8."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as err:
        raise FileReadError(p, f"cannot read file: {err.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise FileReadError(p, "cannot read file: Is a directory", "give a file")
    if not stat.S_ISREG(st.st_mode):
        raise FileReadError(p, "cannot read file: not a regular file (a pipe, device or socket)",
                            "carbonsim reads only regular files; copy the data to a file")
    if st.st_size > limit:
        raise FileReadError(p, f"file is larger than the limit of {limit:,} bytes ({st.st_size:,} bytes)",
                            f"{what} files up to {limit // (1024 * 1024)} MiB are read")
    try:
        # O_NONBLOCK: should the path become a FIFO between stat and open, open does not block.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise FileReadError(p, "cannot read file: not a regular file (a pipe, device or socket)")
            data = f.read(limit + 1)
    except OSError as err:
        raise FileReadError(p, f"cannot read file: {err.strerror}") from None
    if len(data) > limit:
        raise FileReadError(p, f"file is larger than the limit of {limit:,} bytes",
                            f"{what} files up to {limit // (1024 * 1024)} MiB are read")
    note_read(p, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileReadError(p, f"not a UTF-8 text file (bad byte at offset {err.start})",
                            f"{what} files are UTF-8 text") from None


def csv_rows(path, text: str) -> list[tuple[int, list[str]]]:
    """(line number, row) of every CSV row of ``text``, blank rows included; FileReadError for
    malformed CSV (a field over the csv module's limit, a NUL byte)."""
    reader = csv.reader(io.StringIO(text))
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as err:
        raise FileReadError(f"{path}:{max(reader.line_num, 1)}", f"not a readable CSV line ({err})",
                            "check that this is the right file") from None
    return rows

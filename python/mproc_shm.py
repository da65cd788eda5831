"""mproc_shm - numpy views of mproc's shared arrays, and segments for mproc to attach.

Pure Python: the standard library and numpy. Python 3.11 (Debian 12's) and newer, Linux.

    import mproc_shm
    with mproc_shm.open_array("demo") as a:     # made by C, or `mproc create demo ...`
        print(a.array)                          # a numpy view of the shared elements
        a.array *= 2                            # the C side sees the change

An mproc array is a POSIX shared memory segment: one page of header (documented in
mproc.h), then the elements at the data offset. open_array() attaches with
multiprocessing.shared_memory.SharedMemory, checks the header as mproc_array_attach does
(magic, version, checksum, dtype, sizes against the segment's real size) and gives a
numpy view of the elements. create_array() makes one that C attaches with
mproc_array_attach. create_raw() makes a segment with no header, the elements at offset 0
(what plain SharedMemory makes), for C's mproc_array_attach_raw(name, dtype, length).

Kept arrays: header flag FLAG_KEEP (MPROC_ARRAY_KEEP in C) marks an array made to outlive
its creator; `mproc gc` (mproc_segment_reclaim), which removes arrays whose creator is
dead, leaves a kept one until it is unlinked. Header.keep tells, and create_array(keep=)
sets it.

Names are mproc's: 1 to 200 characters from [A-Za-z0-9._-], without the leading '/'
(which SharedMemory adds on its own), as mproc_array_name() gives them.

Python's resource tracker: a SharedMemory that a process opens is registered with the
tracker, which unlinks it when the process exits, even when the process only attached to
it. Python 3.13 added SharedMemory(track=False) to opt out; before it the only way out is
to unregister after opening. Either would remove mproc's arrays from under their owner,
so open_array() and open_raw() never leave them registered (track=False from 3.13, an
unregister on 3.11 and 3.12). What Python creates is tracked unless track=False is
passed: the tracker removes it when the creating process ends without unlink().

Closing: a numpy view holds the segment's memory, and SharedMemory.close() refuses
(BufferError) while any view of it is alive. SharedArray.close() drops its own view first;
views you made of it (slices, a.array itself kept in a variable) must be gone too. Copy
what you keep: a.array.copy(). `with` closes on the way out.
"""

import mmap
import os
import re
import stat
import struct
import sys
from multiprocessing import resource_tracker, shared_memory

import _posixshmem
import numpy as np

__all__ = [
    "SegmentError", "SharedArray", "DTYPES", "DATA_OFFSET", "FLAG_KEEP", "Header",
    "open_array", "open_raw", "create_array", "create_raw", "read_header", "unlink",
]

# mproc_dtype codes (mproc.h) and their numpy names.
DTYPES = {
    1: "int8", 2: "uint8", 3: "int16", 4: "uint16", 5: "int32",
    6: "uint32", 7: "int64", 8: "uint64", 9: "float32", 10: "float64",
}
_CODES = {name: code for code, name in DTYPES.items()}

MAGIC = b"MPROCARR"
FORMAT_VERSION = 1
HEADER_USED = 80
# The data offset mproc uses: one page, and never less than 4096 (MPROC_DATA_OFFSET).
DATA_OFFSET = max(4096, mmap.PAGESIZE)
NAME_MAX = 200
# Header flags (offset 72): bit 0 is MPROC_ARRAY_KEEP; the other bits are reserved, and
# readers accept and ignore them, as mproc_array_attach does.
FLAG_KEEP = 0x1

# The header, in the host's byte order as C writes it, fields at the offsets of mproc.h:
# magic, version, header bytes in use, dtype, element size, length, data offset, data
# bytes, instance id, creator pid, creator start time, flags, checksum.
_HEADER = struct.Struct("=8sIIIIQQQQqQII")
assert _HEADER.size == HEADER_USED
_CHECKSUMMED = 76  # bytes before the checksum field

_TRACK_PARAMETER = sys.version_info >= (3, 13)  # SharedMemory(track=...) exists
# Names this process created with track=True: before 3.13 the tracker keeps one entry per
# name, so opening one of them again must not unregister it.
_tracked_here = set()
_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,%d}\Z" % NAME_MAX)


class SegmentError(ValueError):
    """A segment that is not a valid mproc array (or too small for what was asked).

    reason is one of "truncated", "bad magic", "version", "corrupt", "not a segment".
    """

    def __init__(self, name, reason, detail):
        super().__init__(f"mproc segment {name!r}: {reason}: {detail}")
        self.name = name
        self.reason = reason


class Header:
    """The fields of an mproc header (read_header)."""

    __slots__ = ("version", "header_used", "dtype", "elem_size", "length", "data_offset",
                 "data_bytes", "instance_id", "creator_pid", "creator_start", "flags",
                 "checksum")

    def __init__(self, fields):
        for slot, value in zip(self.__slots__, fields):
            setattr(self, slot, value)

    @property
    def keep(self):
        """True when the array is kept (FLAG_KEEP): `mproc gc` never removes it."""
        return bool(self.flags & FLAG_KEEP)

    def __repr__(self):
        return "Header(%s)" % ", ".join(f"{s}={getattr(self, s)!r}" for s in self.__slots__)


def _fnv1a(data):
    """FNV-1a, 32 bits: the header checksum (lib/src/segment.c)."""
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def _normalize(name):
    """mproc's name rules (mproc__name_normalize): returns the name without a '/'."""
    if not isinstance(name, str):
        raise TypeError(f"a segment name is a str, not {type(name).__name__}")
    bare = name[1:] if name.startswith("/") else name
    if not _NAME_RE.match(bare) or bare in (".", ".."):
        raise ValueError(f"invalid segment name {name!r}: 1 to {NAME_MAX} characters "
                         "from [A-Za-z0-9._-], without a '/' inside")
    return bare


def _numpy_dtype(dtype):
    """The numpy dtype and mproc code for a dtype given as numpy accepts it."""
    dt = np.dtype(dtype)
    if dt.name not in _CODES or not dt.isnative:
        raise ValueError(f"mproc has no dtype {dt.str!r}: use one of "
                         + ", ".join(DTYPES.values()) + " (native byte order)")
    return dt, _CODES[dt.name]


def read_header(buf, size=None, name="?"):
    """Parses and checks the mproc header at the start of buf (bytes, memoryview, mmap).

    size is the segment's real size (default: len(buf)). Checks what mproc_array_attach
    checks, in its order, and raises SegmentError with the same reasons (truncated, bad
    magic, version, corrupt). Returns a Header.
    """
    size = len(buf) if size is None else size
    got = min(len(buf), HEADER_USED)
    raw = bytes(buf[:got])
    if got < len(MAGIC) or raw[:len(MAGIC)] != MAGIC:
        if got == 0:
            raise SegmentError(name, "truncated", "the segment is empty")
        raise SegmentError(name, "bad magic", "not an mproc array (no 'MPROCARR' header)")
    if got < 12:
        raise SegmentError(name, "truncated", f"{got} bytes, less than a header")
    version = struct.unpack_from("=I", raw, 8)[0]
    if version != FORMAT_VERSION:
        raise SegmentError(name, "version", f"format version {version}, this module "
                           f"reads version {FORMAT_VERSION}")
    if got < HEADER_USED or size < DATA_OFFSET:
        raise SegmentError(name, "truncated", f"{size} bytes, less than the header page")
    f = _HEADER.unpack(raw)
    h = Header(f[1:])
    if h.checksum != _fnv1a(raw[:_CHECKSUMMED]):
        raise SegmentError(name, "corrupt", "header checksum mismatch")
    if h.header_used != HEADER_USED:
        raise SegmentError(name, "corrupt", f"header claims {h.header_used} bytes in use")
    if h.dtype not in DTYPES or h.elem_size != np.dtype(DTYPES[h.dtype]).itemsize:
        raise SegmentError(name, "corrupt", f"dtype {h.dtype} with {h.elem_size}-byte elements")
    if h.length * h.elem_size != h.data_bytes:
        raise SegmentError(name, "corrupt", f"{h.length} elements of {h.elem_size} bytes "
                           f"are not {h.data_bytes} bytes")
    if h.data_offset < DATA_OFFSET or h.data_offset % DATA_OFFSET or h.data_offset > 1 << 30:
        raise SegmentError(name, "corrupt", f"data offset {h.data_offset}")
    if size < h.data_offset + h.data_bytes:
        raise SegmentError(name, "truncated", f"{size} bytes, the header says "
                           f"{h.data_offset + h.data_bytes}")
    return h


def _check_file(name, need):
    """Before SharedMemory sees it: a regular file of ours of at least `need` bytes.

    SharedMemory follows symbolic links, cannot map an empty file, and unlinks what it
    fails to map (a FIFO, say): none of that may happen to a name we were only asked to
    read. Returns the size.
    """
    st = os.lstat("/dev/shm/" + name)  # FileNotFoundError for a missing name
    if not stat.S_ISREG(st.st_mode):  # lstat: a symbolic link is not one
        raise SegmentError(name, "not a segment", "not a regular file (a link, FIFO or directory)")
    if st.st_uid != os.geteuid():
        raise PermissionError(f"segment {name!r} belongs to another user (uid {st.st_uid})")
    if st.st_size < need or st.st_size == 0:
        raise SegmentError(name, "truncated", f"{st.st_size} bytes, at least {max(need, 1)} "
                           "needed")
    return st.st_size


class _SharedMemory(shared_memory.SharedMemory):
    """SharedMemory whose finalizer is quiet when numpy views outlive it (a SharedArray
    left open when the interpreter exits, say): the mapping then stays until the views
    go, as it must, instead of an "Exception ignored ... BufferError" on stderr."""

    def __del__(self):
        try:
            self.close()
        except BufferError:
            pass


def _shared_memory(name, create=False, size=0, track=True):
    """SharedMemory(name, create, size), registered with the resource tracker only if
    track: Python 3.13's track=False, or an unregister right after on older ones."""
    if _TRACK_PARAMETER:
        return _SharedMemory(name=name, create=create, size=size, track=track)
    shm = _SharedMemory(name=name, create=create, size=size)
    if not track and name not in _tracked_here:
        resource_tracker.unregister(shm._name, "shared_memory")
    return shm


def unlink(name):
    """Removes /dev/shm/NAME, as mproc_array_unlink does (FileNotFoundError if missing).

    Use this, not SharedMemory.unlink(), for segments that are not tracked: before 3.13
    that would ask the tracker to forget a name it does not know, and it complains. A
    segment this process created with track=True is unregistered from the tracker too.
    """
    name = _normalize(name)
    _posixshmem.shm_unlink("/" + name)
    if name in _tracked_here:  # the tracker forgets it too
        _tracked_here.discard(name)
        resource_tracker.unregister("/" + name, "shared_memory")


class SharedArray:
    """A numpy view of a shared segment, with the SharedMemory that holds it.

    array: the numpy.ndarray (1-D, length elements of dtype) over the shared memory.
    name, dtype (numpy), length, header (a Header, None for a raw segment), shm.
    """

    def __init__(self, shm, name, dtype, length, offset, header):
        self.shm = shm
        self.name = name
        self.dtype = dtype
        self.length = length
        self.header = header
        # frombuffer, not ndarray(buffer=...): its array keeps a buffer export of the
        # mapping, which every view of it shares, so that SharedMemory.close() refuses to
        # unmap memory that a view still points to (ndarray(buffer=) keeps none, and the
        # view would then crash the interpreter on its next access).
        self.array = np.frombuffer(shm.buf, dtype=dtype, count=length, offset=offset)

    def close(self):
        """Drops the view and unmaps (the segment stays). Raises BufferError while views
        made of the array are still alive. Closing twice is fine."""
        self.array = None
        if self.shm is None:
            return
        try:
            self.shm.close()
        except BufferError:
            raise BufferError(f"segment {self.name!r}: numpy views of it are still alive; "
                              "delete them (or keep copies) before close()") from None
        self.shm = None

    def unlink(self):
        """Removes the segment's name (mproc_array_unlink); the mapping stays usable."""
        unlink(self.name)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.close()
        except BufferError:
            if exc_type is None:
                raise
            # Leaving on an error with a view still alive: that error is the one to see;
            # the mapping goes when the views do.
        return False

    def __repr__(self):
        kind = "raw segment" if self.header is None else "mproc array"
        state = "" if self.shm is not None else ", closed"
        return f"<SharedArray {kind} {self.name!r} {self.dtype} x {self.length}{state}>"


def open_array(name):
    """Attaches to the mproc array NAME and returns a SharedArray with its numpy view.

    Raises FileNotFoundError (no such name), PermissionError (another user's),
    SegmentError, a ValueError (not a valid mproc array: its reason says why), or
    ValueError for an invalid name. The segment is never registered with the resource
    tracker: it stays when this process exits.
    """
    name = _normalize(name)
    size = _check_file(name, DATA_OFFSET)
    shm = _shared_memory(name, track=False)
    try:
        # The flags and checksum change together (mproc_array_set_keep stores them as one
        # aligned 8-byte word) but a copy of the header may read them apart: a header
        # that fails as corrupt is read again before it is believed, as C does.
        for attempt in range(3):
            try:
                h = read_header(shm.buf, size, name)
                break
            except SegmentError as e:
                if e.reason != "corrupt" or attempt == 2:
                    raise
        dt = np.dtype(DTYPES[h.dtype])
        return SharedArray(shm, name, dt, h.length, h.data_offset, h)
    except BaseException:
        shm.close()
        raise


def open_raw(name, dtype, length):
    """Attaches to a segment without a header: length elements of dtype at offset 0
    (what mproc_array_attach_raw does in C). Not tracked. Raises as open_array."""
    name = _normalize(name)
    dt, _ = _numpy_dtype(dtype)
    if length < 0:
        raise ValueError(f"length {length} is negative")
    _check_file(name, length * dt.itemsize)
    shm = _shared_memory(name, track=False)
    try:
        return SharedArray(shm, name, dt, length, 0, None)
    except BaseException:
        shm.close()
        raise


def create_raw(name, dtype, length, track=True):
    """Creates a segment without a header holding length zeros of dtype at offset 0, for
    C's mproc_array_attach_raw(name, dtype, length). Mode 0600, FileExistsError if the
    name is taken. Its size is at least one byte (SharedMemory cannot make an empty one).
    track=True (Python's default): the resource tracker unlinks it when this process
    exits without unlink(); track=False leaves that to you (or mproc_array_unlink).
    """
    name = _normalize(name)
    dt, _ = _numpy_dtype(dtype)
    if length < 0:
        raise ValueError(f"length {length} is negative")
    shm = _shared_memory(name, create=True, size=max(1, length * dt.itemsize), track=track)
    if track:
        _tracked_here.add(name)
    return SharedArray(shm, name, dt, length, 0, None)


def _start_time():
    """This process's start time in clock ticks after boot (/proc/self/stat field 22),
    which mproc records with the creator's pid."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def create_array(name, dtype, length, track=True, keep=None):
    """Creates an mproc array: a header page, then length zeros of dtype. C attaches to
    it with mproc_array_attach, and `mproc ls` lists it as created by this process.
    Mode 0600, FileExistsError if the name is taken; track as for create_raw.

    keep: whether the array is kept (FLAG_KEEP in its header): made to outlive this
    process, so that `mproc gc`, which removes arrays whose creator is dead, leaves it
    until it is unlinked. The default, None, is `not track`: an untracked array is one
    made to outlive this process, as SharedMemory's untracked segments persist until
    unlinked; a tracked one goes at exit anyway, and is left reclaimable should this
    process die before its tracker removes it.
    """
    name = _normalize(name)
    dt, code = _numpy_dtype(dtype)
    if length < 0:
        raise ValueError(f"length {length} is negative")
    data_bytes = length * dt.itemsize
    flags = FLAG_KEEP if (not track if keep is None else keep) else 0
    shm = _shared_memory(name, create=True, size=DATA_OFFSET + data_bytes, track=track)
    try:
        instance_id = int.from_bytes(os.urandom(8), "little") or 1
        fields = [MAGIC, FORMAT_VERSION, HEADER_USED, code, dt.itemsize, length, DATA_OFFSET,
                  data_bytes, instance_id, os.getpid(), _start_time(), flags, 0]
        fields[-1] = _fnv1a(_HEADER.pack(*fields)[:_CHECKSUMMED])
        shm.buf[:HEADER_USED] = _HEADER.pack(*fields)
        h = read_header(shm.buf, name=name)
        if track:
            _tracked_here.add(name)
        return SharedArray(shm, name, dt, length, DATA_OFFSET, h)
    except BaseException:
        shm.close()
        if track:
            _tracked_here.add(name)
        unlink(name)
        raise

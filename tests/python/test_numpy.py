"""test_numpy.py PYHELPER SOURCE_ROOT - Python and numpy against the mproc library.

Both directions: arrays that C made, opened with python/mproc_shm.py as numpy views and
changed on either side; segments that Python made (plain SharedMemory, no header),
squared by C's mproc_array_attach_raw and a pool of forked workers. Also: Python's
resource tracker must not remove mproc's segments when a process that only attached
exits; every dtype both ways; headers checked as C checks them; closing; the README's
example. Nothing may be left in /dev/shm. Exit 77 (skip) without numpy.

Names here never contain "mproc": the C suites of other runs on this machine watch
/dev/shm for new *mproc* entries that are not mproc arrays.
"""

import os
import re
import subprocess
import sys
import unittest
from multiprocessing import shared_memory

try:
    import numpy as np
except ImportError:
    print(f"SKIP: {sys.executable} has no numpy (Debian: apt-get install python3-numpy)")
    sys.exit(77)

if len(sys.argv) < 3:
    sys.exit("usage: test_numpy.py PYHELPER SOURCE_ROOT [unittest arguments]")
HELPER = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
del sys.argv[1:3]
PYDIR = os.path.join(ROOT, "python")
sys.path.insert(0, PYDIR)

import mproc_shm  # noqa: E402

PREFIX = f"pyt-{os.getpid()}-"
_counter = 0
_python_named = []  # SharedMemory's own names (psm_...) this run made


def fresh(tag):
    global _counter
    _counter += 1
    return f"{PREFIX}{_counter}-{tag}"


def exists(name):
    return os.path.lexists("/dev/shm/" + name)


def helper(*args, fail=None):
    """Runs pyhelper; with fail="MPROC_E...", expects exit 1 with that error."""
    r = subprocess.run([HELPER, *map(str, args)], capture_output=True, text=True, timeout=60)
    if fail is None:
        if r.returncode != 0:
            raise AssertionError(f"pyhelper {' '.join(map(str, args))}: exit {r.returncode}: "
                                 f"{r.stderr.strip()}")
    elif r.returncode != 1 or fail not in r.stderr:
        raise AssertionError(f"pyhelper {' '.join(map(str, args))}: expected {fail}, got exit "
                             f"{r.returncode}: {r.stderr.strip()}")
    return r.stdout


def c_view(name):
    """What C sees: (dtype name, values as text)."""
    dtype, length, values = helper("print", name).split()
    return dtype, values.split(",") if int(length) else []


def python_child(code):
    """Runs code in another Python process (this interpreter, mproc_shm importable) and
    returns it. capture_output reads until every holder of the pipes has closed them,
    the process's resource tracker included: when run() returns, the tracker has done
    its cleanup."""
    env = dict(os.environ, PYTHONPATH=PYDIR)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)


# Values every dtype holds after a C cast (negative ones wrap for the unsigned dtypes).
INTS = [0, 1, -1, 2, 7, 100, -128, 127]
FLOATS = [0.0, 1.5, -2.25, 3.0e10, -0.0, 1e-3]


def values_for(dtype):
    return FLOATS if dtype.kind == "f" else INTS


def expected_array(dtype, values):
    """The values as C stores them: integers cast (wrapping), floats rounded."""
    if dtype.kind == "f":
        return np.array(values, dtype=np.float64).astype(dtype)
    return np.array([v % (1 << (8 * dtype.itemsize)) for v in values],
                    dtype=np.uint64).astype(dtype)


def as_text(dtype, arr):
    """What pyhelper prints for arr."""
    if dtype.kind == "f":
        return [format(float(v), ".9g" if dtype.itemsize == 4 else ".17g") for v in arr]
    return [str(int(v)) for v in arr]


class CToPython(unittest.TestCase):
    """Arrays made by C, seen and changed as numpy arrays."""

    def test_seed_array_both_ways(self):
        name = fresh("seed")
        helper("create", name, "int32", "2,3,4,5,6,7,8")
        try:
            with mproc_shm.open_array(name) as a:
                self.assertEqual(a.array.dtype, np.int32)
                np.testing.assert_array_equal(a.array, [2, 3, 4, 5, 6, 7, 8])
                self.assertEqual(a.header.length, 7)
                self.assertEqual(a.header.data_offset, mproc_shm.DATA_OFFSET)
                self.assertNotEqual(a.header.creator_pid, os.getpid())
                a.array[0] = 100  # Python writes, C reads
                self.assertEqual(c_view(name), ("int32", ["100", "3", "4", "5", "6", "7", "8"]))
                helper("square", name)  # C's pool writes, the open view sees it
                np.testing.assert_array_equal(a.array, [10000, 9, 16, 25, 36, 49, 64])
            self.assertTrue(exists(name))
        finally:
            mproc_shm.unlink(name)

    def test_every_dtype(self):
        for code, dtname in mproc_shm.DTYPES.items():
            with self.subTest(dtype=dtname):
                dt = np.dtype(dtname)
                name = fresh(dtname)
                vals = values_for(dt)
                helper("create", name, dtname, ",".join(map(repr, vals)))
                try:
                    with mproc_shm.open_array("/" + name) as a:  # a leading '/' is fine
                        self.assertEqual(a.header.dtype, code)
                        self.assertEqual(a.array.dtype, dt)
                        self.assertEqual(a.header.elem_size, dt.itemsize)
                        want = expected_array(dt, vals)
                        np.testing.assert_array_equal(a.array, want)
                        helper("square", name)
                        with np.errstate(over="ignore"):
                            np.testing.assert_array_equal(a.array, want * want)
                finally:
                    mproc_shm.unlink(name)

    def test_python_made_arrays_every_dtype(self):
        """create_array writes a header that mproc_array_attach accepts."""
        for dtname in mproc_shm.DTYPES.values():
            with self.subTest(dtype=dtname):
                dt = np.dtype(dtname)
                name = fresh("py-" + dtname)
                with mproc_shm.create_array(name, dtname, 3000, track=False) as a:
                    try:
                        a.array[:] = np.resize(expected_array(dt, values_for(dt)), 3000)
                        got_dtype, got = c_view(name)
                        self.assertEqual(got_dtype, dtname)
                        self.assertEqual(got, as_text(dt, a.array))
                        before = a.array.copy()
                        helper("square", name)
                        with np.errstate(over="ignore"):
                            np.testing.assert_array_equal(a.array, before * before)
                    finally:
                        a.unlink()


class PythonToC(unittest.TestCase):
    """Segments made by Python, without a header, squared by C's pool."""

    def test_plain_shared_memory(self):
        for dtype in (np.int32, np.float64):
            with self.subTest(dtype=np.dtype(dtype).name):
                n = 10007
                shm = shared_memory.SharedMemory(create=True, size=n * np.dtype(dtype).itemsize)
                _python_named.append(shm.name)
                try:
                    arr = np.ndarray((n,), dtype=dtype, buffer=shm.buf)
                    arr[:] = np.arange(n) - 5000
                    helper("square-raw", shm.name, np.dtype(dtype).name, n)
                    np.testing.assert_array_equal(arr, (np.arange(n) - 5000) ** 2)
                    del arr
                finally:
                    shm.close()
                    shm.unlink()

    def test_create_raw_every_dtype(self):
        for dtname in mproc_shm.DTYPES.values():
            with self.subTest(dtype=dtname):
                dt = np.dtype(dtname)
                name = fresh("raw-" + dtname)
                with mproc_shm.create_raw(name, dt, 1000) as r:
                    try:
                        r.array[:] = np.resize(expected_array(dt, values_for(dt)), 1000)
                        before = r.array.copy()
                        helper("square-raw", name, dtname, 1000)
                        with np.errstate(over="ignore"):
                            np.testing.assert_array_equal(r.array, before * before)
                        with mproc_shm.open_raw(name, dt, 1000) as again:
                            np.testing.assert_array_equal(again.array, r.array)
                    finally:
                        r.unlink()

    def test_raw_sizes(self):
        name = fresh("short")
        with mproc_shm.create_raw(name, np.int32, 25) as r:  # 100 bytes: Linux keeps it so
            try:
                helper("square-raw", name, "int32", 26, fail="MPROC_ETRUNCATED")
                helper("square-raw", name, "int64", 13, fail="MPROC_ETRUNCATED")
                helper("square-raw", name, "int8", 100)
                helper("square-raw", name, "int8", 0)
                helper("square-raw", name, "int33", 1, fail="MPROC_EDTYPE")
                helper("square-raw", fresh("missing"), "int8", 1, fail="MPROC_ENOENT")
            finally:
                r.unlink()


class ResourceTracker(unittest.TestCase):
    """A Python process that attached and exited leaves mproc's segments alone."""

    def assert_quiet(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertNotIn("leaked", r.stderr)

    def test_open_array_then_exit(self):
        name = fresh("tracker")
        helper("create", name, "int32", "2,3,4,5,6,7,8")
        try:
            # with close, and exiting with the array still open
            for close in ("a.close()", "pass"):
                r = python_child(f"import mproc_shm\na = mproc_shm.open_array({name!r})\n"
                                 f"print(int(a.array.sum()))\n{close}\n")
                self.assert_quiet(r)
                self.assertEqual(r.stdout.strip(), "35")
                self.assertTrue(exists(name), "the resource tracker removed the segment")
            self.assertEqual(c_view(name), ("int32", ["2", "3", "4", "5", "6", "7", "8"]))
        finally:
            mproc_shm.unlink(name)

    def test_open_raw_then_exit(self):
        name = fresh("tracker-raw")
        with mproc_shm.create_raw(name, np.int64, 4) as r:
            try:
                r.array[:] = [1, 2, 3, 4]
                r2 = python_child(f"import mproc_shm\na = mproc_shm.open_raw({name!r}, "
                                  f"'int64', 4)\na.array[0] = 99\n")
                self.assert_quiet(r2)
                self.assertTrue(exists(name))
                self.assertEqual(r.array[0], 99)
            finally:
                r.unlink()

    def test_plain_attach_would_remove_it(self):
        """The hazard, shown: plain SharedMemory(name=...) in a process that exits has
        the tracker unlink the segment (every Python, by default). This is what makes
        the tests above mean something."""
        name = fresh("plain")
        helper("create", name, "int32", "1,2,3")
        try:
            r = python_child("from multiprocessing import shared_memory\n"
                             f"s = shared_memory.SharedMemory(name={name!r})\ns.close()\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(exists(name), "plain SharedMemory no longer unlinks at exit: "
                             "revisit mproc_shm's resource tracker handling")
        finally:
            if exists(name):
                mproc_shm.unlink(name)

    def test_creations_tracked_or_not(self):
        kept, dropped = fresh("untracked"), fresh("tracked")
        try:
            r = python_child(
                "import mproc_shm\n"
                f"mproc_shm.create_raw({kept!r}, 'uint8', 10, track=False).close()\n"
                f"mproc_shm.create_array({dropped!r}, 'uint8', 10).close()\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(exists(kept), "track=False: the segment must stay")
            self.assertFalse(exists(dropped), "track=True: the tracker removes it at exit")
        finally:
            for name in (kept, dropped):
                if exists(name):
                    mproc_shm.unlink(name)

    def test_create_open_unlink_in_one_process(self):
        """A tracked creation opened again in the same process stays tracked, and its
        unlink leaves the tracker nothing to complain about."""
        name = fresh("same")
        r = python_child("import mproc_shm\n"
                         f"a = mproc_shm.create_array({name!r}, 'int16', 5)\n"
                         f"b = mproc_shm.open_array({name!r})\n"
                         "b.close()\na.unlink()\na.close()\n"
                         f"c = mproc_shm.create_raw({name!r}, 'int16', 5, track=False)\n"
                         "c.unlink()\nc.close()\n")
        self.assert_quiet(r)
        self.assertFalse(exists(name))


class KeptArrays(unittest.TestCase):
    """The keep flag (MPROC_ARRAY_KEEP, mproc_shm.FLAG_KEEP) seen from both sides."""

    def test_c_keeps_python_sees(self):
        name = fresh("ckeep")
        helper("create", name, "int32", "1,2,3")
        try:
            with mproc_shm.open_array(name) as a:
                self.assertEqual((a.header.flags, a.header.keep), (0, False))
            helper("keep", name, 1)
            with mproc_shm.open_array(name) as a:  # the checksum C wrote checks out here
                self.assertEqual((a.header.flags, a.header.keep), (mproc_shm.FLAG_KEEP, True))
                self.assertEqual(a.array.tolist(), [1, 2, 3])
            helper("keep", name, 0)
            with mproc_shm.open_array(name) as a:
                self.assertFalse(a.header.keep)
        finally:
            mproc_shm.unlink(name)

    def test_python_keeps_c_sees(self):
        """create_array(keep=...), and its default: kept when not tracked."""
        for track, keep, want in ((False, None, True), (False, False, False),
                                  (True, None, False), (True, True, True)):
            with self.subTest(track=track, keep=keep):
                name = fresh("pykeep")
                with mproc_shm.create_array(name, "float64", 4, track=track, keep=keep) as a:
                    try:
                        self.assertEqual(a.header.keep, want)
                        self.assertEqual(helper("flags", name).split(), [str(int(want))] * 2)
                        a.array[:] = [0.5, 1, 2, 3]
                        helper("square", name)  # C attaches it: the header validates
                        self.assertEqual(a.array.tolist(), [0.25, 1, 4, 9])
                        helper("keep", name, int(not want))  # and C can change it
                        with mproc_shm.open_array(name) as b:
                            self.assertEqual(b.header.keep, not want)
                    finally:
                        a.unlink()

    def test_reserved_flags_accepted(self):
        """Bits other than FLAG_KEEP are reserved: accepted by both readers."""
        name = fresh("reserved")
        helper("create", name, "int16", "5,6")
        try:
            with mproc_shm.open_raw(name, np.uint8, mproc_shm.HEADER_USED) as m:
                hdr = bytearray(m.array.tobytes())
                hdr[72:76] = (0x80000006).to_bytes(4, sys.byteorder)
                hdr[76:80] = mproc_shm._fnv1a(hdr[:76]).to_bytes(4, sys.byteorder)
                m.array[:] = np.frombuffer(bytes(hdr), dtype=np.uint8)
            with mproc_shm.open_array(name) as a:
                self.assertEqual((a.header.flags, a.header.keep), (0x80000006, False))
            self.assertEqual(helper("flags", name).split(), [str(0x80000006), "0"])
            self.assertEqual(c_view(name), ("int16", ["5", "6"]))
        finally:
            mproc_shm.unlink(name)


class HeaderChecks(unittest.TestCase):
    """Segments that are not valid mproc arrays: the same verdict from Python and C."""

    def forged(self, edit, size=None):
        """A copy of a valid int32 x 7 array's segment, changed by edit(bytearray)."""
        src = fresh("model")
        helper("create", src, "int32", "2,3,4,5,6,7,8")
        with mproc_shm.open_raw(src, np.uint8, mproc_shm.DATA_OFFSET + 28) as m:
            seg = bytearray(m.array.tobytes())
        mproc_shm.unlink(src)
        edit(seg)
        seg = seg[:size] if size is not None else seg
        name = fresh("forged")
        with mproc_shm.create_raw(name, np.uint8, len(seg), track=False) as r:
            r.array[:] = np.frombuffer(bytes(seg), dtype=np.uint8)
        return name

    def check(self, name, reason, c_error):
        try:
            with self.assertRaises(mproc_shm.SegmentError) as cm:
                mproc_shm.open_array(name)
            self.assertEqual(cm.exception.reason, reason)
            self.assertIsInstance(cm.exception, ValueError)
            self.assertIn(name, str(cm.exception))
            helper("print", name, fail=c_error)
            self.assertTrue(exists(name))
        finally:
            mproc_shm.unlink(name)

    def test_bad_magic(self):
        self.check(self.forged(lambda s: s.__setitem__(slice(0, 8), b"NOTMPROC")),
                   "bad magic", "MPROC_EBADMAGIC")

    def test_version(self):
        def v2(s):
            s[8] = 2
        self.check(self.forged(v2), "version", "MPROC_EVERSION")

    def test_checksum(self):
        def flip(s):
            s[48] ^= 0xFF  # a byte of the instance id
        self.check(self.forged(flip), "corrupt", "MPROC_ECORRUPT")

    def test_checksum_matches_c(self):
        name = fresh("sum")
        helper("create", name, "float64", "1,2")
        try:
            with mproc_shm.open_raw(name, np.uint8, 80) as m:
                raw = m.array.tobytes()
            self.assertEqual(mproc_shm._fnv1a(raw[:76]), int.from_bytes(raw[76:80], sys.byteorder))
            h = mproc_shm.read_header(raw, size=mproc_shm.DATA_OFFSET + 16, name=name)
            self.assertEqual((h.dtype, h.length, h.data_bytes), (10, 2, 16))
        finally:
            mproc_shm.unlink(name)

    def test_truncated(self):
        self.check(self.forged(lambda s: None, size=mproc_shm.DATA_OFFSET + 27),
                   "truncated", "MPROC_ETRUNCATED")
        self.check(self.forged(lambda s: None, size=100), "truncated", "MPROC_ETRUNCATED")
        empty = fresh("empty")
        with open("/dev/shm/" + empty, "xb"):
            pass
        self.check(empty, "truncated", "MPROC_ETRUNCATED")

    def test_not_segments(self):
        target, link = fresh("target"), fresh("link")
        helper("create", target, "int32", "1")
        os.symlink("/dev/shm/" + target, "/dev/shm/" + link)
        try:
            with self.assertRaises(mproc_shm.SegmentError) as cm:
                mproc_shm.open_array(link)
            self.assertEqual(cm.exception.reason, "not a segment")
            helper("print", link, fail="MPROC_EBADMAGIC")
        finally:
            os.unlink("/dev/shm/" + link)
            mproc_shm.unlink(target)
        with self.assertRaises(FileNotFoundError):
            mproc_shm.open_array(fresh("missing"))
        for bad in ("a/b", "", "..", "x" * 201, "caf\u00e9"):
            with self.assertRaises(ValueError):
                mproc_shm.open_array(bad)
        with self.assertRaises(ValueError):
            mproc_shm.create_raw(fresh("c"), np.complex128, 1)
        with self.assertRaises(ValueError):
            mproc_shm.create_raw(fresh("be"), ">i4", 1)


class Closing(unittest.TestCase):

    def test_close_with_live_views(self):
        name = fresh("close")
        with mproc_shm.create_raw(name, np.float32, 8) as r:
            try:
                view = r.array[2:]
                with self.assertRaisesRegex(BufferError, "still alive"):
                    r.close()
                del view
                r.close()
                r.close()  # twice is fine
                self.assertIsNone(r.array)
                self.assertIn("closed", repr(r))
            finally:
                r.unlink()
        self.assertFalse(exists(name))

    def test_exit_keeps_the_first_error(self):
        name = fresh("exit")
        try:
            with self.assertRaises(KeyError):
                with mproc_shm.create_raw(name, np.int8, 4) as r:
                    kept = r.array  # noqa: F841 (a live view when the block is left)
                    raise KeyError("the error that matters")
        finally:
            del kept
            r.close()
            r.unlink()


class Readme(unittest.TestCase):

    def test_readme_python_example(self):
        """The README's example, run against an array C made (its name replaced)."""
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        section = readme[readme.index("## Python and numpy"):]
        code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
        self.assertEqual(len(code.strip().splitlines()), 5, code)
        self.assertIn('"demo"', code)
        name = fresh("demo")
        helper("create", name, "int32", "2,3,4,5,6,7,8")
        helper("square", name)
        try:
            r = python_child(code.replace('"demo"', repr(name)))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
            self.assertIn("[ 4  9 16 25 36 49 64]", r.stdout)
            self.assertEqual(c_view(name)[1][0], "-1")
        finally:
            mproc_shm.unlink(name)


def tearDownModule():
    left = [e for e in os.listdir("/dev/shm") if e.startswith(PREFIX) or e in _python_named]
    for e in left:
        os.unlink("/dev/shm/" + e)
    if left:
        raise AssertionError(f"left in /dev/shm: {left}")


if __name__ == "__main__":
    unittest.main(verbosity=2)

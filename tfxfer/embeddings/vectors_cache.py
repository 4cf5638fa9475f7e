"""The memory-mapped cache of `tfxfer.load_word_vectors`, and the fingerprints
that keep it from serving stale or damaged vectors.

A cache entry is a folder of plain files, none a pickle: `vectors.npy`
(memory-mapped read-only), `vocab.json`, the arrays of a
`tfxfer.embeddings.word_index.WordIndex` (`index_*.npy`, memory-mapped too)
and `meta.json`, written last.

The source fingerprint. The source file is opened once; its format is
sniffed and its data parsed through that one descriptor, and every byte
parsed goes through SHA-256 (for compressed files, the compressed bytes).
`meta.json` stores that hash, how many bytes it covers (all of the file,
unless `limit` stopped the parse earlier), and the file's
`(device, inode, size, mtime_ns, ctime_ns)` taken when it was opened. The
cache is written only if the file did not change while it was read: the same
`fstat` after the parse, and the path still naming the same inode (a file
replaced during its first load is never cached under any identity).

A later load trusts the cache without hashing the source only if its
`(device, inode, size, mtime_ns, ctime_ns)` is the one recorded. POSIX
systems set `ctime` to the current time on every write, truncation, rename or
`utime` and no system call sets it back, so an edit that keeps the size and
restores `mtime` still changes `ctime`. File timestamps are coarse (a clock
tick, up to 2 s on some file systems), so a change in the same tick as the
recorded `fstat` could keep all five values; a stat is therefore recorded
only once the file's last change is more than `RACY_SECONDS` older than the
moment it was taken (as Git does for its index). Otherwise, and whenever the
stat differs, the load hashes the bytes again and compares them with the
recorded hash (and records the new stat when they match: a `touch` or a copy
costs one hash, not a rebuild). What the shortcut misses: writes that bypass
the file system (to the raw block device), file systems that do not keep a
POSIX change time (some FUSE and network mounts, FAT), and clocks set back.
Where `os.name` is not `"posix"` (on Windows `st_ctime` is the creation time)
every load hashes the source.

The members. `meta.json` stores the size and SHA-256 of every other member,
computed while writing it, and its stat after the rename. Opening an entry
hashes `vocab.json` every time (it is read whole anyway; hashing costs a few
percent of `json.loads`) and the `.npy` members only when their stat
changed: a member is always written under a fresh name and renamed, so
nothing but an in-place write to that brand-new file within the same clock
tick could keep its stat. A member that does not match is reported in a
warning, and the entry is rebuilt from the source, never used. Digests guard
against accidents (a damaged disk, a half-restored backup, a file edited or
copied in by hand), not against someone who can rewrite `meta.json` too;
nothing in the cache is ever unpickled.

Writes. Each file is written to `.<name>.tmp-<host>-<pid>-<random>` beside
its final name, flushed and renamed into place, `meta.json` last and after
removing the old one, so a killed write never leaves an entry that is used.
Every write removes the temporary files of earlier writes whose process is
gone (same host), or that are older than `STALE_TEMPORARY_SECONDS`. A write
that fails (a full disk) removes the members it had renamed into place, so
no partial entry is left to hold the space that the next load's write needs;
a full disk raises an `OSError` (errno `ENOSPC`) naming the member.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import io
import json
import os
import pathlib
import re
import secrets
import socket
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tfxfer.embeddings import word_index

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

CACHE_ENV_VAR = "TFXFER_CACHE_DIR"
CACHE_VERSION = 3
#: A file changed less than this before its stat was taken has its stat
#: re-verified by hash (coarse timestamps; see the module docstring).
RACY_SECONDS = 2.0
#: Temporary files older than this are removed whoever wrote them.
STALE_TEMPORARY_SECONDS = 24 * 3600.0
_HASH = "sha256"
_CHUNK = 1 << 20
_STAT_SHORTCUT = os.name == "posix"
_TEMPORARY = re.compile(
    r"^\.(?P<name>.+)\.tmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]+$"
)
# Names left by tfxfer versions that wrote through `tempfile.mkstemp`.
_LEGACY_TEMPORARY = re.compile(
    r"^\.(vectors\.npy|vocab\.json|meta\.json|index_\w+\.npy)\.\w{8}\.tmp$"
)
_ENTRY_NAME = re.compile(r"^.+-[0-9a-f]{20}$")
_VECTORS, _VOCAB, _META = "vectors.npy", "vocab.json", "meta.json"


@functools.cache
def _host() -> str:
    """A tag of this machine, for the names of temporary files."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _index_member(name: str) -> str:
    return f"index_{name}.npy"


MEMBERS = (_VECTORS, _VOCAB, *(_index_member(n) for n in word_index.ARRAY_NAMES))


def default_cache_dir() -> pathlib.Path:
    """The cache folder used when `cache_dir` is not given:
    `$TFXFER_CACHE_DIR`, else `~/.cache/tfxfer/vectors`."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return pathlib.Path(env).expanduser()
    return pathlib.Path.home() / ".cache" / "tfxfer" / "vectors"


def cache_root(cache_dir: str | os.PathLike | None) -> pathlib.Path:
    return pathlib.Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


# ---------------------------------------------------------------------------
# Stats and hashes


def _stat_key(stat: os.stat_result) -> list[int]:
    return [
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    ]


def _settled(stat: os.stat_result, taken_ns: int) -> bool:
    """Whether `stat`, taken at `taken_ns` or later, identifies the file's
    content: its last change was long enough before that moment that any
    later change gets another ctime (see the module docstring)."""
    last_change = max(stat.st_mtime_ns, stat.st_ctime_ns)
    return _STAT_SHORTCUT and last_change < taken_ns - int(RACY_SECONDS * 1e9)


def _read_at(fd: int, buffer, offset: int) -> int:
    """Reads into `buffer` from `offset` of `fd`, without moving a shared
    position (so several readers can use one descriptor)."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [buffer], offset)
    if hasattr(os, "pread"):
        data = os.pread(fd, len(buffer), offset)
    else:  # Windows
        os.lseek(fd, offset, os.SEEK_SET)
        data = os.read(fd, len(buffer))
    buffer[: len(data)] = data
    return len(data)


class _Reader(io.RawIOBase):
    """Reads a file descriptor from offset 0 with its own position; with
    `hashed=True`, every byte read goes through SHA-256."""

    def __init__(self, fd: int, *, hashed: bool = False):
        super().__init__()
        self._fd = fd
        self._position = 0
        self._digest = hashlib.new(_HASH) if hashed else None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._digest is None

    def readinto(self, buffer) -> int:
        count = _read_at(self._fd, buffer, self._position)
        if self._digest is not None:
            with memoryview(buffer) as view:
                self._digest.update(view[:count])
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self._digest is not None:
            raise io.UnsupportedOperation("a hashing reader reads straight through")
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += os.fstat(self._fd).st_size
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._position

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:  # The descriptor belongs to the SourceFile.
        super().close()


def _hash_fd(fd: int, size: int) -> str | None:
    """SHA-256 of the first `size` bytes of `fd`, None if it has fewer."""
    digest = hashlib.new(_HASH)
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    offset = 0
    while offset < size:
        count = _read_at(fd, view[: min(_CHUNK, size - offset)], offset)
        if count == 0:
            return None
        digest.update(view[:count])
        offset += count
    return digest.hexdigest()


def _hash_file(path: pathlib.Path) -> str:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        return _hash_fd(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """The bytes of a source file that a cache entry was parsed from.

    Attributes:
        size: The file's size when it was read.
        hashed_bytes: How many bytes from its start the hash covers (the
            whole file, unless `limit` stopped the parse earlier).
        sha256: SHA-256 of those bytes.
        stat: `(device, inode, size, mtime_ns, ctime_ns)` that identifies
            this content, or None where it may not (see `_settled`).
    """

    size: int
    hashed_bytes: int
    sha256: str
    stat: list[int] | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fingerprint:
        fingerprint = cls(**data)
        if not (
            isinstance(fingerprint.size, int)
            and isinstance(fingerprint.hashed_bytes, int)
            and isinstance(fingerprint.sha256, str)
        ):
            raise ValueError(f"Not a fingerprint: {data!r}")
        return fingerprint


class SourceFile:
    """A vectors file held open while it is loaded.

    Its format is sniffed and its data parsed through the one descriptor
    opened here, so both see the same file even if its name is given to
    another file meanwhile.

    Args:
        path: The file.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)
        self.opened_ns = time.time_ns()
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self.stat = os.fstat(self._fd)

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def size(self) -> int:
        return self.stat.st_size

    def reader(self) -> io.BufferedReader:
        """A seekable reader from the start of the file (for sniffing)."""
        return io.BufferedReader(_Reader(self._fd), buffer_size=_CHUNK)

    def hashing_reader(self) -> tuple[io.BufferedReader, _Reader]:
        """A reader from the start of the file that hashes every byte it
        reads, and its raw reader (for `fingerprint`)."""
        raw = _Reader(self._fd, hashed=True)
        return io.BufferedReader(raw, buffer_size=_CHUNK), raw

    def check_unchanged(self) -> None:
        """Warns if the file was modified or replaced since it was opened
        (without a hash: for loads that are not cached)."""
        self._unchanged()

    def fingerprint(self, raw: _Reader) -> Fingerprint | None:
        """The fingerprint of what `raw` read, or None (with a warning) if
        the file changed or was replaced while it was read."""
        digest, hashed = raw.hexdigest(), raw.tell()
        if not self._unchanged():
            return None
        settled = _settled(self.stat, self.opened_ns)
        if not settled and (
            _hash_fd(self._fd, hashed) != digest
            or _stat_key(os.fstat(self._fd)) != _stat_key(self.stat)
        ):
            # Changed just before the load: a change during the read may not
            # show in its timestamps, so the bytes were compared again.
            self._warn_modified(stacklevel=4)
            return None
        return Fingerprint(
            size=self.size,
            hashed_bytes=hashed,
            sha256=digest,
            stat=_stat_key(self.stat) if settled else None,
        )

    def _unchanged(self) -> bool:
        """Whether the file kept its stat, and its name, while it was read
        (else warns and returns False)."""
        try:
            named = os.stat(self.path)
        except OSError:
            named = None
        # First the name: replacing a file also changes the replaced inode's
        # ctime (one link fewer).
        if named is None or (named.st_dev, named.st_ino) != (
            self.stat.st_dev,
            self.stat.st_ino,
        ):
            warnings.warn(
                f"{self.path} was replaced while it was read: the vectors "
                "returned are those of the file as it was when the load began, "
                "and they are not cached. Load it again for the new file.",
                stacklevel=4,
            )
            return False
        if _stat_key(os.fstat(self._fd)) != _stat_key(self.stat):
            self._warn_modified(stacklevel=5)
            return False
        return True

    def _warn_modified(self, stacklevel: int) -> None:
        warnings.warn(
            f"{self.path} was modified while it was read: the vectors returned "
            "may mix old and new content, and they are not cached. Load it "
            "again once it is complete.",
            stacklevel=stacklevel,
        )

    def verify(self, recorded: Fingerprint) -> tuple[bool, Fingerprint | None]:
        """Whether the file still holds the bytes `recorded` describes, and
        the fingerprint to record instead (None if `recorded` stays)."""
        stat = self.stat
        whole_file = recorded.hashed_bytes == recorded.size
        if (whole_file and stat.st_size != recorded.size) or (
            stat.st_size < recorded.hashed_bytes
        ):
            return False, None
        if _STAT_SHORTCUT and recorded.stat == _stat_key(stat):
            return True, None
        if _hash_fd(self._fd, recorded.hashed_bytes) != recorded.sha256:
            return False, None
        trusted = _stat_key(os.fstat(self._fd)) == _stat_key(stat) and _settled(
            stat, self.opened_ns
        )
        refreshed = dataclasses.replace(
            recorded,
            size=recorded.size if whole_file else stat.st_size,
            stat=_stat_key(stat) if trusted else None,
        )
        return True, (None if refreshed == recorded else refreshed)


# ---------------------------------------------------------------------------
# Entries


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """What a cache entry depends on besides the source's bytes."""

    source: str
    format: str
    limit: int | None
    dtype: str
    skip_bad_rows: bool
    encoding: str

    def identity(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "version": CACHE_VERSION}

    def entry(self, root: pathlib.Path) -> pathlib.Path:
        """The entry folder of this key under the cache folder `root`."""
        identity = json.dumps(self.identity(), sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
        safe = re.sub(r"[^\w.-]", "_", pathlib.Path(self.source).name)[:60]
        return root / f"{safe}-{digest}"


def _warn_damaged(entry: pathlib.Path, problems: list[str], source) -> None:
    warnings.warn(
        f"The word-vectors cache in {entry} is damaged ({'; '.join(problems)}); "
        f"it is not used, and is rebuilt from {source}.",
        stacklevel=5,
    )


def _read_meta(entry: pathlib.Path, source) -> tuple[dict, list[int]] | None:
    path = entry / _META
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
    except OSError:
        return None  # Never written, a write was interrupted, or no folder.
    try:
        meta = json.loads(data)
        if not isinstance(meta, dict):
            raise ValueError("not an object")
    except ValueError as error:
        _warn_damaged(entry, [f"{_META} is not valid JSON: {error}"], source)
        return None
    return meta, _stat_key(stat)


def open_entry(
    entry: pathlib.Path, key: CacheKey, source: SourceFile
) -> KeyedVectors | None:
    """The vectors of the cache entry `entry`, if it was parsed from the
    bytes `source` holds now with the settings of `key` and is intact;
    else None (with a warning if the entry is damaged)."""
    read = _read_meta(entry, source.path)
    if read is None:
        return None
    meta, meta_stat = read
    if meta.get("version") != CACHE_VERSION or meta.get("key") != key.identity():
        return None  # Written by another tfxfer version: rebuilt silently.
    try:
        recorded = Fingerprint.from_json(meta["source_fingerprint"])
    except (KeyError, TypeError, ValueError) as error:
        _warn_damaged(entry, [f"bad source fingerprint: {error!r}"], source.path)
        return None
    same, refreshed_source = source.verify(recorded)
    if not same:
        return None  # The source changed: rebuilt.
    opened = _open_members(entry, meta, key, source.path)
    if opened is None:
        return None
    kv, refreshed_members = opened
    if refreshed_source is not None or refreshed_members:
        meta = dict(meta)
        if refreshed_source is not None:
            meta["source_fingerprint"] = refreshed_source.to_json()
        meta["members"] = {**meta["members"], **refreshed_members}
        # Only saves later loads a hash: skipped if another process rewrote
        # the entry meanwhile, or if the folder is read-only.
        with contextlib.suppress(OSError):
            if _stat_key(os.stat(entry / _META)) == meta_stat:
                _write_file(entry / _META, lambda h: h.write(_json_bytes(meta)))
    return kv


def _verify_member(
    entry: pathlib.Path, name: str, record: Any, data: bytes | None = None
) -> tuple[str | None, dict | None]:
    """Checks one member against its record; returns (problem, refreshed
    record). `data` is the member's content where it was read already."""
    if not isinstance(record, dict) or not {"size", "sha256"} <= record.keys():
        return f"{name} has no recorded digest", None
    path = entry / name
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return f"{name} is missing", None
    if stat.st_size != record["size"]:
        return f"{name} has {stat.st_size} bytes, {record['size']} recorded", None
    if data is None and _STAT_SHORTCUT and record.get("stat") == _stat_key(stat):
        return None, None
    digest = hashlib.new(_HASH, data).hexdigest() if data is not None else None
    if digest is None:
        digest = _hash_file(path)
    if digest != record["sha256"]:
        return (
            f"{name} does not match its recorded SHA-256 (expected "
            f"{record['sha256'][:16]}..., found {digest[:16]}...)",
            None,
        )
    if data is not None or record.get("stat") == _stat_key(stat):
        return None, None
    settled = _settled(stat, time.time_ns())
    return None, {**record, "stat": _stat_key(stat) if settled else None}


def _open_members(
    entry: pathlib.Path, meta: dict, key: CacheKey, source
) -> tuple[KeyedVectors, dict[str, dict]] | None:
    """Maps the members of an entry after checking them against their
    digests; returns the vectors and the member records to refresh."""
    from tfxfer.embeddings.gensim_compat import keyed_vectors

    members = meta.get("members")
    if not isinstance(members, dict):
        _warn_damaged(entry, [f"{_META} lists no members"], source)
        return None
    if meta.get("index_hash") != word_index.HASH_NAME:
        return None  # An index built with another hash function.
    try:
        vocab_bytes = (entry / _VOCAB).read_bytes()
    except FileNotFoundError:
        vocab_bytes = None
    problems, refreshed = [], {}
    for name in MEMBERS:
        data = vocab_bytes if name == _VOCAB else None
        if name == _VOCAB and data is None:
            problems.append(f"{_VOCAB} is missing")
            continue
        problem, record = _verify_member(entry, name, members.get(name), data)
        if problem:
            problems.append(problem)
        elif record is not None:
            refreshed[name] = record
    if not problems:
        try:
            words = json.loads(vocab_bytes.decode("utf-8"))
            vectors = np.load(entry / _VECTORS, mmap_mode="r", allow_pickle=False)
            arrays = {
                name: np.load(
                    entry / _index_member(name), mmap_mode="r", allow_pickle=False
                )
                for name in word_index.ARRAY_NAMES
            }
            index = word_index.WordIndex.from_arrays(arrays)
        except (OSError, ValueError) as error:
            problems.append(f"a member cannot be read: {error}")
        else:
            problems = _shape_problems(meta, key, words, vectors, index)
    if problems:
        _warn_damaged(entry, problems, source)
        return None
    kv = keyed_vectors(words, vectors)
    word_index.attach(kv, index)
    return kv, refreshed


def _shape_problems(meta, key, words, vectors, index) -> list[str]:
    """What does not fit together although the digests match (only an
    entry whose meta.json was edited can get here)."""
    problems = []
    if not isinstance(words, list):  # (its digest vouches for its items)
        problems.append(f"{_VOCAB} is not a list of words")
    elif len(words) != vectors.shape[0] or index.size != len(words):
        problems.append(
            f"{len(words)} words, {vectors.shape[0]} vectors, an index of {index.size}"
        )
    if list(vectors.shape) != meta.get("shape") or vectors.dtype != np.dtype(key.dtype):
        problems.append(
            f"{_VECTORS} holds {vectors.dtype}{list(vectors.shape)}, "
            f"{key.dtype}{meta.get('shape')} recorded"
        )
    return problems


# ---------------------------------------------------------------------------
# Writing


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=None).encode("utf-8")


def _save_array(handle, array: np.ndarray) -> None:
    np.save(handle, array, allow_pickle=False)


class _HashingWriter:
    """Writes to a file and hashes what it writes."""

    def __init__(self, handle):
        self._handle = handle
        self.digest = hashlib.new(_HASH)
        self.size = 0

    def write(self, data) -> int:
        with memoryview(data) as view:
            self._handle.write(view)
            self.digest.update(view)
            self.size += view.nbytes
            return view.nbytes


def temporary_name(path: pathlib.Path) -> pathlib.Path:
    """A fresh temporary name beside `path`, naming its writer."""
    token = secrets.token_hex(4)
    return path.with_name(f".{path.name}.tmp-{_host()}-{os.getpid()}-{token}")


def _write_file(path: pathlib.Path, write: Callable) -> _HashingWriter:
    """Writes `path` through a temporary file renamed into place."""
    temporary = temporary_name(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)  # minus the umask
    try:
        with os.fdopen(descriptor, "wb") as handle:
            writer = _HashingWriter(handle)
            write(writer)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return writer


def _write_member(entry: pathlib.Path, name: str, write: Callable) -> dict:
    writer = _write_file(entry / name, write)
    stat = os.stat(entry / name)
    return {
        "size": writer.size,
        "sha256": writer.digest.hexdigest(),
        # Trusted at once: nothing else writes this brand-new file in place.
        "stat": _stat_key(stat) if _STAT_SHORTCUT else None,
    }


def _process_gone(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists, under another user.
        return False
    return False


def remove_stale_temporaries(root: pathlib.Path) -> list[pathlib.Path]:
    """Removes, from the entries under `root`, the temporary files of writes
    whose process is gone (on this host) or that are older than
    `STALE_TEMPORARY_SECONDS`; returns what was removed."""
    removed = []
    now = time.time()
    try:
        entries = [p for p in root.iterdir() if _ENTRY_NAME.match(p.name)]
    except OSError:
        return removed
    for entry in entries:
        try:
            children = list(entry.iterdir())
        except OSError:  # Not a folder, or gone meanwhile.
            continue
        for child in children:
            match = _TEMPORARY.match(child.name)
            if match is None and not _LEGACY_TEMPORARY.match(child.name):
                continue
            try:
                old = now - child.lstat().st_mtime > STALE_TEMPORARY_SECONDS
                gone = (
                    match is not None
                    and match["host"] == _host()
                    and _process_gone(int(match["pid"]))
                )
                if old or gone:
                    child.unlink()
                    removed.append(child)
            except OSError:  # Removed by another process meanwhile.
                continue
    return removed


def write_entry(
    entry: pathlib.Path,
    key: CacheKey,
    fingerprint: Fingerprint,
    words: list[str],
    vectors: np.ndarray,
) -> KeyedVectors | None:
    """Writes a cache entry and returns its memory-mapped vectors (None if
    another process replaced a member meanwhile).

    A failed write removes the members it wrote (not those another process
    wrote meanwhile): no partial entry is left.

    Raises:
        OSError: If the entry cannot be written; on a full disk, with errno
            `ENOSPC` and a message naming the member being written.
    """
    entry.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(entry.parent)
    # Invalidate first: without meta.json the entry is never used.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(entry / _META)
    written: list[tuple[pathlib.Path, int]] = []
    current = [entry / _VECTORS]

    def member(name: str, write: Callable) -> dict:
        current[0] = entry / name
        record = _write_member(entry, name, write)
        written.append((entry / name, os.stat(entry / name).st_ino))
        return record

    try:
        members = {
            _VECTORS: member(
                _VECTORS, lambda h: _save_array(h, np.ascontiguousarray(vectors))
            ),
            _VOCAB: member(_VOCAB, lambda h: h.write(_json_bytes(words))),
        }
        for name, array in word_index.WordIndex.build(words).arrays().items():
            members[_index_member(name)] = member(
                _index_member(name), lambda h, a=array: _save_array(h, a)
            )
        meta = {
            "version": CACHE_VERSION,
            "key": key.identity(),
            "source": key.source,
            "source_fingerprint": fingerprint.to_json(),
            "shape": list(vectors.shape),
            "index_hash": word_index.HASH_NAME,
            "members": members,
        }
        current[0] = entry / _META
        _write_file(entry / _META, lambda h: h.write(_json_bytes(meta)))
    except OSError as error:
        _remove_written(entry, written)
        if error.errno == errno.ENOSPC:
            raise OSError(
                errno.ENOSPC,
                "The disk is full (No space left on device) while writing the "
                "word-vectors cache; the partial entry was removed",
                str(current[0]),
            ) from error
        raise
    opened = _open_members(entry, meta, key, key.source)
    return None if opened is None else opened[0]


def _remove_written(entry: pathlib.Path, written: list[tuple[pathlib.Path, int]]):
    """Removes the members a failed write renamed into place (only those
    still the same files: another process may have replaced them)."""
    for path, inode in written:
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == inode:
                os.unlink(path)
    with contextlib.suppress(OSError):
        entry.rmdir()  # only if nothing else is left in it

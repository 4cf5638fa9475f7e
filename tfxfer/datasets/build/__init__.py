"""The maintainer's rebuild script of every bundled data file.

Run `python -m tfxfer.datasets build [--out DIR] [--only PART ...]`. The text
data come from gensim's test data (`gensim/test/test_data/`), the sentence sets
from the repository's top-level `data/sentences/` (raw files that no installed
package provides; see `data/README.md`), the pretrained artifacts are trained
here from the bundled data. Building into the package's
own data folder (the default) also rewrites the digests module
`tfxfer/datasets/_digests.py` that `data_file` checks every file against;
building elsewhere leaves it alone and reports which files match it.

The build is deterministic: running it twice gives byte-identical files
(gzip and zip timestamps are fixed, Word2Vec runs on one worker with a fixed
seed, Keras runs with a fixed seed and deterministic ops). Every file is
written atomically. `import tfxfer` never loads this subpackage.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tfxfer.datasets import _digests
from tfxfer.datasets.build.newsgroups import RestrictedUnpickler, read_mini_newsgroup
from tfxfer.datasets.build.parts import (
    BUILDERS,
    EVALUATION_FILES,
    OUTPUTS,
    PARTS,
    gensim_test_data_dir,
)
from tfxfer.datasets.build.writers import digests_module_source
from tfxfer.datasets.integrity import (
    DIGESTS,
    package_data_dir,
    sha256_of,
    verify,
)
from tfxfer.errors import DataIntegrityError
from tfxfer.utils.files import atomic_write_text
from tfxfer.utils.validation import check_path_exists

Progress = Callable[[str], None]

__all__ = [
    "EVALUATION_FILES",
    "PARTS",
    "RestrictedUnpickler",
    "build",
    "gensim_test_data_dir",
    "main",
    "raw_sentences_dir",
    "read_mini_newsgroup",
    "write_digests_module",
]


def raw_sentences_dir() -> pathlib.Path:
    """Returns the default folder of the raw sentence sets.

    That is `data/sentences/` at the top of the repository checkout this
    package was imported from. It exists in a checkout only: the wheel ships
    the built files, not the raw ones.

    Returns:
        The path (which may not exist, e.g. in an installed wheel).

    Example:
    >>> from tfxfer.datasets.build import raw_sentences_dir
    >>> sorted(p.name for p in raw_sentences_dir().glob("*.all"))
    ['custrev.all', 'mpqa.all', 'rt-polarity.all']
    """
    return pathlib.Path(__file__).resolve().parents[3] / "data" / "sentences"


def write_digests_module(
    digests: Mapping[str, str], path: str | pathlib.Path | None = None
) -> pathlib.Path:
    """Writes the digests module `data_file` checks against (atomically).

    Args:
        digests: File name -> SHA-256 of every bundled file.
        path: Where to write. Defaults to `tfxfer/datasets/_digests.py`.

    Returns:
        The path written.
    """
    path = pathlib.Path(_digests.__file__ if path is None else path)
    atomic_write_text(path, digests_module_source(digests))
    return path


def build(
    out: str | pathlib.Path | None = None,
    *,
    parts: Sequence[str] | None = None,
    sentences_dir: str | pathlib.Path | None = None,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Regenerates bundled data files from installed packages.

    Args:
        out: Folder to write into (created if needed). Defaults to the
            package's own `tfxfer/data/`, in which case the digests module is
            rewritten too (for the parts built; the others keep theirs).
        parts: Which parts to build, in the order of `PARTS` whatever the
            order given: `"evaluation"`, `"news"`, `"reviews"`, `"corpus"`,
            `"word2vec"` (needs `corpus.txt.gz` in `out`), `"digits_cnn"`,
            `"sentences"` (needs `sentences_dir`). `None` builds all (all
            but `"sentences"` when there is no `sentences_dir`).
        sentences_dir: The raw folder of Kim (2014)'s sentence sets
            (`custrev.all`, `mpqa.all`, `rt-polarity.all`), for the
            `"sentences"` part. Defaults to the repository's
            `data/sentences/` (`raw_sentences_dir()`) when it exists.
        progress: Called with one line of text per step (e.g. `print`).

    Returns:
        A dict from part name to its statistics (rows, tokens, accuracy, the
        seconds it took, the SHA-256 of each file written, and whether each
        matches the digest in the code).

    Raises:
        ValueError: If `parts` names an unknown part.
        ImportError: If gensim (or TensorFlow for `digits_cnn`) is missing.
        UnsafeFileError: If the newsgroups pickle holds unexpected classes.

    Example:
    >>> from tfxfer.datasets.build import build
    >>> stats = build("/tmp/data", parts=["news", "reviews"])
    >>> stats["news"]["rows"]
    200
    """
    if sentences_dir is None and raw_sentences_dir().is_dir():
        sentences_dir = raw_sentences_dir()
    if parts is None:
        parts = [p for p in PARTS if p != "sentences" or sentences_dir is not None]
    if isinstance(parts, str) or any(part not in PARTS for part in parts):
        raise ValueError(
            f"Argument `parts` must be a list of parts from {PARTS}. "
            f"Received: parts={parts!r}"
        )
    if "sentences" in parts:
        sentences_dir = check_path_exists(
            "sentences_dir",
            sentences_dir,
            kind="folder",
            expected="the folder of the raw sentence sets (custrev.all, mpqa.all, "
            "rt-polarity.all) to build 'sentences' (by default the repository's "
            "data/sentences/, absent from an installed package: build from a "
            "checkout)",
        )
        sentences_dir = sentences_dir.expanduser().resolve()
    package_dir = package_data_dir()
    out = package_dir if out is None else pathlib.Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = gensim_test_data_dir()
    digests = dict(DIGESTS)
    stats = {}
    for part in PARTS:
        if part not in parts:
            continue
        if progress is not None:
            progress(f"building {part} ...")
        start = time.perf_counter()
        part_source = sentences_dir if part == "sentences" else source
        stats[part] = BUILDERS[part](out, part_source)
        stats[part]["seconds"] = round(time.perf_counter() - start, 2)
        written = {name: sha256_of(out / name) for name in OUTPUTS[part]}
        stats[part]["sha256"] = written
        stats[part]["matches_shipped"] = {
            name: DIGESTS.get(name) == digest for name, digest in written.items()
        }
        digests.update(written)
        if progress is not None:
            summary = {k: v for k, v in stats[part].items() if k != "sha256"}
            progress(f"  {part}: {summary}")
    if out == package_dir and digests != dict(DIGESTS):
        path = write_digests_module(digests)
        if progress is not None:
            progress(f"rewrote {path}")
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m tfxfer.datasets {build,verify}`."""
    parser = argparse.ArgumentParser(
        prog="python -m tfxfer.datasets",
        description="Build or verify tfxfer's bundled data files.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser(
        "build", help="regenerate the data files from installed packages"
    )
    build_parser.add_argument(
        "--out",
        default=None,
        help="output folder (default: the package's data folder, whose "
        "digests module is then rewritten too)",
    )
    build_parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=None,
        metavar="PART",
        help=f"build only these parts ({', '.join(PARTS)})",
    )
    build_parser.add_argument(
        "--sentences-dir",
        default=None,
        help="raw folder of Kim (2014)'s sentence sets, for the 'sentences' part "
        "(default: the repository's data/sentences/)",
    )
    verify_parser = commands.add_parser(
        "verify", help="check the data files against the digests in the code"
    )
    verify_parser.add_argument("--dir", default=None, help="data folder to check")
    args = parser.parse_args(argv)
    if args.command == "build":
        start = time.perf_counter()
        stats = build(
            args.out,
            parts=args.only,
            sentences_dir=args.sentences_dir,
            progress=print,
        )
        differ = [
            name
            for part in stats.values()
            for name, same in part["matches_shipped"].items()
            if not same
        ]
        print(f"done in {time.perf_counter() - start:.1f} s")
        if args.out is not None:
            print(
                "every file matches the shipped digests"
                if not differ
                else f"differ from the shipped digests: {', '.join(differ)}"
            )
        return 0
    try:
        checked = verify(args.dir)
    except DataIntegrityError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{len(checked)} files OK")
    return 0

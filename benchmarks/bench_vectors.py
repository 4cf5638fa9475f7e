"""Benchmark: loading word vectors and building embedding matrices.

(a) Synthetic 1M x 300 vectors saved as word2vec binary (about 1.2 GB):
    gensim `KeyedVectors.load_word2vec_format(binary=True)` versus the second
    (cached, memory-mapped) `tfxfer.load_word_vectors`. Every measurement runs
    in a fresh Python process; "peak extra memory" is the process' peak
    resident memory during the call (VmHWM, reset just before it) minus its
    resident memory just before it. Targets: >= 15x faster, <= 200 MiB.
(b) An embedding matrix for a 200,000-word vocabulary (half of the words
    present) from 3M x 300 vectors: `tfxfer.build_embedding_matrix` versus
    the textbook loop
    `for word, i in vocab.items(): if word in kv: matrix[i] = kv[word]`,
    both on the same `KeyedVectors`. Target: >= 3x faster. The vectors are
    written as a word2vec binary file (3.4 GiB) and loaded the way tfxfer
    users load them, with `tfxfer.load_word_vectors` (the first load parses
    the file and writes the cache, including the word index
    `build_embedding_matrix` uses; the vectors measured come from the second,
    memory-mapped load). The same vectors copied into an in-memory gensim
    `KeyedVectors` without an index (as `Word2Vec` or gensim's loader give
    them) are measured too: there tfxfer looks words up in gensim's
    dictionary. The vocabulary is built once from fresh string objects (as a
    tokenizer makes them); both methods run once before the timed repetitions,
    and the first call of each in a fresh process (after a cached load; up to
    3 processes per method, interleaved) is timed separately.

Repetitions are interleaved (baseline, tfxfer, baseline, ...); the table gives
medians with [min, max]. `--quick` runs a small smoke version (the targets
are stated for the full sizes). Files go to a temporary folder that is
deleted at the end.

Usage:
    python benchmarks/bench_vectors.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

MEMORY_PROBE = """
import json, re, sys, time

def _status(field):
    with open("/proc/self/status") as handle:
        return int(re.search(field + r":\\s+(\\d+) kB", handle.read()).group(1)) * 1024

def _reset_peak():
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
"""

GENSIM_CHILD = """
from gensim.models import KeyedVectors
path = sys.argv[1]
_reset_peak()
before = _status("VmRSS")
start, cpu_start = time.perf_counter(), time.process_time()
kv = KeyedVectors.load_word2vec_format(path, binary=True)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
peak = _status("VmHWM")
assert len(kv) == int(sys.argv[2])
print(json.dumps({"seconds": seconds, "cpu": cpu, "extra": peak - before}))
"""

TFXFER_CHILD = """
import gensim.models
import tfxfer
path, cache_dir = sys.argv[1], sys.argv[3]
_reset_peak()
before = _status("VmRSS")
start, cpu_start = time.perf_counter(), time.process_time()
kv = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
peak = _status("VmHWM")
assert len(kv) == int(sys.argv[2])
print(json.dumps({"seconds": seconds, "cpu": cpu, "extra": peak - before}))
"""


def write_word2vec_binary(path: pathlib.Path, rows: int, dim: int, seed: int = 0):
    """Writes `rows` random vectors in word2vec binary format (C tool layout:
    `word<space><dim float32>\\n`), in chunks to keep memory low."""
    rng = np.random.default_rng(seed)
    width = len(str(rows - 1)) + 1
    record = np.dtype(
        [
            ("word", f"S{width}"),
            ("space", "S1"),
            ("vector", "<f4", dim),
            ("newline", "S1"),
        ]
    )
    with open(path, "wb") as handle:
        handle.write(f"{rows} {dim}\n".encode())
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            chunk = np.empty(n, dtype=record)
            chunk["word"] = [
                f"w{i:0{width - 1}d}".encode() for i in range(start, start + n)
            ]
            chunk["space"] = b" "
            chunk["vector"] = rng.standard_normal((n, dim), dtype=np.float32)
            chunk["newline"] = b"\n"
            chunk.tofile(handle)


def run_child(body: str, *args: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE + body, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def summary(values, unit=""):
    median = statistics.median(values)
    return median, f"{median:.3g}{unit} [{min(values):.3g}, {max(values):.3g}]"


def bench_loading(workdir: pathlib.Path, rows: int, dim: int, repeats: int):
    path = workdir / "vectors.bin"
    cache_dir = workdir / "cache"
    started = time.perf_counter()
    write_word2vec_binary(path, rows, dim)
    size = path.stat().st_size / 2**30
    elapsed = time.perf_counter() - started
    print(
        f"(a) wrote {rows:,} x {dim} word2vec binary ({size:.2f} GiB) "
        f"in {elapsed:.1f} s",
        flush=True,
    )
    first = run_child(TFXFER_CHILD, str(path), str(rows), str(cache_dir))
    print(
        f"    tfxfer first load (parse + write cache): {first['seconds']:.2f} s",
        flush=True,
    )
    gensim, cached = [], []
    for i in range(repeats):
        gensim.append(run_child(GENSIM_CHILD, str(path), str(rows)))
        cached.append(run_child(TFXFER_CHILD, str(path), str(rows), str(cache_dir)))
        print(
            f"    rep {i + 1}: gensim {gensim[-1]['seconds']:.2f} s, "
            f"tfxfer cached {cached[-1]['seconds']:.3f} s",
            flush=True,
        )
    path.unlink()
    shutil.rmtree(cache_dir)
    return first, gensim, cached


FIRST_CALL_CHILD = """
import json, sys, time
import numpy as np
import tfxfer
path, cache_dir, tokens_path, method = sys.argv[1:5]
kv = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
with open(tokens_path) as handle:
    vocab = tfxfer.Vocabulary(json.load(handle))
word_index = vocab.word_index
start, cpu_start = time.perf_counter(), time.process_time()
if method == "textbook":
    matrix = np.zeros((len(vocab), kv.vector_size), dtype=np.float32)
    for word, i in word_index.items():
        if word in kv:
            matrix[i] = kv[word]
else:
    tfxfer.build_embedding_matrix(kv, vocab, oov="zeros", lowercase_fallback=False)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
print(json.dumps({"seconds": seconds, "cpu": cpu}))
"""


def bench_matrix(workdir: pathlib.Path, rows: int, dim: int, vocab_size: int, repeats):
    import tfxfer
    from tfxfer.embeddings import word_index
    from tfxfer.embeddings.loading import _keyed_vectors

    path, cache_dir = workdir / "matrix-vectors.bin", workdir / "matrix-cache"
    started = time.perf_counter()
    write_word2vec_binary(path, rows, dim, seed=1)
    written = time.perf_counter() - started
    started = time.perf_counter()
    tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    first_load = time.perf_counter() - started
    started = time.perf_counter()
    kv = tfxfer.load_word_vectors(path, cache_dir=cache_dir)
    cached_load = time.perf_counter() - started
    assert isinstance(kv.vectors, np.memmap) and word_index.attached(kv) is not None
    # The same vectors in memory, without an index (as gensim gives them).
    in_memory = _keyed_vectors(list(kv.index_to_key), np.array(kv.vectors))
    print(
        f"(b) wrote {rows:,} x {dim} word2vec binary in {written:.1f} s; "
        f"load_word_vectors: first (parse + cache + index) {first_load:.1f} s, "
        f"cached {cached_load:.2f} s",
        flush=True,
    )

    rng = np.random.default_rng(0)
    words = kv.index_to_key
    present = rng.choice(rows, size=vocab_size // 2, replace=False)
    # Fresh string objects, as a tokenizer would produce (not the vectors' own).
    tokens = [words[i].encode().decode() for i in present] + [
        f"absent{i}" for i in range(vocab_size - len(present))
    ]
    rng.shuffle(tokens)
    tokens_path = workdir / "tokens.json"
    tokens_path.write_text(json.dumps(tokens))
    vocab = tfxfer.Vocabulary(tokens)
    word_index_ = vocab.word_index

    def textbook(vectors):
        matrix = np.zeros((len(vocab), dim), dtype=np.float32)
        for word, i in word_index_.items():
            if word in vectors:
                matrix[i] = vectors[word]
        return matrix

    def ours(vectors):
        return tfxfer.build_embedding_matrix(
            vectors, vocab, oov="zeros", lowercase_fallback=False
        )[0]

    def ours_default(vectors):
        return tfxfer.build_embedding_matrix(vectors, vocab)[0]

    # Both methods run once here, untimed, on both vector objects.
    expected = textbook(kv)
    for vectors in (kv, in_memory):
        np.testing.assert_array_equal(expected, ours(vectors))
    np.testing.assert_array_equal(expected, textbook(in_memory))
    times = {}
    functions = {
        "textbook": functools.partial(textbook, kv),
        "tfxfer": functools.partial(ours, kv),
        "tfxfer_default": functools.partial(ours_default, kv),
        "memory_textbook": functools.partial(textbook, in_memory),
        "memory_tfxfer": functools.partial(ours, in_memory),
        "memory_tfxfer_default": functools.partial(ours_default, in_memory),
        "copy": expected.copy,
    }
    for _ in range(repeats):
        for name, function in functions.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            function()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            times.setdefault(name, []).append(wall)
            times.setdefault(name + "_cpu", []).append(cpu)
    _, report = tfxfer.build_embedding_matrix(kv, vocab, oov="zeros")
    print(f"    hits {report.hits:,}, misses {report.misses:,}", flush=True)
    del functions, kv, in_memory  # free 3.4 GiB before the fresh processes
    for _ in range(min(repeats, 3)):
        for method in ("textbook", "tfxfer"):
            first = run_child(
                FIRST_CALL_CHILD, str(path), str(cache_dir), str(tokens_path), method
            )
            times.setdefault(f"first_{method}", []).append(first["seconds"])
            times.setdefault(f"first_{method}_cpu", []).append(first["cpu"])
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--workdir", default=None, help="folder for temporary files")
    args = parser.parse_args(argv)
    if args.quick:
        load_rows, matrix_rows, vocab_size, dim = 50_000, 300_000, 20_000, 300
        repeats = args.repeats or 2
    else:
        load_rows, matrix_rows, vocab_size, dim = 1_000_000, 3_000_000, 200_000, 300
        repeats = args.repeats or 5
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="tfxfer-bench-", dir=args.workdir))
    try:
        first, gensim, cached = bench_loading(workdir, load_rows, dim, min(repeats, 3))
        times = bench_matrix(workdir, matrix_rows, dim, vocab_size, repeats)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def ratio_row(title, base_name, base, ours_name, ours, target):
        b_mid, b_text = summary(base, " s")
        o_mid, o_text = summary(ours, " s")
        print(
            f"| {title} | {base_name} {b_text} | {ours_name} {o_text} "
            f"| {b_mid / o_mid:.1f}x | {target} |"
        )

    n_a = min(repeats, 3)
    label = "quick smoke run; " if args.quick else ""
    print()
    print(
        f"Word vectors benchmark ({label}{os.cpu_count()} CPUs shared with other "
        f"jobs; median [min, max] of {n_a} (a) / {repeats} (b) interleaved runs; "
        "wall = elapsed time, CPU = time.process_time of the process)"
    )
    print()
    print("| measurement | baseline | tfxfer | speed-up | target |")
    print("|---|---|---|---|---|")
    load = f"(a) load {load_rows:,} x {dim} word2vec binary"
    ratio_row(
        f"{load}, wall",
        "gensim",
        [r["seconds"] for r in gensim],
        "cached",
        [r["seconds"] for r in cached],
        ">= 15x",
    )
    ratio_row(
        f"{load}, CPU",
        "gensim",
        [r["cpu"] for r in gensim],
        "cached",
        [r["cpu"] for r in cached],
        ">= 15x",
    )
    _, g_mem = summary([r["extra"] / 2**20 for r in gensim], " MiB")
    _, c_mem = summary([r["extra"] / 2**20 for r in cached], " MiB")
    print(
        f"| (a) peak extra memory (RSS) | gensim {g_mem} | cached {c_mem} "
        "| | <= 200 MiB |"
    )
    print(
        "| (a) tfxfer first load (parse + write cache), wall / CPU | "
        f"| {first['seconds']:.2f} s / {first['cpu']:.2f} s | | |"
    )
    matrix = (
        f"(b) matrix, {vocab_size:,} words (half present) from {matrix_rows:,} x {dim}"
        " cached by load_word_vectors"
    )
    for kind, suffix in (("wall", ""), ("CPU", "_cpu")):
        ratio_row(
            f"{matrix}, {kind}",
            "textbook loop",
            times["textbook" + suffix],
            "tfxfer",
            times["tfxfer" + suffix],
            ">= 3x",
        )
    ratio_row(
        "(b) same, default options (oov='random', lowercase fallback), CPU",
        "textbook loop",
        times["textbook_cpu"],
        "tfxfer",
        times["tfxfer_default_cpu"],
        "",
    )
    ratio_row(
        "(b) same, first call in a fresh process after a cached load, wall",
        "textbook loop",
        times["first_textbook"],
        "tfxfer",
        times["first_tfxfer"],
        "",
    )
    for kind, suffix in (("wall", ""), ("CPU", "_cpu")):
        ratio_row(
            f"(b) same vectors in memory, no index (gensim dict lookups), {kind}",
            "textbook loop",
            times["memory_textbook" + suffix],
            "tfxfer",
            times["memory_tfxfer" + suffix],
            "",
        )
    ratio_row(
        "(b) same in memory, default options, CPU",
        "textbook loop",
        times["memory_textbook_cpu"],
        "tfxfer",
        times["memory_tfxfer_default_cpu"],
        "",
    )
    _, copy_text = summary(times["copy_cpu"], " s")
    print(f"| (b) raw copy of the result matrix (reference), CPU | | {copy_text} | | |")


if __name__ == "__main__":
    main()

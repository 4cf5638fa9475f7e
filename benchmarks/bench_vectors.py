"""Benchmark: loading word vectors and building embedding matrices.

(a) Synthetic 1M x 300 vectors saved as word2vec binary (about 1.2 GB):
    gensim `KeyedVectors.load_word2vec_format(binary=True)` versus the second
    (cached, memory-mapped) `tfxfer.load_word_vectors`. Every measurement runs
    in a fresh Python process; "peak extra memory" is the process' peak
    resident memory during the call (VmHWM, reset just before it) minus its
    resident memory just before it. Targets: >= 15x faster, <= 200 MiB.
(b) An embedding matrix for a 200,000-word vocabulary (half of the words
    present) from 3M x 300 in-memory vectors: `tfxfer.build_embedding_matrix`
    versus the textbook loop
    `for word, i in vocab.items(): if word in kv: matrix[i] = kv[word]`.
    Target: >= 3x faster.

Repetitions are interleaved (baseline, tfxfer, baseline, ...); the table gives
medians with [min, max]. `--quick` runs a small smoke version (the targets
are stated for the full sizes). Files go to a temporary folder that is
deleted at the end.

Usage:
    python benchmarks/bench_vectors.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
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


def bench_matrix(rows: int, dim: int, vocab_size: int, repeats: int):
    import tfxfer
    from tfxfer.embeddings.loading import _keyed_vectors

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    vectors = np.empty((rows, dim), dtype=np.float32)
    for start in range(0, rows, 200_000):
        stop = min(rows, start + 200_000)
        vectors[start:stop] = rng.standard_normal((stop - start, dim), dtype=np.float32)
    words = [f"word{i}" for i in range(rows)]
    kv = _keyed_vectors(words, vectors)
    present = rng.choice(rows, size=vocab_size // 2, replace=False)
    # Fresh string objects, as a tokenizer would produce (not the vectors' own).
    tokens = [words[i].encode().decode() for i in present] + [
        f"absent{i}" for i in range(vocab_size - len(present))
    ]
    rng.shuffle(tokens)
    vocab = tfxfer.Vocabulary(tokens)
    word_index = vocab.word_index
    print(
        f"(b) {rows:,} x {dim} in-memory vectors ({vectors.nbytes / 2**30:.2f} GiB), "
        f"vocabulary of {len(tokens):,} words ({len(present):,} present); "
        f"set up in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    def textbook():
        matrix = np.zeros((len(vocab), dim), dtype=np.float32)
        for word, i in word_index.items():
            if word in kv:
                matrix[i] = kv[word]
        return matrix

    def ours():
        return tfxfer.build_embedding_matrix(
            kv, vocab, oov="zeros", lowercase_fallback=False
        )[0]

    def ours_default():
        return tfxfer.build_embedding_matrix(kv, vocab)[0]

    np.testing.assert_array_equal(textbook(), ours())
    times = {}
    functions = {
        "textbook": textbook,
        "tfxfer": ours,
        "tfxfer_default": ours_default,
        "copy": ours().copy,
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
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    times = bench_matrix(matrix_rows, dim, vocab_size, repeats)

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
    _, copy_text = summary(times["copy_cpu"], " s")
    print(f"| (b) raw copy of the result matrix (reference), CPU | | {copy_text} | | |")


if __name__ == "__main__":
    main()

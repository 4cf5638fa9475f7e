"""Speed of real pretrained models (issue 22): fine-tuning the MiniLM text
classifier with `tfxfer.Trainer` against KerasHub's own `fit`, and the
encoder's throughput against the machine's matrix-multiply peak.

Fine-tuning (CR sentences, batch 32, Adam 5e-5, everything trainable,
dropout off everywhere so that two loops over the same batches give the
same losses):

- **tfxfer.Trainer** on `tfxfer.text_classifier("minilm")` (raw strings in;
  the tokenizer runs inside the compiled step; each batch padded to its
  longest text);
- **Keras fit** on the same model, from the same starting weights, shuffling
  off: the loss curves must agree (the check printed as `max |loss diff|`);
- **KerasHub fit at its best**: `keras_hub.models.BertTextClassifier` on the
  same MiniLM backbone with its preprocessor (tokenization in `tf.data`,
  fixed `sequence_length`), compiled with `jit_compile=False` and with
  `jit_compile=True` (XLA); the faster is the peer.

Each repetition runs every method back to back (interleaved) for one warm-up
epoch and one timed epoch; the table gives steps per second, median (min -
max) over the repetitions, and each method's ratio to the peer.

Encoding: `TextEncoder.encode` (texts sorted by length, batches of 64)
against Keras `predict` on the same model (no sorting), in sentences per
second, and the FLOP rate of `encode` (2 x 10.6 M multiply-adds per token
of the 6 transformer layers, attention scores included) against float32
`tf.matmul` of 1024 x 1024 matrices on the same machine.

    python benchmarks/bench_pretrained.py [--repeats 3] [--samples 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BATCH = 32
LEARNING_RATE = 5e-5
SEQUENCE_LENGTH = 64


def _texts(samples: int):
    import numpy as np

    import tfxfer

    frame = tfxfer.datasets.load_sentences("cr", "train")
    texts = frame["text"].to_numpy(dtype=object)[:samples]
    labels = frame["label"].to_numpy()[:samples]
    return np.asarray(texts, dtype=object), np.asarray(labels)


def _backbone_and_preprocessor():
    """MiniLM with its dropout off, so that the loss curves of two training
    loops over the same batches can be compared number for number."""
    import keras_hub

    import tfxfer

    folder = str(tfxfer.pretrained.verify_asset("minilm"))
    backbone = keras_hub.models.Backbone.from_preset(folder, dropout=0.0)
    preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
        folder, sequence_length=SEQUENCE_LENGTH
    )
    return backbone, preprocessor


def _ours(start_weights):
    import keras

    from tfxfer.pretrained import PretrainedTextClassifier, TextEncoder

    backbone, preprocessor = _backbone_and_preprocessor()
    encoder = TextEncoder(backbone, preprocessor, normalize=False, name="encoder")
    model = PretrainedTextClassifier(encoder, 2, dropout=0.0)
    if start_weights is not None:
        model.set_weights(start_weights)
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE), "sparse_categorical_crossentropy"
    )
    return model


def _hub(jit_compile: bool):
    import keras
    import keras_hub

    backbone, preprocessor = _backbone_and_preprocessor()
    task = keras_hub.models.BertTextClassifier(
        backbone, num_classes=2, preprocessor=preprocessor, dropout=0.0
    )
    task.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return task


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fine_tuning(repeats: int, samples: int) -> dict:
    import numpy as np

    import tfxfer

    x, y = _texts(samples)
    steps = int(np.ceil(len(x) / BATCH))
    base = _ours(None)
    start = base.get_weights()
    ours, by_fit = _ours(start), _ours(start)
    trainer = tfxfer.Trainer(ours, seed=0)  # best settings are its defaults
    hubs = {"KerasHub fit (no XLA)": _hub(False), "KerasHub fit (XLA)": _hub(True)}

    curves = {}

    def run_trainer():
        curves["train"] = trainer.fit(
            x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0
        ).history["loss"]

    def run_fit():
        curves["fit"] = by_fit.fit(
            x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0
        ).history["loss"]

    methods = {"tfxfer.Trainer": run_trainer, "Keras fit (same model)": run_fit}
    for name, task in hubs.items():
        methods[name] = lambda task=task: task.fit(
            x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0
        )
    for fn in methods.values():  # warm-up epoch: tracing, XLA compilation
        fn()
    loss_diff = abs(curves["train"][-1] - curves["fit"][-1])
    seconds = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            seconds[name].append(_timed(fn))
        loss_diff = max(loss_diff, abs(curves["train"][-1] - curves["fit"][-1]))
    rates = {n: [steps / s for s in v] for n, v in seconds.items()}
    return {"rates": rates, "loss_diff": loss_diff, "steps": steps}


def encoding(repeats: int, samples: int) -> dict:
    import numpy as np
    import tensorflow as tf

    import tfxfer

    x, _ = _texts(samples)
    encoder = tfxfer.text_encoder("minilm")
    tokens = int(
        sum(
            np.asarray(encoder.preprocessor(tf.constant(list(x)))["padding_mask"])
            .sum(axis=1)
            .tolist()
        )
    )
    a = tf.random.normal((1024, 1024))
    matmul = tf.function(lambda: tf.linalg.matmul(a, a))
    matmul()
    encoder.encode(x[:64], verbose=0)
    encoder.predict(x[:64], batch_size=64, verbose=0)
    out = {"encode": [], "predict": [], "peak": []}
    for _ in range(repeats):
        out["encode"].append(len(x) / _timed(lambda: encoder.encode(x, verbose=0)))
        out["predict"].append(
            len(x) / _timed(lambda: encoder.predict(x, batch_size=64, verbose=0))
        )
        seconds = _timed(lambda: [matmul().numpy() for _ in range(20)])
        out["peak"].append(20 * 2 * 1024**3 / seconds / 1e9)
    out["tokens"] = tokens
    out["gflops"] = [r / len(x) * tokens * 2 * 10.6e6 / 1e9 for r in out["encode"]]
    return out


def _summary(values) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f} - {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()

    import tfxfer  # noqa: F401  (TensorFlow quietly first)

    tuning = fine_tuning(args.repeats, args.samples)
    rates = tuning["rates"]
    peer = max(
        (n for n in rates if n.startswith("KerasHub")),
        key=lambda n: statistics.median(rates[n]),
    )
    print(
        f"Fine-tuning MiniLM, {args.samples} CR sentences, batch {BATCH}, "
        f"{tuning['steps']} steps per epoch, {args.repeats} repetitions"
    )
    print(f"{'method':<26} {'steps/s':>22} {'vs ' + peer:>28}")
    for name, values in rates.items():
        ratio = [v / p for v, p in zip(values, rates[peer], strict=True)]
        print(f"{name:<26} {_summary(values):>22} {_summary(ratio):>28}")
    print(f"max |loss diff| tfxfer.Trainer vs Keras fit: {tuning['loss_diff']:.2e}")

    enc = encoding(args.repeats, args.samples)
    print(f"\nEncoding {args.samples} CR sentences ({enc['tokens']} tokens)")
    print(f"  encode (sorted)  {_summary(enc['encode'])} sentences/s")
    print(f"  Keras predict    {_summary(enc['predict'])} sentences/s")
    print(f"  encode           {_summary(enc['gflops'])} GFLOP/s")
    print(f"  matmul peak      {_summary(enc['peak'])} GFLOP/s (1024 x 1024, float32)")


if __name__ == "__main__":
    main()

"""Tests of `tfxfer.LazyAdam`: Keras' Adam on dense gradients, row-wise
updates on an embedding's sparse ones."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfxfer


def _adam_rows(w, m, v, g, t, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    """Reference: Adam's update of the given rows only (NumPy)."""
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    return w - alpha * m / (np.sqrt(v) + eps), m, v


def test_dense_gradients_match_keras_adam_exactly():
    keras.utils.set_random_seed(0)
    values = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    ours, theirs = keras.Variable(values), keras.Variable(values)
    lazy, adam = tfxfer.LazyAdam(0.01), keras.optimizers.Adam(0.01)
    for step in range(3):
        grad = tf.constant(np.full((4, 3), step + 1.0, "float32"))
        lazy.apply([grad], [ours])
        adam.apply([grad], [theirs])
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_sparse_gradient_updates_only_the_batch_rows():
    values = np.random.default_rng(1).normal(size=(6, 2)).astype("float32")
    table = keras.Variable(values)
    optimizer = tfxfer.LazyAdam(0.01)
    w, m, v = values.copy(), np.zeros_like(values), np.zeros_like(values)
    batches = [([1, 3, 1], [[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]]), ([3], [[-2.0, 1.0]])]
    for t, (indices, rows) in enumerate(batches, 1):
        rows = np.array(rows, "float32")
        grad = tf.IndexedSlices(tf.constant(rows), tf.constant(indices), (6, 2))
        optimizer.apply([grad], [table])
        # Repeated indices are summed, then only those rows move.
        unique = sorted(set(indices))
        summed = np.stack([rows[[i == u for i in indices]].sum(0) for u in unique])
        w[unique], m[unique], v[unique] = _adam_rows(
            w[unique], m[unique], v[unique], summed, t
        )
    np.testing.assert_allclose(table.numpy(), w, rtol=1e-5, atol=1e-7)
    # Rows 0, 2, 4, 5 never appeared: untouched, bit for bit.
    np.testing.assert_array_equal(table.numpy()[[0, 2, 4, 5]], values[[0, 2, 4, 5]])


def test_trains_an_embedding_model_with_the_trainer():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = np.arange(64) % 2
    x = np.where(
        y[:, None] == 0, rng.integers(2, 10, (64, 5)), rng.integers(10, 18, (64, 5))
    )
    model = tfxfer.TextClassifier(20, 4, 2, hidden_units=(8,), embedding_trainable=True)
    before = model.embedding.embeddings.numpy().copy()
    trainer = tfxfer.Trainer(
        model, optimizer=tfxfer.LazyAdam(0.05), loss="sparse_categorical_crossentropy"
    )
    history = trainer.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    after = model.embedding.embeddings.numpy()
    # Ids 18 and 19 never occur: their rows did not move.
    np.testing.assert_array_equal(after[18:], before[18:])
    assert not np.array_equal(after[2:18], before[2:18])


def test_config_round_trip_and_amsgrad_refused():
    optimizer = tfxfer.LazyAdam(learning_rate=0.02, beta_1=0.8)
    clone = tfxfer.LazyAdam.from_config(optimizer.get_config())
    assert isinstance(clone, tfxfer.LazyAdam)
    assert clone.get_config()["beta_1"] == pytest.approx(0.8)
    assert float(clone.learning_rate) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="`amsgrad` is not supported"):
        tfxfer.LazyAdam(amsgrad=True)

"""Tests of tfxfer.add_lora: Keras LoRA adapters, everything else frozen."""

import keras
import numpy as np
import pytest

import tfxfer


def _token_model():
    """Embedding, EinsumDense, BatchNorm and Dense: a functional text model."""
    inputs = keras.Input((7,), dtype="int32")
    x = keras.layers.Embedding(20, 4, name="embedding")(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.EinsumDense("ab,bc->ac", output_shape=6, name="einsum")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="token_model")


def _snapshot(model):
    return {v.path: v.numpy() for v in model.weights}


def test_add_lora_trains_only_the_factors(tiny_tabular):
    keras.utils.set_random_seed(0)
    x, y = tiny_tabular
    model = tfxfer.MLPClassifier(3, hidden_units=(16, 8), name="mlp_classifier")
    model(x)
    assert tfxfer.trainable_summary(model).trainable_parameters == 307
    adapted = tfxfer.add_lora(model, rank=2)
    assert adapted == [
        "mlp_classifier/backbone/dense_0",
        "mlp_classifier/backbone/dense_1",
        "mlp_classifier/head",
    ]
    summary = tfxfer.trainable_summary(model)
    # rank * (n_in + n_out) per layer: 2 * (8 + 16) + 2 * (16 + 8) + 2 * (8 + 3)
    assert summary.trainable_parameters == 118
    assert summary.total_parameters == 307 + 118

    before = _snapshot(model)
    predictions = model.predict(x, verbose=0)
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    after = _snapshot(model)
    changed = {path for path in before if not np.array_equal(before[path], after[path])}
    factors = {path for path in before if "/lora_kernel_" in path}
    assert len(factors) == 6
    assert changed == factors
    assert not np.allclose(model.predict(x, verbose=0), predictions)


def test_add_lora_regex_selects_nested_layers(tiny_tabular):
    x, _ = tiny_tabular
    model = tfxfer.MLPClassifier(3, hidden_units=(16, 8), name="mlp_classifier")
    model(x)
    adapted = tfxfer.add_lora(model, rank=1, layers=r"dense_1|head", alpha=4)
    assert adapted == ["mlp_classifier/backbone/dense_1", "mlp_classifier/head"]
    dense_0, dense_1 = model.backbone.layers
    assert not dense_0.trainable and not dense_0.lora_enabled
    assert dense_1.lora_enabled and dense_1.lora_alpha == 4 and dense_1.lora_rank == 1
    assert [v.path for v in model.trainable_weights] == [
        "mlp_classifier/backbone/dense_1/lora_kernel_a",
        "mlp_classifier/backbone/dense_1/lora_kernel_b",
        "mlp_classifier/head/lora_kernel_a",
        "mlp_classifier/head/lora_kernel_b",
    ]


def test_add_lora_unfreezes_a_frozen_container_holding_a_target(tiny_tabular):
    x, _ = tiny_tabular
    model = tfxfer.MLPClassifier(3, hidden_units=(4,))
    model(x)
    model.backbone.trainable = False
    tfxfer.add_lora(model, rank=1, layers="dense_0")
    assert model.backbone.trainable and not model.head.trainable
    assert len(model.trainable_weights) == 2


@pytest.mark.slow
def test_add_lora_save_merges_adapters_and_reloads(
    tiny_tabular, tiny_tokens, tmp_path, fresh_python
):
    keras.utils.set_random_seed(0)
    tokens, labels = tiny_tokens
    functional = _token_model()
    adapted = tfxfer.add_lora(functional, rank=2)
    assert adapted == ["embedding", "einsum", "head"]
    bn_before = functional.get_layer("bn").moving_mean.numpy()
    functional.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    functional.fit(tokens, labels, epochs=2, batch_size=8, verbose=0)
    # BatchNorm is frozen, so it stays in inference mode: statistics fixed.
    np.testing.assert_array_equal(
        functional.get_layer("bn").moving_mean.numpy(), bn_before
    )

    x, y = tiny_tabular
    subclassed = tfxfer.MLPClassifier(3, hidden_units=(8,))
    subclassed(x)
    tfxfer.add_lora(subclassed, rank=2)
    subclassed.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    subclassed.fit(x, y, epochs=2, batch_size=8, verbose=0)

    functional.save(tmp_path / "f.keras")
    subclassed.save(tmp_path / "s.keras")
    np.save(tmp_path / "tokens.npy", tokens)
    np.save(tmp_path / "x.npy", x)
    out = fresh_python(
        f"""
        import numpy as np, keras, tfxfer
        f = keras.models.load_model({str(tmp_path / "f.keras")!r})
        s = keras.models.load_model({str(tmp_path / "s.keras")!r}, compile=False)
        np.save({str(tmp_path / "pf.npy")!r},
                f.predict(np.load({str(tmp_path / "tokens.npy")!r}), verbose=0))
        np.save({str(tmp_path / "ps.npy")!r},
                s.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0))
        print([f.get_layer(n).lora_enabled for n in ("embedding", "einsum", "head")])
        """
    )
    assert out.strip() == "[True, True, True]"
    np.testing.assert_allclose(
        np.load(tmp_path / "pf.npy"), functional.predict(tokens, verbose=0), atol=1e-5
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "ps.npy"), subclassed.predict(x, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rank": 0}, r"Argument `rank` must be a positive integer. Received: rank=0"),
        ({"rank": -2}, r"`rank` must be a positive integer"),
        ({"rank": 1.5}, r"`rank` must be a positive integer"),
        ({"rank": 2, "alpha": 0}, r"`alpha` must be a positive number"),
        (
            {"rank": 2, "layers": "nomatch"},
            r"`layers` must match .*layers: \['embedding', 'einsum', 'head'\]",
        ),
        ({"rank": 2, "layers": "("}, r"`layers` must be a valid regular expression"),
        ({"rank": 2, "layers": ["head"]}, r"`layers` must be a regular expression"),
    ],
)
def test_add_lora_argument_errors(kwargs, message):
    model = _token_model()
    with pytest.raises(ValueError, match=message):
        tfxfer.add_lora(model, **kwargs)
    assert not model.get_layer("head").lora_enabled
    assert model.get_layer("bn").trainable  # nothing was frozen


def test_add_lora_model_errors():
    with pytest.raises(ValueError, match=r"`model` must be a Keras model"):
        tfxfer.add_lora(keras.layers.Dense(2), rank=2)
    with pytest.raises(ValueError, match=r"`model` must be built"):
        tfxfer.add_lora(keras.Sequential([keras.layers.Dense(2)]), rank=2)
    no_dense = keras.Sequential([keras.layers.BatchNormalization()])
    no_dense.build((None, 4))
    with pytest.raises(ValueError, match=r"must contain a layer supporting LoRA"):
        tfxfer.add_lora(no_dense, rank=2)
    constrained = keras.Sequential(
        [keras.layers.Dense(2, kernel_constraint="non_neg", name="nn")]
    )
    constrained.build((None, 4))
    with pytest.raises(ValueError, match=r"'sequential.*/nn' has a kernel constraint"):
        tfxfer.add_lora(constrained, rank=2)
    model = _token_model()
    tfxfer.add_lora(model, rank=2, layers="head")
    with pytest.raises(ValueError, match=r"'head' already has LoRA enabled"):
        tfxfer.add_lora(model, rank=2, layers="head")

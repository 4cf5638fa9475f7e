"""Scenario `domain-shift`: clean digits -> other digits with pixel noise."""

from __future__ import annotations

import time

import numpy as np

from tfxfer.demo.images import (
    IMAGE_DESCRIPTIONS,
    digits_scratch,
    image_sources,
    new_head_model,
    random_cnn,
)
from tfxfer.demo.settings import BASELINE, BATCH_SIZE, Scenario, Settings
from tfxfer.demo.source import pretrain

NOISE_SIGMA = 0.3
RANDOM = "random CNN, frozen features"


def build(seed: int, settings: Settings) -> Scenario:
    """Clean digits -> other digits with pixel noise (same ten classes).

    The digits are split in half (stratified, `seed`): the first half, clean,
    is the source task; the second half, with Gaussian noise of standard
    deviation `NOISE_SIGMA` clipped to [0, 1], is the target task, itself
    split into 2/3 training and 1/3 test images. The noise is drawn once
    with a fixed generator, so every strategy sees the same images. Same
    classes, shifted inputs: the case where transfer is expected to help.
    """
    from tfxfer import feature_extractor
    from tfxfer.comparison import (
        fine_tune_strategy,
        frozen_features_strategy,
        scratch_strategy,
        whole_model_strategy,
    )
    from tfxfer.datasets import load_digits, split_indices

    x_source, y_source = load_digits(split="train", test_size=0.5, seed=seed)
    x_target, y_target = load_digits(split="test", test_size=0.5, seed=seed)
    noise = np.random.default_rng(1000 + seed).normal(0.0, NOISE_SIGMA, x_target.shape)
    x_target = np.clip(x_target + noise, 0.0, 1.0).astype("float32")
    train, test = split_indices(y_target, test_size=1 / 3, seed=seed)

    fit = settings.fit
    start = time.perf_counter()
    source, reached = pretrain(
        lambda: digits_scratch(int(y_source.max()) + 1, name="clean_digits_cnn"),
        x_source,
        y_source,
        seed=seed,
        settings=fit,
    )
    pretrain_seconds = time.perf_counter() - start
    extractor = feature_extractor(source, "features")
    num_classes = int(y_target.max()) + 1
    strategies = {
        BASELINE: scratch_strategy(digits_scratch, num_classes, fit),
        "frozen features": frozen_features_strategy(extractor, num_classes, fit),
        "fine-tune": fine_tune_strategy(
            lambda n: new_head_model(extractor, n), "base", num_classes, fit
        ),
        "fine-tune, source head": whole_model_strategy(source, fit),
    }
    # Built last: seeding it leaves the strategies above as they were.
    control = random_cnn(num_classes, seed)
    strategies[RANDOM] = frozen_features_strategy(
        feature_extractor(control, "features"), num_classes, fit
    )
    x_train = x_target[train]
    sources = image_sources(
        x_train,
        {
            "clean-digits CNN": (
                source,
                ("frozen features", "fine-tune", "fine-tune, source head"),
            ),
            "random CNN": (control, (RANDOM,)),
        },
    )
    title = (
        f"clean digits ({len(y_source)} images) -> other digits with noise "
        f"sigma {NOISE_SIGMA} ({len(train)} train / {len(test)} test), 10 classes"
    )
    notes = (
        f"Batches of {BATCH_SIZE}.",
        f"Source model: the digits CNN trained on the clean half, "
        f"{reached['epochs']} epochs, {reached['val_accuracy']:.3f} accuracy on "
        "its held-out 20 %.",
        "The transferability scores compare the clean-digits CNN with a random "
        "CNN only: the bundled digits 0-4 CNN was trained on clean copies of "
        "about three quarters of the digits 0-4 images, among them images of "
        "this target, so it would be scored and measured on images it has "
        "learned.",
    )
    return Scenario(
        title=title,
        strategies=strategies,
        descriptions={name: IMAGE_DESCRIPTIONS[name] for name in strategies},
        data=(x_train, y_target[train], x_target[test], y_target[test]),
        pretrain_seconds=pretrain_seconds,
        notes=notes,
        sources=sources,
    )

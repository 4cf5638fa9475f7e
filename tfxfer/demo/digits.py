"""Scenario `digits`: the bundled CNN pretrained on digits 0-4 -> digits 5-9."""

from __future__ import annotations

from tfxfer.demo.images import (
    IMAGE_DESCRIPTIONS,
    digits_scratch,
    image_sources,
    new_head_model,
    random_cnn,
)
from tfxfer.demo.settings import BASELINE, BATCH_SIZE, Scenario, Settings

RANDOM = "random CNN, frozen features"
# Why each image scenario scores its own pretrained CNN and the random one,
# never the other scenario's CNN.
CROSS_SOURCE_NOTE = (
    "The transferability scores compare the bundled digits 0-4 CNN with a "
    "random CNN only: domain-shift's clean-digits CNN was trained on half of "
    "all the digits images with their labels, among them images of this "
    "target (digits 5-9), so it would be scored and measured on images it "
    "has learned."
)


def build(seed: int, settings: Settings) -> Scenario:
    """Digits 0-4 (bundled pretrained CNN) -> digits 5-9 (new classes).

    Related images, new classes: transfer may not help. The target split is
    the bundled one (`load_digits("5-9", ...)`, seed 0), the same for every
    seed; `seed` draws the label subsets and initial weights.
    """
    from tfxfer import feature_extractor
    from tfxfer.comparison import (
        fine_tune_strategy,
        frozen_features_strategy,
        scratch_strategy,
    )
    from tfxfer.datasets import load_digits, load_pretrained_digits_cnn

    x_train, y_train = load_digits("5-9", "train", seed=0)
    x_test, y_test = load_digits("5-9", "test", seed=0)
    source = load_pretrained_digits_cnn(compile=False)
    extractor = feature_extractor(source, "features")
    num_classes = int(y_train.max()) + 1
    fit = settings.fit
    strategies = {
        BASELINE: scratch_strategy(digits_scratch, num_classes, fit),
        "frozen features": frozen_features_strategy(extractor, num_classes, fit),
        "fine-tune": fine_tune_strategy(
            lambda n: new_head_model(extractor, n), "base", num_classes, fit
        ),
    }
    # Built last: seeding it leaves the strategies above as they were.
    control = random_cnn(num_classes, seed)
    strategies[RANDOM] = frozen_features_strategy(
        feature_extractor(control, "features"), num_classes, fit
    )
    sources = image_sources(
        x_train,
        {
            "digits 0-4 CNN": (source, ("frozen features", "fine-tune")),
            "random CNN": (control, (RANDOM,)),
        },
    )
    title = (
        "digits 0-4 (bundled pretrained CNN) -> digits 5-9 "
        f"({len(y_train)} train / {len(y_test)} test), 5 classes"
    )
    return Scenario(
        title=title,
        strategies=strategies,
        descriptions={name: IMAGE_DESCRIPTIONS[name] for name in strategies},
        data=(x_train, y_train, x_test, y_test),
        pretrain_seconds=0.0,
        notes=(f"Batches of {BATCH_SIZE}.", CROSS_SOURCE_NOTE),
        sources=sources,
    )

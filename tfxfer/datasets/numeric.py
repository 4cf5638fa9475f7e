"""scikit-learn's bundled digits and diabetes data, with task and group splits.

These are not copied into `tfxfer/data/`: scikit-learn ships them and they are read
from it at run time, checked against a recorded SHA-256 of their arrays.
"""

from __future__ import annotations

import hashlib

import numpy as np

from tfxfer.datasets.splits import (
    _check_seed,
    _check_split,
    _check_test_size,
    split_indices,
)
from tfxfer.errors import DataIntegrityError
from tfxfer.utils.validation import check_choice, require

DIGITS_TASKS = ("0-4", "5-9")

# SHA-256 of the raw arrays scikit-learn ships (digits: uint8 pixels 0-16 then
# int64 labels; diabetes: unscaled float64 features then float64 targets).
# The splits and the pretrained digits model were built from exactly these.
_SKLEARN_SHA256 = {
    "digits": "65e5b4619795efb40c1082f4c350c049e4ad552200d369b6ae99e21eef5e72c5",
    "diabetes": "e9c1f7559552854a24dc45b41c446ce5f79f96e5da081bcce24b57492720b3f7",
}


def _verify_arrays(name: str, *arrays: np.ndarray) -> None:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    actual = digest.hexdigest()
    expected = _SKLEARN_SHA256[name]
    if actual != expected:
        raise DataIntegrityError(
            f"scikit-learn's bundled {name} data differs from the data tfxfer "
            f"was built with: its SHA-256 is {actual}, expected {expected}. "
            "Reinstall scikit-learn, or regenerate tfxfer's data with "
            "`python -m tfxfer.datasets build`."
        )


def _from_sklearn(
    name: str, x_dtype: str, y_dtype: str, **options
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's `load_<name>(return_X_y=True, **options)` as arrays of
    the recorded dtypes, checked against their recorded SHA-256."""
    sklearn_datasets = require(
        "sklearn.datasets", feature=f"tfxfer.datasets.load_{name}", extra="scikit-learn"
    )
    x, y = getattr(sklearn_datasets, f"load_{name}")(return_X_y=True, **options)
    x, y = x.astype(x_dtype), y.astype(y_dtype)
    _verify_arrays(name, x, y)
    return x, y


def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    return _from_sklearn("digits", "u1", "<i8")


def load_digits(
    task: str | None = None,
    split: str | None = None,
    *,
    test_size: float = 0.25,
    seed: int = 0,
    flatten: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads scikit-learn's 8x8 handwritten digits, optionally one task of them.

    The 1,797 images are split into train and test parts first (stratified by
    digit, seeded; see `split_indices`) and the task is selected after, so the
    train part of task `"0-4"` and the test part of task `"5-9"` come from one
    split and never share an image. The data ships with scikit-learn (no
    download); its arrays are checked against a recorded SHA-256.

    Args:
        task: `None` for all ten digits, `"0-4"` for digits 0-4 (the source
            task of `tfxfer/data/pretrained/digits_cnn_0-4.keras`) or `"5-9"` for
            digits 5-9, whose labels are remapped to 0-4 (label = digit - 5)
            so a 5-class head fits both tasks.
        split: `None` for every image, `"train"` or `"test"` for one part.
        test_size: Fraction of each digit in the test part.
        seed: Seed of the split.
        flatten: Return `x` as `(n, 64)` instead of `(n, 8, 8, 1)`.

    Returns:
        `(x, y)`: `x` float32 pixels scaled from 0-16 to [0, 1], shape
        `(n, 8, 8, 1)` (or `(n, 64)`), and `y` int64 labels.
        With the defaults: 1,797 images; `"0-4"` has 901 and `"5-9"` 896.

    Raises:
        ValueError: If `task`, `split`, `test_size` or `seed` is invalid.
        DataIntegrityError: If scikit-learn's digits differ from the recorded
            data.

    Example:
    >>> x, y = tfxfer.datasets.load_digits("5-9", "train", seed=0)
    >>> x.shape[1:], sorted(set(y.tolist()))
    ((8, 8, 1), [0, 1, 2, 3, 4])
    """
    if task is not None:
        check_choice("task", task, (None, *DIGITS_TASKS))
    split = _check_split(split)
    test_size = _check_test_size(test_size)
    seed = _check_seed(seed)
    pixels, labels = _raw_digits()
    rows = np.arange(labels.size)
    if split is not None:
        train, test = split_indices(labels, test_size=test_size, seed=seed)
        rows = train if split == "train" else test
    if task == "0-4":
        rows = rows[labels[rows] < 5]
    elif task == "5-9":
        rows = rows[labels[rows] >= 5]
    x = pixels[rows].astype(np.float32) / np.float32(16.0)
    y = labels[rows] - 5 if task == "5-9" else labels[rows]
    x = x.reshape(-1, 64) if flatten else x.reshape(-1, 8, 8, 1)
    return x, y.astype(np.int64)


DIABETES_FEATURES = (
    "age",
    "sex",
    "bmi",
    "bp",
    "s1",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
)
DIABETES_GROUPS = (1, 2)


def _raw_diabetes() -> tuple[np.ndarray, np.ndarray]:
    return _from_sklearn("diabetes", "<f8", "<f8", scaled=False)


def load_diabetes(
    group: int | None = None,
    split: str | None = None,
    *,
    test_size: float = 0.25,
    seed: int = 0,
    standardize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads scikit-learn's diabetes regression data, optionally one group.

    442 patients, 10 baseline features (age, sex, body mass index, blood
    pressure, six blood serum measurements; see `DIABETES_FEATURES`) and a
    measure of disease progression one year later (25-346). For parameter
    transfer the patients form two related groups by the `sex` column,
    coded 1 (235 patients) and 2 (207); which code is which sex is not
    documented by the original data (Efron et al., 2004). A linear model
    fitted on one group explains part of the other group's variance, but less
    than a model fitted on that group's own patients (measured numbers in
    `tfxfer/data/README.md`), so starting from the other group's parameters and
    fine-tuning is a sensible experiment (E1/E4).

    When a group is selected, the `sex` column is dropped (it would be
    constant: a linear model cannot learn its weight from one group, and a
    weight learned by chance as part of the bias would shift every
    prediction on the other group), leaving 9 features in the order of
    `DIABETES_FEATURES` without `"sex"`.

    The train/test split is made on all patients (stratified by group,
    seeded) before the group is selected. With `standardize=True` each
    feature is standardized with the mean and standard deviation of the
    train part of all patients, so both groups share one scale and no test
    data leaks in. The data ships with scikit-learn; its arrays are checked
    against a recorded SHA-256.

    Args:
        group: `None` for all patients, `1` or `2` for one `sex` group.
        split: `None` for every patient, `"train"` or `"test"` for one part.
        test_size: Fraction of each group in the test part.
        seed: Seed of the split.
        standardize: Standardize the features (see above); if `False`, they
            are the raw values (age in years, sex 1/2, ...).

    Returns:
        `(x, y)`: float32 features of shape `(n, 10)`, or `(n, 9)` without
        `sex` when `group` is given, and float32 targets of shape `(n,)`,
        raw (mean about 152, standard deviation about 77).

    Raises:
        ValueError: If `group`, `split`, `test_size` or `seed` is invalid.
        DataIntegrityError: If scikit-learn's diabetes data differ from the
            recorded data.

    Example:
    >>> x_a, y_a = tfxfer.datasets.load_diabetes(group=1, split="train")
    >>> x_b, y_b = tfxfer.datasets.load_diabetes(group=2, split="train")
    """
    if group is not None:
        check_choice("group", group, (None, *DIABETES_GROUPS))
    split = _check_split(split)
    test_size = _check_test_size(test_size)
    seed = _check_seed(seed)
    x, y = _raw_diabetes()
    sex = DIABETES_FEATURES.index("sex")
    groups = x[:, sex].astype(np.int64)
    train, test = split_indices(groups, test_size=test_size, seed=seed)
    rows = np.arange(y.size) if split is None else (train if split == "train" else test)
    if group is not None:
        rows = rows[groups[rows] == group]
    features = x[rows]
    if standardize:
        mean = x[train].mean(axis=0)
        std = x[train].std(axis=0)
        features = (features - mean) / std
    if group is not None:
        features = np.delete(features, sex, axis=1)
    return features.astype(np.float32), y[rows].astype(np.float32)

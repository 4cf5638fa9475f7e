"""Tests of tfxfer/datasets/labeled_csv.py: messages stay bounded."""

import pytest

from tfxfer.datasets.labeled_csv import encode_labels, read_labeled_csv
from tfxfer.errors import InvalidDataError


def test_look_alike_labels_message_is_bounded(tmp_path):
    # 10,000 classes, each written two ways: the message lists 5 groups.
    labels = [f"c{i}" for i in range(10_000)] + [f" c{i}" for i in range(10_000)]
    with pytest.raises(InvalidDataError, match=r"; and 9995 more groups\.") as info:
        encode_labels(labels)
    assert len(str(info.value)) < 1_000
    path = tmp_path / "many.csv"
    path.write_text("x,label\n" + "".join(f"1,{label}\n" for label in labels))
    with pytest.raises(InvalidDataError, match=r"; and 9995 more groups") as info:
        read_labeled_csv(path, "label")
    assert len(str(info.value)) < 2_000

"""The shared argument checks of `tfxfer.utils.validation`."""

import math
import re

import keras
import numpy as np
import pytest

from tfxfer.utils import validation as v


@pytest.mark.parametrize(
    "kwargs, value, expected",
    [
        ({"integer": True, "low": 1}, 3, 3),
        ({"integer": True, "low": 0}, np.int64(0), 0),
        ({"low": 0, "high": 1, "closed": "neither"}, 0.5, 0.5),
        ({"low": 0, "high": 1, "closed": "right"}, 1, 1.0),
        ({"high": float("inf"), "low": 0}, float("inf"), float("inf")),
        ({"allow_none": True}, None, None),
    ],
)
def test_check_number_accepts(kwargs, value, expected):
    result = v.check_number("x", value, **kwargs)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "kwargs, value, words",
    [
        ({"integer": True, "low": 1}, 0, "a positive integer"),
        ({"integer": True, "low": 1}, 2.0, "a positive integer"),
        ({"integer": True, "low": 1}, True, "a positive integer"),
        ({"integer": True, "low": 0}, -1, "a non-negative integer"),
        ({"low": 0, "closed": "neither"}, 0.0, "a positive number"),
        ({"low": 0, "closed": "neither"}, math.inf, "a positive number"),
        ({"low": 0, "closed": "neither"}, math.nan, "a positive number"),
        ({"low": 0, "high": 1, "closed": "neither"}, 1, "a number in (0, 1)"),
        ({"low": 0, "high": 1, "closed": "right"}, 0, "a number in (0, 1]"),
        ({"integer": True, "low": 2}, 1, "an integer >= 2"),
        ({"high": 5, "closed": "left"}, 5, "a number < 5"),
        ({"allow_none": True, "low": 0}, "a", "a non-negative number or None"),
        ({"expected": "a rate"}, "fast", "a rate"),
    ],
)
def test_check_number_refuses_with_keras_wording(kwargs, value, words):
    message = f"Argument `x` must be {words}. Received: x={value!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        v.check_number("x", value, **kwargs)


def test_check_number_refuses_unknown_closed():
    with pytest.raises(ValueError, match=r"Argument `closed` must be one of"):
        v.check_number("x", 1, closed="open")


def test_older_number_checks_keep_their_messages():
    with pytest.raises(ValueError, match=r"`n` must be a positive integer\. "):
        v.check_positive_int("n", 0)
    with pytest.raises(ValueError, match=r"must be a number in \[0.0, 1.0\)\. "):
        v.check_in_range("dropout", 1.0, 0, 1, high_inclusive=False)
    assert v.check_in_range("dropout", 1, 0, 1) == 1.0


def test_check_bool():
    assert v.check_bool("flag", np.bool_(True)) is True
    with pytest.raises(ValueError, match=r"`flag` must be a bool\. Received: flag=1"):
        v.check_bool("flag", 1)


def test_check_instance_and_callable():
    layer = keras.layers.Dense(2)
    assert v.check_instance("trunk", layer, keras.layers.Layer, "a layer") is layer
    assert v.check_instance("trunk", None, int, "an int", allow_none=True) is None
    with pytest.raises(
        ValueError, match=r"`trunk` must be a layer\. Received: trunk of"
    ):
        v.check_instance("trunk", "dense", keras.layers.Layer, "a layer")
    assert v.check_callable("fn", print, "a function") is print
    with pytest.raises(
        ValueError, match=r"must be a function or None\. Received: fn=3"
    ):
        v.check_callable("fn", 3, "a function", allow_none=True)


def test_check_path_exists(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    assert v.check_path_exists("p", tmp_path / "a.txt").name == "a.txt"
    assert v.check_path_exists("p", str(tmp_path), kind="folder") == tmp_path
    with pytest.raises(ValueError, match=r"the path of an existing folder\. "):
        v.check_path_exists("p", tmp_path / "a.txt", kind="folder")
    with pytest.raises(ValueError, match=r"must be the data folder\. Received: p=3"):
        v.check_path_exists("p", 3, expected="the data folder")


def test_check_array():
    assert v.check_array("m", [[1, 2]], ndim=2).shape == (1, 2)
    with pytest.raises(ValueError, match=r"non-empty 1-D array\. .* shape \(0,\)"):
        v.check_array("labels", [], ndim=1, allow_empty=False)
    with pytest.raises(ValueError, match=r"a 2-D array\. .* shape \(3,\)"):
        v.check_array("m", [1, 2, 3], ndim=2)
    with pytest.raises(ValueError, match=r"must be a grid\. Received: m of type list"):
        v.check_array("m", [[1], [1, 2]], dtype=np.float64, expected="a grid")


def test_check_length_unique_and_mapping():
    with pytest.raises(ValueError, match=r"per sample \(3\). Received: y with 2 "):
        v.check_length("y", [0, 1], 3, "sample")
    with pytest.raises(
        ValueError, match=r"one value per feature \(2\)\. .* w with 1 value$"
    ):
        v.check_length("w", [0.5], 2, "feature", entry="value")
    with pytest.raises(ValueError, match=r"must not repeat a value. .*\[1, 1\]"):
        v.check_unique("seeds", [1, 1])
    assert v.check_mapping("m", {}, "names", "files", allow_empty=True) == {}
    with pytest.raises(ValueError, match=r"a non-empty dict mapping names to files"):
        v.check_mapping("m", {}, "names", "files")
    with pytest.raises(ValueError, match=r"non-empty string keys \(names\)\. .* key 1"):
        v.check_mapping("m", {1: "a"}, "names", "files")
    with pytest.raises(ValueError, match=r"map names to files\. .*m\['a'\]=3 of type"):
        v.check_mapping("m", {"a": 3}, "names", "files", value_check=callable)


def test_check_built():
    model = keras.Sequential([keras.layers.Dense(2)], name="seq")
    with pytest.raises(ValueError, match=r"built before x \(call .* model='seq'"):
        v.check_built("model", model, action="before x")


def test_check_regex():
    assert v.check_regex("p", "a+").match("aa")
    with pytest.raises(
        ValueError, match=r"valid regular expression\. Received: p='\('"
    ):
        v.check_regex("p", "(")
    with pytest.raises(ValueError, match=r"\(a string\)\. Received: p=3 of type int"):
        v.check_regex("p", 3)


def test_check_strings():
    assert v.check_strings("texts", ("a", "b")) == ["a", "b"]
    with pytest.raises(ValueError, match=r"sequence of strings .* texts='one'"):
        v.check_strings("texts", "one")
    with pytest.raises(ValueError, match=r"strings only .* texts\[1\]=2 of type int"):
        v.check_strings("texts", ["a", 2])


def test_check_numbers():
    each = "numbers in (0, 1]"
    bounds = {"low": 0, "high": 1, "closed": "right"}
    assert v.check_numbers("f", 0.5, each, **bounds) == (0.5,)
    with pytest.raises(ValueError, match=r"non-empty sequence of numbers in \(0, 1\]"):
        v.check_numbers("f", [], each, **bounds)
    with pytest.raises(ValueError, match=r"contain only numbers in .* f=\[0.5, 2\]"):
        v.check_numbers("f", [0.5, 2], each, **bounds)
    assert v.check_numbers("s", [3, 1], "integers", integer=True) == (3, 1)


def test_check_attributes():
    array = np.zeros(2)
    assert v.check_attributes("a", array, ("shape",), "an array") is array
    message = r"KeyedVectors \(with `vectors` and `key_to_index`\)\. .*a of type dict"
    with pytest.raises(ValueError, match=message):
        v.check_attributes("a", {}, ("vectors", "key_to_index"), "gensim KeyedVectors")


def test_check_bool_allow_none():
    assert v.check_bool("from_logits", None, allow_none=True) is None
    with pytest.raises(
        ValueError, match=r"`flag` must be a bool\. Received: flag=None"
    ):
        v.check_bool("flag", None)
    match = r"`from_logits` must be True, False or None\. Received: from_logits=0"
    with pytest.raises(ValueError, match=match):
        v.check_bool("from_logits", 0, allow_none=True)


def test_first_offender():
    assert v.first_offender(np.zeros((2, 3), bool)) == (None, 0)
    mask = np.zeros((4, 2), bool)
    mask[2, 1] = mask[3, 0] = True
    assert v.first_offender(mask) == ((2, 1), 2)


def test_check_integers():
    labels = v.check_integers("y", np.array([[0.0], [3.0]]))
    assert labels.dtype == np.int64 and labels.tolist() == [[0], [3]]
    assert v.check_integers("y", [True, False]).tolist() == [1, 0]
    match = r"Received: nan at sample index 1 \(2 NaN or infinite of 4 values\)"
    with pytest.raises(ValueError, match=match):
        v.check_integers("y", [0.0, np.nan, 1.0, np.inf])
    with pytest.raises(
        ValueError, match=r"class ids\. .*value 0\.5 at sample index 0.*Fix it\.$"
    ):
        v.check_integers("y", np.array([[1.0, 0.5]]), hint="Fix it.")
    with pytest.raises(ValueError, match=r"integer class ids \(numbers\).*dtype <U1"):
        v.check_integers("y", ["a"])


def test_check_index_range():
    from tfxfer.errors import InvalidDataError

    assert v.check_index_range("ids", [[0, 4], [-1, 2]], 5, ignore=-1).shape == (2, 2)
    match = (
        r"`ids` must hold token ids in \[0, 5\) for E\. Received: token ids from "
        r"0 to 9 \(9 at sample index 1; 2 of 4 out of range\)\. Fix\.$"
    )
    with pytest.raises(InvalidDataError, match=match):
        v.check_index_range(
            "ids",
            [[0, 4], [9, 7]],
            5,
            what="token ids",
            context=" for E",
            hint="Fix.",
            error=InvalidDataError,
        )
    with pytest.raises(ValueError, match=r"class ids >= 0\. .*-2 at sample index 2"):
        v.check_index_range("y", [0, 9, -2], None)


def test_check_probability_rows():
    rows = np.array([[0.25, 0.75], [1.0, 0.0]])
    assert v.check_probability_rows("p", rows) is rows
    assert v.check_probability_rows("p", np.eye(3), one_hot=True).shape == (3, 3)
    negative = np.array([[0.5, 0.5], [1.2, -0.2], [1.5, -0.5]])
    match = r"all non-negative; hint\. .*2 row\(s\).*row 1 with negative values"
    with pytest.raises(ValueError, match=match):
        v.check_probability_rows("p", negative, hint="; hint")
    with pytest.raises(ValueError, match=r"within 0\.1\).*row 0 sums to 1\.2"):
        v.check_probability_rows("p", np.array([[0.6, 0.6]]), tolerance=0.1)
    smoothed = np.array([[1.0, 0.0], [0.9, 0.1]])
    with pytest.raises(ValueError, match=r"a single 1 .*row 1: \[0\.9, 0\.1\]"):
        v.check_probability_rows("y", smoothed, one_hot=True)


def test_check_found():
    assert v.check_found("layer", "a", ["a"], ["a", "b"]) == ["a"]
    assert v.check_found("mapping", {}, 0, []) == 0  # found, if not a sequence
    match = (
        r"`mapping` must have target layers\. Received: mapping=\{'x': 'y'\} "
        r"\('x' is not one\)\. Targets: \['t1'\]"
    )
    with pytest.raises(ValueError, match=match):
        v.check_found(
            "mapping",
            {"x": "y"},
            None,
            ("t1",),
            expected="have target layers",
            detail=" ('x' is not one)",
            known_as="Targets",
        )


def test_check_not_string():
    assert v.check_not_string("texts", ("a",), "texts") == ("a",)
    with pytest.raises(
        ValueError, match=r"not a single string\. Received: texts=b'ab'"
    ):
        v.check_not_string("texts", b"ab", "a list of texts")
    long_text = "x" * 80
    with pytest.raises(ValueError, match=r"texts='x{50}'$"):
        v.check_not_string("texts", long_text, "a list of texts")


@pytest.mark.parametrize(
    "value, match",
    [
        ([1, 2], r"must be a dict mapping class ids \(ints\) to weights"),
        ({True: 1.0}, r"must be a dict mapping class ids"),
        ({0: np.nan}, r"finite non-negative weights .*class_weight\[0\]=nan"),
        ({1: -1}, r"a reward\)\. Received: class_weight\[1\]=-1"),
        ({1: "2"}, r"class_weight\[1\]='2'"),
    ],
)
def test_check_class_weight(value, match):
    from tfxfer.errors import InvalidDataError

    assert v.check_class_weight("class_weight", None) is None
    assert v.check_class_weight("class_weight", {np.int64(0): np.float32(2)}) == {0: 2}
    with pytest.raises(InvalidDataError, match=match):
        v.check_class_weight("class_weight", value, error=InvalidDataError)


def test_check_finite_array_error_class():
    from tfxfer.errors import InvalidDataError

    with pytest.raises(InvalidDataError, match=r"first at index \(1,\): inf"):
        v.check_finite_array("x", [0.0, np.inf], error=InvalidDataError)


def test_check_keys():
    assert v.check_keys("w", {"a": 1}, ["a", "b"], expected="name tasks") == {"a": 1}
    match = (
        r"`w` must name tasks \(\['a'\]\)\. Received: w with unknown keys \['c', 'd'\]"
    )
    with pytest.raises(ValueError, match=match):
        v.check_keys("w", {"a": 1, "c": 2, "d": 3}, ("a",), expected="name tasks")


def test_check_array_numeric_ranks_and_error_class():
    from tfxfer.errors import InvalidDataError

    assert v.check_array("x", [[1, 2]], ndim=(1, 2), numeric=True).shape == (1, 2)
    with pytest.raises(ValueError, match=r"a 1-D or 2-D array\. .*shape \(1, 1, 1\)$"):
        v.check_array("x", [[[1]]], ndim=(1, 2))
    for bad in ([True], ["a"], [1j]):
        with pytest.raises(InvalidDataError, match=r"x with shape \(1,\) and dtype"):
            v.check_array("x", bad, numeric=True, error=InvalidDataError)
    with pytest.raises(InvalidDataError, match=r"one label per row \(2\)\. .*1 label$"):
        v.check_length("y", [0], 2, "row", entry="label", error=InvalidDataError)

from __future__ import annotations

import pytest

from benchbench import metrics


def test_accuracy_and_macro_f1_by_hand():
    predictions = ["a", "a", "b", "b", "a"]
    references = ["a", "b", "b", "b", "c"]
    assert metrics.compute("accuracy", predictions, references)["accuracy"] == pytest.approx(3 / 5)
    # per label: a: P=1/3 R=1 F=0.5; b: P=1 R=2/3 F=0.8; c: F=0 -> mean 0.4333
    assert metrics.compute("macro_f1", predictions, references)["macro_f1"] == pytest.approx((0.5 + 0.8 + 0) / 3)


def test_labels_compare_as_strings_and_unknown_metric():
    assert metrics.compute("accuracy", [1, "0"], ["1", 0])["accuracy"] == 1.0
    with pytest.raises(KeyError, match="known"):
        metrics.compute("bleu2", [], [])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        metrics.compute("accuracy", ["a", "b"], ["a"])


def test_mcc_perfect_and_inverse():
    assert metrics.compute("mcc", [0, 1, 0, 1], [0, 1, 0, 1])["mcc"] == pytest.approx(1.0)
    assert metrics.compute("mcc", [1, 0, 1, 0], [0, 1, 0, 1])["mcc"] == pytest.approx(-1.0)

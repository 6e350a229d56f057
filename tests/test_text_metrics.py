"""Text metrics equal their reference implementations exactly (sacrebleu, rouge-score,
the official SQuAD definition), and intervals are sane and fast."""

from __future__ import annotations

import json
import time
import zipfile

import numpy as np
import pytest

from benchbench import metrics
from benchbench.metrics.squad import f1_score, normalize_answer

WMT = "translation/wmt22/generaltest2022.en-de"


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def wmt(shared_data):
    return {name: _lines(shared_data / f"{WMT}.{name}") for name in ("src.en", "ref.A.de", "ref.B.de")}


@pytest.mark.parametrize("name,cls,extra", [("bleu", "BLEU", {}), ("chrf", "CHRF", {}),
                                            ("chrf++", "CHRF", {"word_order": 2}), ("ter", "TER", {})])
def test_sacrebleu_scores_and_signatures_match_exactly(wmt, name, cls, extra):
    import sacrebleu.metrics

    hyps, ref_a = wmt["ref.B.de"], wmt["ref.A.de"]
    reference = getattr(sacrebleu.metrics, cls)(**extra)
    expected = reference.corpus_score(hyps, [ref_a])
    ours = metrics.compute(name, hyps, ref_a)
    assert ours[name] == expected.score
    assert ours["signature"] == str(reference.get_signature())
    # a system scored against both references
    two = getattr(sacrebleu.metrics, cls)(**extra)
    system = wmt["src.en"]  # any text works as a "system"; the scores are what matter
    expected_two = two.corpus_score(system, [ref_a, wmt["ref.B.de"]])
    ours_two = metrics.compute(name, system, [[a, b] for a, b in zip(ref_a, wmt["ref.B.de"])])
    assert ours_two[name] == expected_two.score
    assert ours_two["signature"] == str(two.get_signature()) and "nrefs:2" in ours_two["signature"]


def test_bleu_options_and_variable_reference_counts():
    import sacrebleu

    hyps = ["the cat sat on the mat", "a dog barked"]
    refs = [["the cat sat on the mat", "a cat sat"], ["the dog barked"]]
    expected = sacrebleu.corpus_bleu(hyps, [["the cat sat on the mat", "the dog barked"], ["a cat sat", None]],
                                     lowercase=True)
    assert metrics.compute("bleu", hyps, refs, lowercase=True)["bleu"] == expected.score


def test_unavailable_tokenizer_is_a_clear_error():
    from benchbench.errors import TaskConfigError

    with pytest.raises(TaskConfigError, match="cannot be built"):
        metrics.compute("bleu", ["a"], ["a"], tokenize="no-such-tokenizer")


@pytest.mark.parametrize("stemmer", [True, False])
def test_rouge_matches_rouge_score(stemmer, shared_data):
    from rouge_score import rouge_scorer

    rows = [json.loads(line) for line in (shared_data / "summarization/scitldr-a/test.jsonl").open()][:60]
    predictions = [row["source"][0] for row in rows]  # first sentence as a lead-1 "summary"
    references = [row["target"] for row in rows]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=stemmer)
    per_example = [scorer.score_multi(refs, pred) for pred, refs in zip(predictions, references)]
    ours = metrics.compute("rouge", predictions, references, use_stemmer=stemmer)
    for rouge_type in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        expected = 100 * np.mean([s[rouge_type].fmeasure for s in per_example])
        assert ours[rouge_type] == pytest.approx(expected, rel=1e-12)
    assert f"use_stemmer:{stemmer}" in ours["signature"]


def test_rouge_bootstrap_mid_and_scale():
    from rouge_score import rouge_scorer, scoring

    predictions = ["the cat sat", "dogs run fast", "a quick test"]
    references = ["the cat sat down", "the dogs ran", "quick tests"]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    np.random.seed(7)
    aggregator = scoring.BootstrapAggregator()
    for p, r in zip(predictions, references):
        aggregator.add_scores(scorer.score(r, p))
    expected = aggregator.aggregate()["rouge1"].mid.fmeasure
    ours = metrics.compute("rouge", predictions, references, aggregation="bootstrap_mid", seed=7, scale=1)
    assert ours["rouge1"] == pytest.approx(expected, rel=1e-12)


def test_squad_normalisation_and_counter_f1():
    assert normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert normalize_answer("an apple a day") == "apple day"
    # repeated tokens: Counter-based F1 (a set-based F1 would give 1.0)
    assert f1_score("dog dog cat", "dog cat cat") == pytest.approx(2 / 3)
    assert f1_score("the the cat", "cat") == pytest.approx(1.0)  # articles are dropped
    assert f1_score("cat cat", "cat") == pytest.approx(2 * 0.5 * 1 / 1.5)
    scores = metrics.compute("exact_match", ["Paris", "london"], [["paris", "Paris, France"], ["Berlin"]])
    assert scores["exact_match"] == 50.0


def test_squad_matches_transformers_squad_metrics(shared_data):
    squad_metrics = pytest.importorskip("transformers.data.metrics.squad_metrics")
    with zipfile.ZipFile(shared_data / "qa/squad-v1.1/dev-v1.1.json.zip") as archive:
        data = json.loads(archive.read(archive.namelist()[0]))
    questions = [(qa["answers"], para["context"]) for article in data["data"] for para in article["paragraphs"]
                 for qa in para["qas"]][:500]
    golds = [[a["text"] for a in answers] for answers, _ in questions]
    # predictions: a window of the context near the first answer, so scores vary
    predictions = [ctx[max(0, a[0]["answer_start"] - 5):a[0]["answer_start"] + len(a[0]["text"]) + 3]
                   for a, ctx in questions]
    em = np.mean([max(squad_metrics.compute_exact(g, p) for g in gs) for p, gs in zip(predictions, golds)])
    f1 = np.mean([max(squad_metrics.compute_f1(g, p) for g in gs) for p, gs in zip(predictions, golds)])
    assert metrics.compute("exact_match", predictions, golds)["exact_match"] == pytest.approx(100 * em)
    assert metrics.compute("f1", predictions, golds)["f1"] == pytest.approx(100 * f1)


def test_intervals_cover_the_score_and_are_fast():
    rng = np.random.default_rng(0)
    references = [str(x) for x in rng.integers(0, 3, 2000)]
    predictions = [r if rng.random() < 0.7 else "0" for r in references]
    started = time.perf_counter()
    for name in ("accuracy", "macro_f1", "mcc"):
        result, intervals = metrics.compute_with_intervals(name, predictions, references)
        value = result.scores[name]
        assert intervals[name].low < value < intervals[name].high
        assert intervals[name].high - intervals[name].low < 0.1
    assert time.perf_counter() - started < 10


def test_bleu_interval_is_fast_and_brackets_the_score(wmt):
    started = time.perf_counter()
    result, intervals = metrics.compute_with_intervals("bleu", wmt["ref.B.de"], wmt["ref.A.de"])
    elapsed = time.perf_counter() - started
    assert intervals["bleu"].low < result.scores["bleu"] < intervals["bleu"].high
    assert elapsed < 30


def test_confusion_form_matches_sklearn():
    from sklearn.metrics import f1_score as sk_f1
    from sklearn.metrics import matthews_corrcoef

    from benchbench.metrics.classification import _confusion_stats
    from benchbench.metrics.sums import SumScore

    rng = np.random.default_rng(1)
    refs = [str(x) for x in rng.integers(0, 4, 300)]
    preds = [str(x) for x in rng.integers(0, 4, 300)]
    labels = sorted(set(refs) | set(preds))
    sums = _confusion_stats(preds, refs, labels).sum(axis=0, keepdims=True)
    assert SumScore.of("macro_f1", labels=len(labels))(sums)[0] == pytest.approx(sk_f1(refs, preds, average="macro"))
    assert SumScore.of("mcc")(sums)[0] == pytest.approx(matthews_corrcoef(refs, preds))

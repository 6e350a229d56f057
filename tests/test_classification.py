"""Classification: head path (label mapping) and choices path (log-likelihood argmax)."""

from __future__ import annotations

import pytest
import torch
from helpers import backend

from benchbench.backends.hf.scoring import encode_pair
from benchbench.errors import TaskConfigError
from benchbench.tasks import TASK_TYPES
from benchbench.tasks.base import Scoring

TASK = TASK_TYPES["classification"]
ROWS = [{"text": t, "text_pair": None, "label": l} for t, l in [
    ("a good film, a joy", "positive"), ("a bad one, a long evening", "negative"),
    ("the quick brown fox", "positive"), ("bread needs time", "negative"),
    ("the lighthouse keeper wrote", "positive")]]


def _options(**overrides):
    options = {name: spec.default for name, spec in TASK.options.items()}
    return options | overrides


def _run(loaded, rows, options, batch_size=4):
    settings = TASK.settings(loaded, options, (), rows)
    results = sorted((r for b in TASK.predict(loaded, rows, settings, batch_size) for r in b),
                     key=lambda r: r.index)
    return settings, results


def test_head_maps_labels_by_name_case_insensitively(tiny_bert_classifier):
    loaded = backend(tiny_bert_classifier, "sequence-classification")
    settings, results = _run(loaded, ROWS, _options())
    assert settings["label_map"] == {"0": "negative", "1": "positive"}
    encoded = loaded.loaded.tokenizer([r["text"] for r in ROWS], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected_ids = loaded.loaded.model(**encoded).logits.argmax(-1).tolist()
    assert [r.details["class_id"] for r in results] == expected_ids
    assert [r.prediction for r in results] == [settings["label_map"][str(i)] for i in expected_ids]
    figures = TASK.score(results, settings, Scoring()).scores
    hits = sum(r.prediction == r.reference for r in results)
    assert figures["accuracy"] == pytest.approx(hits / len(ROWS))
    assert set(figures) == {"accuracy", "macro_f1"}


def test_head_label_map_option_and_integer_labels(tiny_bert_classifier):
    loaded = backend(tiny_bert_classifier, "sequence-classification")
    settings = TASK.settings(loaded, _options(label_map={"NEGATIVE": "bad", "POSITIVE": "good"}), (),
                             [{"text": "x", "label": "good"}])
    assert settings["label_map"] == {"0": "bad", "1": "good"}
    settings = TASK.settings(loaded, _options(), (), [{"text": "x", "label": 0}, {"text": "y", "label": 1}])
    assert settings["label_map"] == {"0": "0", "1": "1"}
    with pytest.raises(TaskConfigError, match="label_map"):
        TASK.settings(loaded, _options(), (), [{"text": "x", "label": "spam"}])


def test_choices_pick_the_most_likely_continuation(tiny_gpt2):
    loaded = backend(tiny_gpt2)
    options = _options(prompt="Review: {text}\nSentiment:", choices={"positive": " positive", "negative": " negative"})
    settings, results = _run(loaded, ROWS, options)
    for row, result in zip(ROWS, results):
        context = f"Review: {row['text']}\nSentiment:"
        sums, norms = {}, {}
        for label, text in options["choices"].items():
            ids = loaded.loaded.tokenizer(context + text)["input_ids"]
            n_context = len(loaded.loaded.tokenizer(context)["input_ids"])
            with torch.no_grad():
                logprobs = torch.log_softmax(loaded.loaded.model(torch.tensor([ids])).logits[0].double(), -1)
            sums[label] = sum(float(logprobs[i - 1, ids[i]]) for i in range(n_context, len(ids)))
            norms[label] = sums[label] / len(text.strip())
        assert result.details["loglikelihoods"] == pytest.approx(sums, rel=1e-5)
        assert result.prediction == max(sums, key=sums.get)
        assert result.details["prediction_norm"] == max(norms, key=norms.get)
    figures = TASK.score(results, settings, Scoring()).scores
    assert set(figures) == {"accuracy", "acc_norm", "macro_f1"}


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama"])
def test_choices_do_not_depend_on_batch_size(fixture, request):
    loaded = backend(request.getfixturevalue(fixture))
    options = _options(choices={"positive": " positive", "negative": " negative"})
    single = _run(loaded, ROWS, options, batch_size=1)[1]
    batched = _run(loaded, ROWS, options, batch_size=16)[1]
    for a, b in zip(single, batched):
        assert a.details["loglikelihoods"] == pytest.approx(b.details["loglikelihoods"], rel=1e-5)
        assert a.prediction == b.prediction


def test_encode_pair_moves_trailing_space_to_continuation(tiny_gpt2):
    tokenizer = backend(tiny_gpt2).loaded.tokenizer
    context, continuation = encode_pair(tokenizer, "Answer: ", "yes")
    assert context == tokenizer("Answer:")["input_ids"]
    assert context + continuation == tokenizer("Answer: yes")["input_ids"]


def test_method_selection(tiny_bert_classifier, tiny_t5):
    from benchbench.backends.base import CLASSIFY
    from benchbench.backends.hf.backend import HFBackend
    from benchbench.spec import CheckpointSpec, ModelSpec, Runtime

    def profile_of(folder):
        return HFBackend(ModelSpec(folder.name, "hf", CheckpointSpec(str(folder))), Runtime(), "cpu").profile

    assert TASK.need(_options(), profile_of(tiny_bert_classifier)) == CLASSIFY
    profile = profile_of(tiny_t5)
    assert profile.family == "encoder-decoder"
    with pytest.raises(TaskConfigError, match="no sequence-classification head"):
        TASK.need(_options(), profile)


def test_acc_norm_with_head_is_an_error(tiny_bert_classifier):
    loaded = backend(tiny_bert_classifier, "sequence-classification")
    with pytest.raises(TaskConfigError, match="acc_norm"):
        TASK.settings(loaded, _options(), ("acc_norm",), ROWS)

"""Text classification, two ways.

- ``head``: a model with a sequence-classification head. Argmax of the logits, mapped
  through the model's id2label to the dataset's labels (explicit ``label_map``, else by
  name, else by index when the dataset's labels are integers).
- ``choices``: a language model without a head. Each label has a continuation text; the
  prediction is the label whose continuation has the highest summed log-likelihood after
  the prompt (``accuracy``), or the highest log-likelihood per character (``acc_norm``),
  as lm-evaluation-harness's multiple-choice scoring does.
- ``generation``: a model that can only generate (a server that returns no
  log-probabilities): greedy answer after the prompt, matched to the label whose choice
  text appears first in it (``match_answer``); an answer that names none is wrong.
"""

from __future__ import annotations

import re
import string
from typing import Any, Iterator

from benchbench.backends.base import (
    CLASSIFY,
    GENERATE,
    LOGLIKELIHOOD,
    ClassifyRequest,
    Generation,
    GenerationSettings,
    LogLikelihood,
    LoglikelihoodRequest,
    ModelBackend,
    Profile,
    RequestFailed,
)
from benchbench.backends.capabilities import Classifier, Generator, Scorer, require
from benchbench.errors import TaskConfigError
from benchbench.schema import key
from benchbench.tasks.base import ExampleResult, Scoring, TaskScores, score_metrics
from benchbench.tasks.flags import majority_share, one_label
from benchbench.tasks.generation_options import generation_details
from benchbench.tasks.prompts import chat_wrapping, check_chat_format, render_prompt

_HEAD_DEFAULT_METRICS = ("accuracy", "macro_f1")
_CHOICE_DEFAULT_METRICS = ("accuracy", "acc_norm", "macro_f1")
_ANSWER_TOKENS = 16  # generation: enough for any label word, short enough to stay cheap
_ANSWER_MATCHING = ("the label whose choice text (lowercased, without surrounding spaces and punctuation) appears "
                    "first in the answer as whole words; an answer in which none appears is wrong")


class Classification:
    name = "classification"
    description = "label a text (or text pair): classification head or LM log-likelihood of each label"
    fields = {
        "text": key(str, required=True),
        "text_pair": key(str, None, help="second text for pair tasks (NLI, paraphrase)"),
        "label": key((str, int), required=True),
    }
    metrics = ("accuracy", "acc_norm", "macro_f1", "mcc")
    primary_metric = "accuracy"
    example_score_name = "correct"
    options = {
        "method": key(str, "auto", choices=("auto", "head", "choices", "generation"),
                      help="auto: head if the model has one, else choices where the model gives log-likelihoods, "
                           "else generation"),
        "prompt": key(str, "{text}\nAnswer:", help="choices, generation: prompt template; {text}, {text_pair}"),
        "choices": key(dict, None, help="choices, generation: label -> continuation text, e.g. {1: ' positive'}"),
        "chat_template": key(bool, False, help="choices, generation: wrap the prompt in the model's chat template"),
        "label_map": key(dict, None, help="head: model label name -> dataset label"),
        "max_length": key(int, None, bounds="[1, inf)", help="head: truncate inputs to this many tokens"),
    }

    def need(self, options: dict[str, Any], profile: Profile) -> str:
        method = options["method"]
        if method == "head" or (method == "auto" and CLASSIFY in profile.native):
            if CLASSIFY not in profile.loadable:
                raise profile.cannot(CLASSIFY, "classification: this model cannot load a classification head")
            return CLASSIFY
        if method == "generation" or (method == "auto" and LOGLIKELIHOOD not in profile.loadable
                                      and GENERATE in profile.loadable and LOGLIKELIHOOD in profile.why_not):
            if GENERATE not in profile.loadable:
                raise profile.cannot(GENERATE, f"classification by generation needs a model that generates text; "
                                               f"this model is an {profile.family}")
            return GENERATE
        if LOGLIKELIHOOD not in profile.loadable:
            raise profile.cannot(LOGLIKELIHOOD,
                f"classification: this {profile.family} model has no sequence-classification head in its "
                "config, and the choices method needs a causal LM; use a fine-tuned classifier "
                "or set options.method: head to load one anyway (it would be randomly initialised)")
        return LOGLIKELIHOOD

    def settings(self, backend: ModelBackend, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        method = {CLASSIFY: "head", LOGLIKELIHOOD: "choices", GENERATE: "generation"}[
            self.need(options, backend.profile)]
        labels = _label_set(options, rows)
        if method == "head":
            if "acc_norm" in metrics:
                raise TaskConfigError("classification: acc_norm applies to the choices method only")
            return {"method": "head", "labels": labels, "max_length": options["max_length"],
                    "label_map": _head_label_map(require(backend, Classifier).class_labels(), options, labels)}
        check_chat_format(backend, options["chat_template"])
        choices = options["choices"] or {label: f" {label}" for label in labels}
        common = {"method": method, "labels": labels, "prompt": options["prompt"],
                  "choices": {str(k): v for k, v in choices.items()}, "chat_template": options["chat_template"],
                  **chat_wrapping(backend, options["chat_template"], None)}
        if method == "generation":
            return common | {"answer_matching": _ANSWER_MATCHING, "max_new_tokens": _ANSWER_TOKENS, "stop": ["\n"],
                             **require(backend, Generator).describe_generation()}
        return common | {"acc_norm_length": "characters of the choice text, leading whitespace excluded",
                         **require(backend, Scorer).describe_scoring(LOGLIKELIHOOD)}

    def predict(self, backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        if settings["method"] == "choices":
            yield from _predict_choices(backend, rows, settings, batch_size)
            return
        if settings["method"] == "generation":
            yield from _predict_by_generation(backend, rows, settings, batch_size)
            return
        order = sorted(range(len(rows)), key=lambda i: -len(str(rows[i]["text"])))
        for start in range(0, len(order), batch_size):
            yield _predict_head(backend, [(i, rows[i]) for i in order[start:start + batch_size]], settings)

    def score(self, results: list[ExampleResult], settings: dict[str, Any], scoring: Scoring) -> TaskScores:
        wanted = scoring.metrics or (_HEAD_DEFAULT_METRICS if settings["method"] == "head"
                                     else _CHOICE_DEFAULT_METRICS)
        references = [r.reference for r in results]
        registry = [name for name in wanted if name != "acc_norm"]
        scored = score_metrics(registry, [r.prediction for r in results], references, scoring,
                               labels=settings["labels"])
        if "acc_norm" in wanted and settings["method"] == "generation":
            scored.failures["acc_norm"] = "needs log-likelihoods (method choices); this model classified by generation"
        elif "acc_norm" in wanted:
            normed = score_metrics(["accuracy"], [r.details["prediction_norm"] for r in results],
                                   references, scoring)
            scored.add(TaskScores({"acc_norm": normed.scores["accuracy"]},
                                  {"acc_norm": normed.intervals["accuracy"]} if normed.intervals else {},
                                  {"acc_norm": "accuracy of argmax(loglikelihood / len(choice))"},
                                  stats={"acc_norm": normed.stats["accuracy"]}))
        baseline = majority_share(references)
        scored.baselines = {m: baseline for m in ("accuracy", "acc_norm") if m in scored.scores and baseline is not None}
        scored.flags += one_label([r.prediction for r in results])
        return scored

    def example_score(self, prediction: Any, reference: Any, details: dict[str, Any]) -> float:
        return float(str(prediction) == str(reference))

    def sequence_lengths(self, settings: dict[str, Any]) -> tuple[int | None, int]:
        return settings.get("max_length"), 0


def _label_set(options: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """The labels predictions are made among. With explicit choices every label of the data
    must be one of them: a label no choice can produce would be scored wrong every time."""
    in_data = sorted({str(row["label"]) for row in rows})
    if not options["choices"]:
        return in_data
    choices = [str(k) for k in options["choices"]]
    unknown = [label for label in in_data if label not in choices]
    if unknown:
        raise TaskConfigError(f"classification: the data has label(s) {unknown} that no choice produces "
                              f"(options.choices: {choices}); name the choices after the data's labels, "
                              f"e.g. {{{unknown[0]!r}: ' {unknown[0]}'}}")
    return choices


def _head_label_map(id2label: dict[int, str], options: dict[str, Any], labels: list[str]) -> dict[str, str]:
    """model class id (as str) -> dataset label (as str)."""
    if options["label_map"]:
        by_name = {str(k): str(v) for k, v in options["label_map"].items()}
        missing = [name for name in id2label.values() if name not in by_name]
        if missing:
            raise TaskConfigError(f"classification: label_map does not map model label(s) {missing}; "
                                  f"the model's labels are {sorted(id2label.values())}")
        return {str(i): by_name[name] for i, name in id2label.items()}
    lowered = {label.lower(): label for label in labels}
    if all(name.lower() in lowered for name in id2label.values()):
        return {str(i): lowered[name.lower()] for i, name in id2label.items()}
    if all(label.lstrip("-").isdigit() for label in labels):
        return {str(i): str(i) for i in id2label}
    raise TaskConfigError(
        f"classification: cannot match the model's labels {sorted(id2label.values())} to the "
        f"dataset's labels {labels}; add options.label_map: {{model label: dataset label}}")


def _predict_head(backend: ModelBackend, batch: list[tuple[int, dict[str, Any]]],
                  settings: dict[str, Any]) -> list[ExampleResult]:
    requests = [ClassifyRequest(str(row["text"]), row["text_pair"]) for _, row in batch]
    return [ExampleResult(index=index, input=_show_input(row), prediction=settings["label_map"][str(p.class_id)],
                          reference=str(row["label"]),
                          details={"class_id": p.class_id, "confidence": p.confidence, "prompt_tokens": p.tokens_read})
            for (index, row), p in zip(batch, require(backend, Classifier).classify(requests, settings["max_length"]))]


def _predict_choices(backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any],
                     batch_size: int) -> Iterator[list[ExampleResult]]:
    """Every (example, choice) pair goes to the backend at once, so it can sort them all by
    length and share work between the choices of one prompt; an example is yielded as soon
    as the batch holding its last choice is back."""
    labels, choice_texts = list(settings["choices"]), list(settings["choices"].values())
    contexts = [render_prompt(backend, settings["prompt"], row, {}, settings["chat_template"]) for row in rows]
    requests = [LoglikelihoodRequest(context, text) for context in contexts for text in choice_texts]
    scores: dict[int, list[LogLikelihood | RequestFailed | None]] = {}
    for batch in require(backend, Scorer).loglikelihood(requests, batch_size):
        finished = []
        for request_index, scored in batch:
            example, choice = divmod(request_index, len(labels))
            mine = scores.setdefault(example, [None] * len(labels))
            mine[choice] = scored
            if all(s is not None for s in mine):
                finished.append(_choice_result(example, rows[example], scores.pop(example), labels, choice_texts))
        if finished:
            yield finished
    if scores:  # a backend that skipped requests: a bug there, never a silent gap in the results
        raise RuntimeError(f"the backend returned no log-likelihood for some choices of {len(scores)} examples")


def _predict_by_generation(backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any],
                           batch_size: int) -> Iterator[list[ExampleResult]]:
    prompts = [render_prompt(backend, settings["prompt"], row, {}, settings["chat_template"]) for row in rows]
    greedy = GenerationSettings(max_new_tokens=settings["max_new_tokens"], num_beams=1, do_sample=False,
                                temperature=None, top_p=None, top_k=None, seed=0, stop=settings["stop"])
    for batch in require(backend, Generator).generate(prompts, greedy, batch_size):
        yield [_generated_result(i, rows[i], out, settings["choices"]) for i, out in batch]


def _generated_result(index: int, row: dict[str, Any], out: Generation | RequestFailed,
                      choices: dict[str, str]) -> ExampleResult:
    if isinstance(out, RequestFailed):
        return ExampleResult.failed(index, _show_input(row), str(row["label"]), out)
    label = match_answer(out.text, choices)
    return ExampleResult(index=index, input=_show_input(row), prediction=label or "", reference=str(row["label"]),
                         details={"answer": out.text, "matched": label is not None, **generation_details(out)})


def match_answer(answer: str, choices: dict[str, str]) -> str | None:
    """The label whose choice text appears first in the answer, as whole words, ignoring case
    and the choice's surrounding spaces and punctuation (at one position the longest wins:
    'not bad' over 'not'); None when no choice appears."""
    found = []
    for label, text in choices.items():
        words = text.lower().strip(string.whitespace + string.punctuation)
        match = re.search(rf"(?<!\w){re.escape(words)}(?!\w)", answer.lower()) if words else None
        if match:
            found.append((match.start(), -len(words), label))
    return min(found)[2] if found else None


def _choice_result(index: int, row: dict[str, Any], mine: list[LogLikelihood | RequestFailed], labels: list[str],
                   choice_texts: list[str]) -> ExampleResult:
    failed = next((s for s in mine if isinstance(s, RequestFailed)), None)
    if failed is not None:
        return ExampleResult.failed(index, _show_input(row), str(row["label"]), failed)
    sums = [s.total for s in mine]
    normed = [s.total / max(1, len(text.lstrip())) for s, text in zip(mine, choice_texts)]
    return ExampleResult(
        index=index, input=_show_input(row), prediction=labels[sums.index(max(sums))], reference=str(row["label"]),
        details={"loglikelihoods": dict(zip(labels, sums)), "prediction_norm": labels[normed.index(max(normed))],
                 "prompt_tokens": sum(s.tokens_read for s in mine)})


def _show_input(row: dict[str, Any]) -> str:
    return str(row["text"]) if row.get("text_pair") is None else f"{row['text']}\n{row['text_pair']}"

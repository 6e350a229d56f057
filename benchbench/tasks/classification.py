"""Text classification, two ways.

- ``head``: a model with a sequence-classification head. Argmax of the logits, mapped
  through the model's id2label to the dataset's labels (explicit ``label_map``, else by
  name, else by index when the dataset's labels are integers).
- ``choices``: a language model without a head. Each label has a continuation text; the
  prediction is the label whose continuation has the highest summed log-likelihood after
  the prompt (``accuracy``), or the highest log-likelihood per character (``acc_norm``),
  as lm-evaluation-harness's multiple-choice scoring does.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch

from benchbench.errors import TaskConfigError
from benchbench.models.loading import LoadedModel
from benchbench.schema import key
from benchbench.tasks.base import ExampleResult, TaskScores, score_metrics
from benchbench.tasks.generation import apply_chat_template, render, special_tokens_kwargs
from benchbench.tasks.loglikelihood import score_requests

_HEAD_DEFAULT_METRICS = ("accuracy", "macro_f1")
_CHOICE_DEFAULT_METRICS = ("accuracy", "acc_norm", "macro_f1")


class Classification:
    name = "classification"
    description = "label a text (or text pair): classification head or LM log-likelihood of each label"
    fields = {
        "text": key(str, required=True),
        "text_pair": key(str, None, help="second text for pair tasks (NLI, paraphrase)"),
        "label": key((str, int), required=True),
    }
    metrics = ("accuracy", "acc_norm", "macro_f1", "mcc")
    options = {
        "method": key(str, "auto", choices=("auto", "head", "choices"),
                      help="auto: head if the model has one, else choices"),
        "prompt": key(str, "{text}\nAnswer:", help="choices: prompt template; {text}, {text_pair}"),
        "choices": key(dict, None, help="choices: label -> continuation text, e.g. {1: ' positive'}"),
        "chat_template": key(bool, False, help="choices: wrap the prompt in the tokenizer's chat template"),
        "label_map": key(dict, None, help="head: model label name -> dataset label"),
        "max_length": key(int, None, help="head: truncate inputs to this many tokens"),
    }

    def head(self, options: dict[str, Any], config: Any, family: str) -> str:
        has_head = any(a.endswith("ForSequenceClassification")
                       for a in (getattr(config, "architectures", None) or []))
        method = options["method"]
        if method == "head" or (method == "auto" and has_head):
            return "sequence-classification"
        if family != "decoder-only":
            raise TaskConfigError(
                f"classification: this {family} model has no sequence-classification head in its "
                "config, and the choices method needs a causal LM; use a fine-tuned classifier "
                "or set options.method: head to load one anyway (it would be randomly initialised)")
        return "causal-lm"

    def settings(self, loaded: LoadedModel, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        method = "head" if loaded.info.head == "sequence-classification" else "choices"
        labels = _label_set(options, rows)
        if method == "head":
            if "acc_norm" in metrics:
                raise TaskConfigError("classification: acc_norm applies to the choices method only")
            return {"method": "head", "labels": labels, "max_length": options["max_length"],
                    "label_map": _head_label_map(loaded, options, labels)}
        choices = options["choices"] or {label: f" {label}" for label in labels}
        return {"method": "choices", "labels": labels, "prompt": options["prompt"],
                "choices": {str(k): v for k, v in choices.items()},
                "chat_template": options["chat_template"],
                "acc_norm_length": "characters of the choice text, leading whitespace excluded"}

    def predict(self, loaded: LoadedModel, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        order = sorted(range(len(rows)), key=lambda i: -len(str(rows[i]["text"])))
        for start in range(0, len(order), batch_size):
            batch = [(i, rows[i]) for i in order[start:start + batch_size]]
            if settings["method"] == "head":
                yield _predict_head(loaded, batch, settings)
            else:
                yield _predict_choices(loaded, batch, settings, batch_size)

    def score(self, results: list[ExampleResult], settings: dict[str, Any],
              metrics: tuple[str, ...]) -> TaskScores:
        wanted = metrics or (_HEAD_DEFAULT_METRICS if settings["method"] == "head"
                             else _CHOICE_DEFAULT_METRICS)
        references = [r.reference for r in results]
        registry = [name for name in wanted if name != "acc_norm"]
        scored = score_metrics(registry, [r.prediction for r in results], references, settings,
                               labels=settings["labels"])
        if "acc_norm" in wanted:
            normed = score_metrics(["accuracy"], [r.details["prediction_norm"] for r in results],
                                   references, settings)
            scored.add(TaskScores({"acc_norm": normed.scores["accuracy"]},
                                  {"acc_norm": normed.intervals["accuracy"]} if normed.intervals else {},
                                  {"acc_norm": "accuracy of argmax(loglikelihood / len(choice))"}))
        return scored


def _label_set(options: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    if options["choices"]:
        return [str(k) for k in options["choices"]]
    return sorted({str(row["label"]) for row in rows})


def _head_label_map(loaded: LoadedModel, options: dict[str, Any], labels: list[str]) -> dict[str, str]:
    """model class id (as str) -> dataset label (as str)."""
    id2label = {int(i): str(name) for i, name in loaded.model.config.id2label.items()}
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


@torch.inference_mode()
def _predict_head(loaded: LoadedModel, batch: list[tuple[int, dict[str, Any]]],
                  settings: dict[str, Any]) -> list[ExampleResult]:
    tokenizer, model = loaded.tokenizer, loaded.model
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    texts = [str(row["text"]) for _, row in batch]
    pairs = [row["text_pair"] for _, row in batch]
    encoded = tokenizer(texts, pairs if all(p is not None for p in pairs) else None, padding=True,
                        truncation=True, max_length=settings["max_length"] or loaded.info.max_length,
                        return_tensors="pt").to(loaded.device)
    logits = model(**encoded).logits.float()
    probabilities = torch.softmax(logits, dim=-1)
    results = []
    lengths = encoded["attention_mask"].sum(dim=1).tolist()
    for (index, row), class_id, probs, n in zip(batch, logits.argmax(dim=-1).tolist(), probabilities, lengths):
        prediction = settings["label_map"][str(class_id)]
        results.append(ExampleResult(
            index=index, input=_show_input(row), prediction=prediction, reference=str(row["label"]),
            details={"class_id": class_id, "confidence": float(probs[class_id]), "prompt_tokens": int(n)}))
    return results


def _predict_choices(loaded: LoadedModel, batch: list[tuple[int, dict[str, Any]]],
                     settings: dict[str, Any], batch_size: int) -> list[ExampleResult]:
    labels, choice_texts = list(settings["choices"]), list(settings["choices"].values())
    requests = []
    for _, row in batch:
        context = _render_prompt(loaded, settings, row)
        requests.extend(encode_pair(loaded.tokenizer, context, text) for text in choice_texts)
    scores = score_requests(loaded, requests, batch_size)
    results = []
    for n, (index, row) in enumerate(batch):
        mine = scores[n * len(labels):(n + 1) * len(labels)]
        sums = [s.total for s in mine]
        normed = [s.total / max(1, len(text.lstrip())) for s, text in zip(mine, choice_texts)]
        read = sum(len(ctx) + len(cont) - 1 for ctx, cont in requests[n * len(labels):(n + 1) * len(labels)])
        results.append(ExampleResult(
            index=index, input=_show_input(row), prediction=labels[sums.index(max(sums))],
            reference=str(row["label"]),
            details={"loglikelihoods": dict(zip(labels, sums)),
                     "prediction_norm": labels[normed.index(max(normed))], "prompt_tokens": read}))
    return results


def _render_prompt(loaded: LoadedModel, settings: dict[str, Any], row: dict[str, Any]) -> str:
    prompt = render(settings["prompt"], row, {})
    return apply_chat_template(loaded, prompt, None) if settings["chat_template"] else prompt


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Tokens of (context, continuation) as lm-evaluation-harness's ``_encode_pair``:
    trailing spaces of the context move to the continuation, the whole string is encoded
    once and split at the context's length. Special tokens follow the tokenizer's default
    (e.g. Gemma prepends BOS), unless the text already starts with the BOS token."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    special = special_tokens_kwargs(tokenizer, context)
    whole = tokenizer(context + continuation, **special)["input_ids"]
    context_ids = tokenizer(context, **special)["input_ids"]
    if not context_ids:  # empty prompt: condition on BOS (or EOS), as lm-evaluation-harness does
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        return [prefix], whole
    return context_ids, whole[len(context_ids):]


def _show_input(row: dict[str, Any]) -> str:
    return str(row["text"]) if row.get("text_pair") is None else f"{row['text']}\n{row['text_pair']}"

"""Extractive QA span decoding, as the transformers question-answering pipeline does it.

For each example the (question, context) pair is tokenized with overflow: windows of
`max_seq_len` tokens over the context, overlapping by `doc_stride` (question first when
the tokenizer pads on the right). In each window the start and end logits outside the
context (question, special and padding tokens; the CLS token is kept) are set to -10000,
softmax-normalised, the CLS probability zeroed, and the best spans scored as
p(start) * p(end) with start <= end < start + max_answer_len. The top candidates of all
windows are mapped to character offsets (aligned to whole words), candidates with the
same text (case-insensitive) add their scores, and the best total wins.

Unlike the pipeline, windows of many examples are batched (right-padded; logits are cut
back to each window's length before decoding, so padding does not change the answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchbench.backends.base import Span, SpanSettings
from benchbench.backends.hf.loading import LoadedModel
from benchbench.errors import TaskConfigError

PIPELINE_DEFAULTS = {"max_seq_len": 384, "doc_stride": 128, "top_candidates": 12}


@dataclass
class Window:
    example: int
    input_ids: list[int]
    model_inputs: dict[str, list[int]]
    undesired: np.ndarray  # 1 where a token may be part of the answer (context or CLS), else 0
    encoding: Any


@dataclass
class Answer:
    text: str
    start: int
    end: int
    score: float


def span_settings(loaded: LoadedModel, max_seq_len: int | None, doc_stride: int | None,
                  max_answer_len: int) -> SpanSettings:
    """The pipeline's defaults, resolved against the tokenizer (question first when it pads right)."""
    max_seq_len = max_seq_len or min(loaded.tokenizer.model_max_length, PIPELINE_DEFAULTS["max_seq_len"])
    doc_stride = doc_stride or min(max_seq_len // 2, PIPELINE_DEFAULTS["doc_stride"])
    if doc_stride >= max_seq_len:
        raise TaskConfigError(f"qa: doc_stride {doc_stride} must be smaller than max_seq_len {max_seq_len}")
    return SpanSettings(max_seq_len, doc_stride, max_answer_len, PIPELINE_DEFAULTS["top_candidates"],
                        question_first=loaded.tokenizer.padding_side == "right")


def windows_for(loaded: LoadedModel, questions: list[str], contexts: list[str], max_seq_len: int,
                doc_stride: int) -> list[Window]:
    tokenizer = loaded.tokenizer
    question_first = tokenizer.padding_side == "right"
    encoded = tokenizer(questions if question_first else contexts, contexts if question_first else questions,
                        truncation="only_second" if question_first else "only_first",
                        max_length=max_seq_len, stride=doc_stride, return_token_type_ids=True,
                        return_overflowing_tokens=True, return_offsets_mapping=True)
    names = [n for n in tokenizer.model_input_names if n in encoded]
    windows = []
    for i, example in enumerate(encoded["overflow_to_sample_mapping"]):
        ids = encoded["input_ids"][i]
        sequence_ids = encoded.sequence_ids(i)
        # As the pipeline: only context tokens when the question comes first; every token
        # otherwise (its p_mask is all zeros for left-padding tokenizers).
        desired = np.array([s == 1 if question_first else True for s in sequence_ids], dtype=np.int64)
        if tokenizer.cls_token_id is not None:
            desired[np.array(ids) == tokenizer.cls_token_id] = 1
        windows.append(Window(example, ids, {n: encoded[n][i] for n in names}, desired, encoded.encodings[i]))
    return windows


@torch.inference_mode()
def window_logits(loaded: LoadedModel, windows: list[Window], batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Start and end logits (float32) of every window, batched longest first."""
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].input_ids))
    out: list[Any] = [None] * len(windows)
    pad = loaded.tokenizer.pad_token_id or 0
    for begin in range(0, len(order), batch_size):
        batch = [windows[i] for i in order[begin:begin + batch_size]]
        width = max(len(w.input_ids) for w in batch)
        tensors = {}
        for name in batch[0].model_inputs:
            fill = pad if name == "input_ids" else 0
            tensors[name] = torch.tensor([w.model_inputs[name] + [fill] * (width - len(w.input_ids)) for w in batch],
                                         device=loaded.device)
        result = loaded.model(**tensors)
        starts, ends = result.start_logits.float().cpu().numpy(), result.end_logits.float().cpu().numpy()
        for row, index in enumerate(order[begin:begin + batch_size]):
            n = len(windows[index].input_ids)
            out[index] = (starts[row, :n], ends[row, :n])
    return out


def best_spans(start: np.ndarray, end: np.ndarray, desired: np.ndarray, max_answer_len: int,
               top: int) -> list[tuple[int, int, float]]:
    """Top span candidates of one window: (start token, end token, probability score)."""
    start = np.where(desired == 0, np.float32(-10000.0), start)
    end = np.where(desired == 0, np.float32(-10000.0), end)
    start = np.exp(start - start.max())
    start = start / start.sum()
    end = np.exp(end - end.max())
    end = end / end.sum()
    start[0] = end[0] = 0.0  # never the first token (CLS)
    candidates = np.tril(np.triu(np.outer(start, end)), max_answer_len - 1)
    flat = candidates.ravel()
    if top >= len(flat):
        ranked = np.argsort(-flat)
    else:
        ranked = np.argpartition(-flat, top)[:top]
        ranked = ranked[np.argsort(-flat[ranked])]
    starts, ends = np.unravel_index(ranked, candidates.shape)
    allowed = set(np.nonzero(desired)[0].tolist()) | {0}
    return [(int(s), int(e), float(candidates[s, e])) for s, e in zip(starts, ends) if s in allowed and e in allowed]


def char_span(encoding: Any, start: int, end: int, sequence_index: int) -> tuple[int, int]:
    """Character offsets of the words containing the start and end tokens (token offsets
    when the tokenizer has no word ids for them)."""
    try:
        first = encoding.word_to_chars(encoding.token_to_word(start), sequence_index=sequence_index)[0]
        last = encoding.word_to_chars(encoding.token_to_word(end), sequence_index=sequence_index)[1]
        return first, last
    except Exception:  # tokenizers raise TypeError/ValueError when a token has no word
        return encoding.offsets[start][0], encoding.offsets[end][1]


def answer_examples(loaded: LoadedModel, questions: list[str], contexts: list[str], settings: SpanSettings,
                    batch_size: int) -> list[Span]:
    windows = windows_for(loaded, questions, contexts, settings.max_seq_len, settings.doc_stride)
    logits = window_logits(loaded, windows, batch_size)
    sequence_index = 1 if loaded.tokenizer.padding_side == "right" else 0
    candidates: list[list[Answer]] = [[] for _ in questions]
    read = [0] * len(questions)
    for window, (start, end) in zip(windows, logits):
        read[window.example] += len(window.input_ids)
        pool = candidates[window.example]
        for s, e, score in best_spans(start, end, window.undesired, settings.max_answer_len,
                                      settings.top_candidates):
            first, last = char_span(window.encoding, s, e, sequence_index)
            text = contexts[window.example][first:last]
            same = next((a for a in pool if a.text.lower() == text.lower()), None)
            if same:
                same.score += score
            else:
                pool.append(Answer(text, first, last, score))
    best = [max(pool, key=lambda a: a.score) if pool else Answer("", 0, 0, 0.0) for pool in candidates]
    return [Span(a.text, a.start, a.end, a.score, tokens) for a, tokens in zip(best, read)]

"""Generation tasks scored against references: translation and summarization.

One implementation, configured per task type: the fields, the default prompt for each
model family, default metrics, max_new_tokens and stop sequences. Decoder-only models
see a prompt template (optionally through their chat template); encoder-decoder models
see the rendered source (e.g. ``"translate English to German: {source}"`` for T5, set
per model with ``task_options``). Only generated text is scored. Translation also sets
NLLB/M2M's forced target-language token and source language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from benchbench.backends.base import GENERATE, ModelBackend, Profile, RequestFailed
from benchbench.backends.capabilities import Generator, Vocabulary, require
from benchbench.errors import TaskConfigError
from benchbench.schema import Key, key
from benchbench.tasks.base import ExampleResult, Scoring, TaskScores, score_metrics
from benchbench.tasks.flags import degenerate_text
from benchbench.tasks.generation_options import (
    GENERATION_OPTIONS,
    generation_details,
    generation_request,
    generation_settings,
)
from benchbench.tasks.prompts import check_chat_format, render, render_prompt

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
                  "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "uk": "Ukrainian", "cs": "Czech",
                  "pl": "Polish", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ar": "Arabic",
                  "hi": "Hindi", "tr": "Turkish", "sv": "Swedish", "fi": "Finnish", "ro": "Romanian"}
NLLB_CODES = {"en": "eng_Latn", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "it": "ita_Latn",
              "pt": "por_Latn", "nl": "nld_Latn", "ru": "rus_Cyrl", "uk": "ukr_Cyrl", "cs": "ces_Latn",
              "pl": "pol_Latn", "zh": "zho_Hans", "ja": "jpn_Jpan", "ko": "kor_Hang", "ar": "arb_Arab",
              "hi": "hin_Deva", "tr": "tur_Latn", "sv": "swe_Latn", "fi": "fin_Latn", "ro": "ron_Latn"}


def _language_codes(code: str | None) -> list[str]:
    """How multilingual tokenizers may spell a language: as given, NLLB's code, M2M's __xx__."""
    return [code, NLLB_CODES.get(code or ""), f"__{code}__"] if code else []


# Every text metric applies to every generation task; each type has its own defaults.
TEXT_METRICS = ("bleu", "chrf", "chrf++", "ter", "rouge", "exact_match", "f1")


def as_text(value: Any) -> str:
    """A field that may hold a list of sentences (SciTLDR's source) as one string."""
    return " ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def as_references(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


@dataclass(frozen=True)
class Defaults:
    decoder_prompt: str
    encoder_decoder_prompt: str
    metrics: tuple[str, ...]
    max_new_tokens: int
    stop: tuple[str, ...]
    primary_metric: str


class TextToText:
    """A generation task whose outputs are scored against one or more references."""

    fields = {
        "source": key((str, list), required=True, help="the text to translate or summarize"),
        "reference": key((str, list), required=True, help="one reference, or a list of references"),
    }

    def __init__(self, name: str, description: str, metrics: tuple[str, ...], defaults: Defaults,
                 extra_options: dict[str, Key] | None = None) -> None:
        self.name, self.description, self.metrics, self.defaults = name, description, metrics, defaults
        self.primary_metric = defaults.primary_metric
        self.example_score_name = "sentence chrF"
        self.options = {"prompt": key(str, None, help="prompt template; {source} and task fields"),
                        **GENERATION_OPTIONS, **(extra_options or {})}

    def need(self, options: dict[str, Any], profile: Profile) -> str:
        if GENERATE not in profile.loadable:
            raise profile.cannot(GENERATE, f"{self.name} needs a model that generates text (decoder-only or "
                                           f"encoder-decoder); this model is an {profile.family}")
        return GENERATE

    def settings(self, backend: ModelBackend, options: dict[str, Any], metrics: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> dict[str, Any]:
        decoder = backend.profile.family == "decoder-only"
        check_chat_format(backend, options["chat_template"] and decoder)
        prompt = options["prompt"] or (self.defaults.decoder_prompt if decoder
                                       else self.defaults.encoder_decoder_prompt)
        settings = {"prompt": prompt, "prompt_variables": self._variables(options),
                    **generation_settings(backend, options, self.defaults.max_new_tokens,
                                          list(self.defaults.stop) if decoder else [])}
        settings |= self._model_specific(backend, options)
        if rows:
            render(prompt, self._row_fields(rows[0]), settings["prompt_variables"])  # fail early on bad templates
        return settings

    def _variables(self, options: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _model_specific(self, backend: ModelBackend, options: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _row_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"source": as_text(row["source"])}

    def _reference(self, row: dict[str, Any]) -> list[str]:
        return as_references(row["reference"])

    def prompts(self, backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any]) -> list[str]:
        chat = settings["chat_template"] and backend.profile.family == "decoder-only"
        return [render_prompt(backend, settings["prompt"], self._row_fields(row), settings["prompt_variables"],
                              chat, settings["system_prompt"]) for row in rows]

    def predict(self, backend: ModelBackend, rows: list[dict[str, Any]], settings: dict[str, Any],
                batch_size: int) -> Iterator[list[ExampleResult]]:
        prompts = self.prompts(backend, rows, settings)
        for batch in require(backend, Generator).generate(prompts, generation_request(settings), batch_size):
            yield [ExampleResult.failed(i, prompts[i], self._reference(rows[i]), out) if isinstance(out, RequestFailed)
                   else ExampleResult(index=i, input=prompts[i], prediction=out.text,
                                      reference=self._reference(rows[i]), details=generation_details(out))
                   for i, out in batch]

    copies_are_degenerate = True  # extractive QA answers are copies of the context by design

    def score(self, results: list[ExampleResult], settings: dict[str, Any], scoring: Scoring) -> TaskScores:
        predictions = [r.prediction for r in results]
        scored = score_metrics(scoring.metrics or self.defaults.metrics, predictions, [r.reference for r in results],
                               scoring)
        scored.flags += degenerate_text(predictions, [r.input for r in results], self.copies_are_degenerate)
        return scored

    def example_score(self, prediction: Any, reference: Any, details: dict[str, Any]) -> float:
        from sacrebleu.metrics import CHRF

        return CHRF().sentence_score(str(prediction), as_references(reference)).score

    def sequence_lengths(self, settings: dict[str, Any]) -> tuple[int | None, int]:
        return None, int(settings.get("max_new_tokens") or 0)


class Translation(TextToText):
    def __init__(self) -> None:
        super().__init__(
            "translation", "translate a source text; sacreBLEU BLEU/chrF/chrF++/TER against all references",
            TEXT_METRICS,
            Defaults(decoder_prompt="Translate the following text from {source_language} to "
                                    "{target_language}.\n{source_language}: {source}\n{target_language}:",
                     encoder_decoder_prompt="{source}", metrics=("bleu", "chrf"), max_new_tokens=128,
                     stop=("\n",), primary_metric="bleu"),
            {"source_lang": key(str, None, help="source language code, e.g. en"),
             "target_lang": key(str, None, help="target language code, e.g. de"),
             "forced_bos_token": key(str, "auto", help="NLLB/M2M first target token: auto, none, or a token")})

    def _variables(self, options: dict[str, Any]) -> dict[str, Any]:
        source, target = options.get("source_lang"), options.get("target_lang")
        return {"source_language": LANGUAGE_NAMES.get(source or "", source or "the source language"),
                "target_language": LANGUAGE_NAMES.get(target or "", target or "the target language")}

    def _model_specific(self, backend: ModelBackend, options: dict[str, Any]) -> dict[str, Any]:
        """NLLB / M2M100: the source language on the tokenizer, the forced first target token
        (auto: none where the backend has no Vocabulary to look the language tokens up in)."""
        wanted = options["forced_bos_token"]
        if backend.profile.family != "encoder-decoder" or wanted == "none" or (
                wanted == "auto" and not isinstance(backend, Vocabulary)):
            return {"forced_bos_token": None, "forced_bos_token_id": None}
        vocabulary = require(backend, Vocabulary)
        target, source = options.get("target_lang"), options.get("source_lang")
        candidates = ([options["forced_bos_token"]] if options["forced_bos_token"] != "auto"
                      else [t for t in _language_codes(target) if t])
        token = next((c for c in candidates if vocabulary.token_id(c) is not None), None)
        if options["forced_bos_token"] != "auto" and token is None:
            raise TaskConfigError(f"forced_bos_token {options['forced_bos_token']!r} is not in the tokenizer's vocabulary")
        sources = _language_codes(source) if token is not None and source else []
        return {"forced_bos_token": token, "forced_bos_token_id": vocabulary.token_id(token) if token else None,
                "tokenizer_src_lang": vocabulary.source_language(sources)}


class Summarization(TextToText):
    def __init__(self) -> None:
        super().__init__(
            "summarization", "summarize a document; ROUGE-1/2/L/Lsum (rouge-score) against all references",
            TEXT_METRICS,
            Defaults(decoder_prompt="Summarize the following text in one or two sentences.\n\n{source}\n\nSummary:",
                     encoder_decoder_prompt="{source}", metrics=("rouge",), max_new_tokens=128, stop=("\n\n",),
                     primary_metric="rougeL"))

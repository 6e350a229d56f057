"""Extractive QA span decoding vs the transformers question-answering pipeline, and
SQuAD EM/F1 vs transformers' squad_metrics, on SQuAD v1.1 dev.

transformers 5 removed the question-answering pipeline, so the reference runs in a
second Python environment with transformers 4.x (``--reference-python``). The script
builds a BERT-style QA model with random weights and a WordPiece vocabulary trained on
the contexts (no hub needed), saves it, asks the reference environment for the
pipeline's answers and squad_metrics' scores, and compares with benchbench's.

    python3 -m venv /tmp/tf4 && /tmp/tf4/bin/pip install torch==2.13.0 "transformers<5"
    python benchmarks/qa_vs_pipeline.py --reference-python /tmp/tf4/bin/python --limit 500
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import zipfile
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/qa/squad-v1.1/dev-v1.1.json.zip"

REFERENCE = r"""
import json, sys
import transformers
from transformers import pipeline
from transformers.data.metrics import squad_metrics
folder, examples_file, settings_file, near_file = sys.argv[1:5]
examples = json.load(open(examples_file))
settings = json.load(open(settings_file))
near = json.load(open(near_file))
qa = pipeline("question-answering", model=folder, tokenizer=folder, device=-1)
out = {"transformers": transformers.__version__, "answers": {}}
for name, s in settings.items():
    out["answers"][name] = [qa(question=e["question"], context=e["context"], max_seq_len=s["max_seq_len"],
                               doc_stride=s["doc_stride"], max_answer_len=15)["answer"] for e in examples]
for label, predictions in (("pipeline", out["answers"][next(iter(settings))]), ("near-gold", near)):
    out[label] = {
        "exact": [max(squad_metrics.compute_exact(g, p) for g in e["answers"]) for e, p in zip(examples, predictions)],
        "f1": [max(squad_metrics.compute_f1(g, p) for g in e["answers"]) for e, p in zip(examples, predictions)]}
print(json.dumps(out))
"""


def squad_examples(path: Path, limit: int) -> list[dict]:
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read(archive.namelist()[0]))
    examples = [{"question": qa["question"], "context": paragraph["context"],
                 "answers": [a["text"] for a in qa["answers"]]}
                for article in data["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    return examples[:limit]


def build_model(folder: Path, texts: list[str]) -> None:
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(texts, vocab_size=8000)
    folder.mkdir(parents=True, exist_ok=True)
    wordpiece.save_model(str(folder))
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=8000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512)
    BertForQuestionAnswering(config).save_pretrained(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", required=True, help="python with transformers<5")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args()

    from benchbench import metrics
    from benchbench.backends.hf.extractive_qa import answer_examples, span_settings
    from benchbench.backends.hf.loading import load_model
    from benchbench.spec import CheckpointSpec

    examples = squad_examples(args.data, args.limit)
    settings = {"default (384/128)": {"max_seq_len": 384, "doc_stride": 128},
                "long contexts (96/32)": {"max_seq_len": 96, "doc_stride": 32}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        build_model(folder, [e["context"] for e in examples])
        (Path(tmp) / "examples.json").write_text(json.dumps(examples))
        (Path(tmp) / "settings.json").write_text(json.dumps(settings))
        # predictions with non-trivial scores: a window around the first gold answer
        near = [e["context"][max(0, e["context"].find(e["answers"][0]) - 4):][:len(e["answers"][0]) + 9]
                for e in examples]
        (Path(tmp) / "near.json").write_text(json.dumps(near))
        done = subprocess.run([args.reference_python, "-c", REFERENCE, str(folder), f"{tmp}/examples.json",
                               f"{tmp}/settings.json", f"{tmp}/near.json"], capture_output=True, text=True,
                              check=True)
        reference = json.loads(done.stdout.strip().splitlines()[-1])
        loaded = load_model(CheckpointSpec(str(folder)), "question-answering", "cpu", name="qa")
        questions, contexts = [e["question"] for e in examples], [e["context"] for e in examples]
        print(f"{len(examples)} SQuAD v1.1 dev questions; reference: transformers {reference['transformers']} pipeline")
        for name, s in settings.items():
            windows = loaded.tokenizer(questions, contexts, truncation="only_second", max_length=s["max_seq_len"],
                                       stride=s["doc_stride"], return_overflowing_tokens=True)
            multi = len(windows["input_ids"]) - len(examples)
            spans = span_settings(loaded, s["max_seq_len"], s["doc_stride"], max_answer_len=15)
            ours = [a.text for a in answer_examples(loaded, questions, contexts, spans, 32)]
            same = sum(a == b for a, b in zip(ours, reference["answers"][name]))
            print(f"  {name}: {same}/{len(examples)} answers identical ({multi} extra windows from long contexts)")
            for a, b, e in [(a, b, e) for a, b, e in zip(ours, reference["answers"][name], examples) if a != b][:3]:
                print(f"    differs: ours {a!r} vs pipeline {b!r} for {e['question']!r}")
        golds = [e["answers"] for e in examples]
        for label, predictions in (("pipeline answers", reference["answers"][next(iter(settings))]),
                                   ("near-gold spans", near)):
            key = "pipeline" if label.startswith("pipeline") else "near-gold"
            em = metrics.compute("exact_match", predictions, golds)["exact_match"]
            f1 = metrics.compute("f1", predictions, golds)["f1"]
            ref_em = 100 * sum(reference[key]["exact"]) / len(examples)
            ref_f1 = 100 * sum(reference[key]["f1"]) / len(examples)
            print(f"SQuAD on {label}: benchbench EM {em:.6f} F1 {f1:.6f}; "
                  f"transformers squad_metrics EM {ref_em:.6f} F1 {ref_f1:.6f}")


if __name__ == "__main__":
    main()

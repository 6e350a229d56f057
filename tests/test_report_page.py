"""The report's page in a real headless Chromium (the system's, driven by Playwright): its
ranking agrees with `recommend` at the command line's constraints and after the inputs change,
the decision map it draws equals the one Python computed, the example comparison filters and
sorts, hostile strings stay text, nothing is fetched, and it fits an 800 px and a phone screen."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from helpers import picks_of, recommend_json, three_model_store

from benchbench.cli import main

HOSTILE = "<img src=x onerror=alert(1)>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_gpt2, tiny_llama, tiny_bert_classifier):
    return three_model_store(tmp_path_factory.mktemp("page"), tiny_gpt2, tiny_llama, tiny_bert_classifier, HOSTILE)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Page:
    """One page load, with what the browser logged: console errors, script errors, dialogs and
    every request."""

    def __init__(self, browser, path, width: int = 1400, height: int = 900):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())

    def evaluate(self, script: str):
        return self.page.evaluate(script)

    def picks(self) -> dict:
        return self.evaluate("window.benchbench.chosen")


def _report(results, *args: str):
    output = CliRunner().invoke(main, ["report", str(results), *args])
    assert output.exit_code == 0, output.output
    return results / "report.html"


def _python_ranks(result: dict) -> dict:
    return {task: {c["model"]: [c["rank"], c["tied_with_best"], c["pareto"]] for c in cs if c["rank"]}
            for task, cs in result["tasks"].items()}


def _page_ranks(page: Page) -> dict:
    return page.evaluate("Object.fromEntries(Object.entries(window.benchbench.perTask).map(([t, rows]) => "
                         "[t, Object.fromEntries(rows.filter(r => r.rank).map(r => [r.model, [r.rank, r.tied, r.pareto]]))]))")


def _flips(entries: list[dict]) -> list:
    return sorted((e["constraint"], e["metric"] or "", f["task"] or "", f["at"], f["pick"] or "", f["then"] or "")
                  for e in entries for f in e["flips"])


def test_the_page_ranks_as_recommend_does_and_draws_its_decision_map(results, browser):
    page = Page(browser, _report(results))
    python = recommend_json(results)
    assert page.picks() == picks_of(python)
    assert _page_ranks(page) == _python_ranks(python)  # ranks, ties (paired, Holm) and the Pareto set
    assert _flips(page.evaluate("window.benchbench.lastMap")) == _flips(python["decision_map"])
    assert page.evaluate("window.benchbench.data.decision_map.length") == len(python["decision_map"])
    assert not page.errors and all(url.startswith("file:") for url in page.requests), (page.errors, page.requests)


def test_the_constraint_inputs_rerank_as_recommend_would(results, browser):
    python = recommend_json(results)
    flip = next(f for e in python["decision_map"] if e["constraint"] == "budget_gib" for f in e["flips"])
    page = Page(browser, _report(results))
    for budget in (flip["at"], flip["at"] * (1 - 1e-6)):
        page.page.fill("#budget_gib", repr(budget))
        expected = recommend_json(results, "--budget-gb", repr(budget))
        assert page.picks() == picks_of(expected)
        assert _page_ranks(page) == _python_ranks(expected)
        matrix = page.page.inner_text("#matrix")
        struck = page.evaluate("document.querySelectorAll('#matrix td.out').length")
        assert struck == sum(1 for cs in expected["tasks"].values() for c in cs
                             if c["rank"] is None and not any(r.startswith(("status", "no ")) for r in c["excluded"]))
        assert "★" in matrix or not any(picks_of(expected).values())
    assert page.picks()[flip["task"] or ""] == flip["then"]
    page.page.fill("#min-accuracy", "1.01")  # nothing reaches it: the page says so
    assert "no model fits the constraints" in page.page.inner_text("#recommendation")
    page.page.click("#reset")
    assert page.picks() == picks_of(python) and page.page.input_value("#budget_gib") == ""
    page.page.fill("#budget_gib", "-3")  # refused: treated as no limit, and the input shows it is invalid
    assert page.evaluate("document.getElementById('budget_gib').validity.valid") is False
    assert page.picks() == picks_of(python)
    assert not page.errors, page.errors


def test_the_example_comparison_pairs_models_filters_and_sorts(results, browser):
    page = Page(browser, _report(results))
    page.page.select_option("#cmp-task", "sentiment")
    page.page.select_option("#cmp-a", f"{HOSTILE}gpt2")
    page.page.select_option("#cmp-b", "llama")
    rows = page.evaluate("[...document.querySelectorAll('#compare tbody tr')].map(r => [...r.cells].map(c => c.innerText))")
    assert len(rows) == 8 and rows[0][1].startswith(HOSTILE)  # the input is text, not an element
    assert page.evaluate("document.querySelectorAll('#compare img').length") == 0
    differ = [r for r in rows if r[3] != r[5]]
    page.page.check("#cmp-differ")
    filtered = page.evaluate("[...document.querySelectorAll('#compare tbody tr')].map(r => r.dataset.index)")
    assert filtered == [r[0] for r in differ]
    page.page.select_option("#cmp-sort", "diff")
    differences = page.evaluate("[...document.querySelectorAll('#compare tbody td.diff')].map(c => parseFloat(c.innerText))")
    assert differences == sorted(differences, reverse=True) and len(differences) == len(differ)
    assert all(abs(d) == 1 for d in differences)  # outputs differ on a right/wrong task: one is right
    assert "8 of the task's 8 examples" in page.page.inner_text("#compare")
    assert not page.errors, page.errors


@pytest.mark.parametrize("width", [800, 390])
def test_the_page_fits_narrow_screens_and_prints(results, browser, width, tmp_path):
    page = Page(browser, _report(results), width=width, height=800)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a {width}px screen"
    page.page.emulate_media(media="print")
    pdf = page.page.pdf(path=str(tmp_path / "report.pdf"))
    assert pdf[:5] == b"%PDF-" and len(pdf) > 10_000
    assert not page.errors, page.errors


def test_a_command_line_limit_no_model_has_a_figure_for_still_applies(results, browser):
    # no model has a cost (none is served): --max-cost-per-1k excludes them all, as recommend does
    page = Page(browser, _report(results, "--max-cost-per-1k", "1"))
    python = recommend_json(results, "--max-cost-per-1k", "1")
    assert not any(picks_of(python).values()) and page.picks() == picks_of(python)
    assert page.page.input_value("#max_cost_per_1k") == "1"  # shown, so it can be cleared
    page.page.fill("#max_cost_per_1k", "")
    assert page.picks() == picks_of(recommend_json(results))
    assert not page.errors, page.errors


def test_the_page_words_every_exclusion_as_recommend_does(results, browser):
    python = recommend_json(results)
    memories = sorted({c["memory_gib"] for cs in python["tasks"].values() for c in cs if c["memory_gib"]})
    budget = memories[len(memories) // 2] * 0.999  # some models fit, some do not
    args = ("--budget-gb", repr(budget), "--min-score", "accuracy=0.6", "--max-latency-ms", "1e-3")
    expected = recommend_json(results, *args)
    page = Page(browser, _report(results, *args))
    words = page.evaluate("Object.fromEntries(Object.entries(window.benchbench.perTask).map(([t, rows]) => "
                          "[t, Object.fromEntries(rows.map(r => [r.model, r.why]))]))")
    assert words == {task: {c["model"]: c["excluded"] for c in cs} for task, cs in expected["tasks"].items()}
    assert any("GiB >" in why for rows in words.values() for reasons in rows.values() for why in reasons)
    assert not page.errors, page.errors


def test_numbers_read_the_same_in_the_page_as_in_python(results, browser):
    values = [0.0625, 0.125, 0.0615, 1 / 3, 2 / 3, 12345.678, 1e-5, 0.00012345, 99999.5, 123456789.0, -0.0625, 7.0,
              0.062, 0.9999, 1e21, 2.5, 3.5]
    page = Page(browser, _report(results))
    for digits in (2, 4, 6):
        shown = page.evaluate(f"{values!r}.map(v => pyG(v, {digits}))")
        assert shown == [format(v, f".{digits}g") for v in values], digits


@pytest.mark.parametrize("typed,why", [("1,5", "is not a number"), ("0", "above 0"), ("-1", "above 0"),
                                       ("15 GB", "is not a number")])
def test_a_bad_limit_is_marked_and_ignored(results, browser, typed, why):
    page = Page(browser, _report(results, "--budget-gb", "100"))
    page.page.fill("#budget_gib", typed)
    assert page.evaluate("document.getElementById('budget_gib').getAttribute('aria-invalid')") == "true"
    assert why in page.page.inner_text("#budget_gib-error")
    assert page.evaluate("window.benchbench.limits.budget_gib") == 100  # the command line's limit still holds
    page.page.fill("#budget_gib", "1.5")
    assert page.evaluate("window.benchbench.limits.budget_gib") == 1.5
    assert page.page.inner_text("#budget_gib-error") == ""


LONG_TASK = "sentiment_of_movie_reviews_from_the_stanford_sentiment_treebank_binary_validation_split"


@pytest.fixture(scope="module")
def long_named(tmp_path_factory):
    """Results whose task names have no place to break, with inputs of a few sentences."""
    import json

    from fake_backend import FakeBackend
    from helpers import write_suite

    folder = tmp_path_factory.mktemp("long-names")
    data = folder / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"{'good' if i % 2 else 'bad'} film. " + "A sentence of the review. " * 6,
                                        "label": "positive" if i % 2 else "negative"}) + "\n" for i in range(6)))
    suite = write_suite(folder, {"name": "long", "runtime": {"bootstrap_resamples": 20},
                                 "models": [{"name": "a", "source": "org/a"}, {"name": "b", "source": "org/b"}],
                                 "tasks": [{"name": LONG_TASK + suffix, "type": "classification",
                                            "dataset": {"path": str(data)}, "options": {"method": "choices"}}
                                           for suffix in ("_one", "_two")]})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
        done = CliRunner().invoke(main, ["run", str(suite), "-o", str(folder / "results"), "--no-progress"])
    assert done.exit_code == 0, done.output
    return folder / "results"


def test_long_task_names_fit_a_phone_and_the_side_by_side_columns_stay_readable(long_named, browser):
    page = Page(browser, _report(long_named), width=390, height=800)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a 390px screen"
    widths = page.evaluate("[...document.querySelector('#compare table.examples').rows[1].cells]"
                           ".map(c => c.getBoundingClientRect().width)")
    rem = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert widths[1] >= 15 * rem - 1 and widths[3] >= 10 * rem - 1 and widths[5] >= 10 * rem - 1, widths  # input, A, B
    assert not page.errors, page.errors


def test_the_collapsed_input_shows_what_differs_not_the_shared_boilerplate(tmp_path, browser, monkeypatch):
    import json

    from fake_backend import FakeBackend
    from helpers import write_suite

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"source": f"{'good' if i % 2 else 'bad'} film number {i}. " + "It runs long. " * 8,
                                        "reference": "a film"}) + "\n" for i in range(4)))
    boilerplate = ("You are a careful translator of film reviews. Read the review below and translate it into "
                   "German, keeping its tone.\n\n")  # what a chat template's system message looks like
    suite = write_suite(tmp_path, {"name": "b", "runtime": {"bootstrap_resamples": 20},
                                   "models": [{"name": "a", "source": "org/a"}, {"name": "b", "source": "org/b"}],
                                   "tasks": [{"name": "s", "type": "translation", "dataset": {"path": str(data)},
                                              "options": {"prompt": boilerplate + "Review: {source}"}}]})
    monkeypatch.setattr("benchbench.run.worker.open_backend", lambda spec, runtime, device: FakeBackend(spec.name))
    assert CliRunner().invoke(main, ["run", str(suite), "-o", str(tmp_path / "r"), "--no-progress"]).exit_code == 0
    page = Page(browser, tmp_path / "r" / "report.html")
    summaries = page.evaluate("[...document.querySelectorAll('#compare summary')].map(s => s.innerText)")
    # every input starts "...German, keeping its tone.\n\nReview: ": the summary starts where the example does
    assert [s[:18] for s in summaries] == ["…bad film number 0", "…good film number ", "…bad film number 2",
                                           "…good film number "], summaries
    assert not page.errors, page.errors

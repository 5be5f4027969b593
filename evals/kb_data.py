"""The knowledge-base quality datasets, built from ../shared/data (read in place, never copied).

(a) CLINC150 (CC BY 3.0): one company = the domains in evals/data/clinc_faq.json (one hand-written entry per intent).
    In-scope case: a query of one of those intents, gold = its entry. Not-covered case: a query of any other
    domain or an ``oos`` query. Splits: train/val are development data, test is the test set.
(b) German COVID-QA (deepset, Apache-2.0): the index is every German FAQ row of faq_200322_16.tsv (the file the
    similarity pairs were drawn from: all their gold questions are in it), deduplicated by question text, minus a fifth of the gold rows (fixed seed) that become not-covered cases. Callers are the
    ``question_2`` of ``similar=1`` pairs. The gold rows are split by a fixed seed into a development part (40 %)
    and a test part (60 %), so calibration never sees a test caller question or its gold row's pairs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from knowledge.documents import ParsedDocument, ParsedEntry

HERE = Path(__file__).resolve().parent
CLINC_FAQ = HERE / "data" / "clinc_faq.json"
SEED = 20240501


@dataclass(frozen=True)
class Case:
    query: str
    gold: str | None  # the expected entry question, None = not covered (must be handed off)
    group: str  # intent / domain / gold row, for reporting


def default_shared_data() -> Path:
    """``$RECEPTIONIST_SHARED_DATA`` or ../shared/data next to the repository (as tests/conftest.py does)."""
    return Path(os.environ.get("RECEPTIONIST_SHARED_DATA", HERE.parent.parent / "shared" / "data"))


# --- CLINC150 -------------------------------------------------------------------------------------------------
def clinc_faq() -> dict:
    return json.loads(CLINC_FAQ.read_text())


def clinc_document(alternates: bool = False, examples: int = 0, shared: Path | None = None) -> ParsedDocument:
    """The company's FAQ; with ``alternates`` each entry also carries its hand-written other phrasings.

    ``examples`` > 0 adds that many real caller phrasings per entry from the CLINC150 **train** split (development
    data), as a product learns them: the FAQ-gap page files an unanswered caller question under the entry it
    belonged to. Which utterances: :func:`clinc_examples` (fixed seed); they are never used as cases.
    """
    faq = clinc_faq()
    learned = clinc_examples(shared or default_shared_data(), examples) if examples else {}
    entries = tuple(ParsedEntry(question=e["question"], answer=e["answer"], location=f"intent {intent}",
                                language="en",
                                alternates=(tuple(e.get("alternates", ())) if alternates else ())
                                + tuple(learned.get(intent, ())))
                    for intent, e in faq["entries"].items())
    digest = hashlib.sha256(CLINC_FAQ.read_bytes() + f"{alternates}/{examples}".encode()).hexdigest()
    return ParsedDocument(name="clinc-bank-faq.json", content_hash=digest, format="json", entries=entries)


def clinc_examples(shared: Path, n: int) -> dict[str, tuple[str, ...]]:
    """``n`` CLINC150 train utterances per FAQ intent (seeded shuffle; a larger ``n`` extends a smaller one)."""
    data = json.loads((shared / "clinc150" / "data_full.json").read_text())
    intents = clinc_faq()["entries"]
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        if intent in intents:
            by_intent.setdefault(intent, []).append(text)
    out = {}
    for intent, texts in sorted(by_intent.items()):
        random.Random(f"{SEED}:{intent}").shuffle(texts)
        out[intent] = tuple(texts[:n])
    return out


def clinc_history(shared: Path, n: int | None = None) -> list:
    """A company's labelled call history from the CLINC150 **train** split (development data): ``n`` utterances of
    every intent (all with ``None``) and ``n`` ``oos`` ones; an FAQ intent's utterances are filed under its entry,
    every other one is labelled not covered, as the FAQ-gap page labels handed-off questions. The FAQ intents'
    utterances are the same as :func:`clinc_examples` picks."""
    from knowledge.learned import LearnedExample

    data = json.loads((shared / "clinc150" / "data_full.json").read_text())
    target_of = {intent: e["question"] for intent, e in clinc_faq()["entries"].items()}
    return [LearnedExample(text, target, "en") for text, target in history_pairs(data, target_of, n)]


def history_pairs(full_data: dict, target_of: dict[str, str], n: int | None) -> list[tuple[str, str | None]]:
    """(utterance, entry question or None) for ``n`` seeded-random train utterances of every CLINC150 intent and
    ``n`` ``oos`` ones; ``target_of`` maps the company's intents to their entry questions."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in full_data["train"]:
        by_intent.setdefault(intent, []).append(text)
    by_intent["oos"] = [text for text, _ in full_data["oos_train"]]
    out = []
    for intent, texts in sorted(by_intent.items()):
        random.Random(f"{SEED}:{intent}").shuffle(texts)
        out += [(t, target_of.get(intent)) for t in texts[:n]]
    return out


def clinc_cases(shared: Path, split: str, exclude: frozenset[str] = frozenset()) -> list[Case]:
    """``split``: "train", "val" or "test"; ``exclude``: utterances to leave out (those indexed as examples)."""
    data = json.loads((shared / "clinc150" / "data_full.json").read_text())
    domains = json.loads((shared / "clinc150" / "domains.json").read_text())
    faq = clinc_faq()
    intent_domain = {i: d for d, intents in domains.items() for i in intents}
    cases = []
    for text, intent in data[split]:
        if text in exclude:
            continue
        if intent in faq["entries"]:
            cases.append(Case(text, faq["entries"][intent]["question"], intent))
        else:
            cases.append(Case(text, None, "other:" + intent_domain.get(intent, "?")))
    cases += [Case(text, None, "oos") for text, _ in data[f"oos_{split}"]]
    return cases


# --- German COVID-QA --------------------------------------------------------------------------------------------
def _rows(path: Path, sep: str) -> list[dict]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=sep))


@dataclass(frozen=True)
class CovidSetup:
    document: ParsedDocument
    dev: list[Case]
    test: list[Case]
    left_out: tuple[str, ...]


def covid_setup(shared: Path) -> CovidSetup:
    base = shared / "covidqa_deepset"
    faq: dict[str, str] = {}
    for name in ("faq_200322_16.tsv",):
        for row in _rows(base / name, "\t"):
            q, a = " ".join(row["question"].split()), " ".join(row["answer"].split())
            if row["lang"] == "de" and q and a and q not in faq:
                faq[q] = a
    pairs = [r for r in _rows(base / "eval_question_similarity_de.csv", ",") if r["similar"] == "1"]
    gold_rows = sorted({" ".join(r["question_1"].split()) for r in pairs} & set(faq))
    rng = random.Random(SEED)
    shuffled = gold_rows[:]
    rng.shuffle(shuffled)
    n_out = len(shuffled) // 5
    left_out = set(shuffled[:n_out])
    covered = shuffled[n_out:]
    dev_groups = set(covered[: int(len(covered) * 0.4)]) | set(sorted(left_out)[: int(len(left_out) * 0.4)])
    entries = tuple(ParsedEntry(question=q, answer=a, location=f"row {i + 1}", language="de")
                    for i, (q, a) in enumerate(faq.items()) if q not in left_out)
    doc = ParsedDocument(name="covid-faq-de.tsv", content_hash=hashlib.sha256(repr(entries).encode()).hexdigest(), format="csv", entries=entries)
    dev, test = [], []
    for r in pairs:
        q1 = " ".join(r["question_1"].split())
        if q1 not in faq:
            continue
        case = Case(r["question_2"].strip(), None if q1 in left_out else q1, q1)
        (dev if q1 in dev_groups else test).append(case)
    return CovidSetup(doc, dev, test, tuple(sorted(left_out)))


# --- BANKING77 (development part: train.csv only) --------------------------------------------------------------
@dataclass(frozen=True)
class BankingSetup:
    document: ParsedDocument
    fit: list[Case]
    tune: list[Case]
    held_out_intents: tuple[str, ...]


def banking_setup(shared: Path, held_out: int = 12, cases: int = 1500) -> BankingSetup:
    """BANKING77 as one company, from the **train** split only (test.csv is never read here): one entry per intent
    (its first train utterance as the question, as evals/suites/generate.py builds it), ``held_out`` intents left out
    (their queries must be handed off: same domain, not covered). Two disjoint seeded samples of the other train
    utterances: ``fit`` (classifier) and ``tune`` (operating point / report)."""
    with (shared / "banking77" / "train.csv").open(encoding="utf-8", newline="") as fh:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(fh)]
    intents = sorted({c for _, c in rows})
    left_out = set(random.Random(11).sample(intents, held_out))
    first: dict[str, str] = {}
    for text, intent in rows:
        first.setdefault(intent, text)

    def question(text: str) -> str:
        text = text.strip().rstrip(".!? ")
        return f"{text[0].upper()}{text[1:]}?"

    def topic(intent: str) -> str:
        return intent.replace("_", " ")

    entries = tuple(ParsedEntry(question=question(first[i]), location=f"intent {i}", language="en",
                                answer=f"About {topic(i)}: you find the details in the app under Help, or our support "
                                       f"team helps you with {topic(i)}.")
                    for i in intents if i not in left_out)
    doc = ParsedDocument(name="banking77-faq.json", content_hash=hashlib.sha256(repr(entries).encode()).hexdigest(),
                         format="json", entries=entries)
    firsts = set(first.values())
    pool = [(t, i) for t, i in rows if t not in firsts]
    random.Random(SEED).shuffle(pool)
    made = [Case(t, None if i in left_out else question(first[i]), i) for t, i in pool[:2 * cases]]
    return BankingSetup(doc, made[:cases], made[cases:], tuple(sorted(left_out)))

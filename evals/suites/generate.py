"""Build eval suites at run time from the public data in ../shared/data (never copied into the repository).

A suite folder's ``suite.yaml`` says ``generate: <kind>`` plus options; the scenarios are sampled with a fixed
seed so two runs see the same cases, sized so the text mode runs in a few minutes on 2 cores. ``--full`` takes
everything. Kinds:

- ``clinc150``: some CLINC150 domains are one company's FAQ (one entry per intent: the hand-written entries of
  ``evals/data/clinc_faq.json`` when present, else the intent's first training utterance as the question and a
  written answer naming the topic); queries come from the test split only; test queries of those intents must be answered from their
  entry; test queries of the other domains and ``oos`` queries must be handed off.
- ``banking77``: one entry per intent, some intents held out of the index: their queries are "same domain, not
  covered" and must be handed off.
- ``covidqa_de``: the German FAQ rows of deepset's COVID-QA are the FAQ; the caller asks ``question_2`` of a
  ``similar=1`` pair and must be answered from the row of ``question_1``; a fifth of the gold rows stay out of the
  index as not-covered cases.
- ``speech``: the recordings with reference transcripts, played as one caller turn each (audio mode measures the
  caller WER; text mode feeds the reference transcript).

Sources and licences: see ../shared/data/README.md (CLINC150 CC BY 3.0, BANKING77 CC BY 4.0, COVID-QA Apache-2.0,
speech: see each folder).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

from evals.scenario import Scenario, ScenarioError, parse_document

DEFAULT_AT = "2026-03-04T10:30"  # a Wednesday morning: office open, no holiday anywhere in Germany


class DataMissing(ScenarioError):
    pass


def _need(path: Path, spec_file: Path) -> Path:
    if not path.exists():
        raise DataMissing(spec_file, "generate", f"shared data not found: {path} (set RECEPTIONIST_SHARED_DATA)")
    return path


def _topic(intent: str) -> str:
    return intent.replace("_", " ")


def _question(text: str) -> str:
    text = text.strip().rstrip(".!? ")
    return f"{text[0].upper()}{text[1:]}?"


def _sample(items: list, n: int | None, rng: random.Random) -> list:
    if n is None or n >= len(items):
        return list(items)
    return rng.sample(items, n)


def _single_turn(sid: str, text: str, *, answered_from: str | None, language: str, tags: list[str]) -> dict:
    expect: dict[str, Any] = {"answered_from": answered_from} if answered_from else {"hands_off": True}
    # a caller who hears "Is this about …?" answers truthfully (yes to their own topic, no to any other)
    return {"id": sid, "tags": tags, "turns": [{"say": text, "expect": expect, "confirm": "truthful"}]}


def _document(company: dict, scenarios: list[dict], language: str, spec_file: Path) -> list[Scenario]:
    doc = {"defaults": {"company": company, "caller": {"language": language}, "at": DEFAULT_AT},
           "scenarios": scenarios}
    return parse_document(doc, spec_file)


CLINC_FAQ = Path(__file__).resolve().parents[1] / "data" / "clinc_faq.json"


def _written_clinc_faq(spec: dict) -> dict | None:
    """evals/data/clinc_faq.json (hand-written entries per intent, from the knowledge-base issue) when present."""
    if spec.get("faq", "auto") != "auto" or not CLINC_FAQ.is_file():
        return None
    data = json.loads(CLINC_FAQ.read_text(encoding="utf-8"))
    return data if isinstance(data.get("entries"), dict) and data.get("domains") else None


def clinc150(spec: dict, spec_file: Path, data: Path, full: bool) -> list[Scenario]:
    rng = random.Random(spec.get("seed", 7))
    root = _need(data / "clinc150", spec_file)
    full_data = json.loads((root / "data_full.json").read_text(encoding="utf-8"))
    domains = json.loads((root / "domains.json").read_text(encoding="utf-8"))
    written = _written_clinc_faq(spec)
    scope = written["domains"] if written else spec.get("domains", ["auto_and_commute", "travel", "utility"])
    unknown = [d for d in scope if d not in domains]
    if unknown:
        raise ScenarioError(spec_file, "domains", f"unknown CLINC150 domain(s) {unknown}; known: {sorted(domains)}")
    in_scope = {i for d in scope for i in domains[d]}
    first_train: dict[str, str] = {}
    for text, intent in full_data["train"]:
        first_train.setdefault(intent, text)
    if written:  # hand-written entries (the knowledge-base quality script's company): a realistic FAQ
        faq = [{"question": written["entries"][i]["question"], "answer": written["entries"][i]["answer"]}
               for i in sorted(in_scope)]
        question_of = {i: written["entries"][i]["question"] for i in in_scope}
    else:  # fallback: the intent's first training utterance as the question, a written answer naming the topic
        faq = [{"question": _question(first_train[i]),
                "answer": f"Here is our information about {_topic(i)}. Our team will gladly help with {_topic(i)}."}
               for i in sorted(in_scope)]
        question_of = {i: _question(first_train[i]) for i in in_scope}
    inside = [(t, i) for t, i in full_data["test"] if i in in_scope]
    other = [(t, i) for t, i in full_data["test"] if i not in in_scope]
    oos = [(t, "oos") for t, _ in full_data["oos_test"]]
    n_in, n_other, n_oos = (None, None, None) if full else (spec.get("in_scope", 120), spec.get("other_domains", 60),
                                                            spec.get("oos", 60))
    scenarios = []
    for k, (text, intent) in enumerate(_sample(inside, n_in, rng)):
        scenarios.append(_single_turn(f"clinc-in-{k:04d}", text, answered_from=question_of[intent], language="en",
                                      tags=["answer", intent]))
    for k, (text, intent) in enumerate(_sample(other, n_other, rng)):
        scenarios.append(_single_turn(f"clinc-other-{k:04d}", text, answered_from=None, language="en",
                                      tags=["not_covered", "other_domain"]))
    for k, (text, _) in enumerate(_sample(oos, n_oos, rng)):
        scenarios.append(_single_turn(f"clinc-oos-{k:04d}", text, answered_from=None, language="en",
                                      tags=["not_covered", "oos"]))
    company = {"slug": "clinc-scope", "name": "Northside Services", "default_language": "en", "languages": ["en"],
               "office_hours": "mon-fri 08:00-18:00", "secretary_number": "+4930555509900", "faq": faq}
    if spec.get("history"):
        company["slug"] = "clinc-scope-learned"
        company["learned"] = _clinc_history(full_data, question_of, int(spec["history"]))
    return _document(company, scenarios, "en", spec_file)


def _clinc_history(full_data: dict, question_of: dict[str, str], n: int) -> list[dict]:
    """A labelled call history from the CLINC150 **train** split (``evals.kb_data.history_pairs``: ``n`` utterances
    of every intent and ``n`` ``oos`` ones, filed under their entry for in-scope intents, not covered otherwise).
    Test utterances are never in it."""
    from evals.kb_data import history_pairs

    return [{"question": t, "entry_question": q} for t, q in history_pairs(full_data, question_of, n)]


def banking77(spec: dict, spec_file: Path, data: Path, full: bool) -> list[Scenario]:
    rng = random.Random(spec.get("seed", 11))
    root = _need(data / "banking77", spec_file)

    def rows(name: str) -> list[tuple[str, str]]:
        with (root / name).open(encoding="utf-8") as fh:
            return [(r["text"], r["category"]) for r in csv.DictReader(fh)]

    train, test = rows("train.csv"), rows("test.csv")
    intents = sorted({c for _, c in train})
    held_out = set(rng.sample(intents, spec.get("held_out", 12)))
    first_train: dict[str, str] = {}
    for text, intent in train:
        first_train.setdefault(intent, text)
    covered = [i for i in intents if i not in held_out]
    faq = [{"question": _question(first_train[i]),
            "answer": f"About {_topic(i)}: you find the details in the app under Help, or our support team helps "
                      f"you with {_topic(i)}."} for i in covered]
    n = None if full else spec.get("cases", 240)
    scenarios = []
    for k, (text, intent) in enumerate(_sample(test, n, rng)):
        answered_from = None if intent in held_out else _question(first_train[intent])
        tags = ["not_covered", "held_out"] if answered_from is None else ["answer"]
        scenarios.append(_single_turn(f"banking-{k:04d}", text, answered_from=answered_from, language="en",
                                      tags=[*tags, intent]))
    company = {"slug": "banking77", "name": "Example Bank", "default_language": "en", "languages": ["en"],
               "office_hours": "mon-fri 08:00-18:00", "secretary_number": "+4930555509901", "faq": faq}
    return _document(company, scenarios, "en", spec_file)


def covidqa_de(spec: dict, spec_file: Path, data: Path, full: bool) -> list[Scenario]:
    rng = random.Random(spec.get("seed", 13))
    root = _need(data / "covidqa_deepset", spec_file)
    rows: dict[str, str] = {}
    for tsv in sorted(root.glob("faq_*.tsv")):
        with tsv.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                if r.get("lang") == "de" and r.get("question") and r.get("answer"):
                    rows.setdefault(r["question"].strip(), " ".join(r["answer"].split()))
    with (root / "eval_question_similarity_de.csv").open(encoding="utf-8") as fh:
        pairs = [(r["question_1"].strip(), r["question_2"].strip()) for r in csv.DictReader(fh)
                 if r["similar"] == "1" and r["question_1"].strip() in rows]
    gold = sorted({q1 for q1, _ in pairs})
    held_out = set(rng.sample(gold, len(gold) // 5))
    faq = [{"question": q, "answer": a} for q, a in rows.items() if q not in held_out]
    n = None if full else spec.get("cases", 150)
    scenarios = []
    for k, (q1, q2) in enumerate(_sample(pairs, n, rng)):
        answered_from = None if q1 in held_out else q1
        tags = ["not_covered", "held_out"] if answered_from is None else ["answer", "paraphrase"]
        scenarios.append(_single_turn(f"covid-{k:04d}", q2, answered_from=answered_from, language="de", tags=tags))
    company = {"slug": "covid-info", "name": "Bürgertelefon Corona", "default_language": "de", "languages": ["de"],
               "office_hours": "mon-fri 08:00-18:00", "secretary_number": "+4930555509902", "faq": faq}
    return _document(company, scenarios, "de", spec_file)


def _speech_items(data: Path) -> list[tuple[Path, str, str]]:
    """(audio file, language, reference transcript) for every recording with a word-level reference."""
    items: list[tuple[Path, str, str]] = []
    for folder in ("speech_whisper_jfk", "speech_picovoice_leopard", "speech_asterisk_en_8k"):
        tsv = data / folder / "transcripts.tsv"
        if not tsv.is_file():
            continue
        with tsv.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                path = data / folder / r["file"]
                if path.is_file() and r.get("transcript"):
                    items.append((path, r.get("language") or "en", " ".join(r["transcript"].split())))
    return items


def speech(spec: dict, spec_file: Path, data: Path, full: bool) -> list[Scenario]:
    rng = random.Random(spec.get("seed", 17))
    items = _speech_items(_need(data, spec_file))
    if not items:
        raise DataMissing(spec_file, "generate", f"no recordings with transcripts under {data}")
    asterisk = [i for i in items if "asterisk" in str(i[0])]
    others = [i for i in items if "asterisk" not in str(i[0])]
    chosen = others + _sample(asterisk, None if full else spec.get("telephone_prompts", 8), rng)
    companies = spec.get("companies", {"de": "praxis-berger", "en": "keller-wright"})
    scenarios = []
    for k, (path, lang, text) in enumerate(chosen):
        scenarios.append({"id": f"speech-{k:03d}-{path.stem}", "company": companies.get(lang, "keller-wright"),
                          "caller": {"language": lang}, "tags": ["speech", lang, path.parent.name],
                          "turns": [{"audio": str(path), "transcript": text}]})
    return parse_document({"defaults": {"at": DEFAULT_AT}, "scenarios": scenarios}, spec_file)


GENERATORS = {"clinc150": clinc150, "banking77": banking77, "covidqa_de": covidqa_de, "speech": speech}


def generate_suite(spec: dict, spec_file: Path, shared_data: Path, *, full: bool = False) -> list[Scenario]:
    kind = spec.get("generate")
    if kind not in GENERATORS:
        raise ScenarioError(spec_file, "generate", f"unknown generator {kind!r}; known: {', '.join(GENERATORS)}")
    return GENERATORS[kind](spec, spec_file, shared_data, full)

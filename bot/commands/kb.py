"""`receptionist kb …`: manage and query a company's FAQ knowledge base from the shell.

Contract (used by users for batch checks and by the quality checks):
  kb add COMPANY FILE…        index files; a new COMPANY is created too, with default settings (a note on
                              stderr), so `receptionist call COMPANY` answers from it at once; non-zero exit
                              listing per-file errors if any file failed, the others are still added
  kb list COMPANY             the company's documents
  kb remove COMPANY DOCUMENT  remove a document by name or id
  kb ask COMPANY "question"   answer, source, score and the decision
  kb ask COMPANY --jsonl      one question per stdin line -> one JSON object per line
  kb stats COMPANY            counts, version, limits, the decision threshold
  kb learn COMPANY --jsonl    labelled caller questions on stdin, one JSON object per line:
                              {"question": "...", "entry_question": "..." | null, "language": "de" | "en" (optional)}
                              (null = not covered by the FAQ: the hand-off was right)
  kb learned COMPANY          the learned caller questions (--jsonl: in the format `kb learn` reads)
  kb forget COMPANY QUESTION  drop one learned caller question
Settings (data dir, Chroma host/port, embedding model) come from :class:`bot.settings.Settings`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from bot.runtime.companies import demo_profile
from bot.runtime.documents import seed_demo_documents
from bot.runtime.knowledge import get_kb
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from bot.store.seed import seed_companies
from bot.store.validate import InvalidInput, slug
from knowledge.documents import IngestError
from knowledge.index import KnowledgeBaseError, check_company
from knowledge.learned import LearnedExample


def _kb():
    return get_kb(Settings())


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _checked(call, *args):
    """``call(*args)``; a knowledge-base error ends the command with its plain-words message and exit 1."""

    try:
        return call(*args)
    except KnowledgeBaseError as exc:
        _fail(str(exc))


@click.group()
def kb() -> None:
    """Company FAQ knowledge bases: add documents, list, remove, ask."""


def _ensure_company(company: str) -> None:
    """The company in the store, created with the store's defaults (name from the slug, German first, Berlin time,
    standard greetings from prompts/) when new: a knowledge base nobody can call would be a dead end."""
    settings = Settings()
    try:
        init_db(settings)
        with session_scope(settings) as session:
            created = repo.get_company(session, company) is None
            name = repo.ensure_company(session, company).name
    except InvalidInput as exc:
        _fail(str(exc))
    if created:
        click.echo(f"created company {company} ({name}) with default settings; change them with "
                   f"`receptionist company set {company} …`", err=True)


@kb.command("add")
@click.argument("company")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def add(company: str, files: tuple[Path, ...]) -> None:
    """Add (or replace) FILES in COMPANY's knowledge base. Re-adding identical files changes nothing."""
    try:
        check_company(company)
        slug(company)  # the store's rule too: the company is created there (stricter: no '_')
    except (KnowledgeBaseError, InvalidInput) as exc:
        _fail(str(exc))
    base = _kb()
    indexed = 0
    errors: list[str] = []
    show = len(files) > 1 or any(p.is_file() and p.stat().st_size > 1_000_000 for p in files)
    bar = tqdm(total=len(files), unit="file", disable=not show, file=sys.stderr, desc=f"kb add {company}")
    for path in files:
        started = time.perf_counter()
        try:
            if not path.is_file():
                raise IngestError(path.name, f"no such file: {path}")
            info = base.add_file(company, path)
            took = time.perf_counter() - started
            note = f" ({len(info.warnings)} warning(s): {'; '.join(info.warnings)})" if info.warnings else ""
            bar.write(f"{info.status:9} {info.name}: {info.entries} entries, {took:.1f} s{note}")
            indexed += 1
        except (IngestError, KnowledgeBaseError) as exc:
            errors.append(str(exc))
        except ImportError as exc:
            errors.append(f"{path.name}: the document parsers are not available ({exc}).")
        except Exception as exc:  # one broken file must not stop the others
            errors.append(f"{path.name}: unexpected error while indexing: {exc}")
        bar.update(1)
    bar.close()
    if indexed:
        _ensure_company(company)
    if errors:
        click.echo(f"{len(errors)} of {len(files)} file(s) failed:", err=True)
        for e in errors:
            click.echo(f"  {e}", err=True)
        sys.exit(1)


@kb.command("list")
@click.argument("company")
def list_(company: str) -> None:
    """List COMPANY's documents."""

    try:
        docs = _kb().list_documents(company)
    except KnowledgeBaseError as exc:
        _fail(str(exc))
    if not docs:
        click.echo(f"company {company!r} has no documents")
        return
    for d in docs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.added_at))
        click.echo(f"{d.name}\t{d.entries} entries\t{d.format}\t{when}\tid {d.id}")


@kb.command("remove")
@click.argument("company")
@click.argument("document")
def remove(company: str, document: str) -> None:
    """Remove DOCUMENT (name or id) from COMPANY's knowledge base."""
    info = _checked(_kb().remove_document, company, document)
    click.echo(f"removed {info.name} ({info.entries} entries)")


def _record(question: str, result) -> dict:
    best = result.hits[0] if result.hits else None
    e = best.entry if best else None
    return {"question": question, "answerable": bool(result.answerable),
            "entry_question": e.question if e else None, "answer": e.answer if e else None,
            "score": round(float(result.confidence), 4), "source": e.source if e else None,
            "location": e.location if e else None, "entry_id": e.id if e else None,
            "rank_score": round(float(best.score), 4) if best else None,
            "threshold": result.details.get("threshold"),
            "near_miss": bool(getattr(result, "near_miss", False)), "topic": e.question if e else None}


@kb.command("ask")
@click.argument("company")
@click.argument("question", required=False)
@click.option("--jsonl", is_flag=True, help="Read one question per line from stdin, write one JSON object per line.")
@click.option("--language", default=None, help="Caller language (de/en), if known.")
@click.option("-k", default=3, show_default=True, help="How many candidates to show.")
def ask(company: str, question: str | None, jsonl: bool, language: str | None, k: int) -> None:
    """Ask COMPANY's knowledge base a QUESTION (or many with --jsonl)."""

    if jsonl == bool(question):
        _fail('give either one QUESTION or --jsonl (questions on stdin), e.g. kb ask acme "Wann habt ihr offen?"')
    base = _kb()
    try:
        if base.stats(company)["entries"] == 0 and demo_profile(company) is not None:
            # a demo company comes with its FAQ documents, as under `serve --demo` and `call`: a fresh checkout
            # can be asked at once
            click.echo(f"note: indexing the demo companies' FAQ documents for {company!r} (once)", err=True)
            settings = Settings()
            init_db(settings)
            seed_companies(settings)
            seed_demo_documents(settings)
        if base.stats(company)["entries"] == 0:
            _fail(f"company {company!r} has no documents; add some with `receptionist kb add {company} FILE`")
    except KnowledgeBaseError as exc:
        _fail(str(exc))
    if jsonl:
        for line in sys.stdin:
            q = line.strip()
            if not q:
                continue
            click.echo(json.dumps(_record(q, base.ask(company, q, language=language, k=k)), ensure_ascii=False))
        return
    result = base.ask(company, question, language=language, k=k)
    rec = _record(question, result)
    decision = ("ANSWER" if rec["answerable"] else "CONFIRM (near miss: the bot asks whether this is the topic)"
                if rec["near_miss"] else "HAND OFF (not confident enough: a human takes over)")
    click.echo(f"decision: {decision}")
    click.echo(f"score:    {rec['score']:.3f} (threshold {rec['threshold']})")
    if rec["entry_question"] is not None:
        click.echo(f"entry:    {rec['entry_question']}")
        click.echo(f"answer:   {rec['answer']}")
        click.echo(f"source:   {rec['source']}" + (f", {rec['location']}" if rec["location"] else ""))
    for i, hit in enumerate(result.hits[1:k], start=2):
        click.echo(f"  #{i} {hit.score:.3f} {hit.entry.question} ({hit.entry.source})")


@kb.command("stats")
@click.argument("company")
def stats(company: str) -> None:
    """Counts, index version, limits and decision threshold of COMPANY's knowledge base."""
    click.echo(json.dumps(_checked(_kb().stats, company), indent=1))


@kb.command("learn")
@click.argument("company")
@click.option("--jsonl", is_flag=True, required=True,
              help='Read labelled questions from stdin: {"question", "entry_question" (null = not covered)}.')
def learn(company: str, jsonl: bool) -> None:
    """Teach COMPANY's knowledge base from labelled caller questions (e.g. handed-off calls, reviewed).

    All lines are checked first; one bad line (not JSON, no question, an unknown entry) fails the whole batch with
    its line number, and nothing is learned.
    """

    examples = []
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            _fail(f"line {n} is not JSON ({exc.msg}); nothing was learned")
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str) or not (
                obj.get("entry_question") is None or isinstance(obj.get("entry_question"), str)):
            _fail(f'line {n} needs {{"question": "...", "entry_question": "..." or null}}; nothing was learned')
        examples.append(LearnedExample(obj["question"], obj.get("entry_question"), obj.get("language")))
    if not examples:
        _fail("no labelled questions on stdin; nothing was learned")
    base = _kb()
    started = time.perf_counter()
    try:
        counts = base.learn(company, examples)
        st = base.stats(company)  # builds the snapshot: fits the learned model now, not in the first call
    except KnowledgeBaseError as exc:
        _fail(f"{exc} Nothing was learned.")
    click.echo(f"learned {counts['added']} new, {counts['relabelled']} relabelled, {counts['unchanged']} unchanged; "
               f"company now has {counts['phrasings']} filed phrasings and {counts['not_covered']} not-covered "
               f"questions; learned model {'active' if st['learned_model'] else 'not active yet (needs more history)'}"
               f" ({time.perf_counter() - started:.1f} s)")


@kb.command("learned")
@click.argument("company")
@click.option("--jsonl", is_flag=True, help="One JSON object per line, in the format `kb learn` reads.")
def learned(company: str, jsonl: bool) -> None:
    """List COMPANY's learned caller questions."""
    items = _checked(_kb().learned, company)
    for ex in items:
        if jsonl:
            click.echo(json.dumps({"question": ex.question, "entry_question": ex.entry_question,
                                   "language": ex.language}, ensure_ascii=False))
        else:
            click.echo(f"{ex.question}  ->  {ex.entry_question or '(not covered)'}")
    if not jsonl:
        click.echo(f"{len(items)} learned questions")


@kb.command("forget")
@click.argument("company")
@click.argument("question")
def forget(company: str, question: str) -> None:
    """Drop one learned caller QUESTION from COMPANY's knowledge base."""
    if not _checked(_kb().forget, company, question):
        _fail(f"company {company!r} has no learned question {question!r}; see `receptionist kb learned {company}`")
    click.echo(f"forgot {question!r}")

"""Read a caller's turn clause by clause before the intent decides: a greeting in front of a question is not the
caller's intent, and a social example that matches one word of a long sentence does not explain the sentence.

Why: the intent classifier (:mod:`bot.brain.intents`) finds the *nearest example* of the whole utterance, so
"Guten Tag, wann sind Ihre Sprechzeiten?" is nearest to the example "Guten Tag" (hello) and the question was never
looked up, "Can you represent me in a drink driving case?" is nearest to "Can you repeat that please" (repeat), and
"Great, thanks. Bye!" is a weak goodbye overall although its last clause is a plain "Bye". Callers open with a
greeting and close with thanks; the clauses in between carry the request.

Whole-utterance intents (hello, repeat, goodbye) count only when their example covers the utterance or a clause of
it; ask_person and leave_message carry content of their own ("Bitte um Rückruf wegen meines Befunds") and are left
to the classifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.brain.intents import QUESTION, IntentClassifier, IntentScore, normalise

WHOLE_UTTERANCE = ("hello", "repeat", "goodbye")  # intents that are the entire turn when they are meant
CLAUSE_STRONG = (0.55, 0.15)  # a clause this close to a social example is that intent (the receptionist's STRONG)
MIN_COVERAGE = 0.5  # the matched example's words over the utterance's words for a whole-utterance intent
_CLAUSE_END = re.compile(r"[.,!?;:]+")


@dataclass(frozen=True)
class Reading:
    """What the brain goes on: the text to look up (greetings in front removed) and its intent."""

    text: str
    intent: IntentScore
    greeting_removed: bool = False


def clauses(text: str) -> list[str]:
    """The clauses of an utterance, split at the punctuation the recogniser writes (empty ones dropped)."""
    return [c.strip() for c in _CLAUSE_END.split(text) if normalise(c)]


def _words(text: str) -> int:
    return len(normalise(text).split())


def _as_question(score: IntentScore) -> IntentScore:
    return IntentScore(QUESTION, 0.0, 0.0, "", score.scores)


def read_turn(text: str, classifier: IntentClassifier) -> Reading:
    """The caller's turn as the brain should take it (see the module docstring)."""
    parts = clauses(text)
    removed = False
    # leading greetings ("Guten Tag,", "Hello, do you speak English?") before further clauses are not the request
    while len(parts) > 1 and classifier.classify(parts[0]).intent == "hello" \
            and classifier.classify(parts[0]).confident(*CLAUSE_STRONG):
        parts = parts[1:]
        removed = True
    rest = text if not removed else _rest_of(text, parts)
    score = classifier.classify(rest)
    if score.intent not in WHOLE_UTTERANCE or _words(score.example) >= MIN_COVERAGE * _words(rest):
        return Reading(rest, score, removed)
    # a whole-utterance intent matched only part of a long turn: the clauses decide
    # ("Great, thanks. Bye!", "Können Sie das wiederholen, ich habe Sie nicht verstanden?"): it stands when a clause
    # is that intent outright and no clause is a question; a farewell never ends a turn that asks something
    labels = [classifier.classify(c) for c in parts]
    strong = [c for c in labels if c.intent == score.intent and c.confident(*CLAUSE_STRONG)]
    asks = score.intent == "goodbye" and "?" in rest
    if strong and not asks and all(c.intent != QUESTION for c in labels):
        return Reading(rest, max(strong, key=lambda c: c.score), removed)
    return Reading(rest, _as_question(score), removed)


def _rest_of(text: str, parts: list[str]) -> str:
    """``text`` from the first kept clause on, with its own punctuation ("Wann …?" keeps the question mark)."""
    start = text.find(parts[0])
    return text[start:].strip() if start >= 0 else " ".join(parts)

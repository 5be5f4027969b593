"""Phrasings a company lists under "Auch gefragt:" / "Also asked:" become alternates, not spoken answer text."""

from __future__ import annotations

from knowledge.ingest import parse_bytes


def test_labelled_phrasings_move_from_answer_to_alternates() -> None:
    md = ("## Wann sind Ihre Sprechzeiten?\nMontag bis Freitag 8 bis 12 Uhr.\n"
          "Auch gefragt: Wann haben Sie geöffnet?; Wie sind Ihre Öffnungszeiten?\n\n"
          "## Can I park?\nYes, in the yard. (Also asked: Is there parking? | Where can I park?)\n")
    first, second = parse_bytes(md.encode(), "faq.md").entries
    assert first.answer == "Montag bis Freitag 8 bis 12 Uhr."
    assert first.alternates == ("Wann haben Sie geöffnet?", "Wie sind Ihre Öffnungszeiten?")
    assert second.answer == "Yes, in the yard." and second.alternates == ("Is there parking?", "Where can I park?")


def test_csv_answer_cells_and_question_marks_as_separators() -> None:
    csv = ('Frage;Antwort\n"Was kostet ein Attest?";"15 Euro. Auch gefragt: Preis Attest? Was zahle ich fürs Attest?"\n')
    (entry,) = parse_bytes(csv.encode(), "preise.csv").entries
    assert entry.answer == "15 Euro."
    assert entry.alternates == ("Preis Attest?", "Was zahle ich fürs Attest?")


def test_answers_without_labels_are_untouched() -> None:
    md = "## Wo parke ich?\nAuch gefragt wird oft nach Parkplätzen: es gibt keine.\n"
    (entry,) = parse_bytes(md.encode(), "faq.md").entries
    assert entry.alternates == () and "Parkplätzen" in entry.answer

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


def test_json_items_carry_alternates_in_a_list_field() -> None:
    import json

    data = {"faq": [
        {"frage": "Was kostet ein Ölwechsel?", "antwort": "89 bis 149 Euro.",
         "auch_gefragt": ["Preis Ölwechsel?", "  Was zahl ich fürs Öl?  ", 42, {"x": 1}, ""]},
        {"question": "Can I park?", "answer": "Yes, in the yard.", "also_asked": "Is there parking? | Where to park?"},
        {"question": "Do you open on Sundays?", "answer": "No, never. Also asked: Open on Sunday?",
         "alternates": ["Sunday opening?"]},
        {"frage": "Gibt es WLAN?", "antwort": "Ja, kostenlos."},
    ]}
    oil, park, sunday, wifi = parse_bytes(json.dumps(data).encode(), "faq.json").entries
    assert oil.alternates == ("Preis Ölwechsel?", "Was zahl ich fürs Öl?") and oil.answer == "89 bis 149 Euro."
    assert park.alternates == ("Is there parking?", "Where to park?")
    assert sunday.answer == "No, never." and sunday.alternates == ("Sunday opening?", "Open on Sunday?")
    assert wifi.alternates == ()

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


def test_an_english_and_a_german_label_joined_into_one_cell_stay_apart() -> None:
    csv = ('Question,Answer\n"Can I park?","Yes, in the yard. Also asked: Is there parking?; Where can I park? '
           'Auch gefragt: Kann ich bei Ihnen parken?; Gibt es Parkplätze?"\n')
    (entry,) = parse_bytes(csv.encode(), "fees.csv").entries
    assert entry.answer == "Yes, in the yard."
    assert entry.alternates == ("Is there parking?", "Where can I park?", "Kann ich bei Ihnen parken?",
                                "Gibt es Parkplätze?")


def test_a_phrasings_paragraph_full_of_question_marks_is_not_a_new_question() -> None:
    text = ("Wo parke ich?\n\nIm Hof.\n\nAuch gefragt: Parkplatz?; Kann ich bei Ihnen parken?\n\n"
            "Also asked: Parking?\n\nHaben Sie WLAN?\n\nJa.\n")
    first, second = parse_bytes(text.encode(), "faq.txt").entries
    assert (first.question, first.answer) == ("Wo parke ich?", "Im Hof.")
    assert first.alternates == ("Parkplatz?", "Kann ich bei Ihnen parken?", "Parking?")
    assert (second.question, second.answer, second.alternates) == ("Haben Sie WLAN?", "Ja.", ())


def test_a_phrasings_line_wrapped_in_a_pdf_stays_with_its_answer(tmp_path) -> None:
    from evals.fixtures import make_pdf

    phrasings = "; ".join(["Wo kann ich mein Fahrrad abstellen?", "Gibt es Fahrradständer vor dem Haus?",
                           "Kann ich mein Rad mit in den Hof nehmen?", "Gibt es überdachte Fahrradbügel?",
                           "Wo stelle ich mein Lastenrad hin?"])
    pdf = make_pdf(tmp_path / "f.pdf", ["Kann ich mit dem Fahrrad kommen?\n\nGerne, im Innenhof.\n\n"
                                        f"Auch gefragt: {phrasings}\n\nGibt es einen Aufzug?\n\nJa, bis in den "
                                        "vierten Stock."])
    bike, lift = parse_bytes(pdf.read_bytes(), "f.pdf").entries
    assert (bike.question, bike.answer) == ("Kann ich mit dem Fahrrad kommen?", "Gerne, im Innenhof.")
    assert len(bike.alternates) == 5 and bike.alternates[-1] == "Wo stelle ich mein Lastenrad hin?"
    assert lift.question == "Gibt es einen Aufzug?" and lift.alternates == ()

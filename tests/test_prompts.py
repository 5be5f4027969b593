import pytest

import prompts


@pytest.mark.parametrize("lang", prompts.LANGUAGES)
def test_greeting_names_company_and_discloses_ai(lang: str) -> None:
    text = prompts.load(lang, "phrases")["greeting"].format(company="Praxis Dr. Berger")
    assert "Praxis Dr. Berger" in text
    assert ("KI" in text) if lang == "de" else ("AI" in text)


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        prompts.load("fr", "phrases")

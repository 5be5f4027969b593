import string

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


@pytest.mark.parametrize("name", ["phrases", "intents", "summary", "telephony", "notifications"])
def test_both_languages_have_the_same_keys_and_placeholders(name: str) -> None:
    de, en = prompts.load("de", name), prompts.load("en", name)
    assert set(de) == set(en)
    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    for key, text in de.items():
        if isinstance(text, str) and name != "intents":
            assert fields(text) == fields(en[key]), key

"""The public pages' choices (issue 9): who gets a page rather than JSON, in which language, and that
every word exists in both languages."""

from __future__ import annotations

import pytest

from chalicelib.handlers._pages import language, wants_html
from chalicelib.handlers.page_text import LANGS, TEXT


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Chrome, Firefox
        ("text/html", True),
        ("application/json", False),
        ("*/*", False),  # curl, most HTTP libraries: the API as before
        ("", False),
        ("application/json, text/html;q=0.5", False),
        ("text/*", True),
        ("text/html;q=0, */*", False),
    ],
)
def test_a_browser_gets_a_page_and_anything_else_keeps_json(accept, html):
    assert wants_html({"Accept": accept} if accept else {}) is html


@pytest.mark.parametrize(
    ("accept_language", "chosen", "lang"),
    [
        ("", None, "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
        ("en-US,en;q=0.9", None, "en"),
        ("fr-FR,fr;q=0.9,en;q=0.5,zh;q=0.4", None, "en"),
        ("fr-FR", None, "zh"),  # neither: the default
        ("en;q=0, zh;q=0.1", None, "zh"),
        ("en-US", "zh", "zh"),  # the page's switch wins
        ("zh-CN", "en", "en"),
        ("zh-CN", "de", "zh"),  # an unknown choice is ignored
    ],
)
def test_the_language_is_the_switch_then_the_browser_then_chinese(accept_language, chosen, lang):
    assert language({"Accept-Language": accept_language}, chosen) == lang


def test_every_string_exists_in_both_languages():
    keys = {code: set(TEXT[code]) for code in LANGS}
    assert keys["zh"] == keys["en"], keys["zh"] ^ keys["en"]

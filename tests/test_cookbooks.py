"""docs/cookbooks/{logql,traceql}.md hold queries that parse, on labels and services that exist.

Each query (one a line in a ``logql``/``traceql`` block) is parsed by Grafana's own grammar
(``tests.grammars``). A plain block's query must be in the console's subset, so that
tests/e2e/test_cookbooks.py can run it locally; a ``logql loki-only`` / ``traceql tempo-only``
block's must be outside it (the console says "production only"), so that a query the console learns
to run moves to a plain block and gets run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airscope import catalog
from airscope.console import traceql
from airscope.console.logql.parse import Unsupported as LogQLUnsupported
from airscope.console.logql.parse import parse as parse_logql
from airscope.stack import settings
from airscope.stack.checks.dashboards import MATCHER_LABEL, SELECTOR
from tests import grammars
from tests.e2e.test_guide import fenced_blocks

ROOT = Path(__file__).resolve().parents[1]
COOKBOOKS = {"logql": ROOT / "docs/cookbooks/logql.md", "traceql": ROOT / "docs/cookbooks/traceql.md"}
PRODUCTION_ONLY = {"logql": "loki-only", "traceql": "tempo-only"}


def queries(language: str, production_only: bool) -> list[str]:
    wanted = f"{language} {PRODUCTION_ONLY[language]}" if production_only else language
    text = COOKBOOKS[language].read_text()
    return [
        line.strip()
        for lang, lines in fenced_blocks(text)
        if lang == wanted
        for line in lines
        if line.strip()
    ]


def every_query(language: str) -> list[str]:
    return queries(language, False) + queries(language, True)


def test_each_cookbook_has_runnable_and_production_only_queries():
    for language in COOKBOOKS:
        assert len(queries(language, False)) >= 6, language
        assert len(queries(language, True)) >= 6, language
    text = COOKBOOKS["logql"].read_text() + COOKBOOKS["traceql"].read_text()
    blocks = {lang for lang, _ in fenced_blocks(text)}
    assert blocks <= {"logql", "logql loki-only", "traceql", "traceql tempo-only"}, blocks


def test_the_grammar_check_refuses_what_is_not_logql_or_traceql():
    # The check is worth something only if it fails: a misspelled stage, a missing comma, a brace.
    assert all(
        grammars.errors("logql", ['{service="a"} | line_fromat "x"', 'topk(10 sum(rate({a="b"}[1m])))'])
    )
    assert all(grammars.errors("traceql", ["{ status = }", "{ } | count() >"]))


@pytest.mark.parametrize("language", sorted(COOKBOOKS))
def test_every_query_parses_with_grafanas_grammar(language):
    found = every_query(language)
    failed = [
        f"`{query}`: {error}"
        for query, error in zip(found, grammars.errors(language, found), strict=True)
        if error
    ]
    assert not failed, "\n".join(failed)


def test_the_vendored_grammars_match_the_lockfile():
    assert not grammars.problems(), grammars.problems()


@pytest.mark.parametrize("query", queries("logql", False))
def test_a_runnable_logql_query_is_in_the_consoles_subset(query):
    try:
        parse_logql(query)
    except LogQLUnsupported as why:
        pytest.fail(f"`{query}` is outside the console's subset ({why}): put it in a `logql loki-only` block")


@pytest.mark.parametrize("query", queries("logql", True))
def test_a_loki_only_query_is_outside_the_consoles_subset(query):
    with pytest.raises(LogQLUnsupported):
        parse_logql(query)  # a LogQLError would be a query the console calls invalid: fix it


@pytest.mark.parametrize("query", queries("traceql", False))
def test_a_runnable_traceql_query_is_in_the_consoles_subset(query):
    try:
        traceql.parse(query)
    except traceql.Unsupported as why:
        pytest.fail(
            f"`{query}` is outside the console's subset ({why}): put it in a `traceql tempo-only` block"
        )


@pytest.mark.parametrize("query", queries("traceql", True))
def test_a_tempo_only_query_is_outside_the_consoles_subset(query):
    with pytest.raises(traceql.Unsupported):
        traceql.parse(query)


def test_logql_selects_only_lokis_labels_and_real_services():
    services = set(catalog.load().services)
    for query in every_query("logql"):
        selectors = SELECTOR.findall(query)
        assert selectors, f"`{query}` has no stream selector"
        labels = {label for selector in selectors for label in MATCHER_LABEL.findall(selector)}
        assert labels <= set(settings.LOG_LABELS), (
            f"`{query}` selects {sorted(labels)}; Loki's are {settings.LOG_LABELS}"
        )
        for value in re.findall(r'\bservice="([^"]+)"', " ".join(selectors)):
            assert value in services | {"loki"}, f"`{query}`: no service {value!r}"
        for value in re.findall(r'\blevel="([^"]+)"', query):
            assert value in settings.LOG_LEVELS, f"`{query}`: no level {value!r}"


def test_traceql_names_real_services():
    services = set(catalog.load().services)
    for query in every_query("traceql"):
        for value in re.findall(r'(?:service\.name|trace:rootService) = "([^"]+)"', query):
            assert value in services, f"`{query}`: no service {value!r}"


def test_the_cookbooks_say_how_their_queries_are_checked():
    for language, path in COOKBOOKS.items():
        text = path.read_text()
        assert "tests/e2e/test_cookbooks.py" in text and "tests/test_cookbooks.py" in text, path
        assert f"{language} {PRODUCTION_ONLY[language]}" in text, path

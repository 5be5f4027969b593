"""Quality regression on a slice of the TEST splits (never used for calibration), through the real KnowledgeBase.

Floors sit well below the figures measured by `python -m evals.retrieval_quality` (see README), so that only a real
regression fails: CLINC150 questions-only company measured top-1 0.80, Recall@1 0.35, wrong-answer rate 0.009,
hand-off recall 0.996; COVID-QA German test part measured top-1 0.37, hand-off recall 0.89.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from evals.kb_data import clinc_cases, clinc_document, covid_setup
from knowledge.base import KnowledgeBase


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase(tmp_path_factory.mktemp("kb-quality") / "data")


def test_clinc_test_slice(kb: KnowledgeBase, shared_data: Path) -> None:
    kb.add_document("bank", clinc_document(alternates=False))
    per_group: dict[str, list] = defaultdict(list)
    for case in clinc_cases(shared_data, "test"):
        per_group[case.group].append(case)
    covered = [c for g, cs in per_group.items() if not g.startswith("other:") and g != "oos" for c in cs[:8]]
    others = [c for g, cs in per_group.items() if g.startswith("other:") for c in cs[::10]] + per_group["oos"][:100]
    right = answered_right = wrong = 0
    for c in covered + others:
        r = kb.ask("bank", c.query)
        ok = c.gold is not None and r.best is not None and r.best.question == c.gold
        right += ok
        answered_right += ok and r.answerable
        wrong += r.answerable and not ok
    n_cov, n_all = len(covered), len(covered) + len(others)
    assert n_cov == 360 and len(others) > 300
    assert right / n_cov >= 0.70, f"top-1 {right / n_cov:.3f}"
    assert answered_right / n_cov >= 0.20, f"Recall@1 {answered_right / n_cov:.3f}"
    assert wrong / n_all <= 0.03, f"wrong-answer rate {wrong / n_all:.3f}"
    handed_off = sum(not kb.ask("bank", c.query).answerable for c in others)
    assert handed_off / len(others) >= 0.95


def test_covid_de_test_part(kb: KnowledgeBase, shared_data: Path) -> None:
    setup = covid_setup(shared_data)
    kb.add_document("covid", setup.document)
    covered = [c for c in setup.test if c.gold is not None]
    left_out = [c for c in setup.test if c.gold is None]
    top1 = sum(kb.ask("covid", c.query).best.question == c.gold for c in covered) / len(covered)
    assert top1 >= 0.25, f"top-1 {top1:.3f}"
    handed_off = sum(not kb.ask("covid", c.query).answerable for c in left_out) / len(left_out)
    assert handed_off >= 0.6, f"hand-off recall {handed_off:.3f}"

"""The import direction of the product, checked on the source (AST), so a wrong import fails before review.

Packages sit in layers, top to bottom; an import may only point down:

    carriers   bot.cli > bot.commands > bot.web > bot.telephony
    services   bot.runtime
    parts      bot.pipeline > bot.store > bot.demo > bot.brain
    base       bot.models > bot.settings > bot.voices > bot (the version) > knowledge > prompts

``evals/`` drives the product from outside and is never imported by it. Imports between packages stand at module
top, where a reader sees the direction (an import inside a function hides it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["bot.cli", "bot.commands", "bot.web", "bot.telephony", "bot.runtime", "bot.pipeline", "bot.store",
          "bot.demo", "bot.brain", "bot.models", "bot.settings", "bot.voices", "bot", "knowledge", "prompts"]
PRODUCT = ("bot", "knowledge", "prompts")
OURS = PRODUCT + ("evals",)


def package_of(module: str) -> str:
    parts = module.split(".")
    return f"bot.{parts[1]}" if parts[0] == "bot" and len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module, at module top) for every absolute import of our own packages in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, name, id(node) in top) for name in names if name.split(".")[0] in OURS]
    return found


def product_files() -> list[Path]:
    return sorted(p for package in PRODUCT for p in (ROOT / package).rglob("*.py"))


def edges() -> list[tuple[str, int, str, str, bool]]:
    """(file, line, from package, to package, at top) for every import that crosses a package boundary."""
    out = []
    for path in product_files():
        source = package_of(module_name(path))
        for line, name, at_top in imports(path):
            target = package_of(name)
            if target != source:
                out.append((str(path.relative_to(ROOT)), line, source, target, at_top))
    return out


def test_every_product_package_has_a_layer() -> None:
    packages = {package_of(module_name(p)) for p in product_files()}
    assert packages <= set(LAYERS), f"give these packages a layer in {__file__}: {sorted(packages - set(LAYERS))}"


def test_imports_point_down_only() -> None:
    rank = {package: i for i, package in enumerate(LAYERS)}
    upward = [f"{f}:{line} {src} -> {dst}" for f, line, src, dst, _ in edges()
              if dst in rank and rank[dst] <= rank[src]]
    assert upward == []


def test_the_product_never_imports_evals() -> None:
    assert [f"{f}:{line}" for f, line, _, dst, _ in edges() if dst == "evals"] == []


def test_imports_between_packages_stand_at_module_top() -> None:
    assert [f"{f}:{line} -> {dst}" for f, line, _, dst, top in edges() if not top] == []


def test_no_package_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for _, _, src, dst, _ in edges():
        graph.setdefault(src, set()).add(dst)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert sorted(p for p in graph if reaches(p, p, {p})) == []


@pytest.mark.parametrize("bad", ["import evals.runner\n", "def f():\n    from bot.web import app\n"])
def test_the_checker_sees_a_wrong_import(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "probe.py"
    path.write_text(bad, encoding="utf-8")
    (line, name, at_top), = imports(path)
    assert name.split(".")[0] in OURS and at_top is ("def" not in bad)

"""The code's shape: imports run one way, the worker side apart from the serving side, variants in trainers/."""

import ast
import re
import subprocess
from pathlib import Path

import pytest

from trainers import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trainers", "runtime", "ui")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Project module -> project modules it imports anywhere in its body (functions included)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                # "from runtime.training import job" names runtime.training.job; "import runtime.record.live" both.
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    deps.add(target)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert "trainers.variants.guide_gan_model" in graph["trainers.variants.gan_tuned"]  # the graph sees real imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, pending = set(), [start]
    while pending:
        for dep in graph.get(pending.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                pending.append(dep)
    return seen


def test_the_worker_side_never_imports_the_serving_side():
    """A worker process trains a run: it needs the job, its callbacks and the store, never the manager,
    the scheduler, the access rules or a page (and so never Streamlit)."""
    imported = reachable(import_graph(), "runtime.workers.worker")
    assert {"runtime.training.job", "runtime.workers.remote", "runtime.store.writer"} <= imported  # real imports
    assert not {m for m in imported if m.startswith(("runtime.serving", "ui"))}


@pytest.mark.parametrize("package", ["runtime.training", "runtime.record", "runtime.store"])
def test_the_data_path_runs_one_way_training_and_record_and_store_never_import_serving_or_workers(package):
    """The folders name the path a metric takes (training -> record -> store -> serving -> page): the
    first three never reach for the server's side or for where a run trains."""
    graph = import_graph()
    modules = [m for m in graph if m == package or m.startswith(package + ".")]
    assert len(modules) >= 4
    for module in modules:
        wrong = {d for d in graph[module] if d.startswith(("runtime.serving", "runtime.workers", "ui"))}
        assert not wrong, f"{module} imports {sorted(wrong)}"


def test_runtime_is_a_few_packages_not_a_flat_folder():
    flat = sorted(p.name for p in (ROOT / "runtime").glob("*.py") if p.name != "__init__.py")
    assert flat == [], f"runtime/ should hold packages only, found {flat}"


@pytest.mark.parametrize("key", list(VARIANTS))
def test_a_variant_is_named_only_in_trainers_its_page_stub_and_tests(key):
    """Everything else learns about variants from the registry. (A key as code would use it: quoted or
    in a page path; ``test_step`` is also the name of a Keras method, which prose may mention.)"""
    pattern = rf"[\"'/]{key}[\"'.]"
    out = subprocess.run(
        ["git", "grep", "-lE", pattern, "--", "ui", "runtime", "app.py", ".streamlit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "", f"{key!r} is named in: {out.stdout.split()}"
    stub = ROOT / "pages" / f"{key}.py"
    assert stub.is_file() and re.search(rf'render\("{key}"\)', stub.read_text())

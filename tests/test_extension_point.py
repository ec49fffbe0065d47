"""The variant spec is the one extension point: a sixth variant needs its module, a
registration, and (for a page of its own file) a three-line stub; nothing in ui/,
runtime/ or app.py."""

import pytest

from tests import throwaway_variant
from tests.apptest import page, texts
from trainers import VARIANTS, get_variant
from trainers.registry import register, unregister
from ui.views import PAGE_RENDERERS, RUN_RENDERERS

KEY = throwaway_variant.KEY
STUB = throwaway_variant.__file__.replace("tests/throwaway_variant.py", f"pages/{KEY}.py")


@pytest.fixture
def sixth():
    register(throwaway_variant.SPEC)
    yield throwaway_variant.SPEC
    unregister(KEY)


@pytest.fixture
def stub(sixth):
    """The variant's page stub, as its author would add it (removed afterwards)."""
    with open(STUB, "w") as fh:
        fh.write(f'from ui.variant_page import render\n\nrender("{KEY}")\n')
    yield STUB
    import os

    os.remove(STUB)


def test_a_registered_variant_gets_a_page_trains_and_lists_on_the_runs_page(lab, stub):
    home = page()
    assert not home.exception
    assert any("L1 step (throwaway)" in e.proto.label for e in home.get("page_link"))

    at = page(f"pages/{KEY}.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "L1 step (throwaway)"
    at.button(key=f"start:{KEY}").click().run()
    run_id = at.query_params["run"]
    assert lab().wait(run_id, 60) == "completed"
    at.run()
    assert not at.exception
    body = texts(at)
    assert "Completed" in body and "straight-ish segments" in body  # its watch-for note
    assert "Per epoch (throwaway view)" in body and list(at.dataframe[0].value["epoch"]) == [1, 2]

    other = lab().start(KEY, {"learning_rate": 0.01})
    assert lab().wait(other, 60) == "completed"
    runs = page("pages/runs.py")
    table = runs.dataframe[0].value
    row = table[table["run"] == run_id].iloc[0]
    assert row["variant"] == "L1 step (throwaway)" and row["status"] == "completed"
    assert row["loss"] == lab().store.metrics.last_values(run_id)["loss"]  # its headline metric, a column
    # Its declared key settings, a column each where the runs differ: the rate, not the target.
    assert list(table["learning_rate"]) == [0.01, 0.001] and "target" not in table.columns


def test_a_variant_without_a_stub_is_still_offered(lab, sixth):
    """A plug-in variant with no file under pages/ is served by the generic variant page."""
    home = page()
    assert not home.exception
    assert any("L1 step (throwaway)" in e.proto.label for e in home.get("page_link"))


@pytest.mark.parametrize("key", list(VARIANTS))
def test_every_declared_view_has_a_renderer(key):
    spec = get_variant(key)
    assert all(type(v) in RUN_RENDERERS for v in spec.run_views)
    assert all(type(v) in PAGE_RENDERERS for v in spec.page_views)
    assert all(k in {p.name for p in spec.params} for k in spec.key_settings)
    assert spec.validate(spec.tiny)  # the tiny config is a valid one

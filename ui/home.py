"""The home page: what the lab is, where it runs, where MNIST comes from, the variants, recent runs."""

from __future__ import annotations

import streamlit as st

from trainers import VARIANTS
from trainers.data import MnistError, MnistNotFoundError, describe_mnist_source, load_mnist
from ui.fmt import STATUS_ICONS, plain
from ui.lab import get_manager
from ui.navigation import page_of, require_app
from ui.visitor import client_address

GUIDE_URL = "https://keras.io/guides/custom_train_step_in_torch/"


def _mnist_status() -> None:
    try:
        data = load_mnist()
    except (MnistNotFoundError, MnistError) as exc:
        st.error(
            f"**MNIST is not available** — the GAN and the class-weight demo need it.\n\n{exc}\n\n"
            "For example: `MNIST_DIR=/path/to/mnist streamlit run app.py`."
        )
        return
    st.success(f"**MNIST**: {len(data):,} images from {data.source}.")


def render() -> None:
    require_app()
    manager = get_manager()
    st.title("Keras custom training steps lab")
    st.markdown(
        f"Pick one of the training-step variants from the Keras guide *[Customizing what happens in fit() "
        f"with PyTorch]({GUIDE_URL})*, tune it, press **Start**, and watch it train live: loss curves, "
        "throughput, and for the GAN the digits forming on screen. Every run is recorded; compare them "
        "on the **Runs** page."
    )
    cols = st.columns(2)
    cols[0].info(f"**Device**: {manager.device}  \n**Runs on**: {manager.backend_info()}", icon=":material/memory:")
    with cols[1]:
        _mnist_status()
    st.caption(f"MNIST source setting: {describe_mnist_source()}")
    if manager.private_runs and manager.max_per_visitor and client_address() is None:
        st.warning(
            "**This demo cannot see its visitors' addresses**, so its per-visitor cap counts browsers (cookies) "
            "only: one person can clear cookies and start more runs. Connections come from no address, or from "
            "a loopback or private one: a proxy's (a Hugging Face Space has one) or a NAT's, shared by every "
            "visitor. Set `LAB_TRUST_PROXY=1` (one proxy; `2` for two in a row) so that the lab reads the address "
            "your proxy appends to `X-Forwarded-For`.",
            icon=":material/visibility_off:",
        )

    st.subheader("Training steps")
    grid = st.columns(3)
    for i, spec in enumerate(VARIANTS.values()):
        with grid[i % 3].container(border=True):
            st.page_link(page_of(spec.key), label=f"**{spec.title}**", icon=":material/arrow_forward:")
            st.caption(spec.summary + (f"  \n*Guide: {spec.guide_section}*" if spec.guide_section else ""))

    st.subheader("Active and recent runs")
    runs = manager.list(limit=10)
    if not runs:
        st.caption("No runs yet. Open a training step above and press Start.")
    for r in runs:
        spec = VARIANTS.get(r["variant"])
        if spec is None:
            continue
        name = plain(r.get("name") or spec.title)  # names are typed by people: shown as written
        progress = f"step {r['steps_done']:,}" + (f" of {r['total_steps']:,}" if r.get("total_steps") else "")
        st.page_link(
            page_of(spec.key),
            query_params={"run": r["id"]},
            label=f"{STATUS_ICONS.get(r['status'], '')} {name} · {r['status']} · {progress}",
            help=f"Run {r['id']}",
        )
    if manager.recovered:
        st.caption(f"{len(manager.recovered)} run(s) were interrupted by the last restart; their records are kept.")

"""The "Your own step" page: a code editor (Ace, with line numbers and Python highlighting),
templates, the module's hyperparameters as widgets, Start, and the same live panel as every page.

The module is checked as it is typed (syntax, the contract's names, the hyperparameters),
without running it; errors are marked in the editor's gutter at their line.
"""

from __future__ import annotations

import streamlit as st
from streamlit_ace import st_ace

from trainers import get_variant, templates
from trainers.config import MAX_TEXT, ParamSpec, check, format_value, parse_value
from trainers.own_step_contract import DATA_SETS, Checked, StepCodeError, check_source
from ui.fmt import plain
from ui.lab import get_manager
from ui.navigation import require_app
from ui.panel import error_line, run_panel
from ui.param_widgets import param_widget
from ui.sweep import sweep_ui
from ui.visitor import client_address, visitor

CONTRACT = """
Your module is one of two kinds.

**A module with `build_model`** defines:

- `HYPERPARAMETERS = {...}`: a dict literal, name → default (or `(default, min, max)`); numbers and
  booleans. They become the widgets in the sidebar and travel in the page's address. `epochs` and
  `batch_size`, when present, are fit()'s.
- `build_model(hp)`: returns a **compiled** `keras.Model` whose class defines `train_step` (and/or
  `test_step`). `hp` holds the values chosen. Do not call `fit()` at the top level: the lab fits the
  model itself (a call there is refused, with its line, before anything runs).
- `load_data(hp)` *(optional)*: `x`, `(x, y)`, `(x, y, sample_weight)` or a dict of fit() arguments.
  Without it, the data set chosen in the sidebar is used (`DATA = "mnist_digits"` in the module picks
  the default).
- `sample_images(model)` *(optional)*: images `(n, 28, 28[, 1])` in [0, 1] for the grid. A model with
  a `generator` and a `latent_dim` (the guide's GAN) is drawn from without it.

**A script** (no `build_model`) builds, compiles and calls `model.fit(...)` itself, like the guide's
code as printed: the lab adds its live callback to every `fit()` the script makes. `HYPERPARAMETERS`
are optional; their chosen values are in the global `hp`. `keras.datasets.mnist.load_data()` reads
the lab's MNIST where `MNIST_DIR` is set.

**Where it runs, and what Stop does.** Your code trains in a worker process of its own, never in the
lab's server. Stop and Pause act between two batches; a step that has not returned a few seconds after
Stop (`LAB_STOP_GRACE_SECONDS`, default 5) is ended with its process, and the run says so. A crash
(a segfault, `os.abort()`) ends your run only; where a memory cap is set (`LAB_RUN_MEMORY_MB`, on in a
shared demo) a runaway allocation fails your run with a message instead of the machine.
"""

S = "code:"  # session-state prefix of this page


def _open_first(key: str) -> None:
    """Open the editor as the page is first drawn: on a linked run's code and settings (what it trained with,
    so that Start repeats it), else on the URL's template, else on the GAN's."""
    run_id = st.query_params.get("run")
    snap = get_manager().snapshot(run_id) if run_id else None
    if snap is not None and snap.variant == key and isinstance(snap.config.get("source"), str):
        config = snap.config
        _load(config.get("template", "blank"), config["source"])
        if config.get("file"):
            st.session_state[S + "file"] = config["file"]  # the picker names it, and Start again keeps it
        kept = _kept()  # the widgets start from them while the module still accepts them
        kept.update({f"hp:{name}": value for name, value in (config.get("hp") or {}).items()})
        try:
            st.session_state[S + "data-for"] = check_source(config["source"]).data
            kept.update(data=config["data"], limit=config["data_limit"])
        except (StepCodeError, KeyError):
            pass  # the widgets start from the module's own
        return
    template = st.query_params.get("template", templates.DEFAULT)
    template = template if template in templates.NAMES else templates.DEFAULT
    _load(template, templates.source(template))


def _load(template: str, source: str, fresh: bool = False) -> None:
    """Open the editor on ``source``. ``fresh`` (another template, an upload): with its own hyperparameters'
    defaults, not the last module's values (a template's ``epochs`` left in the URL would otherwise set the
    next one's, silently), and no longer beside a linked run of other code (its panel would stand over the new
    module's problems; the run goes on, on the Runs page); a link's values count only for the module it
    opened with."""
    st.session_state[S + "template"] = template
    st.session_state[S + "source"] = source
    st.session_state[S + "version"] = st.session_state.get(S + "version", 0) + 1  # a new editor, with this text
    for key in [k for k in st.session_state if str(k).startswith(S + "hp:")] + [S + "data", S + "limit"]:
        st.session_state.pop(key, None)  # the widgets start again, from what is kept for this module
    st.session_state[S + "kept"] = {}
    if fresh:
        st.session_state.pop(S + "opened-run", None)  # a link to the run it left opens that run's code again
        for key in [k for k in st.query_params.keys() if k.startswith("hp_") or k == "run"]:
            del st.query_params[key]


def _on_template() -> None:
    name = st.session_state[S + "pick"]
    if name is None:  # the picker cleared (it can be, while it shows a loaded file): the editor keeps its module
        return
    _load(name, templates.source(name), fresh=True)
    st.session_state.pop(S + "file", None)
    st.session_state[S + "uploads"] = st.session_state.get(S + "uploads", 0) + 1  # an empty uploader: no file shown
    st.query_params["template"] = name


def _run_error_mark(source: str) -> list[dict] | None:
    """The line the linked run's failure names, marked in the editor, while the editor holds that run's code."""
    run_id = st.query_params.get("run")
    snap = get_manager().snapshot(run_id) if run_id else None
    if snap is None or snap.status != "failed" or snap.config.get("source") != source:
        return None
    line = error_line(snap)
    if line is None:
        return None
    return [{"row": line - 1, "column": 0, "type": "error", "text": f"The run failed here: {snap.error}"}]


def _upload_key() -> str:
    """The uploader's key: a new one (an empty uploader) once a template replaced the file it holds."""
    return f"{S}upload:{st.session_state.get(S + 'uploads', 0)}"


def _on_upload() -> None:
    upload = st.session_state.get(_upload_key())
    if upload is None:
        return
    try:
        text = upload.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.session_state[S + "problem"] = f"{upload.name} is not UTF-8 text: upload a .py file."
        return
    _load(templates.UPLOAD, text, fresh=True)
    st.session_state[S + "file"] = "".join(c for c in upload.name if c.isprintable())[:MAX_TEXT]
    st.session_state[S + "pick"] = None  # the picker no longer names a template the editor does not hold


def _kept() -> dict:
    """The settings' values as last drawn (or as a linked run had them), apart from the widgets: Streamlit drops
    a widget's value on a rerun that does not draw it (a keystroke that leaves the module unparsable, a visit to
    another page), and the widgets start again from these."""
    return st.session_state.setdefault(S + "kept", {})


def _hp_widgets(checked: Checked) -> dict:
    """The module's hyperparameters as widgets, seeded from their kept values, the URL (``hp_<name>``) or their
    defaults, the first of these the module accepts."""
    values, kept = {}, _kept()
    for p in checked.hyperparameters:
        key = f"{S}hp:{p.name}"
        try:
            check(p, st.session_state[key])  # a value the current code still accepts
        except (KeyError, ValueError):
            text = st.query_params.get(f"hp_{p.name}")
            st.session_state[key] = p.default
            for value in (kept.get(f"hp:{p.name}"), text):
                try:
                    if value is not None:
                        st.session_state[key] = parse_value(p, value) if isinstance(value, str) else check(p, value)
                        break
                except ValueError:
                    continue
        values[p.name] = kept[f"hp:{p.name}"] = param_widget(p, key)
    return values


def _sync_url(template: str, data: str, hp: dict, checked: Checked) -> None:
    defaults = {p.name: p.default for p in checked.hyperparameters}
    if template not in templates.NAMES:  # a loaded file cannot travel in a link (its run can): nor can its values,
        wanted = {}  # which would open the default template with them
    else:
        wanted = {"template": template, **({"data": data} if data != (checked.data or "regression") else {})}
        wanted.update({f"hp_{k}": format_value(v) for k, v in hp.items() if v != defaults.get(k)})
    for k in [k for k in st.query_params.keys() if k not in ("run",) and k not in wanted]:
        del st.query_params[k]
    for k, v in wanted.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v


def _start(key: str, config: dict) -> None:
    try:
        run_id = get_manager().start(key, config, visitor=visitor(), client=client_address())
    except ValueError as exc:
        st.session_state[S + "start-error"] = str(exc)
        return
    st.session_state.pop(S + "start-error", None)
    st.query_params["run"] = run_id
    st.session_state[S + "opened-run"] = run_id  # the editor holds its code already


def _data_widgets(checked: Checked) -> tuple[str, int]:
    """The lab's data set (the module's own ``DATA`` at first, or the URL's) and a limit on its rows."""
    kept = _kept()
    if st.session_state.get(S + "data-for", ()) != checked.data:  # another module's DATA: start from its own
        kept.pop("data", None)
        st.session_state.pop(S + "data", None)
        st.session_state[S + "data-for"] = checked.data
    if S + "data" not in st.session_state:
        data = kept.get("data") or st.query_params.get("data", checked.data or "regression")
        st.session_state[S + "data"] = data if data in DATA_SETS else "regression"
    if S + "limit" not in st.session_state:
        st.session_state[S + "limit"] = kept.get("limit", 0)
    kept["data"] = st.selectbox(
        "Data (when the module has no load_data)",
        list(DATA_SETS),
        format_func=DATA_SETS.get,
        key=S + "data",
    )
    kept["limit"] = param_widget(
        ParamSpec("data_limit", "int", 0, min=0, max=70_000, step=64, help="First n rows only (0: all)."),
        S + "limit",
    )
    return kept["data"], kept["limit"]


def render(key: str) -> None:
    require_app()
    spec = get_variant(key)
    manager = get_manager()
    st.title(spec.title)
    st.markdown(spec.summary)
    if not manager.allow_code:
        st.warning(
            "**Running code typed in the browser is turned off on this shared demo.** A module you write here "
            "would run on the server with the server's rights, so a hosted lab keeps this page for the person "
            "who runs it locally (`streamlit run app.py`), or for a demo started with `LAB_ALLOW_CODE=1` by "
            "someone who accepts that risk. The five steps of the guide and the GAN variants are on the other pages.",
            icon=":material/lock:",
        )
        return
    manager.warm_workers()  # your code trains in a worker process: have one ready before Start
    linked = st.query_params.get("run")
    if S + "source" not in st.session_state or (linked and linked != st.session_state.get(S + "opened-run")):
        _open_first(key)  # a first visit, or a link to another run than the editor holds (the home page's)
        st.session_state[S + "opened-run"] = linked
    with st.expander("The contract: what your module defines", icon=":material/description:"):
        st.markdown(CONTRACT)

    cols = st.columns([3, 2])
    origin = st.session_state.get(S + "template", templates.DEFAULT)
    cols[0].selectbox(
        "Start from a template",
        templates.NAMES,
        index=templates.NAMES.index(origin) if origin in templates.NAMES else None,
        placeholder=f"{st.session_state[S + 'file']} (loaded from a file)"
        if S + "file" in st.session_state
        else "a module loaded from a file",
        format_func=templates.TITLES.get,
        key=S + "pick",
        on_change=_on_template,
        help="Loads the template into the editor (your edits are replaced).",
    )
    cols[1].file_uploader("…or load a .py file", type=["py"], key=_upload_key(), on_change=_on_upload)
    if problem := st.session_state.pop(S + "problem", None):
        st.error(plain(problem))

    run_slot = st.container()  # the linked run, above the editor: where it is seen (filled at the end)
    source = st.session_state[S + "source"]
    checked, error = None, None
    try:
        checked = check_source(source)
    except StepCodeError as exc:
        error = exc
    annotations = (
        [{"row": (error.line or 1) - 1, "column": (error.column or 1) - 1, "type": "error", "text": str(error)}]
        if error
        else _run_error_mark(source)
    )
    edited = st_ace(
        value=source,
        language="python",
        theme="chrome",
        height=460,
        font_size=13,
        show_gutter=True,
        annotations=annotations,
        auto_update=True,
        key=f"{S}editor:{st.session_state[S + 'version']}",
    )
    if edited is not None and edited != source:
        st.session_state[S + "source"] = edited
        st.rerun()
    if error:
        st.error(f"**Your module cannot run yet.** {plain(error)}", icon=":material/error:")
    elif checked.script:
        st.info(
            "**A script**: it has no `build_model`, so the lab runs it as it is, in a worker process, and streams "
            "every `fit()` it calls.",
            icon=":material/terminal:",
        )
    st.download_button(
        "Download this code",
        source,
        "my_step.py",
        "text/x-python",
        icon=":material/download:",
        on_click="ignore",
        key=S + "download",
    )

    with st.sidebar:
        start_slot = st.container()
        st.subheader("Settings")
        hp, data, limit = {}, "regression", 0
        if checked is not None:
            hp = _hp_widgets(checked)
            data, limit = _data_widgets(checked)
            _sync_url(st.session_state.get(S + "template", templates.DEFAULT), data, hp, checked)
        config = {
            "template": st.session_state.get(S + "template", templates.DEFAULT),
            "file": st.session_state.get(S + "file", ""),
            "data": data,
            "data_limit": limit,
            "source": source,
            "hp": hp,
        }
        with start_slot:
            st.button(
                "Start training",
                icon=":material/play_arrow:",
                type="primary",
                width="stretch",
                key=f"start:{key}",
                on_click=_start,
                args=(key, config),
                disabled=checked is None,
                help="Runs your module in a worker process: build_model(hp), then fit() with the lab's live "
                "callback (a script: every fit() it calls gets the callback).",
            )
    if problem := st.session_state.get(S + "start-error"):
        st.error(f"**The run was not started.** {plain(problem)}")
    if checked is not None:
        sweep_ui(key, list(checked.hyperparameters), config, prefix="hp")

    run_id = st.query_params.get("run")
    if run_id:
        snap = manager.snapshot(run_id)
        with run_slot:
            if snap is None:
                st.warning("There is no such run here (it may have been deleted). Start a new one.")
            elif snap.variant == key:
                run_panel(run_id)
    else:
        st.info("Edit the module, then press **Start training**: it trains with the same live panel as every page.")

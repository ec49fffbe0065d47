"""Your own training step: the contract a module must meet for the lab to train it.

A module the lab can run (the "Your own step" page edits one; templates are in
``trainers/templates/``) is one of two kinds.

**A module** defines:

``HYPERPARAMETERS`` (required)
    A dict *literal*: name -> default, or name -> (default, min, max). Numbers and
    booleans. They become the page's widgets and travel in its URL. ``epochs`` and
    ``batch_size``, when present, are fit()'s.
``build_model(hp)`` (required)
    Returns a compiled ``keras.Model`` whose class defines its own ``train_step``
    (and, if you like, ``test_step``). ``hp`` is a dict of the values chosen.
``load_data(hp)`` (optional)
    Returns fit()'s data: ``x``, ``(x, y)``, ``(x, y, sample_weight)``, or a dict of
    fit() arguments (``x``, ``y``, ``validation_data``, ...). Without it, the page's
    choice of the lab's data sets is used (``DATA_SETS``).
``sample_images(model)`` (optional)
    Returns images to show as a grid, (n, 28, 28[, 1]) in [0, 1] or uint8. Without it,
    a model with a ``generator`` and an integer ``latent_dim`` (the guide's GAN
    convention) is drawn from on fixed noise.

Such a module must not call ``fit()`` at its top level (it would train before the lab
adds its callback, blind): that call is refused, naming its line, before anything runs.
Under ``if __name__ == "__main__":`` it is fine (the lab does not run the module as main).

**A script** has no ``build_model`` and calls ``fit()`` itself, like the guide's code
as printed. The lab runs it as ``__main__`` and adds its callback to every ``fit()`` the
script makes (the way MLflow's autolog patches ``fit``): curves, grids, Stop and Pause
work as for a module. ``HYPERPARAMETERS`` are optional; the values chosen are in the
global ``hp`` while the script runs.

The module is checked before anything runs (syntax, the names above, the
hyperparameters); errors name the line and column in the editor's numbering. An
exception raised by the module's code is reported with the module's own frames only.
The lab runs the module in a worker process of its own, never in the server's.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import inspect
import linecache
import math
import threading
import traceback
import types
from dataclasses import dataclass
from typing import Callable

from trainers.config import ParamSpec

REQUIRED = ("build_model",)
OPTIONAL = ("load_data", "sample_images")
MAX_SOURCE = 200_000  # characters
DATA_SETS = {
    "regression": "the guide's regression data: x (n, 32) uniform, y (n, 1)",
    "mnist_digits": "MNIST digits alone: x (n, 28, 28, 1) in [0, 1] (for a GAN)",
    "mnist_labelled": "MNIST digits and labels: x (n, 28, 28, 1) in [0, 1], y (n,) 0-9",
}


class StepCodeError(ValueError):
    """The module breaks the contract; the message says where and what to change."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line, self.column = line, column


@dataclass(frozen=True)
class Checked:
    """What the lab learnt from a module without running it."""

    hyperparameters: tuple[ParamSpec, ...]
    functions: frozenset[str]
    data: str | None  # the module's ``DATA = "..."``: which of the lab's data sets it expects
    script: bool = False  # no build_model: a script that calls fit() itself


def filename_for(source: str) -> str:
    """The name tracebacks give the module: stable per source, so frames can be told apart."""
    return f"your_step_{hashlib.sha256(source.encode()).hexdigest()[:8]}.py"


def check_source(source: str) -> Checked:
    """Syntax, the required functions and the hyperparameters, from the text alone (nothing runs)."""
    if not isinstance(source, str) or not source.strip():
        raise StepCodeError("The module is empty: start from a template.")
    if len(source) > MAX_SOURCE:
        raise StepCodeError(f"The module is {len(source):,} characters long; the lab takes up to {MAX_SOURCE:,}.")
    try:
        tree = ast.parse(source, filename_for(source))
    except SyntaxError as exc:
        where = f"line {exc.lineno}, column {exc.offset}" if exc.lineno else "somewhere"
        raise StepCodeError(f"Syntax error at {where}: {exc.msg}.", exc.lineno, exc.offset) from None
    except (RecursionError, MemoryError):  # 1+1+... 20,000 times: Python's parser gives up
        raise StepCodeError("The module is nested too deeply for Python to read: split that expression up.") from None
    functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for name in REQUIRED:
        if name not in functions:
            near = difflib.get_close_matches(name, sorted(functions), n=1, cutoff=0.6)
            if not near and _calls_fit(tree):  # a script: it fits its model itself
                return Checked(hyperparameters(tree, required=False), frozenset(functions), _data(tree), script=True)
            hint = f"; found `{near[0]}`" if near else ""
            raise StepCodeError(
                f"No function `{name}`{hint}. The lab calls `{name}(hp)` to get a compiled model "
                "(or write a script that calls model.fit(...) itself, without build_model)."
            )
    if (call := _top_level_fit(tree)) is not None:
        raise StepCodeError(
            f"Line {call.lineno} calls fit() at the module's top level, and the module also defines build_model: "
            "the lab calls build_model(hp) and fits the model itself, with its callback; this fit() would train "
            'first, blind. Remove the call (or put it under `if __name__ == "__main__":`), or remove '
            "build_model to run the module as a script.",
            call.lineno,
            call.col_offset + 1,
        )
    return Checked(hyperparameters(tree), frozenset(functions), _data(tree))


def _is_fit_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fit"


def _calls_fit(tree: ast.Module) -> bool:
    """Whether the module calls ``<something>.fit(...)`` anywhere."""
    return any(_is_fit_call(node) for node in ast.walk(tree))


def _is_main_guard(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _root(node: ast.AST) -> str | None:
    """The name a call or attribute chain starts from: ``keras`` for ``keras.Sequential(...)``."""
    while isinstance(node, (ast.Attribute, ast.Call)):
        node = node.value if isinstance(node, ast.Attribute) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _top_level(tree: ast.Module):
    """The nodes the module runs when imported: not in a function, a class, a lambda, or under
    ``if __name__ == "__main__":`` (the lab does not run a module as main)."""
    pending = list(reversed(tree.body))
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        children = [node.test, *node.orelse] if _is_main_guard(node) else list(ast.iter_child_nodes(node))
        pending.extend(reversed(children))


def _top_level_fit(tree: ast.Module) -> ast.Call | None:
    """The first ``.fit(...)`` the module's top level makes on what is plainly a Keras model: the result of
    ``build_model``, of a class the module derives from Keras's, or of something imported from keras (a
    scikit-learn ``scaler.fit(x)`` is fine). Other fits are caught when the module loads (``_refuse_fit``)."""
    models = {"build_model"}
    for node in tree.body:
        if isinstance(node, ast.Import):
            models.update(a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] == "keras")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "keras":
            models.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.ClassDef) and any(_root(base) in models for base in node.bases):
            models.add(node.name)  # class MyModel(keras.Model)
    nodes = list(_top_level(tree))
    for _ in range(2):  # m = build_model(hp); n = m: names bound to models, two links deep
        for node in nodes:
            if isinstance(node, ast.Assign) and _root(node.value) in models:
                models.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return next((n for n in nodes if _is_fit_call(n) and _root(n.func.value) in models), None)


def _data(tree: ast.Module) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DATA" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            return value if value in DATA_SETS else None
    return None


def hyperparameters(tree: ast.Module, required: bool = True) -> tuple[ParamSpec, ...]:
    """ParamSpecs from the module's ``HYPERPARAMETERS`` literal (none for a script without it)."""
    node = next(
        (
            n
            for n in tree.body
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "HYPERPARAMETERS" for t in n.targets)
        ),
        None,
    )
    if node is None and not required:
        return ()
    if node is None:
        raise StepCodeError("No `HYPERPARAMETERS = {...}`: declare the settings (name -> default) as a dict literal.")
    try:
        values = ast.literal_eval(node.value)
    except (ValueError, RecursionError, MemoryError):
        raise StepCodeError(
            "`HYPERPARAMETERS` must be a literal dict of numbers and booleans (no calls or names).", node.lineno
        ) from None
    if not isinstance(values, dict):
        raise StepCodeError("`HYPERPARAMETERS` must be a dict: name -> default.", node.lineno)
    specs = []
    for name, value in values.items():
        try:
            specs.append(_param(name, value))
        except (TypeError, ValueError) as exc:
            raise StepCodeError(f"HYPERPARAMETERS[{name!r}]: {exc}", node.lineno) from None
    return tuple(specs)


def _param(name, value) -> ParamSpec:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError("names must be identifiers, like learning_rate")
    explicit = isinstance(value, tuple)
    if explicit:
        if len(value) != 3:
            raise ValueError("give a default, or (default, min, max)")
        default, low, high = value
    else:
        default, low, high = value, None, None
    if isinstance(default, bool):
        return ParamSpec(name, "bool", default, help="from your module's HYPERPARAMETERS")
    if not isinstance(default, (int, float)) or not math.isfinite(default):
        raise ValueError(f"{default!r} is not a number or a boolean")
    kind = "int" if isinstance(default, int) else "float"
    if not explicit:  # a generous range around the default; (default, min, max) says otherwise
        low, high = min(0, default), max(10 * abs(default), 1 if kind == "float" else 100)
        if name in ("epochs", "batch_size") and default >= 1:
            low = 1  # fit() with 0 epochs or batches of 0 trains nothing
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low <= default <= high):
        raise ValueError(f"default {default!r} must lie in [{low!r}, {high!r}]")
    log = kind == "float" and 0 < low and high / low >= 1000
    step = 1 if kind == "int" else None
    return ParamSpec(
        name, kind, default, min=low, max=high, step=step, log=log, help="from your module's HYPERPARAMETERS"
    )


def _new_module(source: str, name: str) -> tuple[types.ModuleType, str]:
    filename = filename_for(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show lines
    module = types.ModuleType(name)
    module.__file__ = filename
    return module, filename


def load_module(source: str, name: str = "your_step") -> types.ModuleType:
    """Run the module's top level and check the contract on what it defined."""
    checked = check_source(source)
    if checked.script:
        raise StepCodeError("This is a script (it has no build_model): run it with run_script.")
    module, filename = _new_module(source, name)
    with _patched_fit(_refuse_fit(filename)):  # a fit() the AST check cannot see (in a helper the top level calls)
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102  (your code, in a worker process)
    for fn in REQUIRED + tuple(n for n in OPTIONAL if n in checked.functions):
        if not callable(getattr(module, fn, None)):
            raise StepCodeError(f"`{fn}` is not a function after the module ran (was it redefined?).")
    return module


class ScriptStopped(BaseException):
    """Ends a script after the fit() a person stopped (not an Exception: a script's ``except`` lets it pass)."""


def _caller_line(filename: str) -> int | None:
    """The line of the person's module that is running now (the innermost frame of it on the stack)."""
    for frame in inspect.stack(0):  # innermost first
        if frame.filename == filename:
            return frame.lineno
    return None


def _refuse_fit(filename: str):
    def refuse(model, *args, **kwargs):
        line = _caller_line(filename)
        where = f"Line {line} of your module" if line else "Your module"
        raise StepCodeError(
            f"{where} called fit() while the lab was loading it: the lab calls build_model(hp) and fits the "
            "model itself, with its callback. Move that call out of the module's top level (or remove "
            "build_model to run the module as a script).",
            line,
        )

    return refuse


_FIT_ROUTES: dict[int, list[Callable]] = {}  # thread id -> replacements of keras.Model.fit, innermost last
_ORIGINAL_FIT: list[Callable] = []  # keras.Model.fit as Keras defines it, once the dispatcher is installed


def _keras_fit() -> Callable:
    """Keras's own ``Model.fit``, with a dispatcher installed in its place (once per process) that sends
    each thread's calls to that thread's current replacement, if it has one."""
    import keras

    if not _ORIGINAL_FIT:
        _ORIGINAL_FIT.append(keras.Model.fit)

        def fit(model, *args, **kwargs):
            routes = _FIT_ROUTES.get(threading.get_ident())
            return (routes[-1] if routes else _ORIGINAL_FIT[0])(model, *args, **kwargs)

        fit.__wrapped__ = _ORIGINAL_FIT[0]
        keras.Model.fit = fit
    return _ORIGINAL_FIT[0]


class _patched_fit:
    """Within the block, ``keras.Model.fit`` calls made by *this thread* go to ``replacement``.

    The lab runs a person's code in a worker process of its own, so the patch touches nobody
    else; it is per thread all the same (one dispatcher, a stack of replacements per thread),
    so that a test or a notebook running this in a thread of a busy process, even in two threads
    at once, changes no other thread's fit().
    """

    def __init__(self, replacement: Callable):
        self.replacement, self.owner = replacement, threading.get_ident()
        self.original = _keras_fit()

    def __enter__(self):
        _FIT_ROUTES.setdefault(self.owner, []).append(self.replacement)
        return self

    def __exit__(self, *exc):
        routes = _FIT_ROUTES[self.owner]
        routes.remove(self.replacement)
        if not routes:
            del _FIT_ROUTES[self.owner]


def run_script(
    source: str,
    callbacks_for: Callable[[object, dict], list],
    hp: dict,
    should_stop: Callable[[], bool] = lambda: False,
):
    """Run a script that calls fit() itself, as ``__main__``, adding ``callbacks_for(model, namespace)``
    to every fit() it makes; return the last model it fit.

    After a fit() that a person stopped, or at the next fit() once they have, the script ends
    there (``ScriptStopped``) rather than going on. Keras's progress bar is turned off
    (``verbose=0``): the lab draws progress itself, and the output would only fill the server's log.
    """
    module, filename = _new_module(source, "__main__")
    module.hp = dict(hp)
    fitted = []
    original = _keras_fit()
    signature = inspect.signature(original)

    def fit(model, *args, **kwargs):
        if should_stop():
            raise ScriptStopped()
        bound = signature.bind(model, *args, **kwargs)
        theirs = bound.arguments.get("callbacks") or []
        theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]  # Keras takes one callback too
        bound.arguments["callbacks"] = theirs + list(callbacks_for(model, module.__dict__))
        bound.arguments["verbose"] = 0
        fitted.append(model)
        history = original(*bound.args, **bound.kwargs)
        if should_stop():
            raise ScriptStopped()
        return history

    try:
        with _patched_fit(fit):
            exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102  (your code, in a worker process)
    except ScriptStopped:
        pass
    if not fitted:
        if should_stop():
            raise ScriptStopped()  # stopped before its first fit(): nothing to save, nothing wrong
        raise StepCodeError(
            "Your script ended without calling fit(): the lab has nothing to show. Call model.fit(...) in it "
            "(or define build_model(hp) and let the lab fit the model)."
        )
    return fitted[-1]


def user_frames(exc: BaseException, source: str) -> tuple[str, str]:
    """(message, traceback) of ``exc`` showing only the frames of the user's module, with their lines."""
    filename = filename_for(source)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    message = f"{type(exc).__name__}: {exc}"
    if not frames:
        return (
            message,
            message + "\n(raised by the lab or Keras while running your module; no line of yours was on the stack)",
        )
    lines = ["Traceback (your module's frames):"]
    for frame in frames:
        lines.append(f"  line {frame.lineno}, in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(message)
    last = frames[-1]
    return f"{message} (line {last.lineno}, in {last.name})", "\n".join(lines)

"""Starting points for the "Your own step" page: each a complete module meeting the contract of
``trainers/own_step_contract.py``. Five are the guide's variants as the lab's pages run them; ``blank``
is the least a step needs."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
NAMES = ("compute_loss", "manual", "weighted", "test_step", "gan", "blank")  # in the order the page lists them
DEFAULT = "gan"  # the one the page opens with
UPLOAD = "upload"  # not a template: the module came from a file the person loaded
TITLES = {
    "compute_loss": "compute_loss step (guide: a first simple example)",
    "manual": "Manual step with its own trackers (guide: going lower-level)",
    "weighted": "sample_weight step (guide: supporting sample_weight)",
    "test_step": "Custom test_step (guide: your own evaluation step)",
    "gan": "GAN on MNIST (guide: wrapping up)",
    "blank": "Blank: the least a step needs",
}


def source(name: str) -> str:
    """The text of template ``name`` (``ValueError`` naming the known ones otherwise)."""
    if name not in NAMES:
        raise ValueError(f"unknown template {name!r}; choose one of: {', '.join(NAMES)}")
    return (FOLDER / f"{name}.py").read_text()

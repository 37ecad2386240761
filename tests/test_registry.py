"""The model registry (dgm_core/hub.py): one table of names, resolved lazily, so that loading one
family's checkpoint imports no other generative family."""
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import dgm_core
from dgm_core.checkpoints import CHECKPOINT_DIR, CheckpointError, load_local
from dgm_core.hub import MODEL_TYPES, HubModel, model_class

ROOT = Path(__file__).resolve().parents[1]
#: The generative families, from the registry: the module or package of each model type (dgm_core.gan for
#: dgm_core.gan.image); the classifier is the shared judge every family may use.
JUDGE = "dgm_core.classifier"


def family(module: str) -> str:
    return ".".join(module.split(":")[0].split(".")[:2])


FAMILIES = {family(where) for where in MODEL_TYPES.values()} - {JUDGE}


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_hub_model_subclass_has_its_line_in_the_table():
    for module in pkgutil.walk_packages(dgm_core.__path__, "dgm_core."):
        importlib.import_module(module.name)
    subclasses = {c for c in _all_subclasses(HubModel) if c.__module__.startswith("dgm_core.")}
    assert subclasses, "no HubModel subclass found: the walk imported nothing"
    registered = {model_class(kind) for kind in MODEL_TYPES}
    assert subclasses == registered, f"not in MODEL_TYPES: {subclasses - registered}; stale: {registered - subclasses}"
    for kind in MODEL_TYPES:
        assert model_class(kind).model_type == kind


def test_every_shipped_checkpoint_names_a_registered_type():
    kinds = {json.loads((p / "config.json").read_text())["model_type"] for p in CHECKPOINT_DIR.iterdir()
             if (p / "config.json").is_file()}
    assert kinds and kinds <= set(MODEL_TYPES)


def test_an_unregistered_type_is_refused_with_the_known_ones_listed(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-family"}))
    with pytest.raises(CheckpointError, match=rf"'no-such-family'.*known: {', '.join(sorted(MODEL_TYPES))}"):
        load_local(tmp_path)


def _families_imported_by(checkpoint: str) -> set[str]:
    code = ("import sys; from dgm_core.checkpoints import load_checkpoint; "
            f"load_checkpoint({checkpoint!r}); "
            "print(' '.join(m for m in sys.modules if m.startswith('dgm_core.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return {family(m) for m in out.stdout.split()} & FAMILIES


@pytest.mark.parametrize(("checkpoint", "family"), [("vae-digits-beta1", "dgm_core.vae"),
                                                    ("gan-digits", "dgm_core.gan"),
                                                    ("classifier-digits", None),
                                                    ("realnvp-digits", "dgm_core.flow"),
                                                    ("ddpm-digits", "dgm_core.diffusion")])
def test_loading_one_family_imports_no_other(checkpoint, family):
    assert _families_imported_by(checkpoint) == ({family} if family else set())


def test_the_flow_prior_vae_imports_the_two_families_it_combines_and_no_other():
    assert _families_imported_by("vae-flow-prior-digits") == {"dgm_core.vae", "dgm_core.flow", "dgm_core.vae_flow_prior"}


def test_every_lab_record_names_a_page_a_tab_a_module_and_model_types_that_exist():
    """One record per lab (dgm_core.lab_records.LABS) is what the app, the Space, the lessons and the tests read:
    each of its names must resolve."""
    import ast

    from dgm_core import lessons
    from dgm_core.lab_records import LABS
    from tests.conftest import ROOT

    assert len({lab.name for lab in LABS}) == len(LABS) and len({lab.page for lab in LABS}) == len(LABS)
    for lab in LABS:
        assert (ROOT / lab.page).is_file(), lab.page
        module, _, function = lab.space_tab.partition(":")
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
        assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, lab.space_tab
        assert set(lab.model_types) <= set(MODEL_TYPES), lab.model_types
        assert isinstance(lab.checks(), dict)
        if lab.lesson:
            assert lessons.declared_lab((lessons.LESSONS_DIR / lab.lesson).read_text(encoding="utf-8")) == lab.name
    shown = {t for lab in LABS for t in lab.model_types}
    generative = {t for t, where in MODEL_TYPES.items() if family(where) != JUDGE}
    assert generative <= shown, generative - shown          # every generative family has a lab that shows it


def test_a_model_that_forgets_a_protocol_method_is_told_which_and_the_shipped_ones_override_each():
    """The protocol's defaults are the names the comparison calls: a family that leaves one out hears which,
    not an AttributeError (the likelihood's default was once under another name than the one called)."""
    import inspect

    import torch

    from dgm_core import generative

    class Forgetful(generative.GenerativeModel):
        pass

    with pytest.raises(NotImplementedError, match="Forgetful must give its likelihood"):
        Forgetful().likelihood_of(torch.zeros(1, 1, 8, 8), torch.Generator(), 1)
    with pytest.raises(NotImplementedError, match="Forgetful must say how it samples"):
        Forgetful().sample(1, torch.Generator())
    from dgm_core import compare

    callers = inspect.getsource(compare) + inspect.getsource(generative.sample_in_batches)
    for method in ("sample", "sampling_note", "interpolate", "likelihood_of", "sampling_weights", "prepare"):
        assert hasattr(generative.GenerativeModel, method), method
        assert f".{method}(" in callers, method          # the comparison calls the protocol by these names

"""Bad input at every public door: a test generated from the declarations of every public function and class.

Every public name (each module's ``__all__``, or its public module-level callables where it has none; the
exercise checks in `superpose_lib.checks` have their own hostile battery), and every public method of a public
class (`public_methods`: a name without a leading underscore, defined in superpose_lib, not one that
``torch.nn.Module`` defines, ``forward`` apart), declares each argument with `superpose_lib._validate.arguments`
(`test_every_public_argument_is_declared`); a method is called on a fresh instance made from the class's valid
arguments. The training engine's protocol (`ENGINE_PROTOCOL`) is the one reasoned exemption.

The name is called with valid arguments from `BY_NAME` / `OVERRIDES`, then once per declared argument with that
argument replaced by a hostile value built from its declaration (`candidates`): for an ``Int`` its minimum and the
integer below it, its maximum and above, a bool, a float, NaN, a string, 10¹² for a size; for a ``Real`` its
bounds, the numbers just outside them, NaN, ±inf, 1e300 where unbounded; for a ``Tensor`` NaN and inf entries, a
complex, integer, boolean or half-precision tensor, a NumPy array, a list, a scalar, one axis more or less, an
empty tensor, zeros, huge entries; for a ``Choice`` a wrong string; for a list, an object, a function, a generator
or a device the wrong kinds. The contract for each call:

- a value its declaration refuses must be refused with a ``ValueError`` naming the argument: accepting it is
  "accepted";
- any other value gives a result, or a ValueError whose message names the argument ("clear"); any other
  exception is "deep" (a TypeError, RuntimeError, IndexError, ... from inside), a ValueError without the name
  "unclear";
- a call whose inputs are all finite never returns NaN or inf ("nan"), except where `DOCUMENTED_NAN` names the
  rule in the function's docstring;
- no call runs on and on ("hang": a watchdog stops a call after `HANG_SECONDS`; it is a guard against a
  runaway loop, not a time limit on the library's speed).

A huge size (10¹²) goes only to arguments that size an allocation; an argument that counts iterations (steps,
epochs, draws) may legitimately run long, with a progress bar, so it gets no huge value.

CI runs every value the declarations accept, a few they refuse, and a few generated ones (hypothesis, drawn
around the declared ranges and shapes) per argument; ``PUBLIC_INPUTS_FULL=1`` (``make fuzz``) runs them all and
many more generated values. ``python tests/test_public_inputs.py`` prints the count of each outcome over every
fixed value (the census the issue's closing note asks for).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import math
import os
import pkgutil
import signal
import sys
import types
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FULL = os.environ.get("PUBLIC_INPUTS_FULL", "") not in ("", "0")
GENERATED_EXAMPLES = 60 if FULL else 3
HANG_SECONDS = 60
HUGE = 10**12
REFUSED_IN_CI = 3  # values each argument's declaration refuses that CI tries (`make fuzz` tries them all)

MODULES = [
    "superpose_lib",
    "superpose_lib.atoms",
    "superpose_lib.claims",
    "superpose_lib.detection",
    "superpose_lib.digits",
    "superpose_lib.embeddings",
    "superpose_lib.engine",
    "superpose_lib.environment",
    "superpose_lib.features",
    "superpose_lib.geometry",
    "superpose_lib.interference",
    "superpose_lib.metrics",
    "superpose_lib.plotting",
    "superpose_lib.sae",
    "superpose_lib.sparse",
    "superpose_lib.toy_models",
    "superpose_lib.widgets",
    "superpose_lib.workspace",
]

# Names that are public but not doors for numbers: each with the reason it is left out.
SKIPPED = {
    "superpose_lib.environment.report_environment": "prints the environment; no arguments",
    "superpose_lib.environment.default_device": "no arguments",
    "superpose_lib.atoms.load_polysemy": "no arguments (reads the bundled file)",
    "superpose_lib.workspace.workbooks_folder": "no arguments",
    "superpose_lib.workspace.create_workspace": "writes files; tests/test_workspace.py covers its failures",
    "superpose_lib.workspace.write_atomically": "writes files; tests/test_atomic_writes.py covers its failures",
    "superpose_lib.claims.claim": "raises ClaimFailed by design; tests/test_claims.py covers its arguments",
    "superpose_lib.widgets.analogy_explorer": "an ipywidgets front end over analogy_answers",
    "superpose_lib.widgets.almost_orthogonal_explorer": "an ipywidgets front end over almost_orthogonal_summary",
    "superpose_lib.widgets.toy_model_explorer": "an ipywidgets front end over trained_toy_geometry",
    "superpose_lib.widgets.word_atoms_explorer": "an ipywidgets front end over atoms.decompose",
    "superpose_lib.engine.scratch": "a buffer cache called inside a model's training step (three times a step, so "
    "unchecked); tests/test_engine.py covers it",
}

# Methods the training engine calls in every step (its protocol with a model, see `superpose_lib.engine.fit`):
# left undeclared so that a step pays no door checks, and not fuzzed; tests/test_engine.py and the models' tests
# cover them.
ENGINE_PROTOCOL = {
    f"superpose_lib.{model}.{method}": "the training engine's per-step protocol (undeclared for speed); "
    "tests/test_engine.py covers it"
    for model in ("toy_models.ToyModel", "toy_models.PrivilegedBasisModel", "toy_models.AbsoluteValueModel", "sae.SAE")
    for method in ("batch_loss", "batch_loss_and_grads")
}
SKIPPED.update(ENGINE_PROTOCOL)

# Functions whose docstring gives NaN as the answer for a degenerate input, with that rule.
DOCUMENTED_NAN = {
    "superpose_lib.detection.interference_statistic": "NaN for a model with fewer than two represented features",
    "superpose_lib.metrics.kurtosis": "a constant has no kurtosis, and gives NaN",
    "superpose_lib.detection.z_score": "±inf when the null draws are all equal and observed differs from them",
    "superpose_lib.detection.loss_below_test": "±inf when the losses have no spread",
    "superpose_lib.metrics.dimensions_per_feature": "inf for an all-zero W (no feature represented)",
    "superpose_lib.digits.basis_kurtosis": "NaN for a direction along which the activations are constant",
    "superpose_lib.digits.random_basis_kurtosis": "NaN when the activations are constant along every direction",
}
# Entries at least this large may overflow float32 arithmetic (their squares or fourth powers): a NaN or inf then is
# counted as "overflow", reported by the census but not a failure.
LARGE = 1e15

# Arguments that count iterations or draws: a large value is a long call (with progress), not a bad one.
ITERATIONS = {"steps", "epochs", "n_iter", "max_iter", "fista_iter", "n_rotations", "n_draws", "n_null", "n_seeds",
              "max_steps", "warmup", "dead_window", "n_eval", "step", "work"}  # fmt: skip
# Per function, arguments that count samples drawn in chunks: a large value is a long call with a progress bar.
ITERATIONS_OF = {"toy_models.evaluate": {"n_samples"}}
# Arguments that are not sizes at all, for which 10¹² is just a number.
NOT_SIZES = ITERATIONS | {"seed", "dim", "i", "j", "threads"}


# --- valid arguments -----------------------------------------------------------------------------------------


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@functools.cache
def _wv():
    from superpose_lib.embeddings import load_glove

    return load_glove()


@functools.cache
def _entry():
    from superpose_lib.atoms import load_polysemy

    return load_polysemy()[0]


def _unit_columns(d, k, seed=0):
    D = torch.randn(d, k, generator=_gen(seed))
    return D / D.norm(dim=0, keepdim=True)


def _toy():
    from superpose_lib.toy_models import ToyModel

    return ToyModel(5, 2, n_instances=2, feature_probability=0.2, seed=0)


def _sae():
    from superpose_lib.sae import SAE

    return SAE(4, 6, n_instances=2, l1_coeff=0.1, seed=0)


def _mlp():
    from superpose_lib.digits import DigitsMLP

    return DigitsMLP(d_hidden=8, seed=0)


@functools.cache  # a frozen record that no function changes: one load for every call
def _digits_split():
    from superpose_lib.digits import load_digits_split

    return load_digits_split(seed=0)


class _Mean(torch.nn.Module):  # the smallest model the engine trains
    def __init__(self):
        super().__init__()
        self.mu = torch.nn.Parameter(torch.zeros(1))

    def batch_loss(self, X):
        return ((X - self.mu) ** 2).mean().reshape(1)


# By argument name, a valid value (a factory, so every call gets fresh objects); `OVERRIDES` for one function.
BY_NAME = {
    "n": lambda: 4,
    "k": lambda: 3,
    "n_features": lambda: 5,
    "d_hidden": lambda: 2,
    "n_instances": lambda: 2,
    "d": lambda: 4,
    "n_samples": lambda: 64,
    "n_components": lambda: 3,
    "n_points": lambda: 10,
    "eps": lambda: 0.3,
    "t": lambda: torch.tensor([0.1, 0.5]),
    "V": lambda: torch.randn(4, 3, generator=_gen()),
    "W": lambda: torch.randn(2, 5, generator=_gen()),
    "a": lambda: torch.randn(3, 4, generator=_gen(1)),
    "b": lambda: torch.randn(2, 4, generator=_gen(2)),
    "order": lambda: 2,
    "X": lambda: torch.randn(6, 3, generator=_gen()),
    "x": lambda: torch.rand(8, 5, generator=_gen()),
    "feature_probability": lambda: 0.3,
    "importance": lambda: torch.tensor([1.0, 0.8, 0.6, 0.4, 0.2]),
    "model": _toy,
    "wv": _wv,
    "directions": lambda: torch.randn(50, 2, generator=_gen()),
    "steps": lambda: 3,
    "epochs": lambda: 1,
    "batch_size": lambda: 16,
    "lr": lambda: 1e-2,
    "seed": lambda: 0,
    "progress": lambda: False,
    "threshold": lambda: 0.5,
    "tolerance": lambda: 0.1,
    "statistic": lambda: "mean_superposition",
    "observed": lambda: 1.0,
    "null": lambda: torch.randn(50, generator=_gen()),
    "alternative": lambda: "two-sided",
    "n_null": lambda: 20,
    "activations": lambda: torch.randn(40, 6, generator=_gen()),
    "labels": lambda: torch.arange(40) % 10,
    "n_classes": lambda: 10,
    "n_rotations": lambda: 5,
    "n_dims": lambda: 4,
    "n_draws": lambda: 5,
    "targets": lambda: torch.randn(40, generator=_gen(3)),
    "l2": lambda: 1e-3,
    "dim": lambda: 0,
    "learned": lambda: torch.randn(4, 6, generator=_gen()),
    "true": lambda: torch.randn(4, 3, generator=_gen(1)),
    "x_hat": lambda: torch.rand(8, 5, generator=_gen(1)),
    "D": lambda: _unit_columns(4, 6),
    "lam": lambda: 0.1,
    "max_iter": lambda: 20,
    "tol": lambda: 1e-6,
    "n_nonzero": lambda: 2,
    "delta": lambda: 0.5,
    "H": lambda: torch.randn(30, 4, generator=_gen()),
    "n_atoms": lambda: 5,
    "n_iter": lambda: 2,
    "relative_importance": lambda: 0.5,
    "density": lambda: 0.3,
    "n_seeds": lambda: 2,
    "sae": _sae,
    "data": lambda: torch.randn(200, 4, generator=_gen()),
    "d_input": lambda: 4,
    "d_latent": lambda: 6,
    "mean_active": lambda: 2.0,
    "decay": lambda: 0.9,
    "work": lambda: 1_000,
    "step": lambda: 5,
    "word": lambda: "bank",
    "k_words": lambda: 3,
    "importance_decay": lambda: 0.9,
    "entry": _entry,
    "probability": lambda: 0.3,
}


def _fit_args():
    return {"model": _Mean(), "sample": lambda n, g: 3 + torch.randn(n, generator=g), "steps": 3, "batch_size": 8,
            "lr": 0.1, "generator": _gen(), "progress": False}  # fmt: skip


OVERRIDES = {
    "detection.p_value": lambda: {"observed": 0.3, "null": torch.randn(50, generator=_gen())},
    "detection.random_directions_test": lambda: {"W": torch.randn(3, 6, generator=_gen()), "n_null": 20, "seed": 0},
    "detection.null_distribution": lambda: {"n_features": 5, "d_hidden": 2, "n_samples": 20, "seed": 0},
    "detection.superposition_test": lambda: {"model": _toy(), "n_samples": 256, "seed": 0},
    "detection.loss_below_test": lambda: {
        "losses": torch.rand(30, 2, generator=_gen()),
        "boundary": torch.tensor([0.2, 0.6]),
    },
    "detection.count_distinct_latents": lambda: {
        "decoder": _unit_columns(4, 6),
        "codes": torch.rand(30, 6, generator=_gen()),
    },
    "digits.load_digits_split": lambda: {"test_fraction": 0.25, "seed": 0},
    "digits.DigitsMLP": lambda: {"d_hidden": 8, "seed": 0},
    "digits.train": lambda: {
        "model": _mlp(),
        "X": torch.rand(40, 64, generator=_gen()),
        "y": torch.arange(40) % 10,
        "epochs": 1,
        "batch_size": 16,
        "seed": 0,
        "progress": False,
    },
    "digits.train_digits_mlp": lambda: {
        "data": _digits_split(),
        "d_hidden": 8,
        "epochs": 1,
        "seed": 0,
        "progress": False,
    },
    "digits.rotate_hidden": lambda: {"model": _mlp(), "R": torch.linalg.qr(torch.randn(8, 8, generator=_gen()))[0]},
    "digits.plane_rotation": lambda: {"n": 4, "i": 0, "j": 2, "angle": 0.3},
    "digits.hidden_activations": lambda: {"model": _mlp(), "X": torch.rand(10, 64, generator=_gen())},
    "digits.basis_kurtosis": lambda: {"activations": torch.randn(40, 6, generator=_gen())},
    "digits.random_basis_kurtosis": lambda: {
        "activations": torch.randn(40, 6, generator=_gen()),
        "n_rotations": 5,
        "seed": 0,
    },
    "digits.gaussian_kurtosis_null": lambda: {"n_samples": 40, "n_dims": 4, "n_draws": 5, "seed": 0},
    "digits.fit_linear_probe": lambda: {
        "activations": torch.randn(40, 6, generator=_gen()),
        "targets": torch.arange(40) % 2,
        "steps": 5,
    },
    "embeddings.load_glove": lambda: {"n_words": 500},
    "embeddings.analogy": lambda: {"wv": _wv(), "a": "man", "b": "king", "c": "woman", "k": 3},
    "atoms.atom_words": lambda: {"wv": _wv(), "directions": torch.randn(50, 2, generator=_gen()), "k": 3},
    "atoms.atom_coherence": lambda: {"wv": _wv(), "directions": torch.randn(50, 2, generator=_gen()), "k": 3},
    "atoms.decompose": lambda: {
        "wv": _wv(),
        "dictionary": _unit_columns(50, 20),
        "word": "bank",
        "n_nonzero": 3,
        "k_words": 3,
    },
    "atoms.sense_directions": lambda: {"wv": _wv(), "entry": _entry()},
    "atoms.two_sense_score": lambda: {
        "directions": torch.randn(50, 3, generator=_gen()),
        "senses": torch.randn(50, 2, generator=_gen(1)),
    },
    "engine.fit": _fit_args,
    "engine.learning_rate": lambda: {"step": 5, "steps": 100, "lr": 0.1},
    "engine.Adam": lambda: {"params": [torch.zeros(3)]},
    "features.SparseFeatures": lambda: {"n_features": 4, "probability": 0.3, "n_instances": 2},
    "features.FixedDataset": lambda: {"x": torch.rand(2, 10, 4, generator=_gen())},
    "features.training_sampler": lambda: {
        "data": importlib.import_module("superpose_lib.features").SparseFeatures(4, 0.3, n_instances=2),
        "batch_size": 8,
        "n_instances": 2,
        "n_features": 4,
        "like": torch.zeros(2, 2, 4),
    },
    "geometry.random_rotation": lambda: {"n": 4, "seed": 0},
    "geometry.random_unit_vectors": lambda: {"k": 3, "n": 4, "seed": 0},
    "geometry.coherence_estimate": lambda: {"k": 30, "n": 8},
    "geometry.random_projection": lambda: {"X": torch.randn(6, 10, generator=_gen()), "n_components": 3, "seed": 0},
    "geometry.pack_unit_vectors": lambda: {"k": 3, "n": 2, "steps": 3, "seed": 0, "progress": False},
    "interference.neuron_weights": lambda: {
        "W": torch.randn(4, 3, generator=_gen()),
        "coefficients": torch.randn(3, generator=_gen()),
    },
    "interference.readout": lambda: {"W": torch.randn(2, 5, generator=_gen()), "x": torch.rand(8, 5, generator=_gen())},
    "interference.interference": lambda: {
        "W": torch.randn(2, 5, generator=_gen()),
        "x": torch.rand(8, 5, generator=_gen()),
    },
    "interference.bias_tradeoff": lambda: {
        "W": torch.randn(2, 5, generator=_gen()),
        "x": torch.rand(8, 5, generator=_gen()),
        "biases": [0.0, -0.2],
    },
    "interference.expected_loss": lambda: {
        "W": torch.randn(2, 5, generator=_gen()),
        "b": torch.zeros(5),
        "feature_probability": 0.3,
        "importance": torch.ones(5),
        "n_samples": 200,
        "seed": 0,
    },
    "interference.sparse_features": lambda: {"n_samples": 16, "k": 5, "feature_probability": 0.3, "seed": 0},
    "interference.dedicated_arrangement": lambda: {"k": 5, "n": 2, "feature_probability": 0.3},
    "interference.antipodal_arrangement": lambda: {"k": 5, "n": 2, "feature_probability": 0.3},
    "interference.dedicated_loss": lambda: {"importance": torch.ones(5), "n": 2, "feature_probability": 0.3},
    "interference.antipodal_loss": lambda: {"importance": torch.ones(5), "n": 2, "feature_probability": 0.3},
    "interference.crossover_density": lambda: {"importance": torch.ones(5), "n": 2},
    "metrics.kurtosis": lambda: {"x": torch.randn(40, 3, generator=_gen())},
    "sae.SyntheticFeatures": lambda: {"n_features": 6, "d": 4, "mean_active": 2.0, "seed": 0},
    "sae.SAE": lambda: {"d_input": 4, "d_latent": 6, "n_instances": 2, "l1_coeff": 0.1, "seed": 0},
    "sae.train_sae": lambda: {
        "sae": _sae(),
        "data": torch.randn(200, 4, generator=_gen()),
        "steps": 3,
        "batch_size": 16,
        "seed": 0,
        "progress": False,
    },
    "sae.evaluate_sae": lambda: {
        "sae": _sae(),
        "x": torch.randn(50, 4, generator=_gen()),
        "true_features": _unit_columns(4, 3),
    },
    "sparse.soft_threshold": lambda: {"v": torch.randn(5, generator=_gen()), "threshold": 0.5},
    "sparse.update_dictionary": lambda: {
        "D": _unit_columns(4, 6),
        "H": torch.randn(10, 4, generator=_gen()),
        "Z": torch.rand(10, 6, generator=_gen(1)),
    },
    "sparse.resample_unused": lambda: {
        "D": _unit_columns(4, 6),
        "residual": torch.randn(10, 4, generator=_gen()),
        "Z": torch.rand(10, 6, generator=_gen(1)) * (torch.arange(6) != 2),
    },
    "sparse.lasso_objective": lambda: {
        "D": _unit_columns(4, 6),
        "X": torch.randn(3, 4, generator=_gen()),
        "Z": torch.randn(3, 6, generator=_gen(1)),
        "lam": 0.1,
    },
    "sparse.ista": lambda: {
        "D": _unit_columns(4, 6),
        "X": torch.randn(3, 4, generator=_gen()),
        "lam": 0.1,
        "max_iter": 20,
    },
    "sparse.fista": lambda: {
        "D": _unit_columns(4, 6),
        "X": torch.randn(3, 4, generator=_gen()),
        "lam": 0.1,
        "max_iter": 20,
    },
    "sparse.lasso": lambda: {"D": _unit_columns(4, 6), "X": torch.randn(3, 4, generator=_gen()), "lam": 0.1},
    "sparse.omp": lambda: {"D": _unit_columns(4, 6), "X": torch.randn(3, 4, generator=_gen()), "n_nonzero": 2},
    "sparse.dictionary_learning": lambda: {
        "H": torch.randn(30, 4, generator=_gen()),
        "n_atoms": 5,
        "lam": 0.1,
        "n_iter": 2,
        "seed": 0,
        "progress": False,
    },
    "toy_models.ToyModel": lambda: {"n_features": 5, "d_hidden": 2, "n_instances": 2, "seed": 0},
    "toy_models.PrivilegedBasisModel": lambda: {"n_features": 5, "d_hidden": 2, "n_instances": 2, "seed": 0},
    "toy_models.AbsoluteValueModel": lambda: {"n_features": 4, "d_hidden": 2, "n_instances": 2, "seed": 0},
    "toy_models.train": lambda: {"model": _toy(), "steps": 3, "batch_size": 16, "seed": 0, "progress": False},
    "toy_models.evaluate": lambda: {"model": _toy(), "n_samples": 64, "batch_size": 16, "seed": 0},
    "toy_models.train_best_of_seeds": lambda: {
        "model": _toy(),
        "n_seeds": 2,
        "steps": 3,
        "batch_size": 16,
        "n_eval": 64,
        "seed": 0,
        "progress": False,
    },
    "widgets.analogy_answers": lambda: {"wv": _wv(), "a": "man", "b": "king", "c": "woman", "k": 3},
    "widgets.almost_orthogonal_summary": lambda: {"n": 10, "k": 20, "eps": 0.3},
    "widgets.almost_orthogonal_figure": lambda: {"n": 10, "k": 20, "eps": 0.3},
    "widgets.trained_toy_geometry": lambda: {"density": 0.3, "importance_decay": 0.9, "steps": 3},
    "environment.cpu_threads": lambda: {"threads": 1},
    "workspace.describe": lambda: {"error": OSError(28, "No space left on device")},
    "embeddings.WordVectors": lambda: {"words": ("a", "b"), "vectors": torch.randn(2, 3, generator=_gen())},
    "plotting.feature_directions_2d": lambda: {"W": torch.randn(2, 5, generator=_gen())},
    "plotting.similarity_heatmap": lambda: {"matrix": torch.randn(4, 4, generator=_gen()), "annotate": False},
    "plotting.image_grid": lambda: {"images": torch.rand(4, 64, generator=_gen()), "ncols": 2},
    "plotting.dot_product_histogram": lambda: {"dots": torch.rand(50, generator=_gen()) - 0.5, "n": 10},
    "plotting.coherence_versus_k": lambda: {"n": 10, "ks": [5, 10, 20]},
    "plotting.feature_norm_bars": lambda: {"W": torch.randn(2, 5, generator=_gen())},
    "plotting.phase_map": lambda: {
        "phases": torch.randint(0, 3, (4, 5), generator=_gen()),
        "relative_importance": torch.linspace(0.1, 2, 4),
        "density": torch.linspace(0.05, 1, 5),
    },
    "plotting.l1_ball_meets_line": lambda: {"a": [1.0, 2.0], "b": 2.0},
    "plotting.convergence_against_bounds": lambda: {
        "gaps": [np.array([1.0, 0.5, 0.2])],
        "bounds": [np.array([1.0, 0.6, 0.3])],
        "labels": ["ista"],
    },
    "plotting.phase_diagram": lambda: {
        "success": torch.rand(3, 4, generator=_gen()),
        "deltas": torch.linspace(0.2, 0.8, 4),
        "rhos": torch.linspace(0.2, 0.8, 3),
    },
    "plotting.null_distribution_histogram": lambda: {"null": torch.randn(50, generator=_gen()), "observed": 1.0},
    "plotting.superposition_versus_hidden_size": lambda: {
        "d_hidden": [2, 4, 8],
        "fractions": [[0.1, 0.2, 0.3]],
        "labels": ["a"],
    },
    "plotting.p_value_histograms": lambda: {"p_values": [torch.rand(30, generator=_gen())], "labels": ["a"]},
    "plotting.power_versus_density": lambda: {"density": [0.1, 0.5, 1.0], "power": [[0.2, 0.5, 0.9]], "labels": ["a"]},
    "plotting.word_atoms_bars": lambda: {
        "word": "bank",
        "parts": [{"atom": 0, "coefficient": 0.5, "words": ["river", "shore"]}],
    },
    "plotting.tradeoff_scatter": lambda: {"records": [{"explained_variance": 0.5, "coherence": 0.3, "method": "a"}]},
}

# Methods: valid arguments for the instance that the class's own valid arguments make (see `_callable`).
_TOY_SHAPES = {"ToyModel": (2, 5, 2), "PrivilegedBasisModel": (2, 5, 2), "AbsoluteValueModel": (2, 4, 2)}
for _model, (_instances, _features, _hidden) in _TOY_SHAPES.items():
    _low = -1.0 if _model == "AbsoluteValueModel" else 0.0

    def _batch(seed, instances=_instances, features=_features, low=_low):
        return low + (1 - low) * torch.rand(8, instances, features, generator=_gen(seed))

    OVERRIDES |= {
        f"toy_models.{_model}.target": lambda _batch=_batch: {"x": _batch(0)},
        f"toy_models.{_model}.hidden": lambda _batch=_batch: {"x": _batch(0)},
        f"toy_models.{_model}.forward": lambda _batch=_batch: {"x": _batch(0)},
        f"toy_models.{_model}.readout": lambda i=_instances, h=_hidden: {"h": torch.rand(8, i, h, generator=_gen())},
        f"toy_models.{_model}.loss": lambda _batch=_batch: {"x": _batch(0), "x_hat": _batch(1)},
        f"toy_models.{_model}.generate_batch": lambda: {"n_batch": 4},
    }
OVERRIDES |= {
    **{
        f"digits.DigitsMLP.{method}": lambda: {"x": torch.rand(5, 64, generator=_gen())}
        for method in ("pre_activations", "hidden", "forward")
    },  # fmt: skip
    "digits.DigitsMLP.accuracy": lambda: {"X": torch.rand(10, 64, generator=_gen()), "y": torch.arange(10)},
    "embeddings.WordVectors.index": lambda: {"word": "a"},
    "embeddings.WordVectors.nearest": lambda: {"query": "a", "k": 1},
    "features.FixedDataset.draw": lambda: {
        "features": importlib.import_module("superpose_lib.features").SparseFeatures(4, 0.3, n_instances=2),
        "n_samples": 5,
        "seed": 0,
    },
    **{
        f"sae.SAE.{method}": lambda: {"x": torch.randn(5, 4, generator=_gen())}
        for method in ("encode", "forward", "loss")
    },  # fmt: skip
    "sae.SAE.decode": lambda: {"z": torch.rand(2, 5, 6, generator=_gen())},
    "engine.Adam.step": lambda: {"grads": [torch.randn(3, generator=_gen())], "lr": 0.1},
}


# --- the public names ----------------------------------------------------------------------------------------


def public_names() -> list[str]:
    """Every public function and class, as "module.name" (module without the package prefix)."""
    names = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [
                name
                for name, value in vars(module).items()
                if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == module_name
            ]
        for name in exported:
            value = getattr(module, name)
            if not callable(value) or (isinstance(value, type) and issubclass(value, BaseException)):
                continue
            if isinstance(value, type) and issubclass(value, tuple):  # a NamedTuple: a record, not a door
                continue
            if isinstance(value, type) and not _has_own_init(value):  # a dataclass record or a plain subclass
                if not _is_dataclass(value) or name not in {"WordVectors"}:
                    if not issubclass(value, torch.nn.Module):
                        continue
            qualified = f"{value.__module__}.{name}" if hasattr(value, "__module__") else f"{module_name}.{name}"
            if qualified in SKIPPED or f"{module_name}.{name}" in SKIPPED:
                continue
            names.append(qualified.removeprefix("superpose_lib."))
            if isinstance(value, type):
                names += [m for m in public_methods(value, qualified) if f"superpose_lib.{m}" not in SKIPPED]
    return sorted(set(names))


def public_methods(cls: type, qualified: str) -> list[str]:
    """The public methods of a public class, as "module.Class.method": a name without a leading underscore,
    defined in superpose_lib (on the class or a base of it), not a property, and not one that torch.nn.Module
    defines (``extra_repr``, ``train``, ...) except ``forward``, which a model defines."""
    methods = []
    for attr in dir(cls):
        owner = next((base for base in cls.__mro__ if attr in vars(base)), None)
        if attr.startswith("_") or owner is None or not owner.__module__.startswith("superpose_lib"):
            continue
        if (attr in vars(torch.nn.Module) and attr != "forward") or isinstance(vars(owner)[attr], property):
            continue
        if callable(getattr(cls, attr)):
            methods.append(f"{qualified.removeprefix('superpose_lib.')}.{attr}")
    return methods


def _has_own_init(cls) -> bool:
    return "__init__" in vars(cls) and not _is_dataclass(cls)


def _is_dataclass(cls) -> bool:
    return hasattr(cls, "__dataclass_fields__")


def _callable(name: str):
    if name.count(".") == 2:  # a method: bound to a fresh instance made from its class's valid arguments
        class_name, method = name.rsplit(".", 1)
        return getattr(_callable(class_name)(**valid_arguments(class_name)), method)
    module_name, attr = name.rsplit(".", 1) if name.count(".") else ("superpose_lib", name)
    module = importlib.import_module(
        "superpose_lib" if module_name == "superpose_lib" else f"superpose_lib.{module_name}"
    )
    return getattr(module, attr)


def valid_arguments(name: str) -> dict:
    """A valid call of `name`: its required arguments (and a few cheap settings) by name."""
    fn = _callable(name)
    if name in OVERRIDES:
        return OVERRIDES[name]()
    arguments = {}
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or parameter.name == "self":
            continue
        if parameter.default is parameter.empty or parameter.name in ("progress",):
            if parameter.name not in BY_NAME:
                raise KeyError(f"no valid value for {name}({parameter.name}): add one to BY_NAME or OVERRIDES")
            arguments[parameter.name] = BY_NAME[parameter.name]()
    return arguments


def fuzzed_parameters(name: str) -> list[str]:
    """The arguments of `name` to fuzz: every declared one (`test_every_public_argument_is_declared` makes sure
    that is all of them)."""
    return list(getattr(_callable(name), "__arguments__", {}))


# --- hostile values, from the declarations -------------------------------------------------------------------


class _IntSubclass(int):  # an integer of a user's own type (an enum's value, say)
    pass


class Hostile:
    """A hostile value for one argument, and whether its declaration refuses it (then the call must refuse it
    with a ValueError naming the argument; any other value must give a result or such a ValueError)."""

    def __init__(self, label: str, make, must_refuse: bool = False):
        self.label, self.make, self.must_refuse = label, make, must_refuse

    def __repr__(self):
        return self.label


def declaration(name: str, parameter: str):
    """The spec `parameter` of `name` is declared with (`_validate.arguments`), or None."""
    return getattr(_callable(name), "__arguments__", {}).get(parameter)


def _spec_name(spec) -> str:
    return type(spec).__name__


def candidates(spec, parameter: str, name: str, example) -> list[tuple[str, object]]:
    """(label, value) pairs built from what `spec` declares: its edges, the values just outside them, and the
    nonsense no argument of its kind can mean. `example` is a valid value (for shapes and items)."""
    kind = _spec_name(spec)
    if kind == "Optional":
        return [(label, value) for label, value in candidates(spec.spec, parameter, name, example) if value is not None]
    if kind == "Either":
        seen, out = set(), []
        for member in spec.specs:
            for label, value in candidates(member, parameter, name, example if _accepts(member, example) else None):
                if label not in seen:
                    seen.add(label)
                    out.append((label, value))
        return out
    nonsense = [("None", None), ("'3'", "3"), ("1+1j", 1 + 1j), ("object()", object())]
    if kind == "Int":
        low = spec.minimum if spec.minimum is not None else -3
        valid = example if isinstance(example, int) and not isinstance(example, bool) else max(low, 1)
        values = [*nonsense, ("nan", math.nan), ("inf", math.inf), ("True", True), ("2.5", 2.5), ("[1, 2]", [1, 2]),
                  (f"minimum {low}", low), (f"below minimum {low - 1}", low - 1), ("np.int64", np.int64(valid)),
                  ("torch int", torch.tensor(valid))]  # fmt: skip
        values += [("np.bool_", np.bool_(True)), ("int subclass", _IntSubclass(valid)), ("2**63", 2**63)]
        if spec.maximum is not None:
            values += [
                (f"maximum {spec.maximum}", spec.maximum),
                (f"above maximum {spec.maximum + 1}", spec.maximum + 1),
            ]
        elif parameter not in NOT_SIZES and parameter not in ITERATIONS_OF.get(name, ()):
            values.append(("10**12", HUGE))
        return values
    if kind == "Real":
        values = [*nonsense, ("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf), ("True", True),
                  ("[1, 2]", [1, 2])]  # fmt: skip
        for bound, sign in ((spec.low, -1), (spec.high, 1)):
            if bound is None:
                values.append((f"{sign * 1e300:g}", sign * 1e300))
            else:
                values += [(f"bound {bound:g}", float(bound)), (f"beyond bound {bound + sign:g}", float(bound + sign)),
                           (f"just beyond {bound:g}", math.nextafter(float(bound), sign * math.inf))]  # fmt: skip
        values.append(("np.bool_", np.bool_(True)))
        if isinstance(example, float):
            values += [("np.float32", np.float32(example)), ("0-d tensor", torch.tensor(example))]
        if spec.low is None or spec.low <= 0 <= (spec.high if spec.high is not None else 1):
            values.append(("int 0", 0))
        return values
    if kind == "Flag":
        return [*nonsense, ("'yes'", "yes"), ("nan", math.nan), ("2", 2), ("0", 0), ("np.bool_", np.bool_(True))]
    if kind == "Choice":
        return [*nonsense[:3], ("'nonsense'", "nonsense"), ("''", ""), (f"{spec.options[0].upper()!r}",
                spec.options[0].upper()), ("[option]", [spec.options[0]])]  # fmt: skip
    if kind == "Text":
        return [("None", None), ("3", 3), ("nan", math.nan), ("True", True), ("''", ""), ("'nonsense'", "nonsense"),
                ("['x']", ["x"])]  # fmt: skip
    if kind == "Tensor":
        return [*nonsense[:3], *_tensor_candidates(spec, example)]
    if kind == "Each":
        item = example[0] if isinstance(example, list | tuple) and len(example) else None
        values = [*nonsense, ("[]", []), ("'abc'", "abc"), ("3", 3)]
        if item is not None:
            values += [(f"[{label}]", [value]) for label, value in candidates(spec.spec, parameter, name, item)[:8]]
            if spec.length is not None:
                values.append((f"{spec.length + 1} items", [item] * (spec.length + 1)))
        return values
    if kind in ("Instance", "Function", "Generator", "Device"):
        values = [*nonsense, ("3", 3), ("a tensor", torch.zeros(3))]
        if kind != "Function":  # (a function of the wrong signature is the hook's own business)
            values.append(("a function", len))
        if kind == "Device":
            values += [("'tpu'", "tpu"), ("'cpu'", "cpu"), ("'cuda'", "cuda"), ("'meta'", "meta"),
                       ("'cuda:7'", "cuda:7")]  # fmt: skip
        return values
    raise AssertionError(f"{name}({parameter}): no hostile values for a {kind} declaration; teach `candidates` it")


def _tensor_candidates(spec, example) -> list[tuple[str, object]]:
    base = (
        _as_tensor(example) if example is not None else torch.rand(3, 4, generator=_gen())[: 1 if spec.ndim == 1 else 3]
    )
    if base.ndim == 2 and spec.ndim == 1:
        base = base[0]
    values = [("numpy", base.numpy()), ("list", base.tolist()), ("float64", base.double()), ("float16", base.half()),
              ("int64", base.round().long()), ("bool", base > 0), ("scalar", torch.tensor(0.5)),
              ("extra axis", base.unsqueeze(0)), ("1-D", base.reshape(-1)),
              ("zeros", torch.zeros_like(base, dtype=torch.float32)), ("huge entries", torch.full(base.shape, 1e30)),
              ("negated", -base.float()), ("complex", base.to(torch.complex64)), ("np.bool_", np.bool_(True)),
              ("requires grad", base.float().requires_grad_())]  # fmt: skip
    if base.ndim:
        values += [("empty", base[:0]), ("empty last axis", base[..., :0]), ("one row", base[:1])]
    if base.ndim == 2:
        values += [("transposed", base.T), ("non-contiguous", base.T.contiguous().T)]
    if base.ndim and base.numel():
        values.append(("expanded", base[:1].expand(base.shape)))
    if not spec.integer:
        values += [("with NaN", _with(base, math.nan)), ("with inf", _with(base, math.inf))]
    return values


def _accepts(spec, value) -> bool:
    try:
        spec("argument", value)
    except ValueError:
        return False
    return True


def hostile_values(name: str, parameter: str, example, *, every: bool = True) -> list[Hostile]:
    """The hostile values of one declared argument, each marked with whether its declaration refuses it.

    A value the declaration refuses never reaches the function's body, so a few of them show that the declared
    check is the one that runs; with ``every=False`` (CI) only the first `REFUSED_IN_CI` of those are kept, and
    every value the declaration accepts (the ones that exercise the body: edges, empty, zeros, huge entries)."""
    spec = declaration(name, parameter)
    values = [
        Hostile(label, lambda _v, value=value: _fresh(value), not _accepts(spec, value))
        for label, value in candidates(spec, parameter, name, example)
    ]
    if every:
        return values
    refused = [hostile for hostile in values if hostile.must_refuse][:REFUSED_IN_CI]
    return [hostile for hostile in values if not hostile.must_refuse or hostile in refused]


def _fresh(value):
    """A copy of a hostile value, so that a function that changes its argument in place cannot change the next."""
    try:
        return copy.deepcopy(value)
    except (TypeError, RuntimeError):
        return value


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return torch.as_tensor(np.asarray(value))


def _with(value, bad: float):
    t = _as_tensor(value)
    t = (t.double() if not t.is_floating_point() else t.clone()).contiguous()
    if t.numel():
        t.view(-1)[0] = bad
    return t


# --- calling and classifying ---------------------------------------------------------------------------------


class Hang(Exception):
    pass


@contextlib.contextmanager
def watchdog(seconds: float):
    """Stop a call that runs on (SIGALRM, main thread only); a no-op where the signal is missing."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def stop(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _finite_inputs(arguments: dict) -> bool:
    for value in arguments.values():
        for leaf in _leaves(value):
            if isinstance(leaf, float | complex) and not math.isfinite(abs(leaf)):
                return False
            if isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and not torch.isfinite(leaf).all():
                return False
            if isinstance(leaf, np.ndarray) and leaf.dtype.kind in "fc" and not np.isfinite(leaf).all():
                return False
    return True


def _largest_input(arguments: dict) -> float:
    largest = 0.0
    for value in arguments.values():
        for leaf in _leaves(value):
            if isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and leaf.numel():
                largest = max(largest, leaf.abs().max().item())
            elif isinstance(leaf, float):
                largest = max(largest, abs(leaf))
    return largest


def _leaves(value, depth=0):
    if depth > 3:
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item, depth + 1)
    else:
        yield value


def _has_nan(result, depth=0) -> bool:
    if depth > 3:
        return False
    if isinstance(result, torch.Tensor):
        return result.is_floating_point() and result.numel() > 0 and not bool(torch.isfinite(result).all())
    if isinstance(result, np.ndarray):
        return result.dtype.kind == "f" and result.size > 0 and not bool(np.isfinite(result).all())
    if isinstance(result, float):
        return not math.isfinite(result)
    if isinstance(result, list | tuple):
        return any(_has_nan(item, depth + 1) for item in result)
    if isinstance(result, dict):
        return any(_has_nan(item, depth + 1) for item in result.values())
    if isinstance(result, torch.nn.Module):
        return any(_has_nan(p, depth + 1) for p in result.parameters())
    return False


def call(name: str, arguments: dict, parameter: str | None, hostile: Hostile | None) -> tuple[str, str]:
    """Call `name` with `arguments`; return (outcome, detail). Outcomes: "ok", "clear", "unclear", "deep",
    "accepted", "nan", "hang"."""
    fn = _callable(name)
    finite_in = _finite_inputs(arguments)
    try:
        with warnings.catch_warnings(), watchdog(HANG_SECONDS):
            warnings.simplefilter("ignore")
            result = fn(**arguments)
            if isinstance(result, types.GeneratorType):
                result = list(result)
            if isinstance(result, contextlib.AbstractContextManager):  # a context manager checks on entry
                with result:
                    pass
    except Hang as error:
        return "hang", str(error)
    except ValueError as error:
        if parameter is None or parameter in str(error):
            return ("clear", str(error)) if parameter is not None else ("unclear", f"ValueError: {error}")
        return "unclear", f"ValueError: {error}"
    except Exception as error:  # noqa: BLE001 - classifying is the point
        return "deep", f"{type(error).__name__}: {str(error)[:300]}"
    finally:
        _close_figures()
    if hostile is not None and hostile.must_refuse:
        return "accepted", f"returned {type(result).__name__}"
    if finite_in and _has_nan(result) and f"superpose_lib.{name}" not in DOCUMENTED_NAN:
        if _largest_input(arguments) >= LARGE:
            return "overflow", f"NaN or inf in the result of {type(result).__name__}, from entries of 1e15 or more"
        return "nan", f"NaN or inf in the result of {type(result).__name__}"
    return "ok", ""


def _close_figures():
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def cases():
    for name in public_names():
        for parameter in fuzzed_parameters(name):
            yield name, parameter


def hostile_calls(name: str, parameter: str, *, every: bool = True):
    """Every (arguments, hostile value) for one declared argument of one public name (see `hostile_values`)."""
    valid = valid_arguments(name)
    default = inspect.signature(_callable(name)).parameters[parameter].default
    example = valid.get(parameter, default)
    if example is inspect.Parameter.empty:
        raise KeyError(f"no valid value for {name}({parameter})")
    for hostile in hostile_values(name, parameter, example, every=every):
        arguments = valid_arguments(name)  # fresh objects for every call
        arguments[parameter] = hostile.make(None)
        yield arguments, hostile


BAD = ("unclear", "deep", "accepted", "nan", "hang")


# --- the tests -----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")


@pytest.mark.parametrize("name", public_names())
def test_valid_call_succeeds(name):
    """The valid arguments the other tests start from are valid: the call succeeds, with no NaN."""
    outcome, detail = call(name, valid_arguments(name), None, None)
    assert outcome == "ok", f"{name}: {outcome}: {detail}"


@pytest.mark.parametrize(("name", "parameter"), list(cases()))
def test_hostile_argument_is_refused_by_name_or_handled(name, parameter):
    """Each fixed hostile value of one argument: success, or a ValueError naming the argument."""
    failures = []
    for arguments, hostile in hostile_calls(name, parameter, every=FULL):
        outcome, detail = call(name, arguments, parameter, hostile)
        if outcome in BAD:
            failures.append(f"{parameter}={hostile!r}: {outcome}: {detail}")
    assert not failures, f"{name}:\n" + "\n".join(failures)


def _generated(spec):
    """A hypothesis strategy around what `spec` declares (None for kinds with nothing to generate): integers on
    both sides of the minimum, floats on both sides of the interval, tensors of the declared number of dimensions
    and one more or less, with NaN and inf among the entries."""
    kind = _spec_name(spec)
    if kind == "Optional":
        return _generated(spec.spec)
    if kind == "Int":
        low = spec.minimum if spec.minimum is not None else -3
        high = spec.maximum + 3 if spec.maximum is not None else low + 50
        return st.one_of(st.integers(low - 3, high), st.booleans(), st.floats(allow_nan=True, allow_infinity=True))
    if kind == "Real":
        near = [st.floats(b - 2, b + 2) for b in (spec.low, spec.high) if b is not None]
        return st.one_of(st.floats(allow_nan=True, allow_infinity=True), *near, st.integers(-5, 5), st.booleans())
    if kind == "Tensor":
        declared = (spec.ndim,) if isinstance(spec.ndim, int) else spec.ndim or (spec.min_ndim or 1,)
        ndims = sorted({max(d + step, 0) for d in declared for step in (-1, 0, 1)})
        shapes = st.sampled_from(ndims).flatmap(lambda n: st.lists(st.integers(0, 4), min_size=n, max_size=n))
        entries = st.integers(-3, 12) if spec.integer else st.floats(allow_nan=True, allow_infinity=True, width=32)
        dtype = torch.long if spec.integer else torch.float32
        return shapes.flatmap(
            lambda shape: st.lists(entries, min_size=math.prod(shape), max_size=math.prod(shape)).map(
                lambda xs, shape=shape: torch.tensor(xs, dtype=dtype).reshape(shape)
            )
        )
    return None


GENERATED_CASES = [
    (name, parameter) for name, parameter in cases() if _generated(declaration(name, parameter)) is not None
]


@pytest.mark.parametrize(("name", "parameter"), GENERATED_CASES)
def test_generated_argument_is_refused_by_name_or_handled(name, parameter):
    """Generated values (hypothesis) of one argument: what its declaration refuses is refused by name; the rest
    gives a result without NaN, or a ValueError naming the argument."""
    spec = declaration(name, parameter)

    @settings(max_examples=GENERATED_EXAMPLES, deadline=None, derandomize=not FULL, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(value=_generated(spec))
    def check(value):
        arguments = valid_arguments(name)
        arguments[parameter] = value
        outcome, detail = call(name, arguments, parameter, Hostile(repr(value), None, not _accepts(spec, value)))
        assert outcome not in BAD, f"{name}({parameter}={value!r}): {outcome}: {detail}"

    check()


# Arguments left undeclared on purpose, each with the reason; every other argument of every public name (the
# fuzzed ones and those in SKIPPED) must be declared.
UNDECLARED = {
    "engine.scratch": "a buffer cache called three times in every training step of a model's hand-written "
    "gradients, so unchecked; tests/test_engine.py covers it",
    **{name.removeprefix("superpose_lib."): reason for name, reason in ENGINE_PROTOCOL.items()},
    "claims.claim(holds)": "a comparison's result (a bool, a NumPy bool or a one-element boolean tensor): claim's "
    "own check raises a TypeError that tells a lecture's author to pass the comparison, not the number",
}


def _all_public_names() -> list[str]:
    return public_names() + sorted(name.removeprefix("superpose_lib.") for name in SKIPPED)


def test_every_public_argument_is_declared():
    """A new public function, or a new argument, cannot skip the declarations: each is listed here until declared."""
    missing = []
    for name in _all_public_names():
        declared = getattr(_callable(name), "__arguments__", {})
        for parameter in inspect.signature(_callable(name)).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or parameter.name == "self":
                continue
            if (
                parameter.name not in declared
                and name not in UNDECLARED
                and f"{name}({parameter.name})" not in UNDECLARED
            ):
                missing.append(f"{name}({parameter.name})")
    assert not missing, "declare these with superpose_lib._validate.arguments: " + ", ".join(missing)


# Public-looking functions of a module with an ``__all__`` that are left out of it on purpose, each with the reason.
NOT_EXPORTED = {
    "superpose_lib.features.broadcast": "the constructors' shared helper for an argument they declared already",
}


def test_a_new_module_or_function_cannot_escape_the_declarations():
    """Every module of the package is in `MODULES` (the exercise checks have their own battery), and in a module
    with an ``__all__`` every public-looking function is exported (so it is declared and fuzzed) or listed in
    `NOT_EXPORTED`."""
    import superpose_lib

    modules = {f"superpose_lib.{m.name}" for m in pkgutil.iter_modules(superpose_lib.__path__)}
    modules = {m for m in modules if not m.rsplit(".", 1)[1].startswith("_")} - {"superpose_lib.checks"}
    assert modules <= set(MODULES), f"add to MODULES: {sorted(modules - set(MODULES))}"
    hidden = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if name.startswith("_") or not callable(value) or getattr(value, "__module__", None) != module_name:
                continue
            if name not in getattr(module, "__all__", [name]) and f"{module_name}.{name}" not in NOT_EXPORTED:
                hidden.append(f"{module_name}.{name}")
    assert not hidden, f"export (and declare) these, or list them in NOT_EXPORTED with a reason: {hidden}"


def test_integers_beyond_int64_bools_and_devices_torch_lacks_are_refused_by_name():
    from superpose_lib import _validate
    from superpose_lib.geometry import random_rotation, random_unit_vectors
    from superpose_lib.sparse import lasso

    with pytest.raises(ValueError, match=r"seed must be at most 2\*\*63 - 1"):
        random_rotation(3, seed=2**70)
    with pytest.raises(ValueError, match=r"k must be at most 2\*\*63 - 1"):
        random_unit_vectors(2**64, 3)
    with pytest.raises(ValueError, match=r"n must be an integer >= 1, got np.True_"):
        random_rotation(np.bool_(True))
    with pytest.raises(ValueError, match=r"device must be \"cpu\", \"cuda\" or a torch.device of those"):
        random_rotation(3, device="meta")
    with pytest.raises(ValueError, match=r"device 'cuda:\d+' was asked for|torch sees no CUDA device"):
        random_rotation(3, device=f"cuda:{torch.cuda.device_count()}")
    from superpose_lib.environment import cpu_threads

    with pytest.raises(ValueError, match=r"device must be \"cpu\", \"cuda\" or a torch.device of those"):
        cpu_threads(1, "meta")  # declared once: refused at the call, not on entering the block
    with cpu_threads(1, "cuda:7"):  # only the type matters here: a GPU's device need not be present
        pass
    with pytest.raises(ValueError, match=r"x must be a tensor or array of numbers, got bool"):
        _validate.tensor("x", np.bool_(True))
    D = torch.eye(3, requires_grad=True)  # a solver's data may come from a graph: its codes do not
    Z = lasso(D, torch.tensor([2.0, 0.0, 0.0]), lam=1.0)
    assert not Z.requires_grad and Z.tolist() == [1.0, 0.0, 0.0]


def test_models_name_a_batch_of_another_dtype_or_shape_and_nearest_a_zero_query():
    """Methods that take a learner's data check its dtype and shape against the model's right after their declared
    checks, and say what to pass instead of torch's "expected m1 and m2 to have the same dtype" from deep inside."""
    toy, mlp, wv = _toy(), _mlp(), _wv()
    x = torch.rand(8, 2, 5, generator=_gen())
    for dtype in (torch.float64, torch.float16, torch.int64, torch.bool):
        with pytest.raises(
            ValueError, match=rf"x must hold (the model's dtype torch.float32|floating-point numbers), got {dtype}"
        ):
            toy(x.to(dtype))
        with pytest.raises(ValueError, match=rf"x must hold the model's dtype torch.float32, got {dtype}"):
            mlp(torch.rand(3, 64, generator=_gen()).to(dtype))
    with pytest.raises(ValueError, match=r"x_hat must hold floating-point numbers, got torch.bool"):
        toy.loss(x, x > 0.5)
    assert toy.loss(x.double(), toy(x)).dtype == torch.float64  # a float64 target is still compared, promoted
    with pytest.raises(ValueError, match=r"x_hat must have x's shape \(8, 2, 5\), got \(0, 2, 5\)"):
        toy.loss(x, x[:0])
    for query in (torch.zeros(50), torch.zeros(0)):
        with pytest.raises(ValueError, match="query must be a word or a non-zero vector of length 50"):
            wv.nearest(query)


def test_declared_defaults_are_valid_and_the_docstring_lists_each_declaration():
    """The checks run on defaults too, so each default must pass its own declaration; and the docstring's
    "Arguments checked" block, written from the declarations, names every declared argument."""
    problems = []
    for name in _all_public_names():
        fn = _callable(name)
        declared = getattr(fn, "__arguments__", {})
        doc = (fn.__doc__ or "") + ((fn.__init__.__doc__ or "") if isinstance(fn, type) else "")  # a subclass
        # keeps its own docstring ("the same arguments as ...") and inherits the declared __init__
        if declared and "Arguments checked" not in doc:
            problems.append(f"{name}: no 'Arguments checked' block in its docstring")
        for parameter in inspect.signature(fn).parameters.values():
            spec = declared.get(parameter.name)
            if spec is None:
                continue
            if f"{parameter.name} : {spec.describe()}" not in doc:
                problems.append(f"{name}: the docstring does not describe {parameter.name}")
            if parameter.default is not parameter.empty and not _accepts(spec, parameter.default):
                problems.append(f"{name}: the default {parameter.name}={parameter.default!r} fails {spec!r}")
    assert not problems, "\n".join(problems)


def test_huge_sizes_are_refused_up_front_with_the_memory_they_need():
    from superpose_lib.geometry import random_unit_vectors
    from superpose_lib.toy_models import ToyModel

    with pytest.raises(ValueError, match=r"k and n is too large: the call would need about .* of memory"):
        random_unit_vectors(10**9, 10**6)
    with pytest.raises(ValueError, match=r"n_features, d_hidden and n_instances is too large: .* memory"):
        ToyModel(10**7, 10**6)


def test_declared_arguments_are_checked_and_kept_on_the_function():
    from superpose_lib import _validate
    from superpose_lib.engine import learning_rate

    assert set(learning_rate.__arguments__) == {"step", "steps", "lr", "schedule", "warmup"}
    assert learning_rate(0, 10, 0.1) == 0.1
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got nan"):
        learning_rate(0, 10, math.nan)
    with pytest.raises(ValueError, match="schedule must be one of 'constant', 'cosine'"):
        learning_rate(0, 10, 0.1, schedule="linear")
    with pytest.raises(TypeError, match="no argument"):
        _validate.arguments(nonexistent=_validate.Int())(learning_rate)


# --- the census ----------------------------------------------------------------------------------------------


def census(prefixes=(), out=sys.stdout) -> Counter:
    """Count the outcomes of every fixed hostile call (of the names starting with one of `prefixes`, or all);
    print the bad ones."""
    counts = Counter()
    for name, parameter in cases():
        if prefixes and not name.startswith(tuple(prefixes)):
            continue
        for arguments, hostile in hostile_calls(name, parameter):
            outcome, detail = call(name, arguments, parameter, hostile)
            counts[outcome] += 1
            if outcome in BAD:
                print(f"{outcome:8s} {name}({parameter}={hostile!r}): {detail[:160]}", file=out)
    print(f"public names: {len(public_names())}, calls: {sum(counts.values())}", file=out)
    for outcome in ("ok", "clear", "overflow") + BAD:
        print(f"{outcome:8s} {counts[outcome]}", file=out)
    return counts


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import matplotlib

    matplotlib.use("Agg")
    census(sys.argv[1:])

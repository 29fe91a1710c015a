"""superpose_lib: the helper library of the superpose course.

Modules follow the course: `geometry` (rotations, directions), `embeddings` (word vectors), `digits`
(a small image classifier), `interference`, `toy_models` (Elhage et al. 2022), `metrics`, `sparse` (sparse
recovery and dictionary learning), `sae` (sparse autoencoders), `detection` (statistical tests for
superposition), `atoms` (atoms of discourse in word vectors), `plotting`, `widgets`, and `checks` (the
workbooks' exercise checks).
"""

__version__ = "0.1.0"

from .environment import default_device, report_environment  # noqa: E402

__all__ = ["__version__", "default_device", "report_environment"]

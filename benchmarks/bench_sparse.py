"""Batched sparse coding (superpose_lib.sparse) against scikit-learn and SPAMS, side by side in one run.

Problem (issue 6): 2,000 signals x = D z, dictionaries D of shape 64×256, 128×512 and 256×1024 with unit-norm
Gaussian atoms, codes z with 5–10 nonzeros (N(0, 1) values on a random support), λ = 0.05.

- Lasso ``½‖x − D z‖² + λ‖z‖₁``: our batched homotopy `lasso` against ``sparse_encode(algorithm="lasso_cd")``
  and ``"lasso_lars"`` (their ``alpha`` is our λ) and SPAMS ``spams.lasso`` (mode 2, ``lambda1`` = λ).
  Equal quality: every signal's objective within 1e-6 (relative) of the best objective any method reached.
- OMP with 10 atoms: our batched `omp` against ``orthogonal_mp_gram`` (Gram and Dᵀx computed inside the timing,
  as ``sparse_encode(algorithm="omp")`` does) and SPAMS ``spams.omp``. Equal quality: the same supports.

Everything runs in float64. scikit-learn and SPAMS run on the CPU; ours runs where ``--device`` says (the CPU
by default; with ``--device cuda`` its inputs are on the GPU before the clock starts, every timing waits for
the GPU to finish, and the codes are compared on the CPU). SPAMS is optional (``pip install spams-bin``);
without it the script says so and skips it. SPAMS gets as many threads as torch. Times are the best of
``--repeats`` runs, the competitors taking turns run by run (a slow spell of a shared machine then slows all of
them, not one); the ratios are printed, never asserted.

    python benchmarks/bench_sparse.py [--repeats 5] [--signals 2000] [--sizes 64x256,128x512,256x1024] [--threads 1]
        [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

# Idle OpenMP threads (SPAMS, BLAS) must sleep, not spin, or they steal the CPU from whatever is timed next.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from sklearn.decomposition import sparse_encode
from sklearn.linear_model import orthogonal_mp_gram

from superpose_lib.sparse import lasso, lasso_objective, omp

try:
    import spams
except ImportError as error:  # spams-bin is an optional extra
    spams, SPAMS_ERROR = None, f"{type(error).__name__}: {error}"
else:
    SPAMS_ERROR = None

LAM = 0.05
QUALITY = 1e-6


def problem(n: int, k: int, batch: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    D = torch.randn(n, k, generator=gen, dtype=torch.float64)
    D = D / D.norm(dim=0, keepdim=True)  # (n, k) unit-norm atoms as columns
    Z = torch.zeros(batch, k, dtype=torch.float64)
    sizes = torch.randint(5, 11, (batch,), generator=gen)
    for b in range(batch):
        support = torch.randperm(k, generator=gen)[: int(sizes[b])]
        Z[b, support] = torch.randn(int(sizes[b]), generator=gen, dtype=torch.float64)
    return D, Z @ D.T  # (n, k), (batch, n)


def best_times(fns: dict, repeats: int):
    """Each function's best time of `repeats` runs, and its result. The functions take turns (one run of each
    per round), so a slow spell of a shared machine slows every competitor alike, not just whichever one it
    happened to meet."""
    best = dict.fromkeys(fns, float("inf"))
    results = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            _synchronize()
            start = time.perf_counter()
            result = fn()
            _synchronize()
            best[name] = min(best[name], time.perf_counter() - start)
            results[name] = result.cpu() if isinstance(result, torch.Tensor) else result
    return best, results


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _threads() -> int:
    return torch.get_num_threads()


def bench_size(n: int, k: int, args, rows: list) -> None:
    D, X = problem(n, k, args.signals, seed=n)
    Dd, Xd = D.to(args.device), X.to(args.device)  # ours computes where these are
    Dn, Xn = D.numpy(), X.numpy()
    Dt = np.ascontiguousarray(Dn.T)  # scikit-learn stores atoms as rows
    Xf, Df = np.asfortranarray(Xn.T), np.asfortranarray(Dn)  # SPAMS: signals and atoms as columns

    # --- Lasso ---
    solvers = {"ours": lambda: lasso(Dd, Xd, LAM)}
    for algo in ("lasso_cd", "lasso_lars"):
        solvers[algo] = lambda algo=algo: sparse_encode(Xn, Dt, algorithm=algo, alpha=LAM)
    if spams is not None:
        solvers["spams"] = lambda: spams.lasso(Xf, D=Df, lambda1=LAM, mode=2, numThreads=_threads()).toarray().T
    times, codes = best_times(solvers, args.repeats)
    objectives = {name: lasso_objective(D, X, torch.as_tensor(np.asarray(z)), LAM) for name, z in codes.items()}
    best = torch.stack(list(objectives.values())).min(dim=0).values
    gaps = {name: float(((f - best) / best).max()) for name, f in objectives.items()}
    fastest_sklearn = min(("lasso_cd", "lasso_lars"), key=times.get)
    line = (
        f"{n}x{k} Lasso: ours {times['ours']:.3f}s (gap {gaps['ours']:.1e}) | "
        f"lasso_cd {times['lasso_cd']:.3f}s (gap {gaps['lasso_cd']:.1e}) | "
        f"lasso_lars {times['lasso_lars']:.3f}s (gap {gaps['lasso_lars']:.1e})"
    )
    if spams is not None:
        line += f" | SPAMS {times['spams']:.3f}s (gap {gaps['spams']:.1e})"
    print(line)
    equal = all(gap <= QUALITY for gap in gaps.values())
    ratio = times[fastest_sklearn] / times["ours"]
    note = f"   speed-up vs scikit-learn's fastest ({fastest_sklearn}): {ratio:.1f}x (target >= 3x)"
    if spams is not None:
        note += f"; SPAMS / ours: {times['spams'] / times['ours']:.2f}"
    print(note + ("" if equal else f"   [quality differs: a gap above {QUALITY:g}]"))
    rows.append((f"{n}x{k}", "Lasso", times["ours"], times[fastest_sklearn], times.get("spams"), equal))

    # --- OMP ---
    m = args.omp_atoms
    solvers = {
        "ours": lambda: omp(Dd, Xd, m),
        "sklearn": lambda: orthogonal_mp_gram(Dn.T @ Dn, Dn.T @ Xn.T, n_nonzero_coefs=m).T,
    }
    if spams is not None:
        solvers["spams"] = lambda: spams.omp(Xf, Df, L=m, numThreads=_threads()).toarray().T
    times, codes = best_times(solvers, args.repeats)
    # a coefficient below 1e-10 is a zero (SPAMS keeps adding atoms with ~1e-17 weights after an exact fit)
    supports = {name: np.abs(np.asarray(z)) > 1e-10 for name, z in codes.items()}
    same = {name: float((s == supports["ours"]).all(axis=1).mean()) for name, s in supports.items()}
    line = f"{n}x{k} OMP:   ours {times['ours']:.3f}s | orthogonal_mp_gram {times['sklearn']:.3f}s"
    line += f" (same supports {same['sklearn']:.1%})"
    if spams is not None:
        line += f" | SPAMS {times['spams']:.3f}s (same supports {same['spams']:.1%})"
    print(line)
    note = f"   speed-up vs scikit-learn: {times['sklearn'] / times['ours']:.1f}x (target >= 5x)"
    if spams is not None:
        note += f"; ours / SPAMS: {times['ours'] / times['spams']:.2f}x (target <= 2x)"
    print(note)
    rows.append((f"{n}x{k}", "OMP", times["ours"], times["sklearn"], times.get("spams"), same["sklearn"] == 1.0))


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "the CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--signals", type=int, default=2000)
    parser.add_argument("--sizes", default="64x256,128x512,256x1024")
    parser.add_argument("--omp-atoms", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="where ours runs: cpu (default) or cuda")
    args = parser.parse_args()
    args.device = torch.device(args.device)
    if args.device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a CUDA device; this machine has none")
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Orthogonal matching pursuit ended prematurely")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64; ours on {_device_name(args.device)}; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} (a busy machine inflates every time)"
    )
    if spams is None:
        print(f"SPAMS not available ({SPAMS_ERROR}): its columns are skipped. `pip install spams-bin` adds them.")
    rows = []
    for size in args.sizes.split(","):
        n, k = (int(v) for v in size.split("x"))
        bench_size(n, k, args, rows)

    columns = ("dictionary", "solver", "ours (s)", "scikit-learn (s)", "SPAMS (s)", "sklearn / ours", "ours / SPAMS")
    print("\n| " + " | ".join(columns) + " | equal quality |")
    print("|" + "---|" * (len(columns) + 1))
    for size, solver, ours, theirs, spams_time, equal in rows:
        spams_text, over_spams = ("–", "–") if spams_time is None else (f"{spams_time:.3f}", f"{ours / spams_time:.2f}")
        print(
            f"| {size} | {solver} | {ours:.3f} | {theirs:.3f} | {spams_text} | {theirs / ours:.1f}x | {over_spams} "
            f"| {equal} |"
        )


if __name__ == "__main__":
    main()

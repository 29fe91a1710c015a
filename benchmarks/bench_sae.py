"""Benchmark: 16 sparse autoencoders trained side by side in one SAE against the same 16 trained one by one.

Both sides run the same code, ``superpose_lib.sae.train_sae``, for the same number of steps: the batched side
trains one ``SAE(n_instances=16)`` whose instances differ in their L1 coefficient (log-spaced, a typical
sweep); the sequential side trains 16 ``SAE(n_instances=1)``, each started from the same weights as the
corresponding instance and fed the same batches (same seed: every instance of a batched SAE sees the same
batch). Throughput is instance-steps per second.

Equal quality: each sequential SAE is scored against its batched twin on the same held-out samples; the
script fails if any MMCS differs by more than ``MMCS_TOLERANCE`` (they differ only by floating-point order
and by which inputs dead-latent resampling draws).

Workloads:

- **recipe**: ``SyntheticFeatures(128, 64)`` (128 known features in 64 dimensions), 256 latents, batch 128,
  the chapter 09 training recipe (lr 1e-2, cosine schedule, 1000 steps). Each step's products are large
  enough that their arithmetic, not Python or dispatch overhead, dominates, so batching gains less on a CPU.
- **small**: ``SyntheticFeatures(32, 16)``, 64 latents, batch 128: the size of an SAE on a toy model's hidden
  layer, where each step's overhead dominates and batching pays most.

On a CPU the batched side's gain is bounded by how much of a step is overhead: the arithmetic is the same on
both sides, so the recipe workload, whose steps are dominated by arithmetic, gains far less than the small one.

**Gradients** (the recipe workload, batched): the same recipe, same steps, three ways: ``train_sae`` (the
engine with hand-written gradients), ``train_sae(..., gradients="autograd")`` (the engine with the SAE's loss
only: what the hand gradients buy), and a straightforward loop (autograd, ``torch.optim.Adam``, the decoder
renormalised after each step, no resampling: what the engine buys). Equal quality: the MMCS of each, printed.

Then the recovery quality of the recipe sweep: MMCS, L0, explained variance and dead fraction at each L1
coefficient, and the best one (highest MMCS).

Both sides use the same number of CPU threads (by default the one `train_sae` picks for the batched workload;
set it with ``--threads``). Run: ``python benchmarks/bench_sae.py [--quick] [--threads N] [--device cuda]``.
Timings on a shared machine are noisy; the two sides run back to back in one process so they see the same load.
"""

from __future__ import annotations

import argparse
import copy
import math
import time

import torch

from superpose_lib import engine
from superpose_lib.environment import cpu_threads
from superpose_lib.sae import SAE, SyntheticFeatures, evaluate_sae, train_sae

N_INSTANCES = 16
L1_RANGE = (5e-4, 2e-2)  # the recipe sweep, log-spaced
LR, SCHEDULE, BATCH, STEPS = 1e-2, "cosine", 128, 1_000
WORKLOADS = {  # name: (n_features, d, d_latent)
    "recipe": (128, 64, 256),
    "small": (32, 16, 64),
}
EVAL_SAMPLES, MMCS_TOLERANCE = 8_192, 0.05


def l1_sweep() -> list[float]:
    low, high = (math.log10(v) for v in L1_RANGE)
    return torch.logspace(low, high, N_INSTANCES, dtype=torch.float64).tolist()


def single(batched: SAE, i: int) -> SAE:
    """Instance `i` of `batched` as an SAE of its own, with the same initial weights."""
    one = SAE(batched.d_input, batched.d_latent_max, l1_coeff=float(batched.l1_coeff[i]), seed=0,
              device=batched.W_enc.device)  # fmt: skip
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(one, name).copy_(getattr(batched, name)[i : i + 1])
    return one


def timed(fn, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def run_workload(name, steps, threads, device):
    n_features, d, d_latent = WORKLOADS[name]
    data = SyntheticFeatures(n_features, d, seed=0, device=device)
    held_out = data.sample(EVAL_SAMPLES, seed=12345)
    batched = SAE(d, d_latent, N_INSTANCES, l1_coeff=l1_sweep(), seed=0, device=device)
    singles = [single(batched, i) for i in range(N_INSTANCES)]
    kwargs = dict(steps=steps, batch_size=BATCH, lr=LR, schedule=SCHEDULE, seed=1, threads=threads, progress=False)
    warm = copy.deepcopy(singles[0])  # one short untimed run, so neither side pays the first-call costs
    train_sae(warm, data.sample, **{**kwargs, "steps": 20})

    seq_seconds = timed(lambda: [train_sae(one, data.sample, **kwargs) for one in singles], device)
    bat_seconds = timed(lambda: train_sae(batched, data.sample, **kwargs), device)

    records = evaluate_sae(batched, held_out, data)
    twins = [evaluate_sae(one, held_out, data)[0] for one in singles]
    gap = max(abs(a["mmcs"] - b["mmcs"]) for a, b in zip(records, twins))
    work = N_INSTANCES * steps
    return {
        "name": name,
        "shape": f"{n_features} features in {d} dims, {d_latent} latents",
        "sequential": work / seq_seconds,
        "batched": work / bat_seconds,
        "seconds": (seq_seconds, bat_seconds),
        "gap": gap,
        "records": records,
    }


def reference_sae_train(sae: SAE, sample, steps: int, seed: int) -> None:
    """A straightforward SAE loop: autograd on `SAE.loss`, torch.optim.Adam, the cosine schedule, unit decoder."""
    gen = torch.Generator(device=sae.W_enc.device).manual_seed(seed)
    optimizer = torch.optim.Adam(sae.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: engine.learning_rate(t, steps, 1.0, SCHEDULE))
    sae.normalize_decoder_()
    for _ in range(steps):
        x = sample(BATCH, generator=gen)
        optimizer.zero_grad()
        sae.loss(x).sum().backward()
        optimizer.step()
        schedule.step()
        sae.normalize_decoder_()


def gradients_comparison(steps, threads, device) -> None:
    n_features, d, d_latent = WORKLOADS["recipe"]
    data = SyntheticFeatures(n_features, d, seed=0, device=device)
    held_out = data.sample(EVAL_SAMPLES, seed=12345)
    kwargs = dict(steps=steps, batch_size=BATCH, lr=LR, schedule=SCHEDULE, seed=1, threads=threads, progress=False)
    runs = {
        "engine, hand gradients": lambda sae: train_sae(sae, data.sample, **kwargs),
        "engine, autograd": lambda sae: train_sae(sae, data.sample, gradients="autograd", **kwargs),
        "reference loop": lambda sae: reference_sae_train(sae, data.sample, steps, seed=1),
    }
    print(f"\ngradients, on the recipe workload ({N_INSTANCES} instances, {steps} steps):")
    seconds = {}
    for name, run in runs.items():
        sae = SAE(d, d_latent, N_INSTANCES, l1_coeff=l1_sweep(), seed=0, device=device)
        with cpu_threads(threads, device):
            seconds[name] = timed(lambda run=run, sae=sae: run(sae), device)
        best = max(r["mmcs"] for r in evaluate_sae(sae, held_out, data))
        print(f"  {name:<24} {seconds[name]:>6.2f} s   best MMCS {best:.3f}")
    hand = seconds["engine, hand gradients"]
    print(f"  hand gradients against autograd in the engine: {seconds['engine, autograd'] / hand:.2f}x; "
          f"the engine against the reference loop: {seconds['reference loop'] / hand:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 steps instead of 1000 (a smoke test)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for both sides")
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = args.steps or (300 if args.quick else STEPS)
    work = N_INSTANCES * BATCH * max(d * latent for _, d, latent in WORKLOADS.values())
    threads = args.threads or engine.threads_for(work)  # what train_sae picks
    print(
        f"machine: {device.type}, torch {torch.__version__}, {threads} thread(s) for both sides; "
        f"{N_INSTANCES} instances (L1 {L1_RANGE[0]:g} … {L1_RANGE[1]:g}), {steps} steps, batch {BATCH}, "
        f"lr {LR} {SCHEDULE}"
    )
    results = [run_workload(name, steps, threads, device) for name in WORKLOADS]

    print()
    print(f"{'workload':<10} {'shape':<38} {'one by one':>12} {'batched':>12} {'ratio':>7} {'max ΔMMCS':>10}")
    print(f"{'':<10} {'':<38} {'(inst-steps/s)':>12} {'(inst-steps/s)':>12}")
    for r in results:
        ratio = r["batched"] / r["sequential"]
        print(f"{r['name']:<10} {r['shape']:<38} {r['sequential']:>12.0f} {r['batched']:>12.0f} "
              f"{ratio:>6.1f}x {r['gap']:>10.3f}")  # fmt: skip
    for r in results:
        print(f"  {r['name']}: {r['seconds'][0]:.1f} s one by one, {r['seconds'][1]:.1f} s batched")

    gradients_comparison(steps, threads, device)

    recipe = results[0]
    print(f"\nrecovery on the recipe workload ({recipe['shape']}), held-out {EVAL_SAMPLES} samples:")
    print(f"{'L1 coeff':>9} {'MMCS':>7} {'L0':>7} {'expl. var':>10} {'dead':>6} {'shrinkage':>10}")
    for rec in recipe["records"]:
        print(f"{rec['l1_coeff']:>9.2e} {rec['mmcs']:>7.3f} {rec['l0']:>7.2f} {rec['explained_variance']:>10.3f} "
              f"{rec['dead_fraction']:>6.2f} {rec['shrinkage']:>10.3f}")  # fmt: skip
    best = max(recipe["records"], key=lambda rec: rec["mmcs"])
    print(
        f"best L1 coefficient {best['l1_coeff']:.2e}: MMCS {best['mmcs']:.3f}, L0 {best['l0']:.2f}, explained "
        f"variance {best['explained_variance']:.3f}, dead fraction {best['dead_fraction']:.2f}"
    )
    bad = [r["name"] for r in results if r["gap"] > MMCS_TOLERANCE]
    if bad:
        print(f"the sequential and batched SAEs do NOT agree (MMCS gap > {MMCS_TOLERANCE}) on: {', '.join(bad)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()

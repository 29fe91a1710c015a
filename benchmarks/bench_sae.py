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

**Before the engine** (the recipe workload, batched): today's ``train_sae`` against the ``train_sae`` loop as it
was before the library's one training loop (commit e6d96d0: its own Adam, its sampler with cached coefficients,
its gradients and its loop, copied below as they were; the dead-latent resampling is today's `_resample`, which
since only gained a finiteness check of its weights, run every ``dead_window`` steps). The two run in lock step
in one process, from the same initial weights and batches: after each step of today's loop (its ``on_step``),
the old loop takes one step, so both see the machine's load at the same moments. Each step is timed alone; the
ratio is the old loop's total time over today's (≥ 1: today's loop is no slower), over ``BEFORE_REPEATS``
runs. The two loss histories must be equal: the engine trains exactly the SAE the old loop trained.

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
import statistics
import time

import torch
from tqdm.auto import tqdm

from superpose_lib import engine
from superpose_lib.environment import cpu_threads
from superpose_lib.sae import SAE, SyntheticFeatures, _resample, evaluate_sae, train_sae

N_INSTANCES = 16
L1_RANGE = (5e-4, 2e-2)  # the recipe sweep, log-spaced
LR, SCHEDULE, BATCH, STEPS = 1e-2, "cosine", 128, 1_000
WORKLOADS = {  # name: (n_features, d, d_latent)
    "recipe": (128, 64, 256),
    "small": (32, 16, 64),
}
EVAL_SAMPLES, MMCS_TOLERANCE = 8_192, 0.05
BEFORE_REPEATS, QUICK_BEFORE_REPEATS = 3, 2


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


# --- before the engine: train_sae as it was at commit e6d96d0, copied as it was -------------------------------


def before_sample(data: SyntheticFeatures, n: int, generator) -> torch.Tensor:
    """``SyntheticFeatures.sample`` before the engine: one draw per entry, coefficients cached on p's identity."""
    p = data.probabilities  # (features,)
    if getattr(data, "_before_affine", (None,))[0] is not p:
        data._before_affine = (p, (p - 1) / p, 1 / p)
    u = torch.rand((n, data.n_features), generator=generator, device=data.device, dtype=data.features.dtype)
    codes = torch.addcmul(data._before_affine[1], u, data._before_affine[2]).clamp_min_(0.0)  # (n, features)
    return codes @ data.features.T  # (n, d)


def before_loss_and_grads(sae: SAE, X: torch.Tensor):
    """``SAE._loss_and_grads`` before the engine: loss, [dW_enc, db_enc, dW_dec, db_dec], residual, fired."""
    W_enc, b_enc, W_dec, b_dec = (p.detach() for p in (sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec))
    n_batch = X.shape[-2]
    Xe = X.unsqueeze(0).expand(sae.n_instances, -1, -1) if X.ndim == 2 else X
    pre = torch.baddbmm(b_enc.unsqueeze(1), Xe, W_enc)  # (I, B, L)
    z = pre.clamp_min_(0.0) if sae.architecture == "relu" else sae._activate(pre)
    z_sum = z.sum(dim=1)  # (I, L)
    r = torch.baddbmm(b_dec.unsqueeze(1), z, W_dec.transpose(1, 2)).sub_(Xe)  # (I, B, d)
    scale = 2.0 / (n_batch * sae.d_input)
    loss = torch.linalg.vector_norm(r.view(r.shape[0], -1), dim=1).square_().mul_(0.5 * scale)  # (I,)
    relu = sae.architecture == "relu"
    if relu:
        loss = loss + sae.l1_coeff * z_sum.sum(dim=1) / n_batch
    db_dec = r.sum(dim=1).mul_(scale)
    dW_dec = torch.bmm(r.transpose(1, 2), z).mul_(scale)  # (I, d, L)
    l1_grad = (sae.l1_coeff / n_batch).view(-1, 1, 1) if relu else torch.zeros(1, 1, 1, device=r.device)
    g = torch.baddbmm(l1_grad, r, W_dec, alpha=scale)  # (I, B, L)
    g = torch.ops.aten.threshold_backward(g, z, 0.0)
    db_enc = g.sum(dim=1)
    dW_enc = torch.bmm(Xe.transpose(1, 2), g)  # (I, d, L)
    return loss, [dW_enc, db_enc, dW_dec, db_dec], r, z_sum > 0


class BeforeAdam:
    """``sae._Adam`` before the engine: one fused kernel where torch has it, else seven `_foreach` passes."""

    def __init__(self, params, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.betas, self.eps = params, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.t = 0
        step = torch.zeros((), dtype=torch.float32, device=params[0].device)
        self._steps = [step] * len(params)
        self._fused = hasattr(torch, "_fused_adam_")

    def step(self, grads, lr: float) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        if self._fused:
            self._steps[0].fill_(self.t)
            try:
                torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [], self._steps, lr=lr,
                                   beta1=beta1, beta2=beta2, weight_decay=0.0, eps=self.eps, amsgrad=False,
                                   maximize=False)  # fmt: skip
                return
            except (RuntimeError, NotImplementedError):
                self._fused = False
        bias1, bias2 = 1 - beta1**self.t, 1 - beta2**self.t
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, -lr / bias1)


def before_train_sae(sae: SAE, data: SyntheticFeatures, steps: int, seed: int):
    """``train_sae`` before the engine (recipe settings, no on_step), as a generator: the set-up, then one
    ``yield`` per step; the last yields the loss history."""
    device = sae.W_enc.device
    gen = torch.Generator(device=device).manual_seed(seed)
    resample_gen = torch.Generator(device=device)
    resample_gen.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen, device=device)))
    window = max(1, min(200, steps // 10))

    def draw(n, generator):  # sae._batch_source's callable branch, before the engine
        x = before_sample(data, n, generator)
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, sae.d_input):
            raise ValueError(f"data(n) must return a tensor of shape (n, d_input), got {tuple(x.shape)}")
        return x.to(device)

    adam = BeforeAdam([sae.W_enc.data, sae.b_enc.data, sae.W_dec.data, sae.b_dec.data])
    history = torch.empty(steps, sae.n_instances, device=device)
    since_fired = torch.zeros(sae.n_instances, sae.d_latent_max, dtype=torch.long, device=device)
    with torch.no_grad():
        sae.normalize_decoder_()
        yield None
        for step in tqdm(range(steps), desc="training SAE", disable=True):
            X = draw(BATCH, gen)  # (B, d), shared by every instance
            loss, grads, r, fired = before_loss_and_grads(sae, X)
            history[step] = loss
            since_fired.add_(1).masked_fill_(fired, 0)
            W_dec, dW_dec = sae.W_dec.data, grads[2]
            dW_dec.sub_(W_dec * (W_dec * dW_dec).sum(dim=1, keepdim=True))  # tangent to the unit sphere
            t = step + 1
            adam.step(grads, engine._learning_rate(step, steps, LR, SCHEDULE, 0))
            sae.normalize_decoder_()
            if t % window == 0 and t <= 0.75 * steps:
                dead = (since_fired >= window) & sae.latent_mask
                if dead.any():
                    _resample(sae, dead, r, resample_gen, adam.exp_avg, adam.exp_avg_sq)
                    since_fired.masked_fill_(dead, 0)
            yield history


def before_and_after(steps, threads, device, repeats) -> bool:
    """Today's train_sae and the loop before the engine, in lock step; print the ratio; True if the histories agree."""
    n_features, d, d_latent = WORKLOADS["recipe"]
    data = SyntheticFeatures(n_features, d, seed=0, device=device)
    times = {"before the engine": [], "today (engine)": []}
    same = all([lock_step_run(data, steps, threads, device, times) for _ in range(repeats)])
    before, today = (sum(v) for v in times.values())
    n = len(times["today (engine)"])
    print(f"\nbefore the engine, on the recipe workload ({N_INSTANCES} instances, {repeats} runs of {steps} steps "
          f"in lock step, {n} steps timed each):")  # fmt: skip
    for name, v in times.items():
        print(f"  {name:<20} {1e3 * sum(v) / n:>7.3f} ms/step (mean), {1e3 * statistics.median(v):>7.3f} (median)")
    print(f"  ratio (before / today): {before / today:.3f} (≥ 1.00: today's loop no slower); same loss history "
          f"step by step: {same}")  # fmt: skip
    return same


def lock_step_run(data, steps, threads, device, times) -> bool:
    """One run of each, in lock step, appending each step's seconds to `times`; True if the histories are equal."""
    _, d, d_latent = WORKLOADS["recipe"]
    before_steps = before_train_sae(SAE(d, d_latent, N_INSTANCES, l1_coeff=l1_sweep(), seed=0, device=device),
                                    data, steps, seed=1)  # fmt: skip
    next(before_steps)  # its set-up, untimed like today's
    clock = {"end": None}

    def on_step(step, _sae):
        sync(device)
        start = time.perf_counter()
        if clock["end"] is not None:  # today's step: from the end of the last callback to here
            times["today (engine)"].append(start - clock["end"])
        clock["history"] = next(before_steps)
        sync(device)
        end = time.perf_counter()
        if clock["end"] is not None:  # the first step of each is left out: today's has no start mark
            times["before the engine"].append(end - start)
        clock["end"] = time.perf_counter()

    today = SAE(d, d_latent, N_INSTANCES, l1_coeff=l1_sweep(), seed=0, device=device)
    history = train_sae(today, data.sample, steps=steps, batch_size=BATCH, lr=LR, schedule=SCHEDULE, seed=1,
                        threads=threads, progress=False, on_step=on_step)  # fmt: skip
    return torch.equal(history, clock["history"].cpu())


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


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
    with cpu_threads(threads, device):
        same = before_and_after(steps, threads, device, QUICK_BEFORE_REPEATS if args.quick else BEFORE_REPEATS)
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
    if not same:
        print("today's train_sae and the loop before the engine do NOT give the same loss history")
        raise SystemExit(1)
    bad = [r["name"] for r in results if r["gap"] > MMCS_TOLERANCE]
    if bad:
        print(f"the sequential and batched SAEs do NOT agree (MMCS gap > {MMCS_TOLERANCE}) on: {', '.join(bad)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()

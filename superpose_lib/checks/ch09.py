"""Chapter 09: an SAE's forward pass and training loss, L0 and explained variance (a point of the L1 sweep), MMCS,
resampling dead latents, and the dictionary step of dictionary learning (one sweep of block coordinate descent)."""

from __future__ import annotations

import torch

from .. import metrics, sparse
from ..sae import SAE
from ._common import Exercise, declare, seeded


def _unit_columns(d, k, seed):
    W = torch.randn(d, k, generator=seeded(seed), dtype=torch.float64)
    return W / W.norm(dim=0, keepdim=True)


def _forward(x, W_enc, b_enc, W_dec, b_dec, encode_input=None, decode=None):
    z = torch.relu((x if encode_input is None else encode_input) @ W_enc + b_enc)  # (batch, d_latent)
    x_hat = z @ W_dec.T + b_dec  # (batch, d)
    return (x_hat if decode is None else decode(x_hat, z)), z


def _sae_cases():
    gen = seeded(0)
    cases = []
    for batch, d, d_latent, seed in ((7, 5, 12, 1), (4, 3, 8, 2)):
        x = torch.randn(batch, d, generator=gen, dtype=torch.float64)
        W_enc = torch.randn(d, d_latent, generator=gen, dtype=torch.float64) / d**0.5
        b_enc = 0.3 * torch.randn(d_latent, generator=gen, dtype=torch.float64)
        b_dec = 0.5 * torch.randn(d, generator=gen, dtype=torch.float64)
        cases.append(dict(x=x, W_enc=W_enc, b_enc=b_enc, W_dec=_unit_columns(d, d_latent, seed), b_dec=b_dec))
    return cases


class _SAELoss(torch.nn.Module):
    """The library SAE's `loss` as a module's forward, so that `functional_call` can give it other weights."""

    def __init__(self, d_input, d_latent, l1_coeff):
        super().__init__()
        self.sae = SAE(d_input, d_latent, l1_coeff=l1_coeff, seed=0)

    def forward(self, x):
        return self.sae.loss(x)[0]


def _sae_loss(x, W_enc, b_enc, W_dec, b_dec, l1_coeff):
    """The library SAE's `loss` for one SAE with these weights, differentiable in them (later cells train on it)."""
    weights = dict(zip(("sae.W_enc", "sae.b_enc", "sae.W_dec", "sae.b_dec"), (W_enc, b_enc, W_dec, b_dec)))
    module = _SAELoss(W_enc.shape[0], W_enc.shape[1], float(l1_coeff))
    return torch.func.functional_call(module, {k: v.unsqueeze(0) for k, v in weights.items()}, (x,))


def _loss(x, W_enc, b_enc, W_dec, b_dec, l1_coeff, error=None, penalty=None):
    """The loss with one term written another way: ``error(x, x_hat)``, ``penalty(z, pre, W_dec)``."""
    pre = x @ W_enc + b_enc  # (batch, d_latent)
    z = torch.relu(pre)
    x_hat = z @ W_dec.T + b_dec
    mse = (x - x_hat).pow(2).mean() if error is None else error(x, x_hat)
    return mse + l1_coeff * (z.abs().sum(dim=1).mean() if penalty is None else penalty(z, pre, W_dec))


def _loss_cases():
    cases = _sae_cases()
    cases[0]["l1_coeff"] = 0.05 + 0.1 * float(torch.rand(1, generator=seeded(3)))
    lengths = 0.5 + 1.5 * torch.rand(cases[1]["W_dec"].shape[1], generator=seeded(4), dtype=torch.float64)
    cases[1]["W_dec"] = cases[1]["W_dec"] * lengths  # columns of other lengths: the penalty ignores them
    cases[1]["l1_coeff"] = 0.3
    return cases


def _l0_ev(x, x_hat, z, l0=None, ev=None):
    l0 = (z != 0).sum(dim=1).double().mean() if l0 is None else l0(z)
    unexplained = (x - x_hat).pow(2).sum() / (x - x.mean(dim=0)).pow(2).sum() if ev is None else ev(x, x_hat)
    return float(l0), float(1 - unexplained)


def _l0_cases():
    gen = seeded(7)
    cases = []
    for batch, d, d_latent in ((50, 6, 9), (40, 4, 7)):
        x = torch.randn(batch, d, generator=gen, dtype=torch.float64) + torch.linspace(
            -2.0, 3.0, d, dtype=torch.float64
        )
        x_hat = x + 0.4 * torch.randn(batch, d, generator=gen, dtype=torch.float64)
        z = torch.relu(torch.randn(batch, d_latent, generator=gen, dtype=torch.float64) - 0.5)  # sparse codes
        z[::5, 0] = 1e-5  # tiny codes are active too: L0 counts z != 0, not z above some threshold
        cases.append(dict(x=x, x_hat=x_hat, z=z))
    return cases


def _mmcs_cases():
    cases = []
    for d, seed in ((8, 3), (7, 8)):
        true = _unit_columns(d, 6, seed)  # (d, n_true)
        noise = torch.randn(d, 6, generator=seeded(seed + 1), dtype=torch.float64)
        learned = torch.cat([2.0 * true[:, [0, 1, 2]], -true[:, [3]], noise], 1)
        cases.append(dict(learned=learned, true=true * torch.linspace(0.5, 2.0, 6, dtype=torch.float64)))
    return cases


def _unit(W, dim=0):
    return W / W.norm(dim=dim, keepdim=True)


def _least_squares_renormalised(D, H, Z):
    if not (Z != 0).any(dim=0).all():  # lstsq's answer for an unused atom is not determined: no verdict there
        raise ValueError("an unused atom")
    D = torch.linalg.lstsq(Z, H).solution.T  # (d, k): all atoms at once, H ≈ Z Dᵀ
    return D / D.norm(dim=0, keepdim=True).clamp_min(1e-12)


def _sweep(D, H, Z, fresh=True, own_part=True, project=_unit, skip_unused=True):
    """Block coordinate descent over the atoms, with one step written another way (the mistakes)."""
    old, D = D, D.clone()
    for j in range(D.shape[1]):
        if skip_unused and not (Z[:, j] != 0).any():
            continue
        current = D if fresh else old
        residual = H - Z @ current.T + (torch.outer(Z[:, j], current[:, j]) if own_part else 0)  # (N, d)
        D[:, j] = project(residual.T @ Z[:, j:j + 1])[:, 0]  # fmt: skip
    return D


def _dictionary_cases():
    gen = seeded(5)
    cases = []
    # the second case has few samples and small codes, so some atoms' best direction is shorter than 1
    for n, d, k, scale, seed in ((200, 6, 9, 1.0, 6), (12, 5, 7, 0.1, 9)):
        Z = scale * torch.rand(n, k, generator=gen, dtype=torch.float64) * (torch.rand(n, k, generator=gen) < 0.4)
        if scale < 1:
            Z[:, 2] = 0  # an atom no sample uses
        H = Z @ _unit_columns(d, k, seed).T + 0.05 * torch.randn(n, d, generator=gen, dtype=torch.float64)
        cases.append(dict(D=_unit_columns(d, k, seed + 1), H=H, Z=Z))
    return cases


def _resample(W_dec, x, x_hat, z, towards=None, worst=True, normalise=True, dead=None, distinct=True, every=False):
    """Dead latents pointed at badly reconstructed inputs, with one step written another way (the mistakes);
    ``every``: all columns rescaled to unit length at the end."""
    error = (x - x_hat).pow(2).sum(dim=1)  # (batch,)
    order = torch.argsort(error, descending=worst)
    dead = (z == 0).all(dim=0) if dead is None else dead(z)
    directions = (x - x_hat) if towards is None else towards(x, x_hat)
    W_dec = W_dec.clone()
    for rank, j in enumerate(dead.nonzero().flatten().tolist()):
        v = directions[order[rank if distinct else 0]]
        W_dec[:, j] = v / v.norm() if normalise else v
    return W_dec / W_dec.norm(dim=0, keepdim=True) if every else W_dec


def _resample_cases():
    gen = seeded(11)
    cases = []
    for batch, d, d_latent, dead in ((30, 6, 10, [2, 5, 7]), (24, 5, 8, [0, 3, 6])):
        x = torch.randn(batch, d, generator=gen, dtype=torch.float64)
        scales = 0.1 + torch.rand(batch, 1, generator=gen, dtype=torch.float64)  # errors of many sizes
        x_hat = x + scales * torch.randn(batch, d, generator=gen, dtype=torch.float64)
        z = torch.relu(torch.randn(batch, d_latent, generator=gen, dtype=torch.float64) - 0.3)
        z[:, dead] = 0
        z[:, dead[0] + 2] += 0.5  # fires on every input
        z[:, dead[0] + 1] = 0
        z[batch // 2, dead[0] + 1] = 0.7  # fires on one input only: alive
        z[:, dead[1] + 1] = 0
        z[::3, dead[1] + 1] = 1e-4  # fires with tiny codes: alive all the same
        lengths = 0.5 + torch.rand(d_latent, generator=gen, dtype=torch.float64)  # the live columns keep them
        cases.append(dict(W_dec=_unit_columns(d, d_latent, d_latent) * lengths, x=x, x_hat=x_hat, z=z))
    return cases


declare(
    Exercise(
        "sae_forward_pass(x, W_enc, b_enc, W_dec, b_dec)",
        reference=_forward,
        cases=_sae_cases,
        returns=("tensor", "tensor"),
        mistakes={
            "return the reconstruction first, (x_hat, z).": lambda *args: _forward(*args)[::-1],
            "the codes have negative entries: you forgot the ReLU, z = "
            "ReLU(x W_enc + b_enc).": lambda x, W_enc, b_enc, W_dec, b_dec: (
                (x @ W_enc + b_enc) @ W_dec.T + b_dec,
                x @ W_enc + b_enc,
            ),
            "you forgot the encoder bias: z = ReLU(x W_enc + b_enc).": lambda x, W_enc, b_enc, W_dec, b_dec: _forward(
                x, W_enc, 0.0, W_dec, b_dec
            ),
            "you subtracted b_dec from x before encoding (a variant some papers use); here encode x itself: "
            "z = ReLU(x W_enc + b_enc).": lambda x, W_enc, b_enc, W_dec, b_dec: _forward(
                x, W_enc, b_enc, W_dec, b_dec, encode_input=x - b_dec
            ),
            "you forgot the decoder bias: x̂ = z W_decᵀ + b_dec.": lambda x, W_enc, b_enc, W_dec, b_dec: _forward(
                x, W_enc, b_enc, W_dec, 0.0
            ),
            "you put a ReLU on the reconstruction: the decoder is linear, x̂ = z W_decᵀ + b_dec.": lambda *args: (
                _forward(*args, decode=lambda x_hat, z: torch.relu(x_hat))
            ),
        },
        formula="z = ReLU(x W_enc + b_enc), x̂ = z W_decᵀ + b_dec (W_dec's columns are the latents' directions).",
        passed="z = ReLU(x W_enc + b_enc), x̂ = z W_decᵀ + b_dec.",
    ),
    Exercise(
        "sae_loss(x, W_enc, b_enc, W_dec, b_dec, l1_coeff)",
        reference=_sae_loss,
        cases=_loss_cases,
        mistakes={
            "you summed the squared error over the d coordinates of each input: the library's SAE averages it over "
            "the batch AND the coordinates, ((x − x̂)²).mean(), PyTorch's MSE.": lambda *a: _loss(
                *a, error=lambda x, x_hat: (x - x_hat).pow(2).sum(dim=1).mean()
            ),
            "you took the square root of the mean squared error: the reconstruction term is the mean of the "
            "squares itself.": lambda *a: _loss(*a, error=lambda x, x_hat: (x - x_hat).pow(2).mean().sqrt()),
            "you averaged |z| over the latents too: the penalty is each input's L1 norm Σⱼ |zⱼ| (sum over dim 1), "
            "averaged over the batch.": lambda *a: _loss(*a, penalty=lambda z, pre, W_dec: z.abs().mean()),
            "you summed the L1 norms over the batch: average them over the inputs, as the squared error "
            "is.": lambda *a: _loss(*a, penalty=lambda z, pre, W_dec: z.abs().sum()),
            "you squared the codes: the sparsity penalty is the L1 norm Σ|zⱼ|, not the squared L2 norm.": lambda *a: (
                _loss(*a, penalty=lambda z, pre, W_dec: z.pow(2).sum(dim=1).mean())
            ),
            "you penalised the pre-activations x W_enc + b_enc: the penalty is on the codes z, after the "
            "ReLU.": lambda *a: _loss(*a, penalty=lambda z, pre, W_dec: pre.abs().sum(dim=1).mean()),
            "you weighted each code by its decoder column's norm (a variant some papers use): here the decoder's "
            "columns are kept at unit length by the training loop, and the penalty is the plain λ Σ|zⱼ|.": lambda *a: (
                _loss(*a, penalty=lambda z, pre, W_dec: (z * W_dec.norm(dim=0)).sum(dim=1).mean())
            ),
            "the L1 term is missing its weight: multiply it by l1_coeff.": lambda x, W_enc, b_enc, W_dec, b_dec, l1: (
                _loss(x, W_enc, b_enc, W_dec, b_dec, 1.0)
            ),
        },
        formula="mean((x − x̂)²) over the batch and coordinates + l1_coeff · (batch mean of Σⱼ |zⱼ|), a 0-d tensor.",
        passed="mean squared error + λ · mean L1 norm of the codes, as the library's SAE.loss.",
        differentiable=("W_enc", "b_enc", "W_dec", "b_dec"),  # the workbook trains an SAE on it
    ),
    Exercise(
        "l0_and_explained_variance(x, x_hat, z)",
        reference=_l0_ev,
        cases=_l0_cases,
        returns=("number", "number"),
        atol=1e-6,
        mistakes={
            "the L0 averaged over the wrong axis (counts per latent, dim 0): count the active latents of each "
            "input (sum over dim 1), then average over the inputs.": lambda x, x_hat, z: _l0_ev(
                x, x_hat, z, l0=lambda z: (z != 0).sum(dim=0).double().mean()
            ),
            "that L0 is the fraction of active latents: L0 counts them, sum over dim 1 before "
            "averaging.": lambda x, x_hat, z: _l0_ev(x, x_hat, z, l0=lambda z: (z != 0).double().mean()),
            "you summed the codes' values (the L1 norm): L0 counts the nonzero entries.": lambda x, x_hat, z: _l0_ev(
                x, x_hat, z, l0=lambda z: z.abs().sum(dim=1).mean()
            ),
            "you returned the fraction of variance UNexplained (FVU); the explained variance "
            "is 1 − FVU.": lambda x, x_hat, z: (
                _l0_ev(x, x_hat, z)[0],
                1 - _l0_ev(x, x_hat, z)[1],
            ),
            "you did not centre x in the denominator: the variance is Σ‖x − mean(x)‖², mean "
            "over the inputs.": lambda x, x_hat, z: _l0_ev(
                x, x_hat, z, ev=lambda x, x_hat: (x - x_hat).pow(2).sum() / x.pow(2).sum()
            ),
            "you subtracted each input's own mean (dim 1): centre on the mean input, "
            "x.mean(dim=0).": lambda x, x_hat, z: _l0_ev(
                x,
                x_hat,
                z,
                ev=lambda x, x_hat: (x - x_hat).pow(2).sum() / (x - x.mean(dim=1, keepdim=True)).pow(2).sum(),
            ),
        },
        formula="(mean over inputs of the number of nonzero codes, 1 − Σ‖x − x̂‖² / Σ‖x − mean(x)‖²).",
        passed="L0 (active latents per input) and the explained variance.",
    ),
    Exercise(
        "mean_max_cosine(learned, true)",
        reference=metrics.mmcs,
        cases=_mmcs_cases,
        returns="number",
        atol=1e-6,
        mistakes={
            "you averaged over the learned directions (max over dim 0): MMCS asks, for every TRUE feature, how "
            "well its best learned match fits, so take the max over the learned ones and "
            "average over the true.": lambda learned, true: (_unit(true).T @ _unit(learned)).max(dim=0).values.mean(),
            "you took the absolute cosine: a learned direction pointing the opposite way is "
            "not a match here.": lambda learned, true: metrics.mmcs(learned, true, absolute=True),
            "you used raw dot products: normalise the learned columns to unit length first.": lambda learned, true: (
                (_unit(true).T @ learned).max(dim=1).values.mean()
            ),
            "normalise the true directions too: they need not have unit length.": lambda learned, true: (
                (true.T @ _unit(learned)).max(dim=1).values.mean()
            ),
            "you averaged the cosines instead of taking each true feature's maximum first.": lambda learned, true: (
                _unit(true).T @ _unit(learned)
            ).mean(),
        },
        formula="for every true direction (column of true), its largest cosine with a learned one, averaged.",
        passed="the best match of every true feature, averaged.",
    ),
    Exercise(
        "resample_dead(W_dec, x, x_hat, z)",
        reference=lambda W_dec, x, x_hat, z: sparse.resample_unused(W_dec, x - x_hat, z),
        cases=_resample_cases,
        mistakes={
            "a latent is dead when it is 0 on EVERY input of the batch ((z == 0).all(dim=0)); one that fires even "
            "once is alive.": lambda W_dec, x, x_hat, z: _resample(W_dec, x, x_hat, z, dead=lambda z: (z == 0).any(0)),
            "you pointed the latents at the best-reconstructed inputs: sort the errors in descending order, worst "
            "first.": lambda W_dec, x, x_hat, z: _resample(W_dec, x, x_hat, z, worst=False),
            "the new direction points the wrong way: use what the reconstruction misses, x − x̂, not "
            "x̂ − x.": lambda W_dec, x, x_hat, z: _resample(W_dec, x, x_hat, z, towards=lambda x, x_hat: x_hat - x),
            "you used the input itself: point the latent along the input's residual x − x̂, what the other latents "
            "fail to explain.": lambda W_dec, x, x_hat, z: _resample(W_dec, x, x_hat, z, towards=lambda x, x_hat: x),
            "the new columns must have unit length, like every decoder column: divide each residual by its "
            "norm.": lambda W_dec, x, x_hat, z: _resample(W_dec, x, x_hat, z, normalise=False),
            "every dead latent got the same input: give the first dead latent the worst input, the second the "
            "second worst, and so on.": lambda W_dec, x, x_hat, z: _resample(W_dec, x, x_hat, z, distinct=False),
            "a latent with tiny codes still fires: dead means a code of exactly 0 on every input (z == 0), not a "
            "small average or a threshold.": lambda W_dec, x, x_hat, z: _resample(
                W_dec, x, x_hat, z, dead=lambda z: z.mean(dim=0) < 1e-3
            ),
            "you rescaled every column to unit length: the live latents' columns stay exactly as they are, whatever "
            "their length; only the dead ones get new unit columns.": lambda W_dec, x, x_hat, z: _resample(
                W_dec, x, x_hat, z, every=True
            ),
            "you resampled the live latents too: change only the dead ones' columns.": lambda W_dec, x, x_hat, z: (
                _resample(W_dec, x, x_hat, z, dead=lambda z: torch.ones(z.shape[1], dtype=torch.bool))
            ),
        },
        formula="W_dec with each dead latent's column (in index order) replaced by the unit residual x − x̂ of the "
        "worst, second worst, ... reconstructed input.",
        passed="the dead latents now point at what the SAE reconstructs worst.",
    ),
    Exercise(
        "dictionary_update(D, H, Z)",
        reference=sparse.update_dictionary,
        cases=_dictionary_cases,
        mistakes={
            "that is least squares for all the atoms at once, then rescaled (the method of optimal directions): the "
            "rescaled atoms are not the best unit-norm ones. Update one atom at a time, each to the normalised "
            "R_jᵀ z_j.": lambda D, H, Z: _least_squares_renormalised(D, H, Z),
            "you computed every atom's residual from the old dictionary: use each freshly updated atom when you "
            "update the next (update D in place, column by column, on a copy).": lambda D, H, Z: _sweep(
                D, H, Z, fresh=False
            ),
            "you used the whole residual H − Z Dᵀ: atom j's residual R_j leaves atom j out, so add its own part "
            "z_j d_jᵀ back.": lambda D, H, Z: _sweep(D, H, Z, own_part=False),
            "every atom must have unit length: divide R_jᵀ z_j by its norm.": lambda D, H, Z: _sweep(
                D, H, Z, project=lambda v: v
            ),
            "you only shortened the atoms longer than 1 (the ball ‖d‖ ≤ 1 of Mairal et al.): here every atom has "
            "length exactly 1, so divide by the norm always.": lambda D, H, Z: _sweep(
                D, H, Z, project=lambda v: v / v.norm(dim=0, keepdim=True).clamp_min(1.0)
            ),
            "an atom that no sample uses (its column of Z is all zero) has R_jᵀ z_j = 0: leave it as it is rather "
            "than dividing 0 by 0.": lambda D, H, Z: _sweep(D, H, Z, skip_unused=False),
            "an atom that no sample uses became all zeros: leave it as it is (the resampling step gives it work "
            "later).": lambda D, H, Z: _sweep(
                D, H, Z, skip_unused=False, project=lambda v: v / v.norm(dim=0, keepdim=True).clamp_min(1e-12)
            ),
        },
        formula="for j = 0 … k−1 in turn: d_j ← R_jᵀ z_j / ‖R_jᵀ z_j‖ with R_j = H − Z Dᵀ + z_j d_jᵀ (D with the "
        "atoms updated so far), atoms no sample uses left as they are.",
        passed="one sweep of block coordinate descent: each atom the best unit vector given the others.",
    ),
)

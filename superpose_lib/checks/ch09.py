"""Chapter 09: an SAE's forward pass, unit-norm decoder columns, L0 and explained variance (a point of the L1
sweep), MMCS, and the dictionary update step."""

from __future__ import annotations

import torch

from .. import metrics
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


def _decoder_cases():
    W = 3 * torch.randn(6, 10, generator=seeded(2), dtype=torch.float64)
    with_zero = W.clone()
    with_zero[:, 3] = 0
    return [dict(W_dec=W), dict(W_dec=with_zero)]


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


def _dictionary_update(H, Z):
    D = torch.linalg.lstsq(Z, H).solution.T  # (d, k): least squares for H ≈ Z Dᵀ
    return D / D.norm(dim=0, keepdim=True).clamp_min(1e-12)


def _dictionary_cases():
    gen = seeded(5)
    cases = []
    for n, d, k, seed in ((200, 6, 9, 6), (120, 5, 7, 9)):
        Z = torch.rand(n, k, generator=gen, dtype=torch.float64) * (torch.rand(n, k, generator=gen) < 0.3)
        H = Z @ _unit_columns(d, k, seed).T + 0.05 * torch.randn(n, d, generator=gen, dtype=torch.float64)
        cases.append(dict(H=H, Z=Z))
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
        "unit_norm_decoder(W_dec)",
        reference=lambda W_dec: W_dec / W_dec.norm(dim=0, keepdim=True).clamp_min(1e-12),
        cases=_decoder_cases,
        mistakes={
            "an all-zero column became NaN (0 / 0): clamp the norms, e.g. .clamp_min(1e-12).": lambda W_dec: _unit(
                W_dec
            ),
            "you normalised the rows: the latents' directions are the columns, so take the norm "
            "over dim=0.": lambda W_dec: _unit(W_dec, 1),
            "you divided by the norm of the whole matrix: normalise each column on its own.": lambda W_dec: (
                W_dec / W_dec.norm()
            ),
            "you divided by the squared norm: divide each column by its length, not its square.": lambda W_dec: (
                W_dec / W_dec.pow(2).sum(dim=0, keepdim=True).clamp_min(1e-12)
            ),
        },
        formula="W_dec / W_dec.norm(dim=0, keepdim=True), a zero column left at zero.",
        passed="every column (a latent's direction) now has length 1.",
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
        "dictionary_update(H, Z)",
        reference=_dictionary_update,
        cases=_dictionary_cases,
        mistakes={
            "the atoms are the columns of D, shape (d, k): torch.linalg.lstsq(Z, H).solution is Dᵀ, so "
            "transpose it.": lambda H, Z: _dictionary_update(H, Z).T,
            "you forgot to renormalise: divide every column (atom) by its norm.": lambda H, Z: (
                torch.linalg.lstsq(Z, H).solution.T
            ),
            "you normalised the rows: the atoms are the columns, take the norm over dim=0.": lambda H, Z: _unit(
                torch.linalg.lstsq(Z, H).solution.T, 1
            ),
            "you used the correlations Hᵀ Z without the (ZᵀZ)⁻¹: that is not the least-squares fit. Use "
            "torch.linalg.lstsq(Z, H).solution.T (or Hᵀ Z (ZᵀZ)⁻¹).": lambda H, Z: _unit(H.T @ Z),
        },
        formula="the least-squares D for H ≈ Z Dᵀ, shape (d, k), every column rescaled to unit norm.",
        passed="least squares for H ≈ Z Dᵀ, then every atom rescaled to unit norm.",
    ),
)

"""Checks of chapter 09: the reference passes, plausible mistakes fail with the intended message, and the
untouched blank reports "not implemented yet"."""

import check_contract
import torch

from superpose_lib import checks

ch09 = checks.ch09


def _unit(W):
    return W / W.norm(dim=0, keepdim=True)


def _cosines(learned, true):
    return _unit(true).T @ _unit(learned)  # (n_true, n_learned)


def _l0(z):
    return float((z != 0).sum(dim=1).double().mean())


def _ev(x, x_hat):
    return 1 - float((x - x_hat).pow(2).sum() / (x - x.mean(dim=0)).pow(2).sum())


CASES = {
    "sae_forward_pass": (
        ch09._reference_sae_forward_pass,
        [
            (lambda x, We, be, Wd, bd: ((x @ We + be) @ Wd.T + bd, x @ We + be), "forgot the ReLU"),
            (lambda x, We, be, Wd, bd: (torch.relu(x @ We) @ Wd.T + bd, torch.relu(x @ We)), "encoder bias"),
            (
                lambda x, We, be, Wd, bd: (
                    torch.relu((x - bd) @ We + be) @ Wd.T + bd,
                    torch.relu((x - bd) @ We + be),
                ),
                "subtracted b_dec",
            ),
            (lambda x, We, be, Wd, bd: (torch.relu(x @ We + be) @ Wd.T, torch.relu(x @ We + be)), "decoder bias"),
            (
                lambda x, We, be, Wd, bd: (torch.relu(torch.relu(x @ We + be) @ Wd.T + bd), torch.relu(x @ We + be)),
                "ReLU on the reconstruction",
            ),
            (
                lambda x, We, be, Wd, bd: tuple(reversed(ch09._reference_sae_forward_pass(x, We, be, Wd, bd))),
                "returned (z, x_hat)",
            ),
            (lambda x, We, be, Wd, bd: torch.relu(x @ We + be), "should return a pair"),
            (
                lambda x, We, be, Wd, bd: (torch.relu(x @ We + be) @ (2 * Wd).T + bd, torch.relu(x @ We + be)),
                "reconstruction does not match",
            ),
        ],
    ),
    "unit_norm_decoder": (
        ch09._reference_unit_norm_decoder,
        [
            (lambda W: W / W.norm(dim=1, keepdim=True), "normalised the rows"),
            (lambda W: W / W.norm(), "norm of the whole matrix"),
            (lambda W: W / W.pow(2).sum(dim=0, keepdim=True), "squared norm"),
            (lambda W: W / W.norm(dim=0, keepdim=True), "NaN"),
            (lambda W: torch.roll(W / W.norm(dim=0, keepdim=True), 1, dims=0), "changed direction"),
            (lambda W: W, "should return"),
        ],
    ),
    "l0_and_explained_variance": (
        ch09._reference_l0_and_explained_variance,
        [
            (lambda x, xh, z: (float((z != 0).sum(dim=0).double().mean()), _ev(x, xh)), "wrong axis"),
            (lambda x, xh, z: (float((z != 0).double().mean()), _ev(x, xh)), "fraction of active latents"),
            (lambda x, xh, z: (float(z.abs().sum(dim=1).mean()), _ev(x, xh)), "the L1 norm"),
            (lambda x, xh, z: (_l0(z), 1 - _ev(x, xh)), "UNexplained"),
            (lambda x, xh, z: (_l0(z), 1 - float((x - xh).pow(2).sum() / x.pow(2).sum())), "did not centre"),
            (
                lambda x, xh, z: (
                    _l0(z),
                    1 - float((x - xh).pow(2).sum() / (x - x.mean(dim=1, keepdim=True)).pow(2).sum()),
                ),
                "own mean",
            ),
            (lambda x, xh, z: (_l0(z) + 1, _ev(x, xh)), "expected"),
            (lambda x, xh, z: (_l0(z), _ev(x, xh) + 0.1), "expected"),
            (lambda x, xh, z: _l0(z), "pair of numbers"),
        ],
    ),
    "mean_max_cosine": (
        ch09._reference_mean_max_cosine,
        [
            (
                lambda learned, true: float(_cosines(learned, true).max(dim=0).values.mean()),
                "averaged over the learned",
            ),
            (lambda learned, true: float(_cosines(learned, true).abs().max(dim=1).values.mean()), "absolute cosine"),
            (lambda learned, true: float((_unit(true).T @ learned).max(dim=1).values.mean()), "raw dot products"),
            (lambda learned, true: float(_cosines(learned, true).mean()), "averaged the cosines"),
            (lambda learned, true: 1.0, "expected"),
            (lambda learned, true: _cosines(learned, true).max(dim=1).values, "single number"),
        ],
    ),
    "dictionary_update": (
        ch09._reference_dictionary_update,
        [
            (lambda H, Z: torch.linalg.lstsq(Z, H).solution.T, "forgot to renormalise"),
            (lambda H, Z: torch.linalg.lstsq(Z, H).solution, "transpose it"),
            (
                lambda H, Z: (
                    torch.linalg.lstsq(Z, H).solution.T / torch.linalg.lstsq(Z, H).solution.T.norm(dim=1, keepdim=True)
                ),
                "normalised the rows",
            ),
            (lambda H, Z: _unit(H.T @ Z), "without the (ZᵀZ)⁻¹"),
            (lambda H, Z: _unit(torch.randn(H.shape[1], Z.shape[1], dtype=H.dtype)), "does not match"),
        ],
    ),
}


(
    test_reference_passes,
    test_plausible_mistake_fails_with_its_hint,
    test_untouched_stub_reports_not_implemented,
    test_missing_return_is_named,
) = check_contract.contract_tests(CASES)


def test_references_agree_with_the_library():
    from superpose_lib import metrics
    from superpose_lib.sae import SAE

    sae = SAE(5, 12, seed=0)
    with torch.no_grad():
        sae.b_enc.normal_(generator=torch.Generator().manual_seed(0))
        sae.b_dec.normal_(generator=torch.Generator().manual_seed(1))
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(2))
    x_hat, z = sae(x)
    want_hat, want_z = ch09._reference_sae_forward_pass(x, sae.W_enc[0], sae.b_enc[0], sae.W_dec[0], sae.b_dec[0])
    assert torch.allclose(x_hat[0], want_hat, atol=1e-6) and torch.allclose(z[0], want_z, atol=1e-6)
    learned, true = torch.randn(6, 9), torch.randn(6, 4)
    assert abs(ch09._reference_mean_max_cosine(learned, true) - float(metrics.mmcs(learned, true))) < 1e-6

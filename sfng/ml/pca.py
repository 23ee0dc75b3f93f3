"""PCA of the spectra, fitted on the training split only (``sfng ml split --pca N``).

The SSFTT paper reduces each hyperspectral cube to 30 principal components before patching.
Fitted on a whole data set that would let the test galaxies shape the features the model is
trained on, so here the components are fitted on the spectra of the *training* patches alone
(every spaxel of every training patch, subsampled to ``max_spectra`` with a seeded generator),
then every split is projected onto them.  The fit is an SVD of the centred spectra (numpy);
``explained`` is each component's fraction of the training variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SfngError


@dataclass
class PCA:
    mean: np.ndarray          # (nwave,)
    components: np.ndarray    # (n, nwave), orthonormal rows
    explained: np.ndarray     # (n,), fractions of the training variance

    def as_arrays(self) -> dict:
        return {"mean": self.mean, "components": self.components, "explained": self.explained}


def fit(patches, n: int, *, max_spectra: int = 200_000, seed: int = 0) -> PCA:
    """Fit ``n`` components on the spectra of ``patches`` (k, nwave, p, p)."""
    x = np.asarray(patches, dtype=np.float64)
    if x.ndim != 4:
        raise SfngError(f"PCA wants patches (k, nwave, p, p), not an array of shape {x.shape}")
    nwave = x.shape[1]
    if not 1 <= n <= nwave:
        raise SfngError(f"--pca {n}: between 1 and the {nwave} channels of the patches")
    spectra = x.transpose(0, 2, 3, 1).reshape(-1, nwave)
    if len(spectra) > max_spectra:
        spectra = spectra[np.random.default_rng(seed).choice(len(spectra), max_spectra, replace=False)]
    if len(spectra) < max(2, n):
        raise SfngError(f"PCA of {n} components needs at least {max(2, n)} training spectra, not {len(spectra)}")
    mean = spectra.mean(axis=0)
    _, sv, vt = np.linalg.svd(spectra - mean, full_matrices=False)
    var = sv ** 2
    total = var.sum()
    # a sign convention, so that the same data always gives the same components
    signs = np.sign(vt[:, np.argmax(np.abs(vt), axis=1)].diagonal())
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    return PCA(mean, vt[:n], (var[:n] / total) if total > 0 else np.zeros(n))


def project(patches, pca: PCA) -> np.ndarray:
    """``patches`` (k, nwave, p, p) -> (k, n, p, p) on the components, float32."""
    x = np.asarray(patches, dtype=np.float64)
    if x.shape[1] != len(pca.mean):
        raise SfngError(f"the patches have {x.shape[1]} channels, the PCA was fitted on {len(pca.mean)}")
    out = np.einsum("kwij,cw->kcij", x - pca.mean[None, :, None, None], pca.components)
    return out.astype(np.float32)


def from_arrays(d) -> PCA:
    return PCA(np.asarray(d["mean"]), np.asarray(d["components"]), np.asarray(d["explained"]))

"""SSFTT (Sun et al. 2022, IEEE TGRS 60, 5522214): spectral-spatial feature tokenization transformer.

3-D conv (8 filters, 3x3x3) + BN + ReLU -> 2-D conv (64 filters, 3x3) + BN + ReLU -> Gaussian-
weighted tokenizer (L=4 semantic tokens; the token weights drawn from a Gaussian, xavier-normal, as
in the paper's code) -> class token + position embedding -> transformer encoder -> linear head on
the class token.  PyTorch is imported lazily (the optional extra ``sfng[ml]``); :func:`metrics`
needs only numpy.
"""

from __future__ import annotations

import numpy as np

from ..errors import SfngError


def require_torch():
    try:
        import torch
    except ImportError:
        raise SfngError("PyTorch is not installed: pip install 'sfng[ml]' (training and evaluation need it)") \
            from None
    return torch


def build_ssftt(bands: int, patch: int, classes: int, *, tokens: int = 4, dim: int = 64, depth: int = 1,
                heads: int = 8, mlp: int = 8, dropout: float = 0.1):
    torch = require_torch()
    nn = torch.nn
    if patch < 5 or bands < 3:
        raise SfngError("SSFTT needs patches of at least 5x5 and at least 3 bands")

    class SSFTT(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv3d = nn.Sequential(nn.Conv3d(1, 8, kernel_size=(3, 3, 3)), nn.BatchNorm3d(8), nn.ReLU())
            self.conv2d = nn.Sequential(nn.Conv2d(8 * (bands - 2), dim, kernel_size=3), nn.BatchNorm2d(dim),
                                        nn.ReLU())
            self.token_wA = nn.Parameter(torch.empty(1, tokens, dim))
            self.token_wV = nn.Parameter(torch.empty(1, dim, dim))
            nn.init.xavier_normal_(self.token_wA)
            nn.init.xavier_normal_(self.token_wV)
            self.pos = nn.Parameter(torch.empty(1, tokens + 1, dim).normal_(std=0.02))
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.drop = nn.Dropout(dropout)
            layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim * mlp // 2 or dim,
                                               dropout=dropout, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.head = nn.Linear(dim, classes)

        def forward(self, x):                       # x: (B, bands, patch, patch)
            x = self.conv3d(x.unsqueeze(1))          # (B, 8, bands-2, p-2, p-2)
            b = x.shape[0]
            x = x.flatten(1, 2)                      # (B, 8*(bands-2), p-2, p-2)
            x = self.conv2d(x)                       # (B, dim, p-4, p-4)
            x = x.flatten(2).transpose(1, 2)         # (B, n, dim) feature tokens
            a = torch.einsum("bnd,ld->bln", x, self.token_wA[0]).softmax(dim=-1)   # (B, L, n)
            v = x @ self.token_wV[0]                 # (B, n, dim)
            t = a @ v                                # (B, L, dim) semantic tokens
            t = torch.cat([self.cls.expand(b, -1, -1), t], dim=1) + self.pos
            t = self.encoder(self.drop(t))
            return self.head(t[:, 0])

    return SSFTT()


def reduced_shape(shape, bands: int | None) -> tuple:
    """The shape :func:`reduce_bands` gives patches of ``shape`` (n, nwave, p, p)."""
    n, w, *rest = shape
    return (n, w if bands is None else min(bands, w), *rest)


def reduce_bands(patches, bands: int | None):
    """Average contiguous channel blocks: (n, nwave, p, p) -> (n, bands, p, p); ``bands`` None
    (or at least nwave): the patches as they are."""
    patches = np.asarray(patches, dtype=np.float32)
    n, w = patches.shape[:2]
    if bands is None or bands >= w:
        return patches
    edges = np.linspace(0, w, bands + 1).astype(int)
    return np.stack([patches[:, a:b].mean(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)


def metrics(y_true, y_pred, classes) -> dict:
    """Overall and average accuracy, Cohen's kappa, per-class precision/recall, confusion matrix."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    k = len(classes)
    cm = np.zeros((k, k), dtype=int)
    for t, p in zip(y_true, y_pred):
        cm[int(t), int(p)] += 1
    n = cm.sum()
    oa = float(np.trace(cm) / n) if n else float("nan")
    rows, cols = cm.sum(1), cm.sum(0)
    recall = [float(cm[i, i] / rows[i]) if rows[i] else None for i in range(k)]
    precision = [float(cm[i, i] / cols[i]) if cols[i] else None for i in range(k)]
    pe = float((rows * cols).sum() / n ** 2) if n else float("nan")
    kappa = (oa - pe) / (1 - pe) if n and pe < 1 else float("nan")
    aa = [r for r in recall if r is not None]
    return {"n": int(n), "overall_accuracy": oa, "average_accuracy": float(np.mean(aa)) if aa else None,
            "kappa": kappa, "classes": list(map(str, classes)),
            "per_class": {str(c): {"precision": precision[i], "recall": recall[i], "support": int(rows[i])}
                          for i, c in enumerate(classes)},
            "confusion_matrix": cm.tolist()}


def train(x_train, y_train, classes, *, x_val=None, y_val=None, epochs: int = 10, batch: int = 64,
          lr: float = 1e-3, seed: int = 0, device: str = "cpu", checkpoint=None, **model_kw) -> dict:
    """Train SSFTT on ``x[n, bands, p, p]``; returns the history (and saves ``checkpoint``)."""
    torch = require_torch()
    torch.manual_seed(seed)
    np.random.seed(seed)
    x = torch.as_tensor(np.asarray(x_train, dtype=np.float32))
    y = torch.as_tensor(np.asarray(y_train, dtype=np.int64))
    config = {"bands": int(x.shape[1]), "patch": int(x.shape[2]), "classes": len(classes), **model_kw}
    model = build_ssftt(**config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lossf = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    hist = {"loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            if len(idx) < 2:
                continue
            opt.zero_grad()
            loss = lossf(model(x[idx].to(device)), y[idx].to(device))
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        hist["loss"].append(total / len(x))
        if x_val is not None and len(x_val):
            pred = predict(model, x_val, device=device)
            hist["val_accuracy"].append(float(np.mean(pred == np.asarray(y_val))))
    if checkpoint is not None:
        torch.save({"state_dict": model.state_dict(), "config": config, "classes": list(map(str, classes)),
                    "seed": seed, "history": hist}, checkpoint)
    hist["model"] = model
    return hist


def predict(model, x, *, batch: int = 256, device: str = "cpu") -> np.ndarray:
    torch = require_torch()
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.as_tensor(np.asarray(x[i:i + batch], dtype=np.float32)).to(device)
            out.append(model(xb).argmax(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, int)


def load(checkpoint, device: str = "cpu"):
    """``(model, classes)`` from a checkpoint written by :func:`train`."""
    torch = require_torch()
    ck = torch.load(checkpoint, map_location=device, weights_only=True)
    model = build_ssftt(**ck["config"]).to(device)
    model.load_state_dict(ck["state_dict"])
    return model, ck["classes"]


def evaluate(checkpoint, x, y, device: str = "cpu") -> dict:
    model, classes = load(checkpoint, device)
    return metrics(y, predict(model, x, device=device), classes)

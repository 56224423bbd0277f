"""The foundation encoder: channel-name embeddings, patch tokens over time, a small transformer.

Model rate and units
--------------------
The encoder works at :data:`MODEL_SFREQ` = 250 Hz. Recordings are resampled to it before
pretraining, and the runtime's preprocessing delivers windows at the rate stored in the
decoder's ``bci.sfreq`` metadata (250 Hz for the shipped model). The input is in
microvolts (EMG: device units); normalisation lives inside the graph
(:class:`WindowNorm`): per window and channel, subtract the mean, divide by
``sqrt(var + 1)`` (a 1 uV floor, so flat channels stay finite), clip to +-8.

Tokens
------
Each channel is cut into non-overlapping patches of :attr:`EncoderConfig.patch` samples
(0.2 s at 250 Hz); a linear patch embedding plus a learned channel embedding (one per
10-05 name, :mod:`bci.models._channels`) plus a learned time-position embedding make one
token per (channel, patch). All tokens attend to each other (full attention over
``n_channels * n_patches`` tokens); 16 ch x 1 s is 80 tokens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ._channels import VOCAB

#: Sampling rate of the encoder (Hz): everything is resampled to it.
MODEL_SFREQ = 250.0

#: Text stored as ``bci.normalization`` in every export of this encoder.
NORMALIZATION = (
    "in-graph: per window and channel, (x - mean) / sqrt(var + 1 uV^2), clipped to +-8; "
    "input in microvolts at bci.sfreq"
)


@dataclass(frozen=True)
class EncoderConfig:
    """Size of the foundation encoder.

    Parameters
    ----------
    patch : int
        Samples per token (at :data:`MODEL_SFREQ`).
    dim : int
        Token width.
    depth : int
        Transformer layers.
    heads : int
        Attention heads.
    mlp_ratio : float
        Hidden width of the feed-forward block relative to ``dim``.
    max_patches : int
        Longest window in patches (``max_patches * patch / 250`` seconds).
    dropout : float
        Dropout in attention output and feed-forward blocks (training only).
    """

    patch: int = 50
    dim: int = 64
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    max_patches: int = 60
    dropout: float = 0.1

    def to_dict(self) -> dict:
        """Plain-dict form, stored in checkpoints."""
        return asdict(self)


class WindowNorm(nn.Module):
    """Per-window, per-channel standardisation in the graph (see :data:`NORMALIZATION`)."""

    def __init__(self, floor: float = 1.0, clip: float = 8.0):
        super().__init__()
        self.floor = float(floor)
        self.clip = float(clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``(batch, n_channels, n_times)``."""
        x = x - x.mean(dim=-1, keepdim=True)
        var = (x * x).mean(dim=-1, keepdim=True)
        x = x / torch.sqrt(var + self.floor)
        return torch.clamp(x, -self.clip, self.clip)

    def log_scale(self, x: torch.Tensor) -> torch.Tensor:
        """Log of the scale :meth:`forward` divides out, ``(batch, n_channels)``.

        ``0.5 * log(var + floor)`` per window and channel: the channel amplitude that
        normalisation removes (motor-imagery ERD and EMG activity live there).
        """
        x = x - x.mean(dim=-1, keepdim=True)
        return 0.5 * torch.log((x * x).mean(dim=-1) + self.floor)


class _Block(nn.Module):
    """Pre-norm transformer block written with ``scaled_dot_product_attention`` (ONNX friendly)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.norm1(x)
        qkv = self.qkv(h).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        a = a.transpose(1, 2).reshape(b, n, d)
        x = x + self.drop(self.proj(a))
        return x + self.drop(self.mlp(self.norm2(x)))


class ReadIn(nn.Module):
    """Per-device read-in layer (NDT-stitch): a learned channel mixing ``C -> C``.

    Initialised to the identity, so a fresh read-in changes nothing; the ``readin``
    fine-tuning strategy trains it (and the head) while the shared encoder stays frozen.

    Parameters
    ----------
    n_channels : int
        Number of device channels.
    """

    def __init__(self, n_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(n_channels))
        self.bias = nn.Parameter(torch.zeros(n_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mix channels of normalised ``x`` ``(batch, n_channels, n_times)``."""
        return torch.matmul(self.weight, x) + self.bias


class FoundationEncoder(nn.Module):
    """Channel-agnostic EEG/EMG encoder.

    Parameters
    ----------
    config : EncoderConfig | None
        Sizes; the default is the shipped model's (about 0.2 M parameters).

    Notes
    -----
    ``forward(x, ch_idx, mask=None)`` takes *normalised* signals ``(batch, n_channels,
    n_times)`` with ``n_times`` a multiple of ``config.patch``, the vocabulary indices of
    the channels ``(n_channels,)`` (:func:`bci.models.channel_indices`) and an optional boolean
    token mask ``(batch, n_channels, n_patches)`` (True = hidden, replaced by a learned mask
    token; used by pretraining). It returns tokens ``(batch, n_channels, n_patches, dim)``.
    """

    def __init__(self, config: EncoderConfig | None = None):
        super().__init__()
        self.config = config or EncoderConfig()
        c = self.config
        self.patch_embed = nn.Linear(c.patch, c.dim)
        self.ch_embed = nn.Embedding(len(VOCAB), c.dim)
        self.pos_embed = nn.Parameter(torch.zeros(c.max_patches, c.dim))
        self.mask_token = nn.Parameter(torch.zeros(c.dim))
        self.blocks = nn.ModuleList(
            [_Block(c.dim, c.heads, c.mlp_ratio, c.dropout) for _ in range(c.depth)]
        )
        self.norm = nn.LayerNorm(c.dim)
        nn.init.normal_(self.ch_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, x: torch.Tensor, ch_idx: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Encode normalised windows into tokens (see the class notes)."""
        b, n_ch, n_t = x.shape
        p = self.config.patch
        tok = self._embed(x, ch_idx, mask)
        for blk in self.blocks:
            tok = blk(tok)
        return self.norm(tok).reshape(b, n_ch, n_t // p, -1)

    def forward_layers(self, x: torch.Tensor, ch_idx: torch.Tensor) -> list[torch.Tensor]:
        """Tokens after every transformer block, each ``(batch, n_channels * n_patches, dim)``.

        The last entry has the final layer norm applied (it equals :meth:`forward`'s output,
        flattened); the others are the residual stream between blocks. Used for multi-layer
        probing (:class:`bci.models.EncoderClassifier` with ``pooling="layers"``).
        """
        tok = self._embed(x, ch_idx, None)
        out = []
        for blk in self.blocks:
            tok = blk(tok)
            out.append(tok)
        out[-1] = self.norm(tok)
        return out

    def _embed(
        self, x: torch.Tensor, ch_idx: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Patch, channel and time embeddings: tokens ``(batch, n_channels * n_patches, dim)``."""
        b, n_ch, n_t = x.shape
        p = self.config.patch
        n_p = n_t // p
        if n_p > self.config.max_patches:
            raise ValueError(
                f"window of {n_t} samples is {n_p} patches; this encoder takes at most "
                f"{self.config.max_patches} ({self.config.max_patches * p} samples)"
            )
        tok = self.patch_embed(x.reshape(b, n_ch, n_p, p))
        if mask is not None:
            tok = torch.where(mask.unsqueeze(-1), self.mask_token.to(tok.dtype), tok)
        tok = tok + self.ch_embed(ch_idx)[None, :, None, :] + self.pos_embed[:n_p][None, None]
        return tok.reshape(b, n_ch * n_p, -1)


def pad_to_patch(n_times: int, patch: int) -> int:
    """Samples of left zero-padding that make ``n_times`` a multiple of ``patch``."""
    return (math.ceil(n_times / patch) * patch) - n_times

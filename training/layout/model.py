"""The layout network: a small U-Net over the page at MODEL_DPI, with axial context at the bottom.

Encoder: five levels (8, 16, 24, 32, 48 channels; two 3x3 convolutions, batch norm and ReLU each; 2x2 max pooling
between levels), so the deepest level sees about 1/16 of the page resolution (one pixel ~ 1/3 inch). There the mean
of every feature over each row and over each column is added back (axial context: a column boundary of an unruled
table is where the whole table's text columns leave a gap, far beyond a 3x3 neighbourhood). Decoder: nearest
upsampling, the skip connection concatenated, one 3x3 convolution (the encoder finds, the decoder only places:
speed on a CPU); a 1x1 head gives one logit per output map (``service.pages.layout_model.CHANNELS``). About 0.11
million parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from service.pages.layout_model import CHANNELS

WIDTHS = (8, 16, 24, 32, 48)


def _block(cin: int, cout: int, convs: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


class LayoutNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = WIDTHS, outputs: int = len(CHANNELS)) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        cin = 1
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        deep = widths[-1]
        self.axial = nn.Sequential(
            nn.Conv2d(3 * deep, deep, 1, bias=False), nn.BatchNorm2d(deep), nn.ReLU(inplace=True)
        )
        self.up = nn.ModuleList()
        for w_skip, w_in in zip(reversed(widths[:-1]), reversed(widths[1:])):
            # one convolution per level: the decoder only places what the encoder found (speed on a CPU)
            self.up.append(_block(w_in + w_skip, w_skip, convs=1))
        self.head = nn.Conv2d(widths[0], outputs, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = self.pool(x)
            x = block(x)
            skips.append(x)
        rows = x.mean(dim=3, keepdim=True).expand_as(x)
        cols = x.mean(dim=2, keepdim=True).expand_as(x)
        x = self.axial(torch.cat([x, rows, cols], dim=1))
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

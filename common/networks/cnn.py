"""The conventional baseline of notebook 01: the source study's MNIST CNN."""
from __future__ import annotations

import torch
from torch import nn

from common.networks.registry import register


class TwoConvReLU:
    """What Grad-CAM needs of a network of conv1 - pool - conv2 - act2 (the CNN and the event CNN)."""

    @property
    def gradcam_layer(self) -> nn.Module:
        # The rectified maps of the last conv: on the raw conv output the class-weighted sum is
        # often negative everywhere, and 73% of the quick model's test maps came out empty.
        return self.act2

    @property
    def cam_stages(self) -> list:
        """The layers between the input and ``gradcam_layer`` (common.explanations.gradcam.to_input reads them)."""
        return [self.conv1, self.pool, self.conv2]


@register("cnn", kind="conventional", label="CNN")
class CNN(TwoConvReLU, nn.Module):
    """The source study's MNIST CNN: 24C5(pad 1)-MP2-64C5(pad 1)-MP2-FC64-FC10.

    28 -> 26 -> 13 -> 11 -> 5, so the classifier sees 64 * 5 * 5 = 1600 features.
    ``dropout`` (0 in the source) is an option the quick profile uses against over-fitting.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 24, 5, padding=1)
        self.conv2 = nn.Conv2d(24, 64, 5, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.act1, self.act2 = nn.ReLU(), nn.ReLU()   # modules, so Grad-CAM can hook the activation
        self.fc1 = nn.Linear(1600, 64)
        self.fc2 = nn.Linear(64, n_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.conv1.in_channels, 28, 28)   # the classifier's 1600 features fix the image size
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images [B, {', '.join(map(str, expected))}], got shape {tuple(x.shape)}"
                             + ("; one image [1, 28, 28] needs a batch axis: pass x.unsqueeze(0)" if x.dim() == 3 else ""))
        x = self.pool(self.act1(self.conv1(x)))
        x = self.pool(self.act2(self.conv2(x)))
        x = self.dropout(torch.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


@register("cnn_events", kind="conventional", label="CNN on event frames")
class EventCNN(TwoConvReLU, nn.Module):
    """A conventional CNN on event frames ``[T, B, C, H, W]``: the spiking CNN's layers (conv k5 - pool 2 -
    conv k5 - pool 2 - linear) with ReLU for the spiking neurons, so the two compare on the same recordings.

    ``input_form``:
    - ``"summed"``: the events of every bin summed into one frame (2 channels), as a camera image;
    - ``"time_bins_as_channels"``: the ``n_time_bins`` frames stacked as ``n_time_bins * C`` channels, so the
      network sees when each event happened, as the spiking CNN does.
    ``channels`` sets the two convolutions' widths: (12, 32), the spiking CNN's, for the summed form (18,254
    parameters on N-MNIST); (5, 32) keeps the stacked form at 18,297 (its first layer has 25x the inputs).

    Output ``[T', B, n_classes]`` logits: in training (or with ``answer_every_prefix`` False), ``T' = 1`` (the
    whole clip); in eval mode ``T' = T``,
    row ``t`` the answer from the first ``t + 1`` bins only (the later ones unseen: summed over bins 1..t+1,
    or zero in the stacked form), so it is compared with the spiking CNN after t bins.
    The objective ``cross_entropy_over_prefixes`` reads the last row.

    ``prefix_training``: in training, answer twice per batch, after a prefix of ``t`` bins drawn uniformly from
    1..T (torch's seeded generator) and after the whole clip (``T' = 2``, the whole clip last), so a network
    compared with the spiking one after t bins was trained to answer after t bins; the objective
    ``cross_entropy_whole_and_prefix`` averages the cross-entropy over the rows it is given.
    """

    FORMS = ("summed", "time_bins_as_channels")

    def __init__(self, input_form: str = "summed", n_time_bins: int = 25, in_channels: int = 2,
                 input_size: int = 34, n_classes: int = 10, channels: tuple[int, int] = (12, 32),
                 prefix_training: bool = False):
        super().__init__()
        if input_form not in self.FORMS:
            raise ValueError(f"input_form must be one of {self.FORMS}, got {input_form!r}")
        from common.networks.snn import conv_output_size

        self.input_form, self.n_time_bins, self.in_channels = input_form, n_time_bins, in_channels
        self.input_size, self.prefix_training = input_size, prefix_training
        first = in_channels * (n_time_bins if input_form == "time_bins_as_channels" else 1)
        side = conv_output_size(input_size)
        self.conv1 = nn.Conv2d(first, channels[0], 5)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 5)
        self.pool = nn.MaxPool2d(2)
        self.act1, self.act2 = nn.ReLU(), nn.ReLU()
        self.fc = nn.Linear(channels[1] * side * side, n_classes)
        # eval mode answers after every prefix (accuracy over time bins); False: one answer per clip, what one
        # inference costs (notebook 08 counts and times it so)
        self.answer_every_prefix = True

    def classify(self, frame: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.conv1(frame)))
        x = self.pool(self.act2(self.conv2(x)))
        return self.fc(x.flatten(1))

    def prefix_frames(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """What the network sees of the first ``t`` bins of ``x`` ``[T, B, C, H, W]``: ``[B, C', H, W]``."""
        if self.input_form == "summed":
            return x[:t].sum(0)
        seen = torch.cat([x[:t], torch.zeros_like(x[t:])]) if t < x.shape[0] else x
        return seen.permute(1, 0, 2, 3, 4).flatten(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from common.networks.snn import event_batch

        x = event_batch(x, size=self.input_size)
        T, _, C = x.shape[:3]
        if C != self.in_channels or (self.input_form == "time_bins_as_channels" and T != self.n_time_bins):
            raise ValueError(f"expected input [T={self.n_time_bins if self.input_form != 'summed' else 'any'}, B, "
                             f"C={self.in_channels}, H, W], got shape {tuple(x.shape)}")
        if self.training and self.prefix_training:
            t = int(torch.randint(1, T + 1, ()))
            return torch.stack([self.classify(self.prefix_frames(x, t)), self.classify(self.prefix_frames(x, T))])
        if self.training or not self.answer_every_prefix:
            return self.classify(self.prefix_frames(x, T)).unsqueeze(0)
        return torch.stack([self.classify(self.prefix_frames(x, t)) for t in range(1, T + 1)])

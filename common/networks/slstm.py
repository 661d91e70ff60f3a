"""The spiking LSTM of the DVS Gesture study, a wider spiking CNN, and the helpers notebooks 05-06 share.

Spiking LSTM (the source study's): snntorch ``SConv2dLSTM(2->8, k5, max_pool 2, threshold 0.1)`` ->
``SConv2dLSTM(8->16, k5, max_pool 2, threshold 0.1)`` -> ``Linear(16*8*8 = 1024 -> 11)`` -> ``Leaky(beta 0.8)``.
snntorch pads each gate convolution to "same" size, so a 32 x 32 input keeps its size inside a layer
and is halved by the pooling of the spikes: 32 -> 16 -> 8. Input ``[T, B, 2, 32, 32]``, output
spikes ``[T, B, n_classes]``, like every spiking model of the study (common.networks.registry).

What the library layer does and what this module does about it (tests/test_slstm.py checks each):
- ``SConv2dLSTM`` keeps its state (``syn``, ``mem``) on the module between calls. Called without
  explicit state, a new batch of the same shape starts from the previous batch's final state
  (state leaks between samples). Here every forward call passes zero state at t = 0.
- ``SpikingNeuron.instances`` keeps every neuron ever built alive (a class-level list); each model
  here removes its own layers from it, so training several seeds does not hold on to old models.
- The recurrence of an ``SConv2dLSTM`` uses its hidden state ``mem`` (not its spikes) and, with
  snntorch's default ``reset_mechanism="none"``, spikes never feed back. So the second layer's
  spikes ``fire(maxpool(mem_t))`` can be computed after its time loop from the stacked states
  ``[T * B, 16, 16, 16]``; they pass through ``hidden_tap`` (an identity), the ``gradcam_layer``,
  so pytorch-grad-cam's hooks see every time bin in one call and give one map per bin
  (common.explanations.gradcam.grad_cam_over_time). The fully connected layer and the output ``Leaky`` are
  stateless apart from the membrane and run over all bins at once (common.networks.snn.leaky_over_time,
  exactly snntorch's ``Leaky(beta, threshold 1, subtract reset)``). The gates keep snntorch's
  defaults (arctan surrogate); the output neuron uses snntorch ``Leaky``'s default surrogate, arctan.
"""
from __future__ import annotations

import snntorch as snn
import torch
from torch import nn

from common.networks.neurons import SpikeTrace
from common.networks.registry import register
from common.networks.snn import atan_grad, event_batch, leaky_over_time

LSTM_LAYERS = ("lstm1", "lstm2", "out")


def _forget_instance(layer: nn.Module) -> None:
    """Drop ``layer`` from snntorch's class-level list of every neuron ever built."""
    instances = snn.SpikingNeuron.instances
    for i in range(len(instances) - 1, -1, -1):
        if instances[i] is layer:
            del instances[i]


@register("slstm", kind="spiking", label="spiking conv-LSTM")
class SpikingConvLSTM(nn.Module):
    """Spiking convolutional LSTM; ``forward([T, B, C, H, W]) -> spikes [T, B, n_classes * population_size]``.

    State (both LSTM layers' ``syn`` and ``mem``, the output membrane) starts at zero at every
    forward call. After each forward, ``spike_counts[layer]`` is the mean number of spikes per sample
    in that layer and ``spike_rates[layer]`` the mean per neuron per time bin (as common.networks.snn.SpikingCNN).
    """

    def __init__(self, n_classes: int = 11, input_size: int = 32, in_channels: int = 2,
                 channels: tuple[int, int] = (8, 16), kernel_size: int = 5, lstm_threshold: float = 0.1,
                 beta: float = 0.8, population_size: int = 1):
        super().__init__()
        # Two 2 x 2 poolings need a multiple of 4: frames are zero-padded (never cropped) evenly on every
        # side, N-MNIST's 34 x 34 to 36 x 36, so no recorded event is lost.
        border = -input_size % 4
        if border % 2:
            raise ValueError(f"input_size {input_size} cannot be padded evenly to a multiple of 4 "
                             f"(two 2x2 poolings); use an even size")
        self.border = border // 2
        self.padding = (self.border,) * 4
        padded = input_size + border
        if not 0.0 < beta < 1.0:
            raise ValueError(f"beta must be in (0, 1), got {beta}")
        self.n_classes, self.population_size = n_classes, population_size
        self.n_outputs = n_classes * population_size
        self.in_channels, self.input_size = in_channels, input_size
        self.expected_time_bins: int | None = None   # set by common.load_model from the run's config
        self.lstm1 = snn.SConv2dLSTM(in_channels, channels[0], kernel_size, max_pool=2, threshold=lstm_threshold)
        self.lstm2 = snn.SConv2dLSTM(channels[0], channels[1], kernel_size, max_pool=2, threshold=lstm_threshold)
        for layer in (self.lstm1, self.lstm2):
            _forget_instance(layer)
        self.hidden_tap = nn.Identity()
        self.traces = nn.ModuleList(SpikeTrace() for _ in LSTM_LAYERS)   # observed by NeuroBench
        self.fc = nn.Linear(channels[1] * (padded // 4) ** 2, self.n_outputs)
        self.register_buffer("beta", torch.tensor(float(beta)))
        self.surrogate_grad = atan_grad()   # snntorch's default surrogate for its LSTM layers
        self.spike_counts: dict[str, float] = {}
        self.spike_rates: dict[str, float] = {}

    def decays(self) -> dict[str, float]:
        """The output layer's membrane decay (the LSTM layers have none). Its buffer keeps the constructor's name,
        ``beta``, which the saved checkpoints hold."""
        return {LSTM_LAYERS[-1]: self.beta.item()}

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.hidden_tap

    @property
    def cam_stages(self) -> list:
        """Input -> ``gradcam_layer`` (lstm2's hidden state): the zero border, lstm1's gate convolution, the 2 x 2 pooling of
        its spikes, lstm2's gate convolution. The path through the recurrent state, which widens the
        window bin by bin, is not part of a per-bin map."""
        return [(1, 1, self.border), self.lstm1.conv, (2, 2, 0), self.lstm2.conv]

    @staticmethod
    def _run(layer: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Step ``layer`` over ``inputs`` [T, B, ...] from zero state: (spikes, hidden states mem), stacked.

        Splitting the gate convolution into an input part run for all bins at once and a hidden part run
        per bin computes the same numbers but trained 25% slower here (34.6 against 47.1 samples per
        CPU-second, N-MNIST size, batch 32, T = 25): the input has 2 channels, so nearly all the work is the
        hidden path, and two convolutions' backward passes cost more than one. Training is compute-bound:
        ~0.9 GFLOP per sample at the parameter-matched size, ~3.4 at the source's (benchmarks/all_models.py)."""
        T, B, _, H, W = inputs.shape
        syn = mem = inputs.new_zeros(B, layer.out_channels, H, W)
        spikes, states = [], []
        for x in inputs.unbind(0):
            spk, syn, mem = layer(x, syn, mem)
            spikes.append(spk)
            states.append(mem)
        return torch.stack(spikes), torch.stack(states)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = event_batch(x, self.in_channels, self.input_size, self.expected_time_bins)
        T, B = x.shape[:2]
        x = nn.functional.pad(x, self.padding)                              # 34 -> 36 for N-MNIST
        spk1, mem1 = self._run(self.lstm1, x)                                # [T, B, 8, H, W]
        spk1 = self.traces[0](spk1, mem1.detach())
        _, mem2 = self._run(self.lstm2, spk1)                                # [T, B, 16, H/2, W/2]
        mem2 = self.hidden_tap(mem2.flatten(0, 1))                            # one hook call, all bins
        spk2 = self.lstm2.fire(nn.functional.max_pool2d(mem2, 2)).unflatten(0, (T, B))   # [T, B, 16, 8, 8]
        spk2 = self.traces[1](spk2, mem2.detach().unflatten(0, (T, B)))
        spk3, mem3 = leaky_over_time(self.fc(spk2.flatten(2)), self.beta, 1.0, self.surrogate_grad, True)
        spk3 = self.traces[2](spk3, mem3)
        with torch.no_grad():
            for name, spk in zip(LSTM_LAYERS, (spk1, spk2, spk3)):
                total = spk.sum().item()
                self.spike_counts[name] = total / B
                self.spike_rates[name] = total / spk.numel()
        return spk3

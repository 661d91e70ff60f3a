"""The LIF-vs-ALIF study's networks: a spiking layer of LIF or ALIF neurons with a leaky readout, and the MLP.

``rsnn``: 784 input spikes -> one hidden spiking layer (LIF or ALIF from common/networks/neurons.py,
optionally recurrent with the diagonal of the recurrent weights masked: no self-connections) ->
leaky non-spiking readout of 10 units. ``forward(spikes [T, B, 784]) -> logits [B, 10]``: the
readout membrane averaged over time (``readout="mean"``, default). Why the mean and not the
source's max: every time step then receives a gradient (the max passes gradient to one step per
class), and a transient early peak cannot decide the class alone. ``"max"`` and ``"last"`` remain
options. Logits go to cross-entropy (common.networks.objectives.CROSS_ENTROPY), as for the MLP.

``mlp``: the non-spiking baseline with the same hidden size, 784 -> hidden (ReLU) -> 10, on the
intensities themselves (image loaders, no spikes).

``mlp_spikes``: the same MLP (same size, same weights' shapes) on the spike trains LIF and ALIF receive (the same
encoding, n_steps and test spikes), averaged over the steps: its input is each pixel's spike count / T. Why the
average and not step by step: under the rate code the count is a sufficient statistic of the train (the steps are
independent Bernoulli draws of the same intensity), so the MLP sees exactly the information the spikes carry and
nothing is lost to the MLP's architecture; an MLP applied step by step (logits averaged) could not pool evidence
across steps before its nonlinearity, a handicap the spiking layer's membrane does not have. So the neuron's effect is
read against this MLP (same input information), the coding's against ``mlp`` (same network, images against spikes).
Under the latency code the count is 0 or 1 and the timing is lost: this control is meant for the rate code (and the
periodic one, whose count is the quantised intensity).

Factors of a cell (each one real, each tested): ``neuron`` lif/alif, ``recurrent`` on/off,
``hidden`` size, ``epochs``, ``learn_beta`` (trained membrane decays, stored as logits), and the
input ``encoding`` (common/data/encodings.py); the grid over them is common/study/lif_alif.py.
"""
from __future__ import annotations

import torch
from torch import nn

from common.networks.neurons import NEURONS, LeakyReadout
from common.networks.registry import register

READOUTS = ("mean", "max", "last")
# The networks that take spike trains [T, B, 784] (the loaders encode their images: common.runs.runner.load_data)
SPIKE_TRAIN_MODELS = ("rsnn", "mlp_spikes")


@register("rsnn", kind="spiking", label="LIF/ALIF network")
class RecurrentSNN(nn.Module):
    """784 -> hidden LIF/ALIF (optional masked recurrence) -> leaky readout; logits ``[B, n_classes]``."""

    def __init__(self, neuron: str = "lif", hidden: int = 128, recurrent: bool = False,
                 learn_beta: bool = False, n_inputs: int = 784, n_classes: int = 10,
                 readout: str = "mean", beta: float | None = None, kappa: float | None = None,
                 neuron_kwargs: dict | None = None):
        super().__init__()
        if neuron not in NEURONS:
            raise ValueError(f"neuron must be one of {sorted(NEURONS)}, got {neuron!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        self.readout_mode, self.recurrent = readout, recurrent
        self.fc_in = nn.Linear(n_inputs, hidden)
        self.hidden = NEURONS[neuron](beta=beta, learn_beta=learn_beta, **(neuron_kwargs or {}))
        if recurrent:
            self.w_rec = nn.Parameter(torch.empty(hidden, hidden))
            nn.init.orthogonal_(self.w_rec, gain=0.5)
            self.register_buffer("rec_mask", 1.0 - torch.eye(hidden))
        self.fc_out = nn.Linear(hidden, n_classes)
        self.readout = LeakyReadout(kappa=kappa, learn_kappa=learn_beta)
        self.spike_rate = 0.0
        self.spike_counts: dict[str, float] = {}   # hidden spikes per sample, after each forward
        self.neurons_per_sample = hidden + n_classes   # membranes that leak every step (energy estimate)

    def recurrent_weight(self) -> torch.Tensor:
        """The recurrent weights actually used: diagonal zeroed (no neuron drives itself)."""
        return self.w_rec * self.rec_mask

    def decays(self) -> dict[str, float]:
        """Current decay per layer: the hidden membrane's ``beta`` and the readout's ``kappa``."""
        return {"hidden": self.hidden.decay.item(), "readout": self.readout.decay.item()}

    def epoch_metrics(self) -> dict:
        """What the runner records after every epoch: the decays (trained or not), as ``beta_<layer>``."""
        return {f"beta_{layer}": value for layer, value in self.decays().items()}

    def learned_decays(self) -> dict:
        """What the runner records of the trained model: the decays and the hidden layer's spike rate."""
        return {**self.epoch_metrics(), "spike_rate": self.spike_rate}

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        T = getattr(self, "expected_time_bins", None)   # set by common.load_model from the run's config
        if spikes.dim() != 3 or spikes.shape[2] != self.fc_in.in_features or (T and spikes.shape[0] != T):
            raise ValueError(f"expected input spikes [T{'=' + str(T) if T else ''}, B, {self.fc_in.in_features}] "
                             f"(time first), got {tuple(spikes.shape)}")
        current = self.fc_in(spikes.float())                  # all T steps in one matmul
        recurrent = None
        if self.recurrent:
            weight = self.recurrent_weight()
            recurrent = lambda z: z @ weight.t()
        hidden_spikes = self.hidden(current, recurrent)       # [T, B, hidden]
        membrane = self.readout(self.fc_out(hidden_spikes))   # [T, B, n_classes]
        self.spike_rate = hidden_spikes.detach().mean().item()
        self.spike_counts = {"hidden": hidden_spikes.detach().sum().item() / spikes.shape[1]}   # per sample
        if self.readout_mode == "mean":
            return membrane.mean(0)
        if self.readout_mode == "max":
            return membrane.max(0).values
        return membrane[-1]


@register("mlp", kind="conventional", label="MLP")
class MLP(nn.Module):
    """The non-spiking baseline: flatten -> Linear(784, hidden) -> ReLU -> Linear(hidden, 10)."""

    def __init__(self, hidden: int = 128, n_inputs: int = 784, n_classes: int = 10):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(n_inputs, hidden), nn.Linear(hidden, n_classes)
        self.act = nn.ReLU()   # a module, so NeuroBench's hooks see the activations

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x[0].numel() != self.fc1.in_features:
            raise ValueError(f"expected images of {self.fc1.in_features} pixels ([B, 1, 28, 28] or "
                             f"[B, {self.fc1.in_features}]), got shape {tuple(x.shape)}")
        return self.fc2(self.act(self.fc1(x.flatten(1))))


@register("mlp_spikes", kind="conventional", label="MLP on spike trains")
class SpikeCountMLP(MLP):
    """The MLP on spike trains ``[T, B, 784]``: the same network as :class:`MLP`, fed the spike count per pixel / T
    (the rate code's sufficient statistic; the module docstring says why the average)."""

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        T = getattr(self, "expected_time_bins", None)   # set by common.load_model from the run's config
        if spikes.dim() != 3 or spikes.shape[2] != self.fc1.in_features or (T and spikes.shape[0] != T):
            raise ValueError(f"expected input spikes [T{'=' + str(T) if T else ''}, B, {self.fc1.in_features}] "
                             f"(time first), got {tuple(spikes.shape)}")
        return super().forward(spikes.float().mean(0))

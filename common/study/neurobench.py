"""Efficiency in the field's own terms: NeuroBench's metrics, computed by NeuroBench, on the study's models.

NeuroBench (``neurobench==2.3.0``) finds a model's activations through hooks on recognised modules and
its synaptic operations through hooks on its Conv/Linear layers. The project's spiking layers are not
snntorch modules (the membrane recurrence is one autograd function over all time bins), so each model
passes every spiking layer's spikes and membrane through a :class:`common.networks.neurons.SpikeTrace`; here
each trace gets a NeuroBench ``NeuronHook`` fed with exactly what NeuroBench records from a stepped
snntorch layer: the spikes, and the membrane before and after every time bin's update. So
ActivationSparsity and MembraneUpdates come from NeuroBench's own metric code, on the project's own
networks, not on a copy.

Energy: not here. The measurements keep NeuroBench's counts only; the energies are derived from them when they are
read (common.study.compare.with_energies, the constants in common.study.energy), so a stored file never holds a
number that a change of constants would make stale. NeuroBench counts a layer whose inputs are not binary (the
first layer of every network here: event counts, pixels) as MACs, and it counts convolutions exactly at the
borders. The project's own hand-written count did neither and was removed in favour of it.

NeuroBench's package requires torchaudio, which has no release for the pinned torch; its benchmark and
metric modules do not use it, so the project installs it with ``--no-deps`` (Makefile, tests/test_neurobench.py).
"""
from __future__ import annotations

import torch
from torch import nn

from common.networks.neurons import SpikeTrace

VERSION = "2.3.0"


def _classes():
    from neurobench.hooks.layer import LayerHook
    from neurobench.hooks.neuron import NeuronHook
    from neurobench.models import TorchModel

    class TraceHook(NeuronHook):
        """A NeuronHook fed by a SpikeTrace: spikes as the activation output, the membrane before and
        after each time bin as snntorch's pre-/post-fire potentials."""

        def __init__(self, trace: SpikeTrace, name: str):
            super().__init__(None, name)
            self.layer, self.spiking = trace, True
            trace.observers.append(self.observe)

        def observe(self, spikes: torch.Tensor, membrane: torch.Tensor | None) -> None:
            self.activation_outputs.append(spikes.detach())
            if membrane is not None:
                membrane = membrane.detach()
                self.post_fire_mem_potential.extend(membrane.unbind(0))
                self.pre_fire_mem_potential.extend([torch.zeros_like(membrane[0]), *membrane[:-1].unbind(0)])

        def close(self):
            if self.observe in self.layer.observers:
                self.layer.observers.remove(self.observe)

    class StudyModel(TorchModel):
        """A study model as NeuroBench sees it: batch-first inputs (NeuroBench's layout) handed to the
        model as ``[T, B, ...]`` when it steps through time; spiking layers through their traces."""

        def __init__(self, net: nn.Module, time_first: bool):
            super().__init__(net)
            self.time_first = time_first
            self.activation_modules = [SpikeTrace, nn.ReLU]   # snntorch layers inside are seen through traces

        def __call__(self, batch):
            return self.net(batch.transpose(0, 1) if self.time_first else batch)

        def register_hooks(self):
            for found in self.activation_layers():
                module, name = found["layer"], found["layer_name"]
                hook = TraceHook(module, name) if isinstance(module, SpikeTrace) else NeuronHook(module, name)
                self.activation_hooks.append(hook)
            for layer in self.connection_layers():
                self.connection_hooks.append(LayerHook(layer))

    return StudyModel


def metrics(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, predict, time_first: bool,
            samples_per_pass: int = 64) -> dict:
    """NeuroBench's Footprint, ConnectionSparsity, ClassificationAccuracy, ActivationSparsity,
    MembraneUpdates and SynapticOperations of ``model`` on ``inputs`` (batch first, ``[N, ...]`` or
    ``[N, T, ...]``): counts only (the energies are derived on read). ``samples_per_pass``:
    how many inputs go through the model at once (memory only: the metrics are sums over samples)."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ClassificationAccuracy,
        MembraneUpdates,
        SynapticOperations,
    )
    from torch.utils.data import DataLoader, TensorDataset

    wrapped = _classes()(model.eval(), time_first)
    loader = DataLoader(TensorDataset(inputs.float(), labels), batch_size=samples_per_pass, shuffle=False)
    benchmark = Benchmark(wrapped, loader, [], [predict],
                          [[Footprint, ConnectionSparsity],
                           [ClassificationAccuracy, ActivationSparsity, MembraneUpdates, SynapticOperations]])
    with torch.no_grad():
        results = benchmark.run(quiet=True)
    wrapped.cleanup_hooks()
    operations = results.pop("SynapticOperations")
    results.update(operations)
    return results

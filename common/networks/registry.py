"""Every network of the study, registered by name so a checkpoint can rebuild it.

The one model interface: ``forward`` takes one batch and returns what the objective needs:
an ANN returns logits ``[B, C]``; a spiking network returns output spikes over time ``[T, B, C]``
(input ``[T, B, ...]``) and resets its own state at the start of every forward call.

What a network offers beyond that is one of the capabilities below, each a Protocol: Grad-CAM
(:class:`Explained`), membrane decays (:class:`Decaying`), entries of its own in the record
(:class:`Recorded`), a population-coded output (:class:`PopulationCoded`), answers after every prefix of a clip
(:class:`AnswersEveryPrefix`). ``@register`` refuses a class that offers part of one, so a call site asks
``isinstance(model, Recorded)`` and finds the whole capability or none of it.

The decorators are the one list of models: a name that is not registered yet is looked for by importing
this package's modules, once, so a checkpoint rebuilds in a fresh process whatever has been imported.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Protocol, runtime_checkable

from torch import nn

MODELS: dict[str, Callable[..., nn.Module]] = {}
# What each registered model is, said once where it is registered: "spiking" (its output is spikes over time) or
# "conventional", and its human name. The comparison, the report and the figures read them here.
KINDS = ("spiking", "conventional")
KIND: dict[str, str] = {}
LABEL: dict[str, str] = {}


@runtime_checkable
class Explained(Protocol):
    """Grad-CAM explains it (common.explanations.gradcam): ``gradcam_layer``, the layer whose activations are
    weighed, and ``cam_stages``, the layers from the input to it, through which a map is placed on the input."""

    @property
    def gradcam_layer(self) -> nn.Module: ...

    @property
    def cam_stages(self) -> list: ...


@runtime_checkable
class Decaying(Protocol):
    """A spiking network's membrane decays, ``{layer: decay per time step}`` (``beta`` is only the constructor's
    argument)."""

    def decays(self) -> dict[str, float]: ...


@runtime_checkable
class Recorded(Protocol):
    """What the runner records of the network beside its accuracy: after every epoch (``epoch_metrics``) and of
    the trained model (``learned_decays``)."""

    def epoch_metrics(self) -> dict: ...

    def learned_decays(self) -> dict: ...


@runtime_checkable
class PopulationCoded(Protocol):
    """Its output holds ``population_size`` neurons per class (spikes ``[T, B, n_classes * population_size]``)."""

    @property
    def population_size(self) -> int: ...


@runtime_checkable
class AnswersEveryPrefix(Protocol):
    """A conventional network on event frames that answers after every prefix of the clip (logits ``[T', B, C]``,
    the last row decides) while ``answer_every_prefix`` is on; off, it answers once for the whole clip."""

    @property
    def answer_every_prefix(self) -> bool: ...


CAPABILITIES = (Explained, Decaying, Recorded, PopulationCoded, AnswersEveryPrefix)


def _members(capability) -> list[str]:
    """The methods and properties a capability names."""
    return sorted(name for name, member in vars(capability).items()
                  if not name.startswith("_") and (callable(member) or isinstance(member, property)))


def check_capabilities(cls) -> None:
    """Raise TypeError if ``cls`` offers some members of a capability but not all."""
    for capability in CAPABILITIES:
        members = _members(capability)
        missing = [name for name in members if not hasattr(cls, name)]
        if missing and len(missing) < len(members):
            raise TypeError(f"{cls.__name__} offers part of {capability.__name__}: it lacks {', '.join(missing)}")


def register(name: str, kind: str, label: str):
    """Register ``cls`` as ``name``: a ``kind`` of :data:`KINDS` and a human ``label`` (figures, tables)."""
    if kind not in KINDS:
        raise ValueError(f"model {name!r}: kind must be one of {KINDS}, got {kind!r}")

    def add(cls):
        check_capabilities(cls)
        MODELS[name], KIND[name], LABEL[name] = cls, kind, label
        return cls
    return add


def _import_networks() -> None:
    """Import every module of this package, so each one's ``@register`` has run."""
    for module in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        importlib.import_module(f"{__package__}.{module.name}")


def model_class(name: str) -> Callable[..., nn.Module]:
    """The network registered as ``name``, importing the package's modules if need be."""
    if name not in MODELS:
        _import_networks()
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; the study's models: {sorted(MODELS)}")
    return MODELS[name]


def is_spiking(name: str) -> bool:
    """Whether the registered model ``name`` is a spiking network (its kind, as registered)."""
    model_class(name)
    return KIND[name] == "spiking"


def model_label(name: str) -> str:
    """The registered model ``name``'s human name."""
    model_class(name)
    return LABEL[name]


def build_model(name: str, **kwargs) -> nn.Module:
    return model_class(name)(**kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

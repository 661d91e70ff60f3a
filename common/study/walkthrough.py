"""Notebook 02's steps for any spiking run, in one call: what notebooks 03-05 show of every run.

Notebook 02 walks through them one by one (train, training curves, accuracy after *t* time bins,
spikes per layer, Grad-CAM over time of a test recording, the two videos); a later notebook calls
:func:`train_and_show` and spends its cells on what it adds.
"""
from __future__ import annotations

from common.explanations.analysis import show_run
from common.explanations.video import explain_test_clip, show_video
from common.runs.runner import run, run_config
from common.study.in_context import in_context


def train_and_show(spec, data, reuse_trained: bool = True, label: str | None = None, videos=("gradcam",),
                   **run_options) -> dict | None:
    """:func:`common.runs.runner.run`, then the run's figures, Grad-CAM over time of the first test recording and
    its videos (``videos``: which to display, of ``spike_counts`` and ``gradcam``); returns the record
    (None when there is nothing to evaluate and ``required=False``). The accuracy is printed beside the study's
    replicated estimate of the same variant (:func:`common.study.in_context.in_context`)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    record = run(spec, data, reuse_trained, **run_options)
    if record is None:
        return None
    show_run(record, label)
    in_context(record, spec.config.output_root)
    spike_video, gradcam_video = explain_test_clip(run_config(spec, record), data)
    plt.show()                 # the figures first, then the videos, in the order notebook 02 shows them
    for name, path in (("spike_counts", spike_video), ("gradcam", gradcam_video)):
        if name in videos:
            display(show_video(path))
    return record

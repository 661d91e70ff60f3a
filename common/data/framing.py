"""Events to frames: tonic's ``Denoise`` then (optionally) ``Downsample`` then ``ToFrame(n_time_bins=T)``.

tonic's ``ToFrame(n_time_bins=T)`` cuts [t_first, t_first + T * w) with w = (t_last - t_first) // T
into half-open bins, so the event(s) at exactly t_last are not counted; we keep tonic's binning.
"""
from __future__ import annotations

import numpy as np
import tonic.transforms

from common.data.errors import DatasetCorruptError


def output_size(sensor_size, spatial_factor: float, target_size) -> tuple[int, int, int]:
    width, height, polarities = sensor_size
    if target_size is not None:
        return int(target_size[0]), int(target_size[1]), polarities
    # floor((W - 1) * f) is the largest pooled coordinate, so the frame is one more than that
    return int((width - 1) * spatial_factor) + 1, int((height - 1) * spatial_factor) + 1, polarities


def frame_transform(sensor_size, n_time_bins: int, denoise_filter_time: float | None = 10000,
                    spatial_factor: float = 1.0, target_size=None):
    """Denoise -> Downsample (event pooling: coordinates scaled, counts add up) -> ToFrame.

    Returns ``(to_frames(events, path), out_size)``. A recording that denoising leaves without a
    single event raises :class:`DatasetCorruptError`: an all-zero sample with a label is wrong data.
    """
    denoise = tonic.transforms.Denoise(filter_time=denoise_filter_time) if denoise_filter_time else None
    out_size = output_size(sensor_size, spatial_factor, target_size)
    steps = []
    if target_size is not None:
        steps.append(tonic.transforms.Downsample(sensor_size=tuple(sensor_size),
                                                 target_size=tuple(target_size)))
    elif spatial_factor != 1.0:
        steps.append(tonic.transforms.Downsample(spatial_factor=spatial_factor))
    steps.append(tonic.transforms.ToFrame(sensor_size=out_size, n_time_bins=n_time_bins))
    framing = tonic.transforms.Compose(steps)

    def to_frames(events, path) -> np.ndarray:
        if denoise is not None:
            kept = denoise(events)
            if len(kept) == 0:
                raise DatasetCorruptError(
                    f"{path}: none of its {len(events)} events is left after denoising "
                    f"(filter time {denoise_filter_time} us): it would become an all-zero sample with a "
                    f"label. Re-copy or re-download the file; to keep such samples on purpose, frame "
                    f"with denoise_filter_time=None.")
            events = kept
        return framing(events)

    return to_frames, out_size

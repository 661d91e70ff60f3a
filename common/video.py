"""MP4 videos of spiking networks at work: output spike counts and Grad-CAM over time.

Why these choices:
- Codec VP9 in MP4 (fourcc ``vp09``, what FFmpeg stores when asked for ``VP90``): the OpenCV wheel
  has no H.264 encoder, and ``mp4v`` (MPEG-4 Part 2) does not play in browsers or Jupyter. VP9 does.
- Frames must be uint8 RGB ``[H, W, 3]``: the source study wrote float frames in [0, 1], which
  OpenCV encoded without complaint and which decoded to noise. :func:`write_mp4` refuses them.
- Written atomically (temporary file in the same folder, then renamed), so a killed notebook never
  leaves a half-written video that looks finished.
- Frames are rendered with matplotlib's Agg canvas and OpenCV only: no ffmpeg binary needed.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

FOURCC = "vp09"


def check_frames(frames) -> list[np.ndarray]:
    """The frames as a list of uint8 ``[H, W, 3]`` arrays of one size, or a clear ValueError."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to write")
    first = np.asarray(frames[0])
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            hint = (" Float frames in [0, 1] must be converted first, e.g. (frame * 255).round()"
                    ".astype(np.uint8); OpenCV would otherwise write noise." if frame.dtype.kind == "f" else "")
            raise ValueError(f"frame {i} has dtype {frame.dtype}; expected uint8 RGB [H, W, 3].{hint}")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {i} has shape {frame.shape}; expected RGB [H, W, 3]")
        if frame.shape != first.shape:
            raise ValueError(f"frame {i} has shape {frame.shape} but frame 0 has {first.shape}; "
                             f"all frames of a video must have one size")
    return [np.asarray(f) for f in frames]


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """VP9 (4:2:0) needs even width and height; pad one black row/column where needed."""
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))


def write_mp4(path: str | Path, frames, fps: float = 5.0) -> Path:
    """Write RGB uint8 frames ``[H, W, 3]`` to ``path`` as VP9 MP4, atomically. Returns the path.

    Odd widths/heights are padded by one black pixel (VP9 needs even sizes).
    """
    frames = [pad_to_even(f) for f in check_frames(frames)]
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"{path}: the file name must end in .mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".mp4")
    os.close(fd)   # OpenCV opens the file itself; it picks the container from the .mp4 suffix
    try:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*FOURCC), float(fps), (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV could not open a VP9 MP4 writer for {path} "
                               f"(opencv-python-headless {cv2.__version__}).")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        if os.path.getsize(tmp) == 0:
            raise RuntimeError(f"OpenCV wrote an empty file for {path}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_mp4(path: str | Path) -> list[np.ndarray]:
    """Decode every frame of a video as RGB uint8 (what the tests use to check a written file)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    return frames


def show_video(path: str | Path, width: int | None = None):
    """Show an MP4 inline in Jupyter, embedded in the notebook (so it survives export and sharing)."""
    from IPython.display import Video

    return Video(str(path), embed=True, mimetype="video/mp4", width=width)


def figure_to_array(fig) -> np.ndarray:
    """A matplotlib figure rendered by the Agg canvas as RGB uint8 ``[H, W, 3]``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def spike_count_frames(spikes, class_names: Sequence[str] | None = None,
                       size: tuple[float, float] = (4.0, 3.0), dpi: int = 80) -> list[np.ndarray]:
    """Frames of a bar chart of cumulative output spike counts per class up to each time bin.

    ``spikes`` ``[T, C]`` (one sample's output spikes, or per-class spikes of a population code) -
    the animation ``snntorch.spikeplot.spike_count`` makes, drawn without ffmpeg. The y axis is fixed
    to the final counts so bars grow from frame to frame.
    """
    from matplotlib.figure import Figure

    spikes = torch.as_tensor(spikes, dtype=torch.float32).cpu().numpy()
    if spikes.ndim != 2:
        raise ValueError(f"expected spikes [T, C], got shape {spikes.shape}")
    counts = spikes.cumsum(0)
    names = list(class_names) if class_names is not None else [str(c) for c in range(spikes.shape[1])]
    if len(names) != spikes.shape[1]:
        raise ValueError(f"{len(names)} class names for {spikes.shape[1]} outputs")
    top = max(float(counts[-1].max()), 1.0) * 1.1
    frames = []
    for t in range(len(counts)):
        fig = Figure(figsize=size, dpi=dpi)
        ax = fig.add_subplot()
        leader = int(counts[t].argmax())
        colors = ["tab:orange" if c == leader and counts[t, c] > 0 else "tab:blue" for c in range(len(names))]
        ax.bar(range(len(names)), counts[t], color=colors)
        ax.set_xticks(range(len(names)), names, fontsize=7, rotation=45 if max(map(len, names)) > 2 else 0)
        ax.set_ylim(0, top)
        ax.set_ylabel("spike count")
        ax.set_title(f"time bin {t + 1}/{len(counts)}", fontsize=9)
        fig.tight_layout()
        frames.append(figure_to_array(fig))
    return frames


def gradcam_frames(clip, per_bin_cams: np.ndarray, predicted: int, true: int | None = None,
                   spikes=None, class_names: Sequence[str] | None = None, population_size: int = 1,
                   scale: int = 8, weight: float = 0.5) -> list[np.ndarray]:
    """One frame per time bin: the bin's input (polarities summed) with its Grad-CAM heatmap on top,
    upscaled ``scale`` times (nearest neighbour, so event pixels stay sharp), under a text band with
    the bin, predicted/true class and, given ``spikes`` ``[T, n_outputs]``, the running spike count of
    the predicted class (population groups summed)."""
    from .gradcam import event_frame, overlay

    clip = torch.as_tensor(clip, dtype=torch.float32).cpu()
    T = clip.shape[0]
    if len(per_bin_cams) != T:
        raise ValueError(f"{len(per_bin_cams)} heatmaps for a clip of {T} time bins")
    name = (lambda c: str(class_names[c])) if class_names is not None else str
    running = None
    if spikes is not None:
        spikes = torch.as_tensor(spikes, dtype=torch.float32).cpu()
        per_class = spikes.reshape(T, -1, population_size).sum(-1)      # [T, n_classes]
        running = per_class[:, predicted].cumsum(0).numpy()
    frames = []
    for t in range(T):
        image = overlay(event_frame(clip[t]), per_bin_cams[t], weight)
        image = cv2.resize(image, (image.shape[1] * scale, image.shape[0] * scale),
                           interpolation=cv2.INTER_NEAREST)
        lines = [f"bin {t + 1}/{T}  pred {name(predicted)}" + (f"  true {name(true)}" if true is not None else "")]
        if running is not None:
            lines.append(f"spikes for {name(predicted)}: {int(running[t])}")
        band = np.zeros((18 * len(lines) + 6, image.shape[1], 3), np.uint8)
        for i, line in enumerate(lines):
            cv2.putText(band, line, (4, 16 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                        cv2.LINE_AA)
        frames.append(np.concatenate([band, image]))
    return frames


def clip_videos(model, clip, label: int, per_bin_cams: np.ndarray, config, class_names: Sequence[str],
                fps: float = 5.0) -> tuple[Path, Path]:
    """The two videos of one test clip ``[T, C, H, W]``, written to ``videos/<run>-<profile>_*.mp4``:
    the output spike counts per class accumulating over time, and the per-bin Grad-CAM overlays."""
    population_size = getattr(model, "population_size", 1)
    with torch.no_grad():
        spikes = model(torch.as_tensor(clip, dtype=torch.float32).unsqueeze(1))[:, 0]   # [T, outputs]
    per_class = spikes.reshape(spikes.shape[0], -1, population_size).sum(-1)          # [T, classes]
    predicted = int(per_class.sum(0).argmax())                                        # most spikes overall
    spike_video = write_mp4(config.path("videos", "_spike_counts.mp4"),
                            spike_count_frames(per_class, class_names), fps)
    gradcam_video = write_mp4(config.path("videos", "_gradcam.mp4"),
                              gradcam_frames(clip, per_bin_cams, predicted, label, spikes, class_names,
                                             population_size), fps)
    return spike_video, gradcam_video

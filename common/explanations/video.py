"""MP4 videos of spiking networks at work: output spike counts and Grad-CAM over time.

Why these choices:
- Codec VP9 in MP4 (fourcc ``vp09``, what FFmpeg stores when asked for ``VP90``): the OpenCV wheel
  has no H.264 encoder, and ``mp4v`` (MPEG-4 Part 2) does not play in browsers or Jupyter. VP9 does.
- Frames must be uint8 RGB ``[H, W, 3]``: the source study wrote float frames in [0, 1], which
  OpenCV encoded without complaint and which decoded to noise. :func:`write_mp4` refuses them.
- Written atomically (common.files.atomic_file: temporary file in the same folder, then renamed,
  with the file mode of every other output), so a killed notebook never leaves a half-written video.
- Readable: at least 512 pixels on the short side, captions wrapped to fit, 3 time bins per second and
  the last frame held for 2 s; one colour scale per clip, with colour bars.
- Frames are rendered with matplotlib's Agg canvas and OpenCV only: no ffmpeg binary needed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from common.files import atomic_file
from common.networks.objectives import NO_DECISION, decided_argmax

FOURCC = "vp09"
FPS = 3.0          # time bins per second: slow enough to follow each bin
HOLD_LAST = 2.0    # seconds the last frame stays, to read the final state


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


def write_mp4(path: str | Path, frames, fps: float = FPS, hold_last: float = 0.0) -> Path:
    """Write RGB uint8 frames ``[H, W, 3]`` to ``path`` as VP9 MP4, atomically. Returns the path.

    ``hold_last`` seconds repeat the last frame, so a reader can read the final state before the
    player stops or loops. Odd widths/heights are padded by one black pixel (VP9 needs even sizes).
    """
    frames = [pad_to_even(f) for f in check_frames(frames)]
    frames += [frames[-1]] * int(round(hold_last * fps))
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"{path}: the file name must end in .mp4")
    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / path.name         # OpenCV picks the container from the .mp4 suffix
        writer = cv2.VideoWriter(str(candidate), cv2.VideoWriter_fourcc(*FOURCC), float(fps), (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV could not open a VP9 MP4 writer for {path} "
                               f"(opencv-python-headless {cv2.__version__}).")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        if os.path.getsize(candidate) == 0:
            raise RuntimeError(f"OpenCV wrote an empty file for {path}")
        if path.is_file() and same_video(candidate, path):
            return path          # the same pictures (another CPU's last bit aside): the file stays as it was
        with atomic_file(path, suffix=".mp4") as tmp:
            shutil.copyfile(candidate, tmp)
    return path


def same_video(a: str | Path, b: str | Path, tolerance: int = 2, share: float = 1e-4) -> bool:
    """Whether two videos show the same pictures: as many frames of one size, and at most ``share`` of their
    pixel values more than ``tolerance`` levels apart. A re-render on another CPU moves a Grad-CAM value in its
    last bits, and the encoder then a handful of pixels (measured: 5 in a million values by more than 2)."""
    first, second = read_mp4(a), read_mp4(b)
    if len(first) != len(second) or any(x.shape != y.shape for x, y in zip(first, second)):
        return False
    apart = sum(int((np.abs(x.astype(int) - y.astype(int)) > tolerance).sum()) for x, y in zip(first, second))
    return apart <= share * sum(x.size for x in first)


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


def caption(text: str, width: int) -> str:
    """``text`` wrapped at ``width`` characters, so a long class name never runs off the frame."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=True))


def class_label(names: Sequence[str] | None, c: int) -> str:
    """The class's name (its index without names), or what a silent or tied output means."""
    if c == NO_DECISION:
        return "no decision (silent or tied)"
    return str(names[c]) if names is not None else str(c)


def spike_count_frames(spikes, class_names: Sequence[str] | None = None, true: int | None = None,
                       size: tuple[float, float] = (8.0, 5.4), dpi: int = 100) -> list[np.ndarray]:
    """Frames of a bar chart of cumulative output spike counts per class up to each time bin.

    ``spikes`` ``[T, C]`` (one sample's output spikes, or per-class spikes of a population code) -
    the animation ``snntorch.spikeplot.spike_count`` makes, drawn without ffmpeg. The y axis is fixed
    to the final counts so bars grow from frame to frame; the leader so far is orange (none while the
    output is silent or tied), the true class's bar is outlined. 800 x 540 pixels by default.
    """
    from matplotlib.figure import Figure

    spikes = torch.as_tensor(spikes, dtype=torch.float32).cpu()
    if spikes.ndim != 2:
        raise ValueError(f"expected spikes [T, C], got shape {tuple(spikes.shape)}")
    counts = spikes.cumsum(0)
    names = list(class_names) if class_names is not None else [str(c) for c in range(spikes.shape[1])]
    if len(names) != spikes.shape[1]:
        raise ValueError(f"{len(names)} class names for {spikes.shape[1]} outputs")
    leaders = decided_argmax(counts).tolist()
    top = max(float(counts[-1].max()), 1.0) * 1.15
    frames = []
    for t in range(len(counts)):
        fig = Figure(figsize=size, dpi=dpi)
        ax = fig.add_subplot()
        colors = ["tab:orange" if c == leaders[t] else "tab:blue" for c in range(len(names))]
        bars = ax.bar(range(len(names)), counts[t].numpy(), color=colors)
        if true is not None:
            bars[true].set_edgecolor("black")
            bars[true].set_linewidth(2.5)
        short = max(map(len, names)) <= 3   # digits stay upright, gesture names lean
        ax.set_xticks(range(len(names)), [caption(n, 12) for n in names], fontsize=10,
                      rotation=0 if short else 30, ha="center" if short else "right")
        ax.set_ylim(0, top)
        ax.set_ylabel("output spikes so far", fontsize=11)
        text = f"time bin {t + 1}/{len(counts)}   leading: {class_label(names, leaders[t])}"
        if true is not None:
            text += f"   true: {names[true]} (outlined)"
        ax.set_title(caption(text, 80), fontsize=12)
        fig.tight_layout()
        frames.append(figure_to_array(fig))
    return frames


def gradcam_frames(clip, per_bin_cams: np.ndarray, predicted: int, true: int | None = None,
                   spikes=None, class_names: Sequence[str] | None = None, population_size: int = 1,
                   size: tuple[float, float] = (12.0, 5.2), dpi: int = 100,
                   recording: str | None = None) -> list[np.ndarray]:
    """One frame per time bin, three panels side by side: the bin's input events (polarities
    summed), its Grad-CAM heatmap with a colour bar, and the heatmap over the events; a caption with
    the bin, predicted and true class and, given ``spikes`` ``[T, n_outputs]``, the running spike
    count of the predicted class (population groups summed). The caption names the class leading in the output
    spikes *so far* and says "no decision yet" while the output is silent or tied, whatever the final answer.
    Events: one square-root scale for the clip, topped at the 99th percentile of its non-zero counts (a few hot pixels
    at the top of a linear scale left DVS_Sign's bins black). Heat: each bin's map divided by its own peak, so every
    bin where the network responded shows its heat (a clip-wide scale left most bins dark: #44); the frame states it
    and how strong the bin's peak is against the clip's. A flat map (no place above another: no gradient reached the
    layer in that bin) is drawn as no heat and said so, never as a frame of peak colour.
    ``recording`` names the clip on the frame. 1200 x 520 pixels by default."""
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure

    from common.explanations.gradcam import event_frame, overlay

    clip = torch.as_tensor(clip, dtype=torch.float32).cpu()
    T = clip.shape[0]
    if len(per_bin_cams) != T:
        raise ValueError(f"{len(per_bin_cams)} heatmaps for a clip of {T} time bins")
    running, leaders = None, None
    if spikes is not None:
        per_class = torch.as_tensor(spikes, dtype=torch.float32).cpu().reshape(T, -1, population_size).sum(-1)
        leaders = decided_argmax(per_class.cumsum(0)).tolist()            # NO_DECISION while silent or tied
        if predicted != NO_DECISION:
            running = per_class[:, predicted].cumsum(0).numpy()
    events = np.stack([event_frame(clip[t]) for t in range(T)])
    counted = events[events > 0]
    event_max = max(float(np.percentile(counted, 99)) if counted.size else 1.0, 1.0)
    clip_max = max(float(np.max(per_bin_cams)), 1e-7)
    frames = []
    for t in range(T):
        cam = np.asarray(per_bin_cams[t], dtype=np.float64)
        peak = float(cam.max())
        cam_max = max(peak, 1e-7)                                       # this bin's own peak
        flat = float(np.ptp(cam)) <= 1e-3 * cam_max
        if flat:
            cam = np.zeros_like(cam)
        fig = Figure(figsize=size, dpi=dpi)
        axes = fig.subplots(1, 3)
        shown = axes[0].imshow(events[t], cmap="gray", norm=PowerNorm(0.5, vmin=0, vmax=event_max),
                               interpolation="nearest")
        fig.colorbar(shown, ax=axes[0], fraction=0.046, pad=0.03).set_label(
            "events in this bin (square root;\ntopped at the clip's 99th percentile)", fontsize=9)
        heat = axes[1].imshow(cam, cmap="jet", norm=PowerNorm(0.5, vmin=0, vmax=cam_max), interpolation="nearest")
        fig.colorbar(heat, ax=axes[1], fraction=0.046, pad=0.03).set_label(
            "this bin's map is flat: no heat\n(no place stands out)" if flat else
            f"Grad-CAM, scaled to this bin's peak\n(= {peak / clip_max:.0%} of the clip's; "
            "square-root colours)", fontsize=9)
        axes[2].imshow(overlay(np.sqrt(np.clip(events[t] / event_max, 0, 1)), np.sqrt(np.clip(cam / cam_max, 0, 1))),
                       interpolation="nearest")
        for ax, title in zip(axes, ("input events", "Grad-CAM", "Grad-CAM over the events")):
            ax.set_title(title, fontsize=12)
            ax.set_xticks([])
            ax.set_yticks([])
        so_far = ("" if leaders is None else "   leading so far: " + (
            "no decision yet" if leaders[t] == NO_DECISION else class_label(class_names, leaders[t])))
        text = ((f"{recording}   " if recording else "")
                + f"time bin {t + 1}/{T}{so_far}   final answer: {class_label(class_names, predicted)}"
                + (f"   true: {class_label(class_names, true)}" if true is not None else "")
                + (f"   spikes for the predicted class so far: {int(running[t])}" if running is not None else ""))
        fig.suptitle(caption(text, 110), fontsize=13)
        fig.tight_layout()
        frames.append(figure_to_array(fig))
    return frames


def clip_videos(model, clip, label: int, per_bin_cams: np.ndarray, config, class_names: Sequence[str],
                fps: float = FPS, hold_last: float = HOLD_LAST, recording: str | None = None) -> tuple[Path, Path]:
    """The two videos of one test clip ``[T, C, H, W]``, written to ``videos/<run>-<profile>_*.mp4``:
    the output spike counts per class accumulating over time, and the per-bin Grad-CAM panels."""
    population_size = getattr(model, "population_size", 1)
    with torch.no_grad():
        spikes = model(torch.as_tensor(clip, dtype=torch.float32).unsqueeze(1))[:, 0]   # [T, outputs]
    per_class = spikes.reshape(spikes.shape[0], -1, population_size).sum(-1)          # [T, classes]
    predicted = int(decided_argmax(per_class.sum(0)))                                 # or NO_DECISION
    spike_video = write_mp4(config.path("videos", "_spike_counts.mp4"),
                            spike_count_frames(per_class, class_names, true=label), fps, hold_last)
    gradcam_video = write_mp4(config.path("videos", "_gradcam.mp4"),
                              gradcam_frames(clip, per_bin_cams, predicted, label, spikes, class_names,
                                             population_size, recording=recording), fps, hold_last)
    return spike_video, gradcam_video


def compare_over_time(configs: dict, data, index: int = 0) -> None:
    """Grad-CAM over time of several runs' saved models (``{label: run config}``) on the same test clip
    (``data.test``), each explaining the clip's true class: one row of per-bin maps per model."""
    from common.explanations.gradcam import grad_cam_over_time, plot_grad_cam_over_time
    from common.runs.checkpoint import load_run_model

    clip, label = data.test.frames[index].float(), int(data.test.labels[index])
    for name, config in configs.items():
        model, _ = load_run_model(config, "cpu")
        plot_grad_cam_over_time(clip, *grad_cam_over_time(model, clip, target_class=label),
                                title=f"{name}: test clip of '{class_label(data.test.classes, label)}', "
                                      "Grad-CAM per time bin")


def explain_test_clip(config, data, index: int | None = None) -> tuple[Path, Path]:
    """Notebook 02's last steps for any spiking run: reopen its saved model, plot Grad-CAM over time of one
    test clip (``data.test``, frames ``[T, C, H, W]``) it answers correctly (:func:`answered_correctly`, from
    ``index``, by default a place set by the run's name) and write both videos of that clip, the recording named."""
    from common.explanations.gradcam import grad_cam_over_time, plot_grad_cam_over_time
    from common.runs.checkpoint import load_run_model

    import zlib

    saved, _ = load_run_model(config, "cpu")
    if index is None:        # each run its own recording, the same on every render (not all videos of one clip)
        index = zlib.crc32(config.run_name.encode()) % len(data.test.labels)
    index = answered_correctly(saved, data.test, index)
    clip, label = data.test.frames[index].float(), int(data.test.labels[index])
    per_bin, whole_clip = grad_cam_over_time(saved, clip)
    recording = f"test recording #{index} ('{class_label(data.test.classes, label)}')"
    print(f"{config.run_name}: {recording}, which the model answers correctly")
    plot_grad_cam_over_time(clip, per_bin, whole_clip, title=f"{config.run_name}, {recording}: Grad-CAM per time bin")
    return clip_videos(saved, clip, label, per_bin, config, data.test.classes, recording=recording)


def answered_correctly(model, test, start: int = 0, limit: int = 200) -> int:
    """The first test clip from ``start`` on (wrapping) that ``model`` answers correctly (a decided, right class),
    so a video never explains a silent or wrong answer; ``start`` itself when none of ``limit`` clips is."""
    population_size = getattr(model, "population_size", 1)
    n = len(test.labels)
    for k in range(min(limit, n)):
        i = (start + k) % n
        with torch.no_grad():
            spikes = model(test.frames[i].float().unsqueeze(1))[:, 0]
        answer = int(decided_argmax(spikes.reshape(spikes.shape[0], -1, population_size).sum(-1).sum(0)))
        if answer == int(test.labels[i]):
            return i
    return start

"""common/explanations/video.py: every written video is decoded again and checked frame by frame."""
import numpy as np
import pytest
import torch

from common.explanations.video import gradcam_frames, read_mp4, show_video, spike_count_frames, write_mp4


def moving_bar(n=8, height=48, width=64):
    frames = []
    for i in range(n):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, i * 6:i * 6 + 8] = (255, 200, 0)
        frames.append(frame)
    return frames


def assert_plays(path, n_frames, height, width):
    decoded = read_mp4(path)
    assert len(decoded) == n_frames
    assert all(f.shape == (height, width, 3) for f in decoded)
    assert all(f.std() > 1 for f in decoded)                            # not blank
    assert not np.array_equal(decoded[0], decoded[-1])                  # not one frame repeated
    return decoded


def test_write_mp4_round_trip_and_leaves_no_temp_file(tmp_path):
    frames = moving_bar()
    path = write_mp4(tmp_path / "bar.mp4", frames, fps=4)
    decoded = assert_plays(path, 8, 48, 64)
    # the bar is where it was written (VP9 is lossy, so compare coarsely)
    assert decoded[3][:, 18:26].mean() > 100 and decoded[3][:, 40:].mean() < 20
    assert [p.name for p in tmp_path.iterdir()] == ["bar.mp4"]


def test_write_mp4_pads_odd_sizes(tmp_path):
    # VP9 needs even sizes; unpadded, OpenCV silently wrote a cropped 64x48 video here
    assert_plays(write_mp4(tmp_path / "odd.mp4", moving_bar(height=47, width=63)), 8, 48, 64)


def test_write_mp4_rejects_float_and_misshaped_frames(tmp_path):
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(path, [f.astype(np.float32) / 255 for f in moving_bar()])
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        write_mp4(path, [np.zeros((48, 64), np.uint8)])
    with pytest.raises(ValueError, match="one size"):
        write_mp4(path, [np.zeros((48, 64, 3), np.uint8), np.zeros((32, 64, 3), np.uint8)])
    with pytest.raises(ValueError, match="no frames"):
        write_mp4(path, [])
    with pytest.raises(ValueError, match=".mp4"):
        write_mp4(tmp_path / "bad.avi", moving_bar())
    assert list(tmp_path.iterdir()) == []


def test_spike_count_video_grows_bars(tmp_path):
    T, C = 6, 4
    spikes = torch.zeros(T, C)
    spikes[:, 2] = 1                    # class 2 fires every bin
    spikes[::2, 0] = 1
    frames = spike_count_frames(spikes, ["a", "b", "c", "d"], true=2)
    assert len(frames) == T and frames[0].dtype == np.uint8 and frames[0].ndim == 3
    assert min(frames[0].shape[:2]) >= 512
    assert not np.array_equal(frames[0], frames[-1])
    height, width = frames[0].shape[:2]
    assert_plays(write_mp4(tmp_path / "counts.mp4", frames, fps=3), T, height + height % 2, width + width % 2)


def test_gradcam_video_frames(tmp_path):
    T = 5
    clip = torch.zeros(T, 2, 34, 34)
    cams = np.zeros((T, 34, 34), np.float32)
    for t in range(T):
        clip[t, :, 10:20, 4 + 5 * t:12 + 5 * t] = 1
        cams[t, 8:22, 2 + 5 * t:14 + 5 * t] = 1
    spikes = torch.zeros(T, 20)
    spikes[:, 6:8] = 1                  # population code, 2 neurons per class: class 3 gets 2 per bin
    names = [f"a very long gesture name number {c}" for c in range(10)]
    frames = gradcam_frames(clip, cams, predicted=3, true=3, spikes=spikes, population_size=2, class_names=names)
    assert len(frames) == T
    height, width = frames[0].shape[:2]
    assert min(height, width) >= 512 and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[-1])
    path = write_mp4(tmp_path / "cam.mp4", frames, fps=3, hold_last=1.0)
    assert_plays(path, T + 3, height + height % 2, width + width % 2)        # 1 s hold: 3 more frames
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())   # not mkstemp's 0600
    silent = gradcam_frames(clip, cams, predicted=-1, true=3, spikes=torch.zeros(T, 20), class_names=names)
    assert len(silent) == T
    with pytest.raises(ValueError, match="heatmaps"):
        gradcam_frames(clip, cams[:3], predicted=3)


def current_umask():
    import os
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_captions_wrap_instead_of_running_off_the_frame():
    from common.explanations.video import caption
    text = caption("time bin 3/25   predicted: Left arm counter clockwise   true: Right arm clockwise", 40)
    assert all(len(line) <= 40 for line in text.splitlines()) and "clockwise" in text.splitlines()[-1]


def test_show_video_embeds(tmp_path):
    path = write_mp4(tmp_path / "bar.mp4", moving_bar())
    video = show_video(path, width=200)
    assert "data:video/mp4;base64" in video._repr_html_()


def test_a_rerender_with_the_same_pictures_leaves_the_file_as_it_was(tmp_path):
    import numpy as np

    from common.explanations.video import write_mp4

    frames = [np.full((16, 16, 3), 40 * i, dtype=np.uint8) for i in range(5)]
    path = write_mp4(tmp_path / "a.mp4", frames)
    before = path.read_bytes()
    nudged = [f.copy() for f in frames]
    nudged[2][0, 0, 0] += 1                              # one value one level up: the same picture
    write_mp4(path, nudged)
    assert path.read_bytes() == before
    changed = [np.full((16, 16, 3), 255 - 40 * i, dtype=np.uint8) for i in range(5)]
    write_mp4(path, changed)                             # another picture: written
    assert path.read_bytes() != before


def test_gradcam_captions_say_no_decision_yet_while_the_output_is_silent_and_heat_is_scaled_per_bin(monkeypatch):
    """Bins 1-2 silent, class 3 from bin 3: the caption says "no decision yet" there, names 3 after, and names the
    recording; a bin with a tenth of the clip's heat is drawn at full scale, its share stated."""
    from common.explanations import video

    texts = []
    original = video.caption
    monkeypatch.setattr(video, "caption", lambda text, width: texts.append(text) or original(text, width))
    T = 4
    clip = torch.ones(T, 2, 34, 34)
    cams = np.zeros((T, 34, 34), np.float32)
    cams[:, 10:20, 10:20] = [[[1.0]], [[0.1]], [[0.5]], [[1.0]]]
    spikes = torch.zeros(T, 10)
    spikes[2:, 3] = 1
    frames = video.gradcam_frames(clip, cams, predicted=3, true=3, spikes=spikes, recording="test recording #7")
    captions = [t for t in texts if t.startswith("test recording #7")]
    assert len(captions) == T
    assert "leading so far: no decision yet" in captions[0] and "leading so far: no decision yet" in captions[1]
    assert "leading so far: 3" in captions[2] and "final answer: 3" in captions[0]
    # bin 2 (a tenth of the clip's peak) is as bright in the heat panel as bin 1: each bin to its own peak
    middle = lambda f: f[200:320, 470:610].astype(int)             # inside the heat panel, away from its labels
    assert np.abs(middle(frames[0]) - middle(frames[1])).mean() < 3


def test_a_flat_map_is_drawn_as_no_heat_and_sparse_events_stay_visible_beside_a_hot_pixel():
    """A bin whose map is one value everywhere (no gradient reached the layer) looks like a bin without heat, not a
    frame of peak colour; a bin of single events stays visible though one pixel elsewhere in the clip counts 200."""
    from common.explanations import video

    T = 3
    clip = torch.zeros(T, 2, 34, 34)
    clip[0, 0, ::3, ::3] = 1                        # 144 single events in bin 1
    clip[2, 0, 5, 5] = 200                          # one hot pixel in bin 3
    cams = np.zeros((T, 34, 34), np.float32)
    cams[0] = 1e-6                                  # flat
    cams[1, 10:20, 10:20] = 1.0
    frames = video.gradcam_frames(clip, cams, predicted=3, true=3)
    heat = lambda f: f[200:320, 470:610].astype(int)
    assert np.abs(heat(frames[0]) - heat(frames[2])).mean() < 3           # flat: as an all-zero map
    assert np.abs(heat(frames[0]) - heat(frames[1])).mean() > 30          # a real map differs from it
    r, g, b = heat(frames[0]).reshape(-1, 3).mean(0)
    assert b > r                                                          # the bottom of the jet scale, not its top
    events = frames[0][150:430, 30:310].astype(int).mean(-1)
    assert np.percentile(events, 95) > 100                                # the single events are visible

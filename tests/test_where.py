"""common/explanations/where.py on hand-made maps whose answers are known."""
import numpy as np
import pytest

from common.explanations.where import heat_sentence, measure, object_mask, peaks_on_grid_border


def square_image(size=10, top=3, side=4):
    image = np.zeros((1, 1, size, size), np.float32)
    image[0, 0, top:top + side, top:top + side] = 1.0                 # 16 ink pixels of 100
    return image


def test_a_map_on_the_object_scores_all_its_heat_there_and_points_at_it():
    mask = object_mask(square_image())
    on = np.zeros((1, 10, 10), np.float32)
    on[0, 4, 4] = 1.0
    on[0, 5, 5] = 0.5
    m = measure(on, mask)
    assert m["heat_on_object"][0] == 1.0 and m["pointing"][0] == 1.0
    assert m["object_share"][0] == pytest.approx(0.16)
    assert m["edge_distance"][0] == 4                                   # (4, 4) is 4 px from the top and left edges


def test_a_uniform_map_scores_the_objects_share_and_a_border_map_marks_the_border():
    mask = object_mask(square_image())
    flat = measure(np.ones((1, 10, 10), np.float32), mask)
    assert flat["heat_on_object"][0] == pytest.approx(0.16) and flat["pointing"][0] == pytest.approx(0.16)
    assert flat["border_heat"][0] == pytest.approx(flat["border_share"][0]) == pytest.approx(1 - 36 / 100)
    border = np.zeros((1, 10, 10), np.float32)
    border[0, 0, :] = 1.0
    b = measure(border, mask)
    assert b["heat_on_object"][0] == 0 and b["pointing"][0] == 0 and b["edge_distance"][0] == 0
    assert b["border_heat"][0] == 1.0


def test_clips_are_measured_bin_by_bin_and_bins_without_events_or_heat_are_left_out():
    clip = np.zeros((1, 3 * 2, 8, 8), np.float32)                     # 3 bins x 2 polarities
    clip[0, 0, 1, 1] = 2                                              # bin 0: one event at (1, 1)
    clip[0, 3, 6, 6] = 1                                              # bin 1: one OFF event at (6, 6); bin 2: none
    mask = object_mask(clip, n_time_bins=3)
    assert mask.shape == (1, 3, 8, 8) and mask[0, 0, 1, 1] and mask[0, 1, 6, 6] and not mask[0, 2].any()
    per_bin = np.zeros((1, 3, 8, 8), np.float32)
    per_bin[0, 0, 1, 1] = 1.0                                          # right in bin 0
    per_bin[0, 1, 1, 1] = 1.0                                          # wrong in bin 1
    per_bin[0, 2, 4, 4] = 1.0                                          # bin 2 has no events: not counted
    assert measure(per_bin, mask)["pointing"][0] == 0.5
    whole = np.zeros((1, 8, 8), np.float32)                            # one map for every bin
    whole[0, 6, 6] = 1.0
    assert measure(whole, mask)["heat_on_object"][0] == 0.5
    assert np.isnan(measure(np.zeros((1, 8, 8), np.float32), mask)["pointing"][0])   # no heat anywhere


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="raw pixels in \\[0, 1\\]"):
        object_mask(square_image() - 0.5)
    with pytest.raises(ValueError, match="do not fit"):
        measure(np.ones((1, 9, 9)), object_mask(square_image()))
    with pytest.raises(ValueError, match="non-negative"):
        measure(-np.ones((1, 10, 10)), object_mask(square_image()))


def test_peaks_on_the_grid_border():
    grids = np.zeros((4, 5, 5), np.float32)
    grids[0, 0, 2] = grids[1, 4, 4] = grids[2, 2, 2] = 1.0            # two on the ring, one inside, one dark
    out = peaks_on_grid_border(grids)
    assert out["peak_on_grid_border"] == pytest.approx(2 / 3) and out["n"] == 3
    assert out["grid_border_share"] == pytest.approx(16 / 25)


def test_the_sentence_a_notebook_prints_states_the_measures_of_its_maps():
    """Notebook 01 prints this beside its gallery: a map on the ink and one on the border read differently."""
    image = square_image()
    on = np.zeros((1, 10, 10), np.float32)
    on[0, 4, 4] = 1.0
    border = np.zeros((1, 10, 10), np.float32)
    border[0, 0, 5] = 1.0
    said_on, said_border = heat_sentence(on, image, "Grad-CAM"), heat_sentence(border, image, "Grad-CAM")
    assert "Measured on 1 test samples: Grad-CAM puts 100% of its heat on the object (which covers 16% of" in said_on
    assert "its peak lies on the object in 100% of the maps and 4.0 px from the frame's edge" in said_on
    assert "puts 0% of its heat on the object" in said_border and "100% of its heat lies in the 2-pixel border" in said_border

"""The blob tasks of Cohen & Shashua (ICLR 2017): generator, scores, labels, loaders, cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy import ndimage

from dltheory.data import (
    BLOB_SIZE,
    BLOB_TASKS,
    Dataset,
    closedness_score,
    generate_blobs,
    load_closedness,
    load_pooling_task,
    load_symmetry,
    split_by_score,
    symmetry_score,
)
from dltheory.data import _blob_render as blob_render
from dltheory.data import _npz_cache as npz_cache
from dltheory.data import blobs as blobs_module

U = blobs_module._UNIFORMS


# ------------------------------------------------------------ the authors' recipe, image by image
def _authors_image(u: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], tuple[int, int, int]]:
    """One image by the steps of generate_blob.py (per image, scipy's rotate and zoom, np.roll),
    with its random draws read from the uniforms ``u`` in the order ``_render`` documents."""
    X, Y = np.meshgrid(range(32), range(32))
    b = int((2 ** (3.5 + 1.5 * u[0])) / 2)
    im = (((X - 15.5) / 16) ** 2 + ((Y - 15.5) / b) ** 2 < 1).astype(float)
    warp = (4 * u[1]) * np.sin((3 * (2 * np.pi / 32) * u[2]) * np.arange(32))
    for i in range(32):
        im[:, i] = np.roll(im[:, i], warp[i].astype(int))
    im = ndimage.rotate(im, 180.0 * u[3], reshape=False)
    log_side = 4 if u[4] < 0.5 else 5
    side = 2**log_side
    top = side * int(np.floor(u[5] * 2 ** (5 - log_side)))
    left = side * int(np.floor(u[6] * 2 ** (5 - log_side)))
    small = ndimage.zoom(im, 2 ** (log_side - 5))
    im[:] = 0.0
    im[top : top + side, left : left + side] = small
    p = 0.1 + 0.23 * u[7]
    grid = u[9:].reshape(32, 32)
    if u[8] < 0.5:
        mask = (grid[:side, : side // 2] < p).astype(int)
        mask = np.concatenate((mask, np.fliplr(mask)), axis=1)
    else:
        mask = (grid[:side, :side] < p).astype(int)
    im[top : top + side, left : left + side] *= 1 - mask
    return im > 0.1, (top, left, side)


def _authors_scores(im: np.ndarray[Any, Any], square: tuple[int, int, int]) -> tuple[float, float]:
    closed = ndimage.binary_closing(np.pad(im, (1,), "constant", constant_values=False))
    closed = closed[1:33, 1:33]
    t, le, s = square
    sq = im[t : t + s, le : le + s]
    return float(im.sum() / closed.sum()), float((sq & np.fliplr(sq)).sum() / sq.sum())


def test_render_is_the_authors_recipe_image_by_image() -> None:
    u = np.random.default_rng(5).random((80, U))
    images, squares = blobs_module._render(u)
    assert images.shape == (80, 32, 32) and images.dtype == np.bool_
    assert squares.shape == (80, 3)
    for j in range(80):
        im, sq = _authors_image(u[j])
        assert np.array_equal(images[j], im), j
        assert tuple(squares[j]) == sq
        c, s = _authors_scores(im, sq)
        assert blobs_module._closedness(images[j : j + 1])[0] == c
        assert blobs_module._symmetry(images[j : j + 1], squares[j : j + 1])[0] == s
    # both sides, both kinds of drop mask were drawn
    assert set(squares[:, 2]) == {16, 32}
    assert 0 < np.sum(u[:, 8] < 0.5) < 80


def test_batched_rotate_and_zoom_are_scipys() -> None:
    rng = np.random.default_rng(1)
    x = (rng.random((6, 32, 32)) < 0.5).astype(float)
    angles = rng.uniform(0, 180, 6)
    rot = blob_render._rotate(x, angles)
    a = blob_render._zoom_matrix()
    for i in range(6):
        ref = ndimage.rotate(x[i], angles[i], reshape=False)
        np.testing.assert_allclose(rot[i], ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a @ rot[i] @ a.T, ndimage.zoom(rot[i], 0.5), rtol=0, atol=1e-12)


# ------------------------------------------------------------ the generator
def test_generate_shapes_dtypes_and_ranges() -> None:
    images, closed, sym, squares = generate_blobs(60, seed=2)
    assert images.shape == (60, BLOB_SIZE, BLOB_SIZE) and images.dtype == np.bool_
    assert closed.shape == sym.shape == (60,) and closed.dtype == sym.dtype == np.float64
    assert squares.shape == (60, 3) and squares.dtype == np.int64
    assert images.any(axis=(1, 2)).all()  # none empty
    assert np.all((closed > 0) & (closed <= 1)) and np.all((sym >= 0) & (sym <= 1))
    for im, (t, le, s) in zip(images, squares, strict=True):
        assert s in (16, 32) and t % s == 0 and le % s == 0
        outside = im.copy()
        outside[t : t + s, le : le + s] = False
        assert not outside.any()  # the blob lies in its square
    # the returned arrays are fresh, writable copies
    images[:] = False
    assert generate_blobs(60, seed=2)[0].any()


def test_same_seed_same_images_and_prefixes() -> None:
    a = generate_blobs(40, seed=3)
    b = generate_blobs(40, seed=3)
    long = generate_blobs(300, seed=3)  # beyond one chunk of attempts
    for x, y, z in zip(a, b, long, strict=True):
        assert np.array_equal(x, y)
        assert np.array_equal(x, z[:40])
    other = generate_blobs(40, seed=4)
    assert not np.array_equal(a[0], other[0])


def test_images_do_not_depend_on_the_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = blobs_module._generate.__wrapped__(300, 7)
    monkeypatch.setattr(blobs_module, "_CHUNK", 100)
    rechunked = blobs_module._generate.__wrapped__(300, 7)
    for x, y in zip(reference, rechunked, strict=True):
        assert np.array_equal(x, y)


def test_empty_images_are_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    blank = {0, 5, 6, 299}  # attempts whose drop mask drops every pixel

    render = blobs_module._render
    rows = np.arange(blobs_module._CHUNK)
    seen = [0]

    def blanking(u: np.ndarray[Any, Any]) -> Any:
        u = u.copy()
        attempt = seen[0] + rows
        u[np.isin(attempt, list(blank)), blob_render._PARAMS :] = 0.0  # 0 < p: all dropped
        seen[0] += len(u)
        images, squares = render(u)
        assert not images[np.isin(attempt, list(blank))].any()
        return images, squares

    reference = blobs_module._generate.__wrapped__(300, 11)  # attempts 0 .. 299, none empty
    monkeypatch.setattr(blobs_module, "_render", blanking)
    redrawn = blobs_module._generate.__wrapped__(296, 11)
    keep = [j for j in range(300) if j not in blank]  # the blank ones skipped, none reused
    for x, y in zip(redrawn, reference, strict=True):
        assert np.array_equal(x, y[keep])
    assert redrawn[0].any(axis=(1, 2)).all()


# ------------------------------------------------------------ the scores
def _closing_by_hand(im: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Dilation then erosion with the 3x3 cross, by loops, on a blank border of one pixel."""
    h, w = im.shape
    p = np.zeros((h + 2, w + 2), dtype=bool)
    p[1:-1, 1:-1] = im
    cross = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]

    def at(a: np.ndarray[Any, Any], r: int, c: int) -> bool:
        return bool(a[r, c]) if 0 <= r < h + 2 and 0 <= c < w + 2 else False

    dil = np.array(
        [
            [any(at(p, r + dr, c + dc) for dr, dc in cross) for c in range(w + 2)]
            for r in range(h + 2)
        ]
    )
    ero = np.array(
        [
            [all(at(dil, r + dr, c + dc) for dr, dc in cross) for c in range(w + 2)]
            for r in range(h + 2)
        ]
    )
    return ero[1:-1, 1:-1]


def test_closedness_matches_a_closing_by_hand() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((12, 9, 7)) < 0.6
    images[:, 4, 3] = True  # none empty
    expected = [im.sum() / _closing_by_hand(im).sum() for im in images]
    np.testing.assert_allclose(closedness_score(images), expected, rtol=0, atol=1e-15)


def test_closedness_of_hand_made_shapes() -> None:
    block = np.zeros((12, 12), dtype=bool)
    block[3:9, 3:9] = True  # a solid 6x6 block: its own closing
    assert closedness_score(block) == 1.0
    holed = block.copy()
    holed[4, 4] = holed[6, 7] = holed[7, 4] = False  # three isolated one-pixel holes
    assert closedness_score(holed) == pytest.approx(33 / 36, abs=1e-15)
    # a closed ring (walls 2 wide): the closing fills only the 4 inner corners of its hole
    ring = np.zeros((14, 14), dtype=bool)
    ring[2:12, 2:12] = True
    ring[4:10, 4:10] = False
    # an open C: the same ring cut through its right wall; one cross closing does not
    # bridge the cut (a pixel is filled only when its 4 neighbours are), so the score
    # measures holes and dents, not topology
    c_shape = ring.copy()
    c_shape[6:8, 10:12] = False
    # the ring with one pixel dropped inside a wall 3 wide: a hole the closing fills
    thick = np.zeros((14, 14), dtype=bool)
    thick[1:13, 1:13] = True
    thick[4:10, 4:10] = False
    dropped = thick.copy()
    dropped[2, 6] = False
    scores = closedness_score(np.stack([ring, c_shape, thick, dropped]))
    assert scores.shape == (4,)
    np.testing.assert_allclose(scores, [64 / 68, 60 / 64, 108 / 112, 107 / 112], rtol=0, atol=1e-15)
    assert scores[0] > scores[1] and scores[2] > scores[3]
    assert closedness_score(c_shape.astype(np.float32)) == scores[1]  # 0/1 floats welcome
    assert closedness_score(torch.from_numpy(c_shape)) == scores[1]


def test_symmetry_of_hand_made_shapes() -> None:
    im = np.zeros((32, 32), dtype=bool)
    im[20:26, 16:32] = (
        np.array([[1, 0, 1, 1, 0, 0, 1, 0] * 2]) == 1
    )  # on in the right-bottom square
    im[20:26, 24:32] = im[20:26, 16:24][:, ::-1]  # symmetric within the square, not the image
    inner = (16, 16, 16)
    assert symmetry_score(im, np.array(inner)) == 1.0
    assert symmetry_score(im) < 1.0  # mirrored about the image's centre instead
    lop = im.copy()
    lop[20, 16] = False  # one pixel without its mirror image
    expected = (im.sum() - 2) / (im.sum() - 1)
    assert symmetry_score(lop, np.array(inner)) == pytest.approx(expected, abs=1e-15)
    assert symmetry_score(np.stack([im, lop]), np.array([inner, inner])).tolist() == [
        1.0,
        pytest.approx(expected),
    ]


def test_a_mirrored_drop_mask_on_a_symmetric_blob_scores_one() -> None:
    u = np.random.default_rng(9).random((40, U))
    u[:, 1] = 0.0  # no warp
    u[:, 3] = 0.0  # no rotation: the ellipse is left-right symmetric
    u[:, 4] = 0.75  # squares of side 32 (those of side 16 lose their last column, below)
    u[:20, 8] = 0.25  # mirrored drop mask
    u[20:, 8] = 0.75  # independent drop mask
    images, squares = blobs_module._render(u)
    sym = symmetry_score(images, squares)
    assert np.all(sym[:20] == 1.0)
    assert np.all(sym[20:] < 1.0)


def test_squares_of_side_16_keep_scipys_blank_last_row_and_column() -> None:
    """scipy.ndimage.zoom(x, 0.5) of a 32x32 image samples the last row and column at
    15 * (31 / 15) = 31.000000000000004, outside the image, so they come out 0 (mode
    'constant'); the authors' call to zoom does the same, and so do we."""
    assert np.all(ndimage.zoom(np.ones((32, 32)), 0.5)[-1] == 0)
    images, _, _, squares = generate_blobs(200, seed=8)
    small = squares[:, 2] == 16
    assert 50 < small.sum() < 150
    for im, (t, le, s) in zip(images[small], squares[small], strict=True):
        assert not im[t + s - 1, le : le + s].any() and not im[t : t + s, le + s - 1].any()
    # the first row and column are drawn (an ellipse of full width reaches column 0)
    assert any(im[t : t + s, le].any() for im, (t, le, s) in zip(images, squares, strict=True))


def test_generated_scores_are_the_direct_definitions() -> None:
    images, closed, sym, squares = generate_blobs(30, seed=5)
    for j in range(30):
        c, s = _authors_scores(images[j], tuple(int(v) for v in squares[j]))  # type: ignore[arg-type]
        assert closed[j] == c and sym[j] == s
    assert np.array_equal(closedness_score(images), closed)
    assert np.array_equal(symmetry_score(images, squares), sym)


# ------------------------------------------------------------ labels
def _authors_labels(scores: list[float]) -> dict[int, int]:
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    k = int(len(scores) * 0.4)
    return {
        **{order[o]: 0 for o in range(k)},
        **{order[o]: 1 for o in range(len(scores) - k, len(scores))},
    }


@pytest.mark.parametrize("n", [3, 5, 10, 37, 250])
def test_split_keeps_40_percent_per_label_in_order(n: int) -> None:
    rng = np.random.default_rng(n)
    scores = np.round(rng.random(n), 1)  # many ties
    index, labels = split_by_score(scores)
    k = int(0.4 * n)
    assert len(index) == 2 * k and np.sum(labels == 0) == k and np.sum(labels == 1) == k
    assert np.all(np.diff(index) > 0)  # the original order
    dropped = np.setdiff1d(np.arange(n), index)
    low, high = scores[index[labels == 0]], scores[index[labels == 1]]
    assert low.max() <= high.min()
    if dropped.size:
        assert low.max() <= scores[dropped].min() and scores[dropped].max() <= high.min()
    assert dict(zip(index.tolist(), labels.tolist(), strict=True)) == _authors_labels(
        scores.tolist()
    )


def test_split_breaks_ties_by_order() -> None:
    index, labels = split_by_score(np.zeros(10))
    assert index.tolist() == [0, 1, 2, 3, 6, 7, 8, 9]
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    index, labels = split_by_score(torch.arange(10.0), fraction=0.5)
    assert index.tolist() == list(range(10)) and labels.tolist() == [0] * 5 + [1] * 5


# ------------------------------------------------------------ loaders
@pytest.mark.parametrize("task", BLOB_TASKS)
def test_load_is_the_stream_split_and_labelled_per_part(task: str) -> None:
    ds = load_pooling_task(task, num_train=50, num_test=20, seed=1)
    assert isinstance(ds, Dataset) and ds.name == f"blobs-{task}" and ds.num_classes == 2
    assert ds.x_train.shape == (40, 1, 32, 32) and ds.x_test.shape == (16, 1, 32, 32)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert set(torch.unique(ds.x_train).tolist()) == {0.0, 1.0}
    assert ds.y_train.bincount().tolist() == [20, 20] and ds.y_test.bincount().tolist() == [8, 8]
    images, closed, sym, _ = generate_blobs(70, seed=1)
    scores = closed if task == "closedness" else sym
    for part, lo, hi in (("train", 0, 50), ("test", 50, 70)):
        index, labels = split_by_score(scores[lo:hi])  # each part on its own scores
        x, y = getattr(ds, f"x_{part}"), getattr(ds, f"y_{part}")
        assert np.array_equal(x[:, 0].numpy() == 1, images[lo:hi][index])
        assert np.array_equal(y.numpy(), labels)
    assert "Cohen & Shashua" in ds.source and "\n" not in ds.source


def test_the_two_tasks_label_the_same_images_differently() -> None:
    a = load_closedness(num_train=40, num_test=10, seed=2)
    b = load_symmetry(num_train=40, num_test=10, seed=2)
    c = load_pooling_task("closedness", 40, 10, 2)
    assert torch.equal(a.x_train, c.x_train) and torch.equal(a.y_test, c.y_test)
    assert not torch.equal(a.x_train, b.x_train) or not torch.equal(a.y_train, b.y_train)
    a.x_train.zero_()  # in-place edits do not leak into later calls
    assert torch.equal(load_closedness(40, 10, seed=2).x_train, c.x_train)


# ------------------------------------------------------------ cache
def _equal(a: Dataset, b: Dataset) -> bool:
    fields = ("x_train", "y_train", "x_test", "y_test")
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in fields) and a.name == b.name


def test_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "new" / "cache"  # created when missing
    first = load_symmetry(30, 10, seed=3, cache_dir=folder)
    files = sorted(os.listdir(folder))
    assert len(files) == 1 and files[0].startswith("blobs-symmetry-") and files[0].endswith(".npz")

    def no_generation(*_: Any) -> Any:
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(blobs_module, "_labelled", no_generation)
    again = load_symmetry(30, 10, seed=3, cache_dir=str(folder))
    assert _equal(first, again)
    monkeypatch.undo()
    # other arguments, another task, another generator version: other files
    load_symmetry(30, 10, seed=4, cache_dir=folder)
    load_closedness(30, 10, seed=3, cache_dir=folder)
    monkeypatch.setattr(blobs_module, "BLOB_GENERATOR_VERSION", 99)
    load_symmetry(30, 10, seed=3, cache_dir=folder)
    assert len(os.listdir(folder)) == 4
    assert not [f for f in os.listdir(folder) if f.endswith(".tmp")]  # no temporary files left


def _corrupt(file: Path, how: str) -> None:
    data = file.read_bytes()
    if how == "truncated":
        file.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        file.write_bytes(b"not a cache file at all")
    elif how == "empty":
        file.write_bytes(b"")
    elif how == "flipped":  # one bit of the packed images, deep inside the file
        with np.load(file) as z:
            arrays = {k: np.array(z[k]) for k in z.files}
        arrays["x_train"][3, 7] ^= 1
        with open(file, "wb") as f:
            np.savez(f, **arrays)
    elif how == "other-parameters":  # a whole file, made for seed 6, under this name
        other = blobs_module._labelled("closedness", 30, 10, 6)
        meta = blobs_module.json.dumps(
            blobs_module._cache_key("closedness", 30, 10, 6), sort_keys=True
        )
        with open(file, "wb") as f:
            np.savez(f, meta=meta, checksum=npz_cache.checksum(meta, other), **other)


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "flipped", "other-parameters"])
def test_a_corrupt_cache_file_is_refused(tmp_path: Path, how: str) -> None:
    load_closedness(30, 10, seed=5, cache_dir=tmp_path)
    (file,) = tmp_path.iterdir()
    _corrupt(file, how)
    with pytest.raises(ValueError, match="cache_dir") as info:
        load_closedness(30, 10, seed=5, cache_dir=tmp_path)
    assert file.name in str(info.value) and "not used" in str(info.value)
    # still refused on the next call: nothing was silently rewritten
    with pytest.raises(ValueError, match="cache_dir"):
        load_closedness(30, 10, seed=5, cache_dir=tmp_path)


def test_a_cache_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ValueError, match="cache_dir"):
        load_closedness(30, 10, cache_dir=path)

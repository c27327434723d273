from __future__ import annotations

import hashlib
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnet.architectures import build_network
from nnet.errors import ParamsFileError, UnsafePickleError
from nnet.model import CLASS_NAMES, InputFormat, TrainedModel, TrainingMetadata
from nnet.params_file import FORMAT, FORMAT_VERSION, load_params, save_params

SPEC = {
    "input_shape": [784],
    "layers": [
        {"type": "Dense", "n_inputs": 784, "n_outputs": 16, "l2": 1e-4},
        {"type": "ReLU"},
        {"type": "Dropout", "rate": 0.2},
        {"type": "Dense", "n_inputs": 16, "n_outputs": 10, "init": "glorot"},
    ],
}


def make_model() -> TrainedModel:
    metadata = TrainingMetadata(
        arch="tiny",
        epochs=3,
        batch_size=32,
        seed=7,
        test_accuracy=0.5,
        created_at="2026-01-01T00:00:00+00:00",
        data_fingerprint="0123456789abcdef",
        extra={"train_seconds": 1.5, "warm_start_from": None},
    )
    fmt = InputFormat(offset=0.0, scale=255.0)
    return TrainedModel(build_network(SPEC, seed=3), CLASS_NAMES, fmt, metadata)


def envelope_of(path: Path) -> dict[str, Any]:
    envelope = pickle.loads(path.read_bytes())  # our own test file: trusted
    assert isinstance(envelope, dict)
    return envelope


def write_envelope(path: Path, payload: bytes, **changes: Any) -> None:
    envelope = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": payload,
        **changes,
    }
    path.write_bytes(pickle.dumps(envelope))


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    model = make_model()
    path = tmp_path / "m.pickle"
    digest = save_params(model, path)
    loaded = load_params(path)
    assert loaded.sha256 == digest == model.sha256
    assert loaded.class_names == CLASS_NAMES
    assert loaded.input_format == model.input_format
    assert loaded.metadata == model.metadata
    assert loaded.network.spec() == model.network.spec()
    for key, array in model.network.state().items():
        np.testing.assert_array_equal(loaded.network.state()[key], array)
        assert loaded.network.state()[key].dtype == np.float32
    X = np.random.default_rng(0).standard_normal((5, 784)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_saving_twice_gives_the_same_checksum(tmp_path: Path) -> None:
    model = make_model()
    assert save_params(model, tmp_path / "a") == save_params(model, tmp_path / "b")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamsFileError, match="not found") as error:
        load_params(tmp_path / "none.pickle")
    assert "fashiond train" in (error.value.hint or "")


@pytest.mark.parametrize("keep", [0, 1, 50, 2000])
def test_truncated_file(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "m.pickle"
    save_params(make_model(), path)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(ParamsFileError, match="truncated or corrupt"):
        load_params(path)


def test_flipped_byte_in_the_weights_fails_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "m.pickle"
    save_params(make_model(), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ParamsFileError, match="checksum does not match"):
        load_params(path)


def test_wrong_format_version(tmp_path: Path) -> None:
    path = tmp_path / "m.pickle"
    save_params(make_model(), path)
    write_envelope(path, envelope_of(path)["payload"], version=FORMAT_VERSION + 1)
    with pytest.raises(ParamsFileError, match=f"format version {FORMAT_VERSION + 1}"):
        load_params(path)


def test_not_a_parameters_file(tmp_path: Path) -> None:
    path = tmp_path / "m.pickle"
    path.write_bytes(pickle.dumps({"hello": "world"}))
    with pytest.raises(ParamsFileError, match="not a fashiond parameters file"):
        load_params(path)


def test_payload_with_a_valid_checksum_but_a_bad_spec(tmp_path: Path) -> None:
    path = tmp_path / "m.pickle"
    save_params(make_model(), path)
    payload = safe_payload(path)
    payload["architecture"]["layers"][0]["type"] = "Teleport"
    write_envelope(path, pickle.dumps(payload))
    with pytest.raises(ParamsFileError, match=r"corrupt.*Teleport"):
        load_params(path)


def test_class_names_that_do_not_match_the_outputs(tmp_path: Path) -> None:
    path = tmp_path / "m.pickle"
    save_params(make_model(), path)
    payload = safe_payload(path)
    payload["class_names"] = ["a", "b"]
    write_envelope(path, pickle.dumps(payload))
    with pytest.raises(ParamsFileError, match="10 outputs but 2 class names"):
        load_params(path)


def safe_payload(path: Path) -> dict[str, Any]:
    payload = pickle.loads(envelope_of(path)["payload"])
    assert isinstance(payload, dict)
    return payload


class _CreatesFile:
    """Unpickling this calls os.system; a safe loader must never get that far."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.target}",))


def test_outer_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"format": FORMAT, "x": _CreatesFile(target)}))
    with pytest.raises(UnsafePickleError, match="refused to load") as error:
        load_params(path)
    assert "system" in str(error.value)
    assert not target.exists()


def test_payload_that_would_run_code_is_refused_even_with_a_valid_checksum(
    tmp_path: Path,
) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    write_envelope(path, pickle.dumps({"architecture": _CreatesFile(target)}))
    with pytest.raises(UnsafePickleError):
        load_params(path)
    assert not target.exists()


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps([(np.array([None, 1], dtype=object), np.zeros(1))]))
    with pytest.raises(UnsafePickleError, match="Python objects"):
        load_params(path)


def test_original_projects_list_of_pairs_still_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pairs = [
        (rng.standard_normal((784, 8)), rng.standard_normal((1, 8))),
        (rng.standard_normal((8, 10)), np.zeros(10)),
    ]
    path = tmp_path / "legacy.pickle"
    path.write_bytes(pickle.dumps(pairs))
    model = load_params(path)
    assert model.metadata.arch == "legacy-mlp"
    assert model.network.predict(np.zeros((3, 784))).shape == (3,)


def test_failed_save_leaves_the_old_file_whole_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.pickle"
    save_params(make_model(), path)
    before = path.read_bytes()

    def disk_gone(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", disk_gone)
    model = make_model()
    model.network.layers[0].params["W"] += 1.0
    with pytest.raises(OSError):
        save_params(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pickle"]


def test_save_creates_the_folder_and_replaces_a_file(tmp_path: Path) -> None:
    path = tmp_path / "models" / "current.pickle"
    first = save_params(make_model(), path)
    model = make_model()
    model.network.layers[0].params["W"] *= 2
    second = save_params(model, path)
    assert first != second
    assert load_params(path).sha256 == second

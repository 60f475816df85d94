"""data: IDX reader, checksummed fetch (file:// and http://), safe FSDD extraction, mirrors."""

import gzip
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from fakes import FSDD_PREFIX, idx_bytes, write_checksums, write_idx, write_mirror
from stage_projects import run_stage, stage_copy

from digit_concepts.core import storage
from digit_concepts.senses import data

# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_images_and_labels(tmp_path, compress):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    images_path = write_idx(tmp_path / f"images{suffix}", images, data.IDX_IMAGES_MAGIC, compress)
    labels_path = write_idx(tmp_path / f"labels{suffix}", labels, data.IDX_LABELS_MAGIC, compress)

    read_images = data.read_idx(images_path, data.IDX_IMAGES_MAGIC)
    read_labels = data.read_idx(labels_path, data.IDX_LABELS_MAGIC)

    assert read_images.shape == (5, 28, 28) and read_images.dtype == np.uint8
    assert read_labels.shape == (7,) and read_labels.dtype == np.uint8
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


def test_read_idx_wrong_magic(tmp_path):
    labels_path = write_idx(tmp_path / "labels.gz", np.arange(10, dtype=np.uint8), data.IDX_LABELS_MAGIC)
    with pytest.raises(ValueError, match=r"labels\.gz: IDX magic number 2049, expected 2051"):
        data.read_idx(labels_path, data.IDX_IMAGES_MAGIC)


@pytest.mark.parametrize("change, message", [
    (lambda content: content[:-10], r"data bytes, header promises 784 for shape \(1, 28, 28\)"),
    (lambda content: content + b"\0", r"785 data bytes, header promises 784"),
    (lambda content: content[:12], r"truncated IDX header \(12 bytes, expected 16\)"),
    (lambda content: content[:5], r"too short to be an IDX file \(5 bytes\)"),
], ids=["truncated-data", "trailing-bytes", "truncated-header", "shorter-than-magic"])
def test_read_idx_wrong_length(tmp_path, change, message):
    content = change(idx_bytes(np.zeros((1, 28, 28), dtype=np.uint8), data.IDX_IMAGES_MAGIC))
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(ValueError, match=message):
        data.read_idx(path, data.IDX_IMAGES_MAGIC)


# --------------------------------------------------------------------------- fetch

PAYLOAD = bytes(range(256)) * 40
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
BAD_CONTENTS = {
    "corrupted": PAYLOAD[:100] + bytes([PAYLOAD[100] ^ 0xFF]) + PAYLOAD[101:],
    "truncated": PAYLOAD[: len(PAYLOAD) // 2],
}


@pytest.fixture(params=["file", "http"])
def served(request, tmp_path):
    """(folder, base URL) over file:// or over http:// on loopback."""
    if request.param == "file":
        folder = tmp_path / "served"
        folder.mkdir()
        yield folder, data.mirror_base(str(folder))
    else:
        yield request.getfixturevalue("http_root")


def test_fetch_success(served, tmp_path):
    folder, base = served
    (folder / "payload.bin").write_bytes(PAYLOAD)
    target = tmp_path / "target"
    path = data.fetch(data.RemoteFile("payload.bin", (base + "payload.bin",), PAYLOAD_SHA256), target)
    assert path == target / "payload.bin"
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in target.iterdir()) == ["payload.bin"]


@pytest.mark.parametrize("kind", sorted(BAD_CONTENTS))
def test_fetch_checksum_failure_keeps_nothing(served, tmp_path, kind):
    folder, base = served
    bad = BAD_CONTENTS[kind]
    (folder / "payload.bin").write_bytes(bad)
    url = base + "payload.bin"
    target = tmp_path / "target"

    with pytest.raises(data.ChecksumError) as caught:
        data.fetch(data.RemoteFile("payload.bin", (url,), PAYLOAD_SHA256), target)

    message = str(caught.value)
    assert "payload.bin" in message
    assert PAYLOAD_SHA256 in message, "expected sha256 missing"
    assert hashlib.sha256(bad).hexdigest() in message, "actual sha256 missing"
    assert url in message, "URL tried missing"
    assert isinstance(caught.value, ValueError)
    assert not target.exists() or not any(target.rglob("*")), f"left behind: {list(target.rglob('*'))}"


def test_fetch_falls_back_to_next_url(http_root, tmp_path):
    folder, base = http_root
    (folder / "payload.bin").write_bytes(PAYLOAD)
    local = tmp_path / "local"
    local.mkdir()
    (local / "payload.bin").write_bytes(PAYLOAD)
    for number, (first, second) in enumerate([(base + "missing/payload.bin", base + "payload.bin"),
                          (base + "missing/payload.bin", data.mirror_base(str(local)) + "payload.bin"),
                          (data.mirror_base(str(tmp_path / "nowhere")) + "payload.bin", base + "payload.bin")]):
        target = tmp_path / f"target-{number}"
        path = data.fetch(data.RemoteFile("payload.bin", (first, second), PAYLOAD_SHA256), target)
        assert path.read_bytes() == PAYLOAD


def test_fetch_reports_every_url_tried(http_root, tmp_path):
    folder, base = http_root
    (folder / "payload.bin").write_bytes(BAD_CONTENTS["truncated"])
    urls = (base + "missing/payload.bin", base + "payload.bin")
    target = tmp_path / "target"
    with pytest.raises(data.ChecksumError) as caught:
        data.fetch(data.RemoteFile("payload.bin", urls, PAYLOAD_SHA256), target)
    message = str(caught.value)
    assert all(url in message for url in urls)
    assert "404" in message
    assert hashlib.sha256(BAD_CONTENTS["truncated"]).hexdigest() in message
    assert not target.exists() or not any(target.rglob("*"))


# --------------------------------------------------------------------------- safe extraction

GOOD_MEMBER = "x/recordings/0_george_0.wav"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, content in members.items():
            zipped.writestr(name, content)
    return path


@pytest.mark.parametrize("hostile", ["../evil.wav", "x/recordings/../../../evil.wav", "ABSOLUTE"])
def test_extract_refuses_members_leaving_the_folder(tmp_path, hostile):
    work = tmp_path / "work"
    work.mkdir()
    if hostile == "ABSOLUTE":
        hostile = str(tmp_path / "absolute" / "evil.wav")
    # The good member comes first: nothing may be written before the hostile one is seen.
    archive = _zip(tmp_path / "hostile.zip", {GOOD_MEMBER: b"RIFF", hostile: b"evil"})
    folder = work / "raw" / "recordings"

    with pytest.raises(ValueError, match=r"refusing archive member .*evil\.wav"):
        data.extract_recordings(archive, folder)

    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != archive]
    assert written == []
    assert not folder.exists()


def test_extract_good_archive_flat(tmp_path):
    members = {
        FSDD_PREFIX: b"",
        FSDD_PREFIX + "README.md": b"readme",
        FSDD_PREFIX + "recordings/": b"",
        FSDD_PREFIX + "recordings/0_george_0.wav": b"zero",
        FSDD_PREFIX + "recordings/7_theo_49.wav": b"seven",
        FSDD_PREFIX + "utils/recordings_notes.txt": b"not a recording",
        GOOD_MEMBER: b"other prefix",
    }
    archive = _zip(tmp_path / "v1.0.10.zip", members)
    folder = tmp_path / "out" / "recordings"
    # Two members flatten to the same name; the later one wins, and the count says 3 members.
    assert data.extract_recordings(archive, folder) == 3
    assert sorted(p.name for p in folder.iterdir()) == ["0_george_0.wav", "7_theo_49.wav"]
    assert (folder / "7_theo_49.wav").read_bytes() == b"seven"
    assert not any(p.is_dir() for p in folder.iterdir())


def test_extract_without_recordings(tmp_path):
    archive = _zip(tmp_path / "empty.zip", {"x/README.md": b"nothing here"})
    with pytest.raises(ValueError, match="no recordings"):
        data.extract_recordings(archive, tmp_path / "out")


# --------------------------------------------------------------------------- mirrors


def test_mirror_base(tmp_path, monkeypatch):
    assert data.mirror_base(str(tmp_path)) == tmp_path.as_uri() + "/"
    assert data.mirror_base(str(tmp_path) + "/") == tmp_path.as_uri() + "/"
    monkeypatch.chdir(tmp_path)
    assert data.mirror_base("../shared/datasets") == (tmp_path.parent / "shared" / "datasets").as_uri() + "/"
    assert data.mirror_base("file:///srv/mirror") == "file:///srv/mirror/"
    assert data.mirror_base("http://127.0.0.1:8000") == "http://127.0.0.1:8000/"
    assert data.mirror_base("https://example.org/data/") == "https://example.org/data/"


def test_remote_files_official_hosts(monkeypatch):
    monkeypatch.delenv(data.CHECKSUMS_ENV, raising=False)
    files = data.remote_files(None)
    assert [f.name for f in files] == [*data.MNIST_SHA256, data.FSDD_ARCHIVE]
    for remote in files[:4]:
        assert remote.urls == tuple(host + remote.name for host in data.MNIST_HOSTS)
        assert remote.urls[0].startswith("https://ossci-datasets.s3.amazonaws.com/mnist/")
        assert remote.sha256 == data.MNIST_SHA256[remote.name]
    assert files[4].urls == (data.FSDD_URL,)
    assert files[4].sha256 == data.FSDD_SHA256


@pytest.mark.parametrize("mirror", ["http://127.0.0.1:8000", "/srv/mirror/"])
def test_remote_files_mirror_layout(monkeypatch, mirror):
    monkeypatch.delenv(data.CHECKSUMS_ENV, raising=False)
    base = data.mirror_base(mirror)
    files = {f.name: f for f in data.remote_files(mirror)}
    for name in data.MNIST_SHA256:
        assert files[name].urls == (base + "mnist/" + name,)
    assert files["v1.0.10.zip"].urls == (base + "fsdd/v1.0.10.zip",)


def test_builtin_checksums_match_the_shared_mirror():
    sums = REPO.parent / "shared" / "datasets" / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip("no shared/datasets mirror on this machine")
    listed = {line.split()[1].lstrip("*").split("/")[-1]: line.split()[0]
              for line in sums.read_text().splitlines() if line.strip()}
    assert {**data.MNIST_SHA256, data.FSDD_ARCHIVE: data.FSDD_SHA256} == {
        name: listed[name] for name in [*data.MNIST_SHA256, data.FSDD_ARCHIVE]}


def test_data_checksums_override(tmp_path, monkeypatch):
    override = {"t10k-labels-idx1-ubyte.gz": "a" * 64, "v1.0.10.zip": "b" * 64}
    monkeypatch.setenv(data.CHECKSUMS_ENV, str(write_checksums(tmp_path / "sums.json", override)))
    files = {f.name: f.sha256 for f in data.remote_files("http://127.0.0.1:1/")}
    assert files["t10k-labels-idx1-ubyte.gz"] == "a" * 64
    assert files["v1.0.10.zip"] == "b" * 64
    assert files["train-images-idx3-ubyte.gz"] == data.MNIST_SHA256["train-images-idx3-ubyte.gz"]


@pytest.mark.parametrize("content", [{"mnist.gz": "a" * 64}, {"v1.0.10.zip": "not-a-hash"}, ["v1.0.10.zip"]])
def test_data_checksums_override_rejects_nonsense(tmp_path, monkeypatch, content):
    path = tmp_path / "sums.json"
    path.write_text(json.dumps(content))
    monkeypatch.setenv(data.CHECKSUMS_ENV, str(path))
    with pytest.raises(ValueError, match="DATA_CHECKSUMS"):
        data.remote_files(None)



def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100) % 10, 2049), mtime=0)[:-20])
    with pytest.raises(ValueError, match=rf"{path}: truncated or corrupt gzip file \(EOFError"):
        data.read_idx(path, 2049)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=rf"{path}: truncated or corrupt gzip file \(BadGzipFile"):
        data.read_idx(path, 2049)


@pytest.mark.parametrize("content, message", [
    (None, r"DATA_CHECKSUMS=.*missing\.json: cannot read the checksums file \(No such file or directory\)"),
    ("{not json", r"DATA_CHECKSUMS=.*missing\.json: not valid JSON \(Expecting property name"),
])
def test_bad_checksums_file_names_variable_and_file(tmp_path, monkeypatch, content, message):
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv(data.CHECKSUMS_ENV, str(path))
    with pytest.raises(ValueError, match=message):
        data.known_sha256()


def test_nothing_fetched_is_a_download_error_naming_every_url(http_root, tmp_path):
    _, base = http_root
    urls = (base + "missing/payload.bin", data.mirror_base(str(tmp_path / "nowhere")) + "payload.bin")
    with pytest.raises(data.DownloadError) as caught:
        data.fetch(data.RemoteFile("payload.bin", urls, "0" * 64), tmp_path / "target")
    message = str(caught.value)
    assert not isinstance(caught.value, data.ChecksumError)
    assert message.startswith("could not fetch payload.bin from any URL") and all(url in message for url in urls)
    assert "404" in message and "FileNotFoundError" in message



@pytest.fixture
def stage_project(tmp_path) -> Path:
    return stage_copy(tmp_path)


def test_download_from_another_folder_writes_the_project_and_records_the_checksums(stage_project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    mirror = tmp_path / "mirror"
    checksums = write_mirror(mirror)
    result = run_stage(stage_project, "download", elsewhere, DATA_MIRROR=str(mirror),
                    DATA_CHECKSUMS=str(write_checksums(tmp_path / "sums.json", checksums)))
    assert result.returncode == 0, result.stderr
    assert list(elsewhere.iterdir()) == []  # nothing written in the working directory
    recorded = stage_project / "data" / "raw" / data.CHECKSUMS_RECORD
    assert json.loads(recorded.read_text()) == checksums
    assert (stage_project / "data" / "raw").stat().st_mode & 0o777 == 0o755
    assert list((stage_project / storage.SCRATCH_DIR).iterdir()) == []

    # Another mirror holding other files: other checksums give other data/raw bytes, and a
    # later preprocess refuses the old download while DATA_CHECKSUMS names other files.
    other = tmp_path / "other-mirror"
    shutil.copytree(mirror, other)
    (other / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.arange(20) % 10, 2049)))
    other_sums = write_checksums(tmp_path / "other-sums.json",
                                 {**checksums, "t10k-labels-idx1-ubyte.gz": data.pooch.file_hash(
                                     str(other / "mnist" / "t10k-labels-idx1-ubyte.gz"))})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(data.CHECKSUMS_ENV, str(other_sums))
        with pytest.raises(ValueError, match=r"checksums\.json holds other sha256 .* run `dvc repro -f download`"):
            data.check_recorded_checksums(recorded)
    result = run_stage(stage_project, "download", elsewhere, DATA_MIRROR=str(other), DATA_CHECKSUMS=str(other_sums))
    assert result.returncode == 0, result.stderr
    assert json.loads(recorded.read_text()) == json.loads(other_sums.read_text())


def test_downloaded_files_are_0644_and_folders_0755_as_a_dvc_checkout_gives(stage_project, tmp_path):
    """pooch renames its mkstemp file (0600) into place; the published data/raw is shared all the same."""
    mirror = tmp_path / "mirror"
    sums = write_checksums(tmp_path / "sums.json", write_mirror(mirror))
    previous = os.umask(0o022)  # the stage inherits it; DVC's checkout gives 0o666 / 0o777 less the umask
    try:
        result = run_stage(stage_project, "download", tmp_path / "elsewhere", DATA_MIRROR=str(mirror),
                        DATA_CHECKSUMS=str(sums))
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    raw = stage_project / "data" / "raw"
    files = [path for path in raw.rglob("*") if path.is_file()]
    assert len([path for path in files if path.suffix == ".gz"]) == 4 and len(files) > 4
    modes = {str(path.relative_to(raw)): oct(path.stat().st_mode & 0o777) for path in [raw, *raw.rglob("*")]}
    assert modes == {name: "0o755" if (raw / name).is_dir() else "0o644" for name in modes}


def test_download_with_nothing_to_fetch_is_one_error_line(stage_project, tmp_path):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    result = run_stage(stage_project, "download", tmp_path / "elsewhere", DATA_MIRROR=str(empty))
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]  # after pooch's "Downloading data from ..." line
    assert last.startswith("error: could not fetch train-images-idx3-ubyte.gz from any URL; tried: file://")
    assert "Traceback" not in result.stderr and "ChecksumError" not in result.stderr
    assert not (stage_project / "data" / "raw").exists()

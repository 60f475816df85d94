"""Raw data: download with checksums (pooch), the MNIST IDX format and the FSDD archive."""

import gzip
import json
import os
import re
import shutil
import struct
import urllib.parse
import zlib
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pooch

MNIST_HOSTS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip"
FSDD_ARCHIVE = "v1.0.10.zip"

# sha256 of the official bytes (MNIST files as published; FSDD v1.0.10 tag archive).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
FSDD_SHA256 = "48b0cb861636bf0e4c279a0b4623ad71080ae0ba1547155c30a87e94457c8cff"

# For tests and private mirrors holding other bytes: DATA_CHECKSUMS may name a JSON file
# mapping file name -> sha256; its entries replace the built-in values above.
CHECKSUMS_ENV = "DATA_CHECKSUMS"

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049


@dataclass(frozen=True)
class RemoteFile:
    name: str
    urls: tuple[str, ...]
    sha256: str


class ChecksumError(ValueError):
    """A downloaded file is not the expected bytes (corrupt, truncated or wrong)."""


class DownloadError(ConnectionError):
    """Nothing could be fetched from any URL (missing file, no network): no bytes to check."""


# Written into data/raw by the download stage: the sha256 the files were checked against. DVC
# cannot see DATA_MIRROR / DATA_CHECKSUMS; this file makes other checksums other data/raw bytes.
CHECKSUMS_RECORD = "checksums.json"


def mirror_base(mirror: str) -> str:
    """Turn DATA_MIRROR (folder path, file:// or http(s):// base) into a URL base ending in '/'."""
    if "://" not in mirror:
        mirror = Path(mirror).resolve().as_uri()
    return mirror if mirror.endswith("/") else mirror + "/"


def known_sha256() -> dict[str, str]:
    """Expected sha256 per file name: the official values, overridden by the DATA_CHECKSUMS file if set.

    The override exists for tests (tiny fake mirrors) and private mirrors; ValueError for a
    name that is not one of the five files or a value that is not a sha256.
    """
    known = {**MNIST_SHA256, FSDD_ARCHIVE: FSDD_SHA256}
    source = os.environ.get(CHECKSUMS_ENV)
    if source:
        try:
            overrides = json.loads(Path(source).read_text())
        except OSError as error:
            raise ValueError(f"{CHECKSUMS_ENV}={source}: cannot read the checksums file ({error.strerror})") from error
        except json.JSONDecodeError as error:
            raise ValueError(f"{CHECKSUMS_ENV}={source}: not valid JSON ({error}); expected an object mapping "
                             f"file names to sha256") from error
        bad = overrides if not isinstance(overrides, dict) else {
            name: value for name, value in overrides.items()
            if name not in known or not re.fullmatch(r"[0-9a-f]{64}", str(value))}
        if bad or not isinstance(overrides, dict):
            raise ValueError(f"{CHECKSUMS_ENV}={source}: expected a JSON object mapping some of "
                             f"{', '.join(known)} to lowercase hex sha256; bad: {bad!r}")
        known.update(overrides)
    return known


def remote_files(mirror: str | None) -> list[RemoteFile]:
    """The five files to fetch, from the official hosts or from DATA_MIRROR laid out like shared/datasets."""
    known = known_sha256()
    files = []
    for name in MNIST_SHA256:
        sha256 = known[name]
        if mirror:
            urls = (mirror_base(mirror) + "mnist/" + name,)
        else:
            urls = tuple(host + name for host in MNIST_HOSTS)
        files.append(RemoteFile(name, urls, sha256))
    fsdd_urls = (mirror_base(mirror) + "fsdd/" + FSDD_ARCHIVE,) if mirror else (FSDD_URL,)
    files.append(RemoteFile(FSDD_ARCHIVE, fsdd_urls, known[FSDD_ARCHIVE]))
    return files


def _copy_local(url: str, output_file, pooch_instance=None, check_only: bool = False):
    """A pooch downloader for file:// URLs (pooch itself speaks only http, ftp and doi)."""
    source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    if check_only:
        return source.is_file()
    if not source.is_file():
        raise FileNotFoundError(f"no such file: {source}")
    if isinstance(output_file, (str, os.PathLike)):
        shutil.copyfile(source, output_file)
    else:
        with open(source, "rb") as stream:
            shutil.copyfileobj(stream, output_file)
    return None


def fetch(remote: RemoteFile, folder: Path) -> Path:
    """Download one file into ``folder``, trying its URLs in order, verifying its sha256.

    pooch writes to a temporary file and moves it into place only when the hash matches,
    so a failed fetch leaves nothing behind. On failure one error names the file and every
    URL tried: ChecksumError (with the expected and actual sha256) if some URL gave bytes,
    DownloadError if none did.
    """
    attempts, mismatched = [], False
    for url in remote.urls:
        downloader = _copy_local if url.startswith("file://") else pooch.HTTPDownloader(progressbar=True, timeout=60)
        try:
            path = pooch.retrieve(url, known_hash=f"sha256:{remote.sha256}", fname=remote.name,
                                  path=folder, downloader=downloader)
            return Path(path)
        except ValueError as error:  # pooch's hash mismatch
            actual = _actual_hash_from(str(error))
            attempts.append(f"{url} (sha256 {actual})")
            mismatched = True
        except Exception as error:  # network or missing file: try the next host
            attempts.append(f"{url} ({type(error).__name__}: {error})")
    if not mismatched:  # no bytes arrived at all: a checksum was never compared
        raise DownloadError(f"could not fetch {remote.name} from any URL; tried: {'; '.join(attempts)}")
    raise ChecksumError(
        f"could not fetch {remote.name} with the expected sha256 {remote.sha256}; "
        f"tried: {'; '.join(attempts)}. A wrong or truncated file is never kept."
    )


def checksums_record(sha256: dict[str, str]) -> str:
    """The content of ``CHECKSUMS_RECORD``: each file's expected sha256 (``known_sha256()``), sorted."""
    return json.dumps(sha256, indent=2, sort_keys=True) + "\n"


def check_recorded_checksums(record: Path) -> None:
    """ValueError unless ``record`` (written by download) holds the sha256 that DATA_CHECKSUMS gives now.

    DVC cannot see environment variables: after a switch to a mirror of other files, data/raw
    would still be the old download, and stages built on it would be silently stale.
    """
    expected = checksums_record(known_sha256())
    try:
        recorded = Path(record).read_text()
    except FileNotFoundError:
        recorded = None
    if recorded != expected:
        state = "is missing" if recorded is None else "holds other sha256"
        raise ValueError(f"{record} {state} than {CHECKSUMS_ENV} / the built-in values give now: data/raw is "
                         f"another download; after switching DATA_MIRROR or {CHECKSUMS_ENV}, run "
                         f"`dvc repro -f download`")


def _actual_hash_from(message: str) -> str:
    # pooch: "SHA256 hash of downloaded file (x) does not match the known hash: expected y but got z. ..."
    marker = " but got "
    if marker in message:
        return message.split(marker, 1)[1].split(".", 1)[0]
    return "unknown: " + message.strip().splitlines()[0]


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes: images (magic 2051) or labels (magic 2049)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            content = stream.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # gzip's own errors name no file
        raise ValueError(f"{path}: truncated or corrupt gzip file ({type(error).__name__}: {error}); "
                         f"download it again (dvc repro -f download)") from error
    if len(content) < 8:
        raise ValueError(f"{path}: too short to be an IDX file ({len(content)} bytes)")
    magic, count = struct.unpack(">II", content[:8])
    if magic != expected_magic:
        raise ValueError(f"{path}: IDX magic number {magic}, expected {expected_magic}")
    dimensions = magic & 0xFF
    header = 4 + 4 * dimensions
    if len(content) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(content)} bytes, expected {header})")
    shape = (count,) + struct.unpack(f">{dimensions - 1}I", content[8:header])
    expected_bytes = int(np.prod(shape))
    if len(content) - header != expected_bytes:
        raise ValueError(f"{path}: {len(content) - header} data bytes, header promises {expected_bytes} for shape {shape}")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def safe_member_target(member: str, folder: Path) -> Path:
    """Where an archive member would land; ValueError if it would leave ``folder``."""
    relative = PurePosixPath(member)
    target = (folder / relative).resolve()
    if relative.is_absolute() or ".." in relative.parts or not target.is_relative_to(folder.resolve()):
        raise ValueError(f"refusing archive member {member!r}: it would be written outside {folder}")
    return target


def extract_recordings(archive: Path, folder: Path) -> int:
    """Extract every ``recordings/*.wav`` member of the FSDD archive flat into ``folder``.

    Every member's path is checked first, so a hostile archive writes nothing at all.
    """
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.namelist()
        for member in members:
            safe_member_target(member, folder)
        recordings = [m for m in members if PurePosixPath(m).parent.name == "recordings" and m.endswith(".wav")]
        if not recordings:
            raise ValueError(f"{archive}: no recordings/*.wav members found")
        folder.mkdir(parents=True, exist_ok=True)
        for member in recordings:
            target = safe_member_target(PurePosixPath(member).name, folder)
            with zipped.open(member) as source, open(target, "wb") as destination:
                shutil.copyfileobj(source, destination)
    return len(recordings)

"""What the download stage does, all of it file and network I/O: fetch every remote file into a
folder (the stage's stand-in for data/raw), check it, unpack the recordings, and record the sha256
checked."""

from pathlib import Path

from digit_concepts.core import paths
from digit_concepts.senses import data


def fetch_into(staging: Path, remotes) -> None:
    """Every file of ``remotes`` (``data.remote_files``) fetched and checked into ``staging``: the
    MNIST files as they are, the FSDD recordings unpacked from their archive."""
    for remote in remotes:
        folder = staging / ("fsdd" if remote.name == data.FSDD_ARCHIVE else "mnist")
        path = data.fetch(remote, folder)
        print(f"verified {remote.name} (sha256 {remote.sha256[:12]}...)", flush=True)
        if remote.name == data.FSDD_ARCHIVE:
            count = data.extract_recordings(path, staging / paths.FSDD_RECORDINGS_DIR.relative_to(paths.RAW_DIR))
            path.unlink()
            print(f"extracted {count} recordings", flush=True)
    # DVC cannot see DATA_MIRROR / DATA_CHECKSUMS: recording the sha256 checked makes them part of data/raw.
    (staging / paths.RAW_CHECKSUMS.relative_to(paths.RAW_DIR)).write_text(data.checksums_record(
        {remote.name: remote.sha256 for remote in remotes}))

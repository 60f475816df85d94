"""Stage download: the four MNIST IDX files and the FSDD recordings, each checked by sha256.

DATA_MIRROR (a folder, file:// or http:// base laid out as mnist/<name>, fsdd/v1.0.10.zip)
replaces the official hosts.
"""

import os

from digit_concepts.senses import data
from digit_concepts.core import paths
from digit_concepts.core.storage import atomic_directory


def main() -> None:
    mirror = os.environ.get("DATA_MIRROR") or None
    with atomic_directory(paths.RAW_DIR) as staging:
        remotes = data.remote_files(mirror)
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


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)

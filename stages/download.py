"""Stage download: the four MNIST IDX files and the FSDD recordings, each checked by sha256.

DATA_MIRROR (a folder, file:// or http:// base laid out as mnist/<name>, fsdd/v1.0.10.zip)
replaces the official hosts.
"""

import os

from digit_concepts.core import paths
from digit_concepts.core.storage import atomic_directory
from digit_concepts.pipeline import download
from digit_concepts.senses import data


def main() -> None:
    mirror = os.environ.get("DATA_MIRROR") or None
    with atomic_directory(paths.RAW_DIR) as staging:
        remotes = data.remote_files(mirror)
        download.fetch_into(staging, remotes)


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)

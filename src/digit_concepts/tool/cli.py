"""The command line: ``digit-concepts recognise | imagine | concepts | serve`` (also ``python -m digit_concepts``).

Exit codes: 0 every file used; 1 some file could not be used or written (each named on stderr, the
others still processed); 2 a usage error (for ``serve``, also an address it cannot listen on); 3 no
usable trained learner: a piece missing, or one that cannot be read (the message names it and says
what to run).
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from digit_concepts.core.params import IMAGINATION_ROUTES

if TYPE_CHECKING:
    from digit_concepts.tool.learner import Perception

OK, BAD_FILE, USAGE, NO_LEARNER = 0, 1, 2, 3
PROGRAM = "digit-concepts"


def default_model_dir() -> Path:
    """The current folder if it holds a pipeline (dvc.yaml), else the repository this package lives in."""
    here = Path.cwd()
    if (here / "dvc.yaml").is_file():
        return here
    repository = Path(__file__).resolve().parents[3]
    return repository if (repository / "dvc.yaml").is_file() else here


def complain(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr, flush=True)


def load_learner(model: Path | None):
    from digit_concepts.tool.learner import Learner

    return Learner(model or default_model_dir())


def read_files(files: list[Path], sample_rate: int) -> tuple[list[tuple[Path, str, np.ndarray]], int]:
    """Each usable file as (path, sense, content); unusable ones are named on stderr."""
    from digit_concepts.senses.user_files import UserFileError, read_user_file

    samples, failures = [], 0
    for path in files:
        try:
            samples.append((path, *read_user_file(path, sample_rate)))
        except UserFileError as error:
            complain(str(error))
            failures += 1
    return samples, failures


def perceive(learner, samples: list[tuple[Path, str, np.ndarray]]) -> dict[str, tuple[list[int], "Perception"]]:
    """Per sense: the positions of its samples in ``samples`` and their perception (one batch per sense)."""
    batches = {}
    for sense in ("image", "audio"):
        where = [i for i, (_, kind, _) in enumerate(samples) if kind == sense]
        if where:
            batches[sense] = (where, learner.perceive(sense, [samples[i][2] for i in where]))
    return batches


def recognise(arguments) -> int:
    learner = load_learner(arguments.model)
    batch_neighbours = learner.batch_neighbours if arguments.adapt is ADAPT_AS_TRAINED else arguments.adapt
    samples, failures = read_files(arguments.files, learner.audio_settings.sample_rate)
    results = [None] * len(samples)
    for sense, (where, perceived) in perceive(learner, samples).items():
        for position, recognition in zip(where, learner.recognise(sense, perceived, batch_neighbours)):
            results[position] = recognition
    for (path, _, _), recognition in zip(samples, results):
        if arguments.json:
            print(json.dumps({"file": str(path), **recognition.as_dict()}))
        else:
            print(f"{path}: {recognition.describe()}")
    return BAD_FILE if failures else OK


class Imagined(NamedTuple):
    """What ``imagine`` writes for a file of one sense."""

    noun: str
    suffix: str
    said: str  # in words, for the file's sense


IMAGINED = {"image": Imagined("sound", ".wav", "what is imagined for an image is a sound"),
            "audio": Imagined("image", ".png", "what is imagined for a recording is an image")}


def output_paths(out: Path, suffix: str, samples: int) -> list[Path]:
    out = out if out.suffix.lower() == suffix else out.with_suffix(suffix)
    if samples == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{number}{suffix}") for number in range(1, samples + 1)]


def why_unwritable(target: Path, error: OSError) -> str:
    """The cause of ``error`` in the user's terms (mkdir and rename would say "File exists" or
    "Not a directory" about a temporary path)."""
    for folder in reversed(target.parents):  # the root first
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file, not a folder"
    if target.is_dir():
        return "a folder of that name is in the way"
    return error.strerror or str(error)


def write_output(target: Path, write) -> bool:
    """``write(path)`` into a temporary file, renamed onto ``target`` (nothing half-written is
    left); a target that cannot be written (a file where a folder must be, a folder in its place,
    no permission, a full disk) is named in one line, not a soundfile or Pillow traceback."""
    from digit_concepts.core.storage import atomic_path

    try:
        with atomic_path(target) as temporary:
            write(temporary)
    except OSError as error:
        complain(f"{target}: cannot write the output file ({why_unwritable(target, error)})")
        return False
    return True


def unexpected_suffix(out: Path, sense: str) -> str | None:
    """Why ``--out`` cannot name what is imagined for a file of ``sense``; None if it can (the
    suffix that is written, or none: it is added)."""
    imagined = IMAGINED[sense]
    if out.suffix and out.suffix.lower() != imagined.suffix:
        return (f"--out {out}: {imagined.said}, written as {imagined.suffix}: give OUT ending in {imagined.suffix}, "
                "or no suffix")
    return None


def imagine(arguments) -> int:
    from digit_concepts.senses.audio import write_wav
    from digit_concepts.senses.user_files import UserFileError, kind_of, write_image

    try:
        sense = kind_of(arguments.file)  # what is imagined, so what --out must name, before the learner loads
    except UserFileError as error:
        complain(str(error))
        return BAD_FILE
    refused = unexpected_suffix(arguments.out, sense)
    if refused:
        complain(refused)
        return USAGE
    learner = load_learner(arguments.model)
    samples, failures = read_files([arguments.file], learner.audio_settings.sample_rate)
    if failures:
        return BAD_FILE
    sense, perceived = next((sense, perceived) for sense, (_, perceived) in perceive(learner, samples).items())
    recognition = learner.recognise(sense, perceived)[0]
    imagined = learner.imagine(sense, perceived.codes, arguments.samples, arguments.temperature, arguments.image_from,
                               np.array([recognition.concept]))[0]
    print(f"{arguments.file}: {recognition.describe()}")
    what, unwritten = IMAGINED[sense].noun, 0
    for target, sample in zip(output_paths(arguments.out, IMAGINED[sense].suffix, arguments.samples), imagined):
        if what == "sound":
            sound = learner.sound(sample)
            written = write_output(target, lambda path: write_wav(path, sound, learner.audio_settings.sample_rate))
        else:
            written = write_output(target, lambda path: write_image(path, sample))
        if written:
            print(f"imagined {what}: {target}")
        else:
            unwritten += 1
    return BAD_FILE if unwritten else OK


def concepts(arguments) -> int:
    learner = load_learner(arguments.model)
    columns = ["sense", "concept", "size", "best_partner", "p_partner_given_concept", "p_concept_given_partner",
               "zone", "merged_concept"]
    table = learner.table[columns]
    if arguments.json:
        for row in table.to_dict(orient="records"):
            print(json.dumps(row))
    else:
        print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    return OK


def serve(arguments) -> int:
    from digit_concepts.tool import server

    try:
        sock = server.listening_socket(arguments.host, arguments.port)
    except OSError as error:
        complain(f"cannot listen on {arguments.host} port {arguments.port} ({error.strerror or error})")
        return USAGE
    with sock:
        learner = load_learner(arguments.model)
        local = arguments.host in server.LOOPBACK_NAMES
        app = server.create_app(learner, arguments.image_from,
                                allowed_hosts=server.LOOPBACK_NAMES if local else ("*",))
        if not local:
            complain(f"listening on {arguments.host}: anyone who can reach this machine on port "
                     f"{sock.getsockname()[1]} can use the page (there is no authentication)")
        print(f"{PROGRAM}: the learner of {learner.root.resolve()} is served at {server.url_of(sock)} (Ctrl+C stops)",
              flush=True)
        server.serve(app, sock)
    return OK


ADAPT_AS_TRAINED = None  # --adapt without a number: the pipeline's adaptation.batch_neighbours
NUMBER_LIKE = re.compile(r"[-+]?[0-9.]+")  # what reads as --adapt's number, right or wrong


def adapt_alone_after_files(argv: list[str]) -> list[str]:
    """``recognise``'s ``argv`` with each ``--adapt`` that is followed by a file (not a number, not
    an option) moved after the files: argparse would take the file as its value, or leave the
    files after it unparsed. Where it stands does not change what it means."""
    if not argv or argv[0] != "recognise":
        return argv
    files_only = argv.index("--") if "--" in argv else len(argv)  # after "--", every word is a file
    moved = [position for position in range(files_only - 1) if argv[position] == "--adapt"
             and not argv[position + 1].startswith("-") and not NUMBER_LIKE.fullmatch(argv[position + 1])]
    if not moved:
        return argv
    kept = [word for position, word in enumerate(argv[:files_only]) if position not in moved]
    return [*kept, "--adapt", *argv[files_only:]]


def non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return int(text)


def positive_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def temperature_value(text: str) -> float:
    """A finite number >= 0 (0: every sample is the concept's mean); nan, inf or a negative one is refused."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="folder holding the trained learner (the pipeline's outputs); default: this repository")
    top = argparse.ArgumentParser(prog=PROGRAM, description="Use the learner trained by the digit-concepts pipeline.")
    commands = top.add_subparsers(dest="command", required=True)
    command = commands.add_parser("recognise", parents=[common],
                                  help="say which concept each recording or image belongs to, and its partner")
    command.add_argument("files", nargs="+", type=Path, metavar="FILE",
                         help="audio (WAV, FLAC, OGG; any rate, any channels) or image (PNG, JPEG; any size)")
    command.add_argument("--json", action="store_true", help="one JSON object per file")
    command.add_argument("--adapt", nargs="?", type=non_negative, const=ADAPT_AS_TRAINED, default=0, metavar="N",
                         help="recordings given together are one batch of new voices: each may borrow evidence from "
                              "up to N fellow recordings nearer to it than any train recording, and never more than "
                              "the batch holds of one concept (10 recordings or fewer: none); --adapt alone: the "
                              "pipeline's adaptation.batch_neighbours; default: each file alone")
    command.set_defaults(run=recognise)
    command = commands.add_parser("imagine", parents=[common],
                                  help="imagine the other sense: an image for a recording, a sound for an image")
    command.add_argument("file", type=Path, metavar="FILE")
    command.add_argument("--out", type=Path, required=True,
                         help="output file: ending in .wav for an image (a sound is imagined), .png for a recording, "
                              "or with no suffix (it is added)")
    command.add_argument("--samples", type=positive_count, default=1, help="how many to imagine (OUT_1, OUT_2, ...)")
    command.add_argument("--temperature", type=temperature_value, default=0.5,
                         help="spread of the samples after the first, in the partner concept's Gaussian (a finite "
                              "number >= 0)")
    image_from = dict(choices=IMAGINATION_ROUTES, default="concept",
                      help="a recording's image: drawn from the image concept it is named (concept, the "
                           "pipeline's convergence.imagine_images_from) or the brain module's translation of "
                           "its code (brain)")
    command.add_argument("--image-from", **image_from)
    command.set_defaults(run=imagine)
    command = commands.add_parser("concepts", parents=[common], help="the per-concept table (size, partner, zone)")
    command.add_argument("--json", action="store_true", help="one JSON object per concept")
    command.set_defaults(run=concepts)
    command = commands.add_parser("serve", parents=[common],
                                  help="a local web page on which to draw or say a digit and see what the learner "
                                       "makes of it")
    command.add_argument("--host", default="127.0.0.1",
                         help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 lets anyone on "
                              "the network use it, without authentication: prefer an SSH tunnel)")
    command.add_argument("--port", type=port_number, default=8000, help="port to listen on (default 8000; 0: any free one)")
    command.add_argument("--image-from", **image_from)
    command.set_defaults(run=serve)
    return top


def main(argv: list[str] | None = None) -> int:
    from digit_concepts.tool.learner import MissingLearner

    arguments = parser().parse_args(adapt_alone_after_files(sys.argv[1:] if argv is None else argv))
    try:
        return arguments.run(arguments)
    except MissingLearner as error:
        complain(str(error))
        return NO_LEARNER

"""Stage plot: every figure as PNG, generated sounds as 8 kHz WAV, and an offline HTML report.

The whole plots/ folder is written into a temporary folder and swapped in at the end, so a
failed run never leaves a mix of old and new figures.
"""

import pandas as pd

from digit_concepts.core import paths, storage
from digit_concepts.core.params import load
from digit_concepts.core.sense import IMAGE
from digit_concepts.reporting import report_content, report_figures
from digit_concepts.senses import audio


def main() -> None:
    clock = report_figures.Clock()
    params = load()
    codes = storage.read_npz(paths.ENCODINGS)
    assignments = report_figures.read_assignments()
    generated = storage.read_npz(paths.GENERATED)
    settings = audio.AudioSettings(**storage.read_json(paths.AUDIO_SETTINGS))
    metrics = report_content.read_metrics()
    generalisation = report_content.read_generalisation()
    test_samples = report_figures.read_test_samples()
    concepts = pd.read_csv(paths.CONCEPT_TABLE)
    counts = pd.read_csv(paths.COOCCURRENCE, index_col="image_concept")
    clock("inputs read")
    with storage.atomic_directory(paths.PLOTS_DIR) as folder:
        drawn = report_figures.draw(folder, params, codes, assignments, generated, test_samples, clock)
        sounds = report_figures.write_sounds(folder, generated, settings, clock)
        page = report_content.page(folder, params, metrics, generated, test_samples[IMAGE.name],
                                   assignments[IMAGE.key("test")], concepts, counts, drawn, generalisation)
        report_figures.write_page(folder, page, clock)
    print(report_figures.summary(drawn, sounds))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)

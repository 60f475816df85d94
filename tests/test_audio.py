"""audio: FSDD names, reading recordings, log-mel in and sound out, splits."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from conftest import REPO
from fakes import SAMPLE_RATE, tone
from ruamel.yaml import YAML

from digit_concepts.senses import audio


@pytest.fixture(scope="module")
def settings() -> audio.AudioSettings:
    """The committed audio params, reading log-mels, with few Griffin-Lim iterations to stay fast
    (the ``cepstral`` fixture reads cepstra)."""
    committed = YAML(typ="safe", pure=True).load(REPO / "params.yaml")["audio"]
    return audio.AudioSettings(**{**committed, "griffin_lim_iterations": 2, "features": "log_mel"})


def _write(path: Path, signal: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    soundfile.write(path, signal, rate, subtype="PCM_16")
    return path


@pytest.mark.parametrize("name, expected", [
    ("3_theo_12.wav", (3, "theo", 12)),
    ("0_yweweler_0.wav", (0, "yweweler", 0)),
    ("some/folder/9_george_49.wav", (9, "george", 49)),
])
def test_parse_recording_name(name, expected):
    assert audio.parse_recording_name(name) == expected


@pytest.mark.parametrize("name", ["12_theo_1.wav", "3_Theo_1.wav", "3_theo.wav", "3_theo_1.mp3",
                                  "3-theo-1.wav", "x_theo_1.wav", "3_theo_1.wav.bak", ""])
def test_parse_recording_name_rejects(name):
    with pytest.raises(ValueError, match="not an FSDD recording name"):
        audio.parse_recording_name(name)


def test_load_recording_good(tmp_path):
    signal = tone(3, 0, 0)
    path = _write(tmp_path / "3_george_0.wav", signal)
    loaded = audio.load_recording(path, SAMPLE_RATE)
    assert loaded.dtype == np.float32 and loaded.shape == signal.shape
    np.testing.assert_allclose(loaded, signal / 32768.0, atol=1e-6)


@pytest.mark.parametrize("case, message", [
    ("rate", r"sample rate 16000 Hz, expected 8000 Hz"),
    ("stereo", r"2 channels, expected mono"),
    ("silent", r"empty, silent or non-finite audio \(2000 samples\)"),
    ("empty", r"empty, silent or non-finite audio \(0 samples\)"),
    ("garbage", r"unreadable audio"),
])
def test_load_recording_errors(tmp_path, case, message):
    path = tmp_path / f"{case}.wav"
    if case == "rate":
        _write(path, tone(1, 0, 0), rate=16000)
    elif case == "stereo":
        _write(path, np.stack([tone(1, 0, 0)] * 2, axis=1))
    elif case == "silent":
        _write(path, np.zeros(2000, dtype=np.int16))
    elif case == "empty":
        _write(path, np.zeros(0, dtype=np.int16))
    else:
        path.write_bytes(b"RIFF\x00\x00not a wave file at all")
    with pytest.raises(ValueError, match=message) as caught:
        audio.load_recording(path, SAMPLE_RATE)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("frames, n_mels, fmin", [(40, 40, 100.0), (7, 64, 0.0), (1, 8, 0.0)])
def test_mel_power_is_librosas_melspectrogram_to_the_byte(settings, frames, n_mels, fmin):
    import librosa

    power = np.random.default_rng(frames).random((settings.n_fft // 2 + 1, frames)).astype(np.float32) ** 3
    expected = librosa.feature.melspectrogram(S=power, sr=settings.sample_rate, n_fft=settings.n_fft, n_mels=n_mels,
                                              fmin=fmin, fmax=settings.fmax)
    for _ in range(2):  # built once, then reused
        found = audio._mel_power(power, settings, n_mels, fmin)
        assert found.dtype == expected.dtype and np.array_equal(found, expected)


@pytest.mark.parametrize("seconds", [0.2, 2.0], ids=["short", "long"])
def test_log_mel_shape(settings, seconds):
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    signal = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    decibels, trimmed_frames = audio.log_mel(signal, settings)
    assert decibels.shape == (settings.n_mels, settings.frames)
    assert decibels.dtype == np.float32 and np.isfinite(decibels).all()
    # A steady tone is not trimmed: one frame per hop plus one (librosa centres frames).
    assert trimmed_frames == 1 + len(signal) // settings.hop_length
    # Floored 80 dB below the peak; a steady tone stays loud at every (stretched) frame.
    assert decibels.min() >= decibels.max() - settings.silence_floor_db - 1e-3
    assert (decibels.max(axis=0) > decibels.max() - 10.0).all()


def test_log_mel_trims_leading_silence(settings):
    signal = tone(5, 0, 0).astype(np.float32) / 32768.0
    padded = np.concatenate([np.zeros(SAMPLE_RATE // 2, dtype=np.float32), signal])
    (plain, plain_frames), (trimmed, trimmed_frames) = audio.log_mel(signal, settings), audio.log_mel(padded, settings)
    assert abs(plain_frames - trimmed_frames) <= 2  # the half second of silence is gone
    assert np.abs(trimmed - plain).mean() < 1.0  # dB; frame edges shift by part of a hop


def test_to_sound(settings):
    fitted = audio.AudioSettings(**{**settings.as_dict(), "sound_frames": 40, "mean": -30.0, "std": 10.0})
    normalised = np.random.default_rng(0).normal(size=(settings.n_mels, settings.frames)).astype(np.float32)
    sound = audio.to_sound(normalised, fitted)
    assert sound.dtype == np.float32
    assert sound.shape == (fitted.hop_length * (fitted.sound_frames - 1),) == (fitted.sound_samples,)
    assert np.isfinite(sound).all()
    assert np.abs(sound).max() == pytest.approx(0.9, abs=1e-4)
    np.testing.assert_array_equal(audio.to_sound(normalised, fitted), sound)  # seeded Griffin-Lim


def test_normalise_round_trip(settings):
    fitted = audio.AudioSettings(**{**settings.as_dict(), "mean": -31.5, "std": 12.25})
    decibels = np.random.default_rng(1).normal(-30, 10, size=(3, settings.n_mels, settings.frames))
    normalised = audio.normalise(decibels, fitted)
    assert normalised.dtype == np.float32
    np.testing.assert_allclose(normalised, (decibels + 31.5) / 12.25, rtol=1e-5)
    np.testing.assert_allclose(audio.denormalise(normalised, fitted), decibels, rtol=1e-5, atol=1e-4)


def test_remove_loudness():
    decibels = np.random.default_rng(2).normal(-20, 5, size=(4, 8, 10))
    quiet, peaks = audio.remove_loudness(decibels)
    np.testing.assert_allclose(quiet.max(axis=(1, 2)), 0.0)
    np.testing.assert_allclose(quiet + peaks[:, None, None], decibels)


def test_recording_table_and_spectrograms(tmp_path, settings):
    for name in ["1_theo_3.wav", "0_george_12.wav", "0_george_2.wav"]:
        digit, _, index = audio.parse_recording_name(name)
        _write(tmp_path / name, tone(digit, 0, index))
    table = audio.recording_table(tmp_path)
    assert list(table.columns) == ["file", "digit", "speaker", "recording_index"]
    assert list(table["file"]) == ["0_george_12.wav", "0_george_2.wav", "1_theo_3.wav"]
    assert list(table["recording_index"]) == [12, 2, 3]
    decibels, lengths = audio.spectrograms(audio.read_recordings(tmp_path, list(table["file"]), settings)[0], settings)
    assert decibels.shape == (3, settings.n_mels, settings.frames)
    assert lengths.shape == (3,) and (lengths > 10).all()


def test_recording_table_errors(tmp_path):
    with pytest.raises(ValueError, match="no .wav recordings"):
        audio.recording_table(tmp_path)
    _write(tmp_path / "hello.wav", tone(0, 0, 0))
    with pytest.raises(ValueError, match="hello.wav: not an FSDD recording name"):
        audio.recording_table(tmp_path)


def test_split_masks():
    table = pd.DataFrame({
        "file": [f"{d}_{s}_{i}.wav" for d, s, i in [(0, "george", 0), (0, "george", 4), (0, "george", 5),
                                                     (1, "theo", 49), (1, "theo", 3), (2, "lucas", 10)]],
        "digit": [0, 0, 0, 1, 1, 2],
        "speaker": ["george", "george", "george", "theo", "theo", "lucas"],
        "recording_index": [0, 4, 5, 49, 3, 10],
    })
    official = audio.test_split_mask(table, "official", ["theo"])
    assert official.dtype == bool
    assert official.tolist() == [True, True, False, False, True, False]
    held_out = audio.test_split_mask(table, "leave_speakers_out", ["theo", "lucas"])
    assert held_out.tolist() == [False, False, False, True, True, True]
    with pytest.raises(ValueError, match="split.audio: got 'random'"):
        audio.test_split_mask(table, "random", ["theo"])


def test_validation_split_is_carved_from_train_never_from_test():
    table = pd.DataFrame({"speaker": ["george"] * 5 + ["theo"] * 5,
                          "recording_index": [0, 4, 5, 9, 10] * 2})
    official = audio.split_of_recordings(table, "official", ["theo"], [5, 9])
    assert official.tolist() == ["test", "test", "validation", "validation", "train"] * 2
    # A speaker held out: all of it is test; validation comes from the remaining speakers only.
    held_out = audio.split_of_recordings(table, "leave_speakers_out", ["theo"], [5, 9])
    assert held_out.tolist() == ["train", "train", "validation", "validation", "train"] + ["test"] * 5
    with pytest.raises(ValueError, match="split.validation_recordings: no recording"):
        audio.split_of_recordings(table, "official", ["theo"], [20, 30])
    with pytest.raises(ValueError, match="leaves no train recordings"):
        audio.split_of_recordings(table, "official", ["theo"], [5, 10])


@pytest.fixture(scope="module")
def cepstral(settings) -> audio.AudioSettings:
    return audio.AudioSettings(**{**settings.as_dict(), "features": "cepstral"})


def _power(settings, digit=3):
    signal = tone(digit, 0, 0).astype(np.float32) / 32767
    return audio.trimmed_power(signal + 1e-3 * np.random.default_rng(digit).standard_normal(signal.size), settings)


def test_cepstral_features_are_normalised_per_recording_and_ignore_loudness(cepstral):
    power = _power(cepstral)
    features = audio.cepstral_features(power, cepstral)
    assert features.shape == (2 * cepstral.cepstra, power.shape[1])
    cepstra = features[:cepstral.cepstra]
    np.testing.assert_allclose(cepstra.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(cepstra.std(axis=1), 1.0, atol=1e-3)
    # A louder recording (a constant gain on every frequency) has the same features.
    np.testing.assert_allclose(audio.cepstral_features(power * 100.0, cepstral), features, atol=1e-4)


def test_view_features_shapes_and_the_identity_view(settings, cepstral):
    power = _power(settings)
    assert audio.view_features(power, cepstral).shape == (2 * cepstral.cepstra, cepstral.frames)
    log_mel = audio.view_features(power, settings)
    assert log_mel.shape == (settings.n_mels, settings.frames) and -0.5 < log_mel.max() <= 0.0  # peak-relative dB
    with pytest.raises(ValueError, match="audio.features"):
        audio.view_features(power, audio.AudioSettings(**{**settings.as_dict(), "features": "mfcc"}))


def test_views_warp_crop_and_bend():
    np.testing.assert_allclose(audio.view_positions(11, 5, audio.View()), [0, 2.5, 5, 7.5, 10])
    cropped = audio.view_positions(11, 5, audio.View(crop_start=0.1, crop_end=0.2))
    assert cropped[0] == pytest.approx(1.0) and cropped[-1] == pytest.approx(8.0)
    bent = audio.view_positions(11, 5, audio.View(bend=0.2))
    assert bent[0] == 0 and bent[-1] == pytest.approx(10) and bent[2] > 5  # same ends, a faster start
    power = np.tile(np.arange(8.0)[:, None], (1, 3))
    np.testing.assert_allclose(audio.warp_frequencies(power, 1.0), power)
    np.testing.assert_allclose(audio.warp_frequencies(power, 2.0)[:, 0], np.arange(8.0) / 2)
    first = audio.random_views(6, 0.15, 0.08, 0.2, np.random.default_rng(0))
    assert first == audio.random_views(6, 0.15, 0.08, 0.2, np.random.default_rng(0))
    assert all(np.exp(-0.15) <= v.warp <= np.exp(0.15) and 0 <= v.crop_start <= 0.08 and abs(v.bend) <= 0.2
               for v in first)


def test_background_noise_adds_the_named_power_with_the_named_slope_seeded():
    power = np.full((129, 400), 2.0)
    noisy = audio.with_background_noise(power, 10.0, 0.0, seed=3)
    assert noisy.shape == power.shape and (noisy > power).all()
    np.testing.assert_array_equal(noisy, audio.with_background_noise(power, 10.0, 0.0, seed=3))
    assert not np.array_equal(noisy, audio.with_background_noise(power, 10.0, 0.0, seed=4))
    assert (noisy - power).mean() == pytest.approx(2.0 / 10.0, rel=0.02)  # 10 dB under the mean power
    brown = audio.with_background_noise(power, 0.0, -2.0, seed=3) - power  # power ~ f ** -2: low bins loudest
    assert brown[:10].mean() > 100 * brown[-10:].mean()
    assert brown.mean() == pytest.approx(2.0, rel=0.05)


def test_noise_views_are_drawn_only_when_asked_and_leave_other_draws_alone():
    plain = audio.random_views(6, 0.15, 0.08, 0.2, np.random.default_rng(0))
    assert plain == audio.random_views(6, 0.15, 0.08, 0.2, np.random.default_rng(0), audio.NoiseViews())
    assert all(view.noise_snr_db is None for view in plain)
    noisy = audio.random_views(6, 0.15, 0.08, 0.2, np.random.default_rng(0),
                               audio.NoiseViews(1.0, (5.0, 15.0), (-1.0, 0.0)))
    assert noisy[0].warp == plain[0].warp  # the first view's own draws come first
    assert all(5.0 <= view.noise_snr_db <= 15.0 and -1.0 <= view.noise_tilt <= 0.0 for view in noisy)
    assert noisy == audio.random_views(6, 0.15, 0.08, 0.2, np.random.default_rng(0),
                                       audio.NoiseViews(1.0, (5.0, 15.0), (-1.0, 0.0)))


def test_a_view_in_noise_changes_the_features(tmp_path, cepstral):
    names = [_write(tmp_path / f"{digit}_theo_0.wav", tone(digit, 0, 0)).name for digit in (1, 2)]
    powers, _ = audio.read_recordings(tmp_path, names, cepstral)
    clean = audio.view_features(powers[0], cepstral)
    noisy = audio.view_features(powers[0], cepstral, audio.View(noise_snr_db=0.0, noise_seed=1))
    assert noisy.shape == clean.shape and not np.allclose(noisy, clean)
    np.testing.assert_array_equal(noisy, audio.view_features(powers[0], cepstral,
                                                             audio.View(noise_snr_db=0.0, noise_seed=1)))


def test_autoencoder_inputs_with_views(tmp_path, cepstral):
    names = [_write(tmp_path / f"{digit}_theo_0.wav", tone(digit, 0, 0)).name for digit in (1, 2)]
    powers, _ = audio.read_recordings(tmp_path, names, cepstral)
    clean = audio.features_of(powers, cepstral)
    views = audio.augmented_views(powers, cepstral, 3, 0.15, 0.08, 0.2, np.random.default_rng(0))
    assert clean.shape == (2, 2 * cepstral.cepstra, cepstral.frames) and views.shape == (3, *clean.shape)
    assert not np.allclose(views[0], clean)
    none = audio.augmented_views(powers, cepstral, 0, 0.15, 0.08, 0.2, np.random.default_rng(0))
    assert none.shape == (0, *clean.shape)
    statistics = audio.feature_statistics(clean)
    np.testing.assert_allclose(audio.standardised(clean, statistics).mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(audio.standardised(views, statistics)[0], (views[0] - statistics["mean"])
                               / statistics["deviation"], rtol=1e-5)


def test_voice_descriptors_ignore_loudness_but_see_the_level(settings):
    rng = np.random.default_rng(5)
    time = np.arange(4000) / settings.sample_rate
    signal = (0.3 * np.sin(2 * np.pi * 440 * time) * np.hanning(time.size) + 1e-3 * rng.standard_normal(time.size))
    signal = np.concatenate([1e-3 * rng.standard_normal(800), signal, 1e-3 * rng.standard_normal(800)]).astype(np.float32)
    quiet, loud = (audio.voice_descriptors(s, audio.trimmed_power(s, settings), settings) for s in (signal, 2 * signal))
    assert quiet.shape == (audio.VOICE_CEPSTRA + audio.NOISE_CEPSTRA + 3,) and np.isfinite(quiet).all()
    spectral = audio.VOICE_CEPSTRA + audio.NOISE_CEPSTRA
    assert np.allclose(quiet[:spectral], loud[:spectral], atol=1e-3)  # a gain is c0 only
    assert loud[spectral + 1] == pytest.approx(quiet[spectral + 1] + np.log(2.0), abs=1e-5)  # log peak
    assert loud[spectral + 2] == quiet[spectral + 2]  # length


def _table(speakers=("george", "theo"), indices=(0, 5)) -> pd.DataFrame:
    rows = [(f"{d}_{s}_{i}.wav", d, s, i) for d in range(2) for s in speakers for i in indices]
    return pd.DataFrame(rows, columns=["file", "digit", "speaker", "recording_index"])


@pytest.mark.parametrize("split, speakers, message", [
    ("leave_speakers_out", ["george", "theo"], r"split\.test_speakers: holds out every speaker in the data "
                                               r"\(george, theo\), leaving none to train on"),
    ("leave_speakers_out", ["lucas"], r"split\.test_speakers: lucas not in the recordings; the data has speakers "
                                      r"george, theo"),
    ("leave_speakers_out", ["theo", "nicolas"], r"split\.test_speakers: nicolas not in the recordings"),
])
def test_split_is_checked_against_the_speakers_found(split, speakers, message):
    with pytest.raises(ValueError, match=message):
        audio.test_split_mask(_table(), split, speakers)
    assert audio.test_split_mask(_table(), "leave_speakers_out", ["theo"]).sum() == 4


def test_official_split_needs_both_splits():
    with pytest.raises(ValueError, match=r"split\.audio: official leaves no train recordings among the 4 found"):
        audio.test_split_mask(_table(speakers=("theo",), indices=(0, 1)), "official", ["theo"])


@pytest.mark.parametrize("case, signal, message", [
    ("short", (tone(3, 0, 0)[2000:2010]), r"too short, 10 samples; at least 256 needed"),
    ("dc", np.full(4000, 3000, dtype=np.int16), r"constant signal \(4000 samples all 0\.0915"),
    ("silent", np.zeros(4000, dtype=np.int16), r"empty, silent or non-finite audio"),
])
def test_degenerate_recordings_are_rejected_naming_the_file(tmp_path, case, signal, message):
    settings = audio.AudioSettings(8000, 256, 64, 64, 4000.0, 32, 30.0, True, 4)
    path = tmp_path / f"3_theo_{case}.wav"
    soundfile.write(path, signal, SAMPLE_RATE, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no librosa warning on the way
        with pytest.raises(ValueError, match=message) as caught:
            audio.read_recordings(tmp_path, [path.name], settings)
    assert str(path) in str(caught.value)

"""Shifts: the transfer proxies' recordings and images as another world gives them (domain_shifts.py)."""

import numpy as np
import pytest

from digit_concepts.senses import domain_shifts

RATE = 8000


def _tone(frequency: float, seconds: float = 0.5) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def _power_at(waveform: np.ndarray, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(waveform)) ** 2
    return float(spectrum[int(round(frequency * len(waveform) / RATE))])


def test_a_telephone_line_keeps_the_voice_band_and_drops_what_lies_outside():
    inside, below = _tone(1000.0), _tone(100.0)
    assert _power_at(domain_shifts.telephone(inside, RATE), 1000.0) > 0.5 * _power_at(inside, 1000.0)
    assert _power_at(domain_shifts.telephone(below, RATE), 100.0) < 0.05 * _power_at(below, 100.0)


def test_mu_law_has_256_levels_and_keeps_small_signals_finer_than_large_ones():
    values = np.linspace(-1.0, 1.0, 100001)
    assert len(np.unique(domain_shifts.mu_law(values))) <= 256
    error = np.abs(domain_shifts.mu_law(values) - values)
    assert error[np.abs(values) < 0.01].max() < error[np.abs(values) > 0.9].max()


def test_noise_is_added_at_the_asked_ratio_and_is_seeded():
    clean = _tone(440.0, 2.0)
    noisy = domain_shifts.with_noise(clean, 10.0, np.random.default_rng(0))
    ratio = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((noisy - clean).astype(np.float64) ** 2))
    assert abs(ratio - 10.0) < 0.05
    np.testing.assert_array_equal(noisy, domain_shifts.with_noise(clean, 10.0, np.random.default_rng(0)))


def test_a_room_adds_a_tail_that_decays_by_60_db_over_rt60():
    response = domain_shifts.room_impulse_response(RATE, 0.4, np.random.default_rng(1))
    assert len(response) == int(0.4 * RATE) and response[0] == 1.0
    early, late = np.abs(response[1:400]).mean(), np.abs(response[-400:]).mean()
    assert 20 * np.log10(early / late) > 45
    click = np.zeros(800, np.float32)
    click[0] = 1.0
    heard = domain_shifts.reverberant(click, RATE, 0.4, np.random.default_rng(1))
    assert len(heard) == 800 + len(response) - 1 and np.isclose(np.abs(heard).max(), 1.0)
    with pytest.raises(ValueError, match="rt60"):
        domain_shifts.room_impulse_response(RATE, 0.0, np.random.default_rng(1))


def test_faster_playback_is_shorter_and_higher():
    played = domain_shifts.faster(_tone(500.0), 1.1)
    assert abs(len(played) - 4000 / 1.1) <= 1
    spectrum = np.abs(np.fft.rfft(played))
    assert abs(np.argmax(spectrum) * RATE / len(played) - 550.0) < 5.0


def test_a_pitch_shift_keeps_the_length_and_moves_the_pitch():
    shifted = domain_shifts.pitch_shifted(_tone(440.0), RATE, 2.0)
    assert len(shifted) == 4000
    spectrum = np.abs(np.fft.rfft(shifted))
    assert abs(np.argmax(spectrum) * RATE / len(shifted) - 440.0 * 2 ** (2 / 12)) < 6.0


def test_shifted_recordings_are_the_five_shifts_seeded_each_changing_the_recording():
    recording = _tone(440.0) * np.hanning(4000).astype(np.float32)
    made = domain_shifts.shifted_recordings(recording, RATE, np.random.default_rng(3))
    assert tuple(made) == domain_shifts.AUDIO_SHIFTS
    again = domain_shifts.shifted_recordings(recording, RATE, np.random.default_rng(3))
    for name, shifted in made.items():
        assert shifted.dtype == np.float32 and np.isfinite(shifted).all()
        np.testing.assert_array_equal(shifted, again[name])
        assert len(shifted) != len(recording) or not np.allclose(shifted, recording, atol=1e-3), name
    assert abs(len(made["speed"]) - 4000 / 1.1) <= 1 or abs(len(made["speed"]) - 4000 / 0.9) <= 1
    assert len(made["reverb"]) == 4000 + int(domain_shifts.ROOM_RT60 * RATE) - 1 and len(made["pitch"]) == 4000


def _digit() -> np.ndarray:
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 6:22, 12:16] = 1.0  # a 1
    return image


def test_image_shifts_keep_the_form_and_range_and_move_the_ink():
    digit = _digit()
    for shifted in (domain_shifts.elastic(digit, 34.0, 4.0, np.random.default_rng(0)), domain_shifts.blurred(digit, 1.0),
                    domain_shifts.low_resolution(digit, 8)):
        assert shifted.shape == digit.shape and shifted.dtype == np.float32
        assert 0.0 <= shifted.min() and shifted.max() <= 1.0
        assert 0.0 < np.abs(shifted - digit).mean() < 0.2
    np.testing.assert_array_equal(domain_shifts.elastic(digit, 34.0, 4.0, np.random.default_rng(0)),
                                  domain_shifts.elastic(digit, 34.0, 4.0, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="side"):
        domain_shifts.low_resolution(digit, 1)


def test_the_held_out_views_are_seeded_and_a_large_picture_reads_back_as_the_digit():
    digits = np.concatenate([_digit(), np.roll(_digit(), 3, axis=2)])
    views = domain_shifts.held_out_views(digits, seed=42)
    assert tuple(views) == domain_shifts.HELD_OUT_IMAGE_VIEWS
    np.testing.assert_array_equal(views["elastic"], domain_shifts.held_out_views(digits, seed=42)["elastic"])
    assert not np.array_equal(views["elastic"], domain_shifts.held_out_views(digits, seed=1)["elastic"])
    # Drawn large and dark on light, then read as the tool reads a picture: the same upright bar,
    # refitted into MNIST's 20 x 20 box and centred (so not pixel for pixel the input).
    back = views["large_picture"][0]
    assert back.shape == (28, 28) and back[:, 14].sum() > 10 * back[:, 4].sum()
    assert abs(np.argmax(back.sum(axis=0)) - 13.5) <= 1.5

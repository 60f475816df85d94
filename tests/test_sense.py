"""The senses as records and their arrays' names (core/sense.py): the names the files always had."""

import numpy as np
import pytest

from digit_concepts.core.sense import AUDIO, IMAGE, SENSES, Sense, SplitArrays, sense_named, view_key


def test_each_sense_spells_the_names_its_arrays_have_in_the_files():
    assert IMAGE.key("test") == "image_test" and AUDIO.key("train_sizes") == "audio_train_sizes"
    assert AUDIO.log_posteriors_key("validation") == "audio_validation_log_posteriors"
    assert AUDIO.taught_log_posteriors_key("test") == "audio_test_taught_log_posteriors"
    assert IMAGE.episode_index_key("train") == "train_image_index"
    assert AUDIO.key(view_key("test", "noise")) == "audio_test_noise"


def test_only_images_are_scored_as_binary_data():
    assert [sense.binary_reconstruction for sense in SENSES] == [True, False]
    assert IMAGE.inputs == IMAGE.shown and AUDIO.inputs != AUDIO.shown  # the audio decoder makes log-mels


def test_a_sense_is_found_by_name_and_an_unknown_name_is_refused():
    assert sense_named("audio") is AUDIO
    with pytest.raises(ValueError, match="no sense is named 'touch'"):
        sense_named("touch")


def test_split_arrays_are_read_by_sense_and_split():
    arrays = SplitArrays({"image_test": np.arange(3), "audio_test": np.arange(2),
                          "audio_test_log_posteriors": np.zeros((2, 4)), "test_audio_index": np.array([1, 0])})
    np.testing.assert_array_equal(arrays.of(IMAGE, "test"), [0, 1, 2])
    assert list(arrays.by_split(AUDIO, ("test",))) == ["test"]
    assert arrays.log_posteriors(AUDIO, "test").shape == (2, 4)
    assert arrays.taught_log_posteriors(AUDIO, "test") is None  # no classifier taught
    np.testing.assert_array_equal(arrays.episode_index(AUDIO, "test"), [1, 0])


def test_a_sense_is_a_frozen_record():
    with pytest.raises(AttributeError):
        IMAGE.name = "audio"
    assert isinstance(IMAGE, Sense)

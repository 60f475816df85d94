"""adaptation: how a batch of new recordings borrows evidence from the recordings it sounds like."""

import numpy as np
import pytest

from digit_concepts.concepts import adaptation


def test_neighbourhoods_put_each_sample_first_and_weigh_only_members_nearer_than_train():
    features = np.array([[0.0], [1.0], [3.0]])
    indices, weights = adaptation.batch_neighbourhoods(features, 2, np.array([[-0.5], [2.5]]))
    np.testing.assert_array_equal(indices[:, 0], [0, 1, 2])
    # Samples 0 and 2 are 0.5 from a train sample, nearer than any fellow: they borrow nothing.
    # Sample 1 is 1.5 from train, 1.0 from sample 0 (borrowed) and 2.0 from sample 2 (not).
    np.testing.assert_array_equal(weights, [[1, 0, 0], [1, 1, 0], [1, 0, 0]])
    duplicates = np.zeros((3, 2))
    assert (adaptation.batch_neighbourhoods(duplicates, 2, np.ones((1, 2)))[0][:, 0] == [0, 1, 2]).all()


@pytest.mark.parametrize("batch_size, expected", [(0, 0), (1, 0), (10, 0), (19, 0), (20, 1), (40, 3), (300, 20),
                                                 (500, 20)])
def test_a_batch_borrows_no_more_than_it_holds_of_one_concept(batch_size, expected):
    assert adaptation.batch_neighbours_for(batch_size, 10, 20) == expected
    assert adaptation.batch_neighbours_for(40, 10, 20, share=0.5) == 1 and adaptation.batch_neighbours_for(40, 10, 2) == 2
    with pytest.raises(ValueError, match="concepts >= 1"):
        adaptation.batch_neighbours_for(40, 0, 20)

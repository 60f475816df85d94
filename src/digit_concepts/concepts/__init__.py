"""Each sense's concepts, found in its codes: reductions, clustering, voices, self-labelling, test-time
adaptation, familiarity, and the learner's settings file."""

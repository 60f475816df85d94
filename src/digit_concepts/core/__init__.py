"""The plumbing every layer uses: paths, whole-or-nothing storage, typed params, the Keras runtime, the stage
runner, the Standardiser, the evidence (intervals, seeds) and the two senses as records."""

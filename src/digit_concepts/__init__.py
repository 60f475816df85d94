"""Discover digit concepts from two senses (MNIST images, FSDD recordings) without labels.

Its sub-packages are its layers, bottom up: core, senses, concepts, crossmodal, evaluation,
pipeline, reporting, tool (docs/layout.md); the stage scripts in ``stages/`` are glue on top.
Labels decide only which image and recording share an episode (the preprocess stage, through
``senses/episodes``); everywhere else they only score (``evaluation/scoring``,
``evaluation/coherence_classifiers``) or caption a figure.
"""

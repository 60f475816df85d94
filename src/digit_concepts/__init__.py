"""Discover digit concepts from two senses (MNIST images, FSDD recordings) without labels.

Modules are the concepts of DESIGN.md, in layers (docs/layout.md); stage scripts in ``stages/``
are thin glue on top. Labels decide only which image and recording share an episode (the
preprocess stage, through ``episodes``); everywhere else they only score (``scoring``,
``evaluation_classifiers``) or caption a figure.
"""

"""Discover digit concepts from two senses (MNIST images, FSDD recordings) without labels.

Modules are the concepts of DESIGN.md; stage scripts in ``stages/`` are thin glue on top.
Labels are read only by ``episodes`` (to build the co-occurrence stream) and ``scoring``.
"""

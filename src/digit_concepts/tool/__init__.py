"""The trained learner as a tool: the learner and its checked files, the command line, the try-it page."""

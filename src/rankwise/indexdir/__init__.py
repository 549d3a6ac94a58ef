"""Index folders written by ``rankwise index``: open them, search them with metadata
conditions, and shape the ``rankwise.search/v1`` rows; shared by the CLI and ``rankwise serve``."""

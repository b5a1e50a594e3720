from .main import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, main  # noqa: F401

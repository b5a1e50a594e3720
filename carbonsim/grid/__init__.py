from .grid import *  # noqa: F401,F403

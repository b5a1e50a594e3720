from .result import *  # noqa: F401,F403
from .result import build_result  # noqa: F401

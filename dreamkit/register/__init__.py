"""Reading DREAM-style registers: the ISO-week calendar, code maps, the dense state array."""

from dreamkit.register.codemap import CodeMap
from dreamkit.register.register import Register

__all__ = ["CodeMap", "Register"]

"""Reading DREAM-style registers: the ISO-week calendar, code maps, the dense state array."""

from dreamkit.register.codemap import CodeMap
from dreamkit.register.codes_table import long_to_wide, wide_to_long, write_codes
from dreamkit.register.employment import EmploymentTable, expand_months
from dreamkit.register.read_long import read_long
from dreamkit.register.read_wide import read_wide
from dreamkit.register.register import Register

__all__ = [
    "CodeMap",
    "EmploymentTable",
    "Register",
    "expand_months",
    "long_to_wide",
    "read_long",
    "read_wide",
    "wide_to_long",
    "write_codes",
]

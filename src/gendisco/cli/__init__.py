"""The `gendisco` command line: parse options, call one library function, map errors.

Results go to stdout, status and progress to stderr. Exit codes (DESIGN.md): 0 done,
1 failure outside the user's control, 2 user mistake, 130 interrupted. Heavy libraries
(torch, diffusers, librosa) are imported inside the commands that need them, so
`gendisco validate` and `gendisco schema` answer instantly.
"""

from gendisco.cli.conventions import DAY_ORDER, app
from gendisco.cli.entry import expand_bare_ray, main

__all__ = ["DAY_ORDER", "app", "expand_bare_ray", "main"]

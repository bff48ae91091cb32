"""A song's analysis in a process of its own: `python -m gendisco.studio.analysis_child SONG`.

The studio analyses a long song here rather than in a thread, so seconds of mostly-Python
work do not hold the server's interpreter while the page loads. The result (or the error,
whose message is written for the user) goes back pickled on stdout to the studio that
started this process, and only to it.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main() -> None:
    from gendisco.audio import analyze

    try:
        result: tuple[bool, object] = (True, analyze(Path(sys.argv[1])))
    except Exception as error:  # sent back whole
        result = (False, error)
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()

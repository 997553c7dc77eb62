"""``python -m bench`` is ``promlite bench``."""

import sys

from promlite.bench_cli import missing_bench_dependencies, missing_message

if missing := missing_bench_dependencies():  # bench.cli imports rich: a message, not a traceback
    print(missing_message(missing), file=sys.stderr)
    sys.exit(1)

from .cli import main  # noqa: E402 - only once the dependencies are known to be there

sys.exit(main())

"""Start ralph's LRS (``ralph.api:app``) with its filesystem backend on 127.0.0.1:PORT.

ralph 5.1's filesystem LRS backend writes with operation type CREATE by default, so
only the first POST /statements would find its file absent; every later one fails with
500. Statements are appended to one JSON-lines file instead. Everything else (HTTP API,
strict statement validation, duplicate-id handling) is ralph's own.
"""

from __future__ import annotations

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    from ralph.api import app

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

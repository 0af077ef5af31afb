#!/usr/bin/env python3
"""Run every benchmark (`make bench`): local scale, container overhead, warm containers,
workers through PostgreSQL, the server under load."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("local_scale.py", "docker_overhead.py", "reuse.py", "workers.py", "server.py", "ui.py"):
    print(f"== {script}", flush=True)
    code = subprocess.call([sys.executable, str(HERE / script)])
    if code:
        sys.exit(code)

"""Wait until a URL answers 200 (make demo: the service started in the background). Exit 1 after the timeout.

python scripts/wait_healthy.py http://127.0.0.1:8000/healthz [seconds]
"""

import sys
import time
import urllib.request

url = sys.argv[1]
deadline = time.time() + (float(sys.argv[2]) if len(sys.argv) > 2 else 60)
while time.time() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit(1)

"""HTTP API and a small web page around one loaded `Detector`.

`create_app` is a factory: nothing is loaded at import time, and tests pass their own detector.
Where things live: `app` (routes), `settings` (every limit and switch), `guards` (ASGI middleware that
acts on headers before the body is read: security headers, Host, CORS, API keys, body size),
`uploads` (multipart parts accepted), `pool` (worker threads, bounded queue, time budget), `jobs`
(what a worker runs for one file: decode budget, then scoring).
"""

from deepfake_audio.server.app import create_app
from deepfake_audio.server.settings import ServerSettings, api_keys_from_env, hosts_to_accept

__all__ = ["ServerSettings", "api_keys_from_env", "create_app", "hosts_to_accept"]

"""The process ``tinyserve serve --enable-mlserver`` becomes: MLServer serving one model.

``tinyserve.mlserver_cli`` checks the flags, loads the model once and then execs
``python -m tinyserve.mlserver_main SETTINGS_JSON`` (so the server keeps the PID and receives
signals directly). This starts MLServer in-process with exactly those settings, instead of
``mlserver start``, for one reason: ``mlserver start`` exits 0 when its model fails to load
(a crashed worker, say); here that is exit status 1 and a one-line message. The settings JSON
is ``{"server": <mlserver Settings fields>, "model": <ModelSettings fields>,
"graceful_timeout": <seconds>}``; MLServer still reads ``MLSERVER_*`` environment variables for
fields it does not set. On SIGTERM the requests in flight are answered first (``drain``).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from typing import Any, Dict, List, Optional


async def serve(config: Dict[str, Any], scratch: str) -> int:
    """Run MLServer until it stops; 0 after a signal, 1 when the model did not load."""
    from mlserver import MLServer
    from mlserver.settings import ModelSettings, Settings

    class Server(MLServer):
        """Tells a stop by signal (exit 0) from a stop because the model did not load, and
        answers the requests in flight before the parallel workers go."""

        signalled = draining = False

        async def stop(self, sig: Optional[int] = None) -> None:
            self.signalled = self.signalled or sig is not None
            if sig is not None and self._inference_pool_registry and not self.draining:
                self.draining = True
                await drain(self._rest_server, config.get("graceful_timeout", 30.0))
            await super().stop(sig)

    # MLServer would write .envs/ and .metrics/ into the working directory, and look for
    # model-settings.json files under it when its repository API is called
    settings = {"environments_dir": os.path.join(scratch, "envs"),
                "metrics_dir": os.path.join(scratch, "metrics"),
                "model_repository_root": scratch, **config["server"]}
    server = Server(Settings(**settings))  # inside the loop: it adds its signal handlers
    await server.start([ModelSettings(**config["model"])])
    if server.signalled:
        return 0
    print(f"tinyserve: error: MLServer could not load the model {config['model'].get('name')!r} "
          "(its log above says why).", file=sys.stderr)
    return 1


async def drain(rest_server: Any, seconds: float) -> None:
    """Stop taking HTTP requests and wait up to ``seconds`` for those in flight.

    MLServer 1.7 stops its parallel workers first; a request still waiting for a worker then
    never ends, and uvicorn waits for it until the process is killed. Reaches into MLServer's
    and uvicorn's attributes; if they are not there, MLServer stops as it would anyway."""
    uvicorn_server = getattr(rest_server, "_server", None)
    state = getattr(uvicorn_server, "server_state", None)
    if state is None:
        return
    uvicorn_server.should_exit = True  # uvicorn closes its sockets and idle connections
    deadline = asyncio.get_running_loop().time() + seconds
    while state.tasks and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tinyserve.mlserver_main SETTINGS_JSON", file=sys.stderr)
        return 2
    from mlserver.utils import install_uvloop_event_loop

    install_uvloop_event_loop()  # as `mlserver start` does
    scratch = tempfile.mkdtemp(prefix="tinyserve-mlserver-")
    try:
        return asyncio.run(serve(json.loads(args[0]), scratch))
    except KeyboardInterrupt:
        return 130
    finally:  # after asyncio.run: MLServer's last stop tasks still write metrics files
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""moto's server with one request at a time.

moto's threaded server does not isolate TransactWriteItems: under concurrent load two
transactions conditioned on the same item version can both commit (measured: 8 of 60
trials with 10 racing clients), which DynamoDB never allows. Serialising requests gives
the emulator DynamoDB's isolation, so concurrency tests (last-admin, refresh rotation,
idempotency) test our code, not the emulator's races. Same arguments as moto_server.
"""

import sys
import threading

import moto.server as server

_lock = threading.Lock()
_dispatch = server.DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):
    with _lock:
        # moto answers with a fully built response, so the store work happens in here.
        return _dispatch(self, environ, start_response)


server.DomainDispatcherApplication.__call__ = _serialised

if __name__ == "__main__":
    server.main(sys.argv[1:])

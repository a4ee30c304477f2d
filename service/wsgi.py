"""The WSGI application gunicorn serves."""

import gc

from . import create_app

app = create_app()
# Everything loaded so far (modules, mapped classes, schemas, the spec) lives as long as the
# worker: out of the collector's sight, a full collection no longer walks it all again. It
# was a tenth of a batch's CPU time.
gc.freeze()

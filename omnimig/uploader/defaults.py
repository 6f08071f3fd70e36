"""The upload's default limits, in a module that imports nothing.

``omnimig.upload`` shows them in its signature (``help()``, an IDE) and ``omnimig upload`` as its
options' defaults (``--help``); neither may import the http client to do so. ``upload_bundle``,
``run_upload`` and the client take their defaults from here too, so the public signature, the
command line and the functions that do the work cannot disagree (tests compare ``omnimig.upload``
with ``upload_bundle`` in ``tests/test_api.py``, and the CLI's options with both in
``tests/test_upload_cli.py``).
"""

#: Seconds one request may take in all, every retry and backoff included (``--http-timeout``).
DEFAULT_BUDGET = 300.0
#: Seconds to wait for one migration to be processed by Omnitron (``--timeout``).
MIGRATION_TIMEOUT = 3600.0
#: Seconds between two progress requests for a migration (``--poll-interval``).
POLL_INTERVAL = 5.0

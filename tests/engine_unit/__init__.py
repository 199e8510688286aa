"""The fast engine suite: ``Sender``, ``Committer`` and the rate limiter on a fake clock (a few seconds), and
``Engine`` on a small DuckDB project built once for its module, all against the in-memory destination of
``tests/fixtures/fake_destination.py`` instead of the CRM emulators."""

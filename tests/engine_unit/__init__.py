"""The fast engine suite: ``Sender``, ``Committer``, the rate limiter and ``Engine`` against the in-memory
destination of ``tests/fixtures/fake_destination.py``, without the CRM emulators (a few seconds in all)."""

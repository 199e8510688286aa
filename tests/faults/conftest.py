"""The fault suite reuses the engine fault matrix's project, emulators and arming."""

from tests.engine.test_faults import arming, duck, duck_wh, sandbox, stack  # noqa: F401

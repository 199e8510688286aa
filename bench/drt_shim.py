"""Points drt's HubSpot destination at the HubSpot emulator (bench side only; drt's files are not changed).

``bench/run drt`` copies this module into drt's own virtual environment with a ``.pth`` line that imports
it at interpreter start. drt 1.2.1 hard-codes the API base in module constants of
``drt/destinations/hubspot.py`` (``_HUBSPOT_API``, ``_HUBSPOT_PROPERTIES_API``) and reads them at call
time; when ``BENCH_DRT_HUBSPOT_URL`` is set, this rewrites both to the emulator's URL. Without the variable
it does nothing.
"""

import os

_URL = os.environ.get("BENCH_DRT_HUBSPOT_URL")
if _URL:
    try:
        from drt.destinations import hubspot as _hubspot
    except ImportError:  # not drt's venv
        pass
    else:
        _base = _URL.rstrip("/")
        _hubspot._HUBSPOT_API = _base + "/crm/v3/objects"
        _hubspot._HUBSPOT_PROPERTIES_API = _base + "/crm/v3/properties"

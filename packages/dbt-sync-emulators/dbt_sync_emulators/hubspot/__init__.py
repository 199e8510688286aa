"""A local HubSpot CRM API emulator for contract and end-to-end tests.

Usage::

    from dbt_sync_emulators.hubspot import HubSpotEmulator
    with HubSpotEmulator(rate_limit=20, rate_interval=1.0) as emu:
        client = HubSpot(access_token=emu.token, host=emu.url)

See docs/emulators-hubspot.md for the behaviour it reproduces.
"""

from .emulator import EmulatorStats, HubSpotEmulator
from .schema import PropertyDef
from .settings import EmulatorSettings

__all__ = ["EmulatorSettings", "EmulatorStats", "HubSpotEmulator", "PropertyDef"]

"""Where the dashboard may listen without its own sign-in (docs/access.md).

Streamlit listens where ``server.address`` says: its config file, the ``--server.address``
flag or ``STREAMLIT_SERVER_ADDRESS`` (unset means every interface). Anything but a
loopback address or a socket file needs sign-in (``FLOWRUNS_DASHBOARD_AUTH=local``) or a
declared authenticating proxy in front (``FLOWRUNS_TRUST_PROXY_AUTH=1``).

``python -m dashboard.state.exposure [streamlit flags]`` is the check `make run` makes before
starting Streamlit: it resolves the address as Streamlit will and exits 2 with the
refusal. The app checks again on every page run (dashboard.state.access), which covers a
plain ``streamlit run``.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Sequence

from data.settings import Settings, SettingsError, get_settings

EXIT_REFUSED = 2
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_local_address(address: str | None) -> bool:
    """True when only this machine can connect: a loopback address or a socket file.
    Unset or empty means every interface; a host name may resolve to anything."""
    value = (address or "").strip()
    if not value:
        return False
    if value.startswith("unix://") or value.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(value.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_refusal(address: str | None, settings: Settings) -> str | None:
    """The one-line refusal to serve on ``address``, or None when serving there is allowed."""
    if is_local_address(address) or settings.dashboard_auth != "none":
        return None
    if settings.trust_proxy_auth:
        return None
    where = repr(address.strip()) if address and address.strip() else "every interface"
    return (
        f"Refusing to serve the dashboard on {where} (server.address) without sign-in:"
        " set FLOWRUNS_DASHBOARD_AUTH=local, or FLOWRUNS_TRUST_PROXY_AUTH=1 behind an"
        " authenticating proxy, or bind to 127.0.0.1"
    )


def flag_address(argv: Sequence[str]) -> str | None:
    """The value of ``--server.address`` among Streamlit's flags (the last one wins)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--server.address" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--server.address="):
            found = arg.split("=", 1)[1]
    return found


def resolved_address(argv: Sequence[str]) -> str | None:
    """``server.address`` as Streamlit will resolve it: the flag, else
    ``STREAMLIT_SERVER_ADDRESS`` (Streamlit's command line reads it as that flag, through
    click), else the config files."""
    from streamlit import config

    flag = flag_address(argv) or os.environ.get("STREAMLIT_SERVER_ADDRESS") or None
    config.get_config_options(
        force_reparse=True, options_from_flags={} if flag is None else {"server.address": flag}
    )
    value = config.get_option("server.address")
    return None if value is None else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"flowruns dashboard: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    refusal = exposure_refusal(resolved_address(sys.argv[1:] if argv is None else argv), settings)
    if refusal is not None:
        print(f"flowruns dashboard: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

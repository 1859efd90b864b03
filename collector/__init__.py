"""Learning-telemetry collector: Telemetry V3 in, stored once, live dashboards, xAPI out.

The application factory is :func:`collector.app.create_app`; docs/ARCHITECTURE.md maps
the packages.
"""

__version__ = "0.1.0"

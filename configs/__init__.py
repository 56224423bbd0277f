"""The configs shipped with bci-runtime (session, closed loop, calibration paradigms, CSV mappings).

This folder installs as the data package ``bci.configs``; read its files through
:func:`bci.config.shipped_config`, which works the same from a checkout and from a wheel.
"""

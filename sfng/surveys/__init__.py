"""Survey-specific product formats, each a package registered with :mod:`sfng.formats` through
the ``sfng.formats`` entry point.  Generic code never imports these packages; the CLI's
survey-specific commands (``sfng fetch manga``, ``sfng export hdf5``) do.
"""

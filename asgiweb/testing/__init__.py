"""The modules behind :mod:`asgiweb.test_utils`; import from there."""

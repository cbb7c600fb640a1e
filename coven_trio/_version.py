"""The package version, in a module of its own so ``__init__`` and ``daemon`` need not
import each other to learn it."""

__version__ = "0.1.0"

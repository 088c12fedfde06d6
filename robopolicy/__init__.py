"""robopolicy: learn robot policies from demonstrations and run them on real arms."""

__version__ = "0.1.0"

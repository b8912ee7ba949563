"""preau: infrastructure as code for a département's collège network (ENC)."""

__version__ = "0.1.0"

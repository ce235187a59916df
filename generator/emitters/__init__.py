"""Emitters: each reads the model and adds files to the output tree."""

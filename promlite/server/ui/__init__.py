"""The web UI's static assets (index.html, *.js, style.css), shipped as package data.

A package only so that setuptools ships the files and ``importlib.resources``
finds them; ``promlite/server/ui_routes.py`` serves them.
"""

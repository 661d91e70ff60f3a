"""Fixes applied to third-party libraries automatically, never by editing site-packages.

``import common`` calls :func:`apply_all`, which installs each fix for when its library is first
imported (or at once, if it already is); it imports none of those libraries itself. Idempotent.
"""
from .grad_cam_two_output import install as install_grad_cam_two_output


def apply_all() -> None:
    install_grad_cam_two_output()

"""Fixes applied to third-party libraries at import time, never by editing site-packages.

``import common`` applies them; ``patches.apply_all()`` is idempotent.
"""
from .grad_cam_two_output import apply as apply_grad_cam_two_output


def apply_all() -> None:
    apply_grad_cam_two_output()

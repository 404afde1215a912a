"""Views: Qt-side readers of the session store. Each view knows which records it shows and
renders them for the timeline's current step. Views never import torch.

To add a view, write a ``View`` subclass in its own module and list it in ``registry.py``.
"""

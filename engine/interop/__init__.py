"""Interop with the PyTorch world: a graph document out as PyTorch code or ONNX, an
``nn.Module`` in as a graph document, weights and sessions out in standard formats.

Every failure is an ``InteropError`` (or a GraphError / SessionError from the document or
session it reads) whose text is one sentence for the user. See docs/interop.md.
"""
from .errors import InteropError

__all__ = ["InteropError"]

"""On a CUDA device: exported PyTorch code runs there and agrees with the compiled graph on
the CPU, and the XNOR template gives the same outputs on CUDA's kernels as on the CPU's
(its ±1 sums are exact whatever order a kernel adds them in). Skipped without CUDA."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.graph.compile import compile_graph
from engine.interop.code_export import export_code

from .interop_cases import compiled_output, example_input, template_docs, trained_like

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture(autouse=True)
def _full_float32():
    """TF32 rounds convolutions to 10-bit mantissas on Ampere and later: compare in float32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_xnor_template_agrees_on_cuda_and_cpu():
    doc = template_docs()["xnor_net"]
    weights = trained_like(doc, seed=5)
    x = (torch.rand(256, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.7).float()
    compiled = compile_graph(doc)
    compiled.model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.weights.items()})
    model = compiled.model.eval()
    with torch.no_grad():
        cpu = model(x).numpy()
        cuda = model.to("cuda")(x.to("cuda")).cpu().numpy()
    assert np.abs(cuda - cpu).max() <= 1e-4


def test_exported_code_runs_on_cuda(tmp_path):
    for slug, doc in template_docs().items():
        code = export_code(doc)
        namespace: dict = {}
        exec(compile(code.source, f"{slug}.py", "exec"), namespace)  # noqa: S102 - our own generated file
        model = namespace[code.class_name]()
        weights = trained_like(doc)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in code.rename_weights(weights.weights).items()})
        x = example_input(doc)
        with torch.no_grad():
            got = model.to("cuda").eval()(x.to("cuda")).cpu().numpy()
        assert np.abs(got - compiled_output(doc, weights, x)).max() <= 1e-4, slug

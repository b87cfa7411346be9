"""The PyTorch hooks end to end on a tiny transformer, against the real service."""
from __future__ import annotations

import unittest

import saeserve

from .reference_sae import TopKSae
from .service import URL, needs_service

try:
    import torch

    import saeserve.torch as st

    from .tiny_model import TinyLM
except ImportError:  # torch is optional: these tests are skipped without it
    torch = None

ID = "demo-topk"
PROMPT = torch.tensor([[5, 17, 3, 29, 11, 8]]) if torch is not None else None
CLAMP = (37, 12.0)  # feature, value: changes the greedy continuation of PROMPT


class Capture:
    """Records a module's (possibly already steered) output: register after the steering hook."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.outputs = []
        self.handle = module.register_forward_hook(lambda _m, _i, out: self.outputs.append(out[0].detach().clone()))


def reference_hook(sae: TopKSae, feature: int, value: float):
    """The same clamp computed in-process (numpy, float64): the independent implementation."""
    def hook(_m, _i, out):
        h = out[0]
        steered = sae.clamp(h.detach().double().numpy(), feature, value)
        return (torch.from_numpy(steered).to(h.dtype),) + out[1:]
    return hook


@needs_service
@unittest.skipIf(torch is None, "PyTorch is not installed")
class TensorInputTest(unittest.TestCase):
    def test_any_float_tensor_encodes_like_its_float32_copy(self) -> None:
        client = saeserve.Client(URL)
        try:
            x = torch.linspace(-2, 2, 3 * 64).reshape(3, 64).to(torch.bfloat16)
            want = client.encode(ID, x.float().numpy(), top=5, include="metrics")
            for t in (x, x.float().requires_grad_(True), x.double()):
                got = client.encode(ID, t, top=5, include="metrics")
                self.assertTrue((got.indices == want.indices).all(), str(t.dtype))
                self.assertTrue((got.values == want.values).all(), str(t.dtype))
                self.assertIsNotNone(got.metrics)
        finally:
            client.close()


@needs_service
@unittest.skipIf(torch is None, "PyTorch is not installed")
class TorchHookTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = saeserve.Client(URL)
        self.model = TinyLM().eval()

    def tearDown(self) -> None:
        self.client.close()

    def test_all_positions_are_the_service_answer_spliced_in(self) -> None:
        model = self.model.double()
        layer = model.blocks[0]
        plain = Capture(layer)
        with torch.no_grad():
            model(PROMPT)
        plain.handle.remove()
        with st.steering(layer, self.client, ID, [saeserve.clamp(*CLAMP)]):
            seen = Capture(layer)
            with torch.no_grad():
                model(PROMPT)
            seen.handle.remove()
        steered, before = seen.outputs[0], plain.outputs[0]
        self.assertEqual((steered.dtype, steered.device, steered.shape), (before.dtype, before.device, before.shape))
        expected = self.client.steer(ID, before[0].float().numpy(), [saeserve.clamp(*CLAMP)])
        self.assertTrue(torch.equal(steered[0], torch.from_numpy(expected).double()))
        self.assertEqual(len(layer._forward_hooks), 0)

    def test_last_position_only(self) -> None:
        layer = self.model.blocks[1]
        batch = torch.cat([PROMPT, PROMPT.flip(1)])
        plain = Capture(layer)
        with torch.no_grad():
            self.model(batch)
        plain.handle.remove()
        with st.steering(layer, self.client, ID, [saeserve.clamp(*CLAMP)], positions="last"):
            seen = Capture(layer)
            with torch.no_grad():
                self.model(batch)
            seen.handle.remove()
        steered, before = seen.outputs[0], plain.outputs[0]
        self.assertTrue(torch.equal(steered[:, :-1], before[:, :-1]))
        expected = self.client.steer(ID, before[:, -1].numpy(), [saeserve.clamp(*CLAMP)])
        self.assertTrue(torch.equal(steered[:, -1], torch.from_numpy(expected)))

    def test_one_intervention_on_its_own_steers_as_a_list_of_one(self) -> None:
        layer = self.model.blocks[0]
        outputs = []
        for interventions in (saeserve.clamp(*CLAMP), [saeserve.clamp(*CLAMP)]):
            with st.steering(layer, self.client, ID, interventions):
                seen = Capture(layer)
                with torch.no_grad():
                    self.model(PROMPT)
                seen.handle.remove()
            outputs.append(seen.outputs[0])
        self.assertTrue(torch.equal(outputs[0], outputs[1]))
        h = torch.randn(3, 64)
        self.assertTrue(torch.equal(st.steer_tensor(self.client, ID, h, saeserve.add(3, 1.0)),
                                    st.steer_tensor(self.client, ID, h, [saeserve.add(3, 1.0)])))
        with self.assertRaisesRegex(TypeError, "interventions must be a list of interventions"):
            with st.steering(layer, self.client, ID, 37):
                pass
        self.assertEqual(len(layer._forward_hooks), 0)

    def test_dtype_is_preserved(self) -> None:
        for dtype in (torch.float16, torch.bfloat16, torch.float64):
            h = torch.randn(3, 64).to(dtype)
            out = st.steer_tensor(self.client, ID, h, [saeserve.add(3, 1.0)])
            self.assertEqual((out.dtype, out.shape), (dtype, h.shape))
            expected = self.client.steer(ID, h.float().numpy(), [saeserve.add(3, 1.0)])
            self.assertTrue(torch.equal(out, torch.from_numpy(expected).to(dtype)))

    def test_generation_matches_an_in_process_clamp_and_differs_from_plain(self) -> None:
        layer = self.model.blocks[0]
        plain = self.model.generate(PROMPT, 20)
        with st.steering(layer, self.client, ID, [saeserve.clamp(*CLAMP)]):
            served = self.model.generate(PROMPT, 20)
        with st.steering(layer, self.client, ID, [saeserve.clamp(*CLAMP)], positions="last"):
            served_last = self.model.generate(PROMPT, 20)
        handle = layer.register_forward_hook(reference_hook(TopKSae(ID), *CLAMP))
        try:
            in_process = self.model.generate(PROMPT, 20)
        finally:
            handle.remove()
        self.assertEqual(len(served), 20)
        self.assertEqual(served, in_process)
        self.assertNotEqual(served, plain)
        self.assertNotEqual(served_last, plain)

    def test_encoding_records_codes_and_changes_nothing(self) -> None:
        layer = self.model.blocks[0]
        with torch.no_grad():
            logits, _ = self.model(PROMPT)
        with st.encoding(layer, self.client, ID, top=4) as rec:
            with torch.no_grad():
                again, _ = self.model(PROMPT)
        self.assertTrue(torch.equal(logits, again))
        self.assertEqual(len(rec), 1)
        self.assertEqual(rec.encodings[0].indices.shape, (PROMPT.shape[1], 4))

    def test_errors_raise_and_remove_the_hook(self) -> None:
        layer = self.model.blocks[0]
        with self.assertRaises(saeserve.SaeServeError) as caught:
            with st.steering(layer, self.client, ID, [saeserve.clamp(4096, 1.0)]):
                with torch.no_grad():
                    self.model(PROMPT)
        self.assertEqual(caught.exception.status, 422)
        self.assertEqual(len(layer._forward_hooks), 0)
        with self.assertRaises(ValueError):
            with st.steering(layer, self.client, ID, [], positions="first"):
                pass


if __name__ == "__main__":
    unittest.main()

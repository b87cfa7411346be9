"""The client's calls on every route it wraps, against the real service."""
import io
import json
import unittest
import urllib.request

import numpy as np

import saeserve
from saeserve.client import Client as _Client
from saeserve.client import _plain_npy, _plain_npz, to_npy

from .service import URL, needs_service

ID = "demo-topk"


def rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 64)).astype(np.float32)


@needs_service
class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = saeserve.Client(URL)

    def tearDown(self) -> None:
        self.client.close()

    def test_dictionaries_and_describe(self) -> None:
        ids = {d["id"] for d in self.client.dictionaries()}
        self.assertTrue({"demo-topk", "demo-jumprelu", "demo-sparsify"} <= ids)
        meta = self.client.describe(ID)
        self.assertEqual((meta["d_in"], meta["d_sae"], meta["architecture"]), (64, 256, "topk"))

    def test_unknown_dictionary_is_a_404_problem(self) -> None:
        with self.assertRaises(saeserve.SaeServeError) as caught:
            self.client.describe("no/such dictionary")
        err = caught.exception
        self.assertEqual(err.status, 404)
        self.assertTrue(err.title)
        self.assertIn("no/such dictionary", err.detail)

    def test_encode_pads_and_matches_json(self) -> None:
        x = rows(3)
        enc = self.client.encode(ID, x, top=4, include=("reconstruction", "error", "metrics"))
        self.assertEqual((enc.indices.dtype, enc.values.dtype), (np.int32, np.float32))
        self.assertEqual(enc.indices.shape, (3, 4))
        self.assertTrue(np.all(np.diff(enc.values, axis=1) <= 0))
        self.assertEqual(enc.reconstruction.shape, (3, 64))
        np.testing.assert_allclose(enc.reconstruction + enc.error, x, atol=1e-5)
        self.assertIn("fvu", enc.metrics)
        req = urllib.request.Request(
            f"{URL}/v1/dictionaries/{ID}/encode",
            data=json.dumps({"activations": x.tolist(), "top": 4}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req) as res:
            from_json = _Client._encoding_from_json(json.load(res))
        np.testing.assert_array_equal(from_json.indices, enc.indices)
        np.testing.assert_array_equal(from_json.values, enc.values)

    def test_metrics_of_a_large_batch_come_as_json(self) -> None:
        # In an .npz answer 4000 rows of metrics would be a ~120 KB header, past the 64 KiB head limit.
        enc = self.client.encode(ID, rows(4000, 5), top=4, include="metrics")
        self.assertEqual(enc.indices.shape, (4000, 4))
        self.assertEqual(len(enc.metrics["per_row"]["l0"]), 4000)
        plain = self.client.encode(ID, rows(4000, 5), top=4)
        np.testing.assert_array_equal(plain.indices, enc.indices)
        np.testing.assert_array_equal(plain.values, enc.values)

    def test_answers_take_the_direct_readers(self) -> None:
        def post(op: str, accept: str) -> bytes:
            req = urllib.request.Request(
                f"{URL}/v1/dictionaries/{ID}/{op}?top=4" if op == "encode" else f"{URL}/v1/dictionaries/{ID}/{op}",
                data=to_npy(rows(2) if op == "encode" else np.zeros((2, 256), np.float32)),
                headers={"content-type": "application/x-npy", "accept": accept},
            )
            with urllib.request.urlopen(req) as res:
                return res.read()

        z = post("encode", "application/x-npz")
        direct = _plain_npz(z)
        self.assertIsNotNone(direct, "the service's .npz should not need numpy's reader")
        loaded = np.load(io.BytesIO(z), allow_pickle=False)
        self.assertEqual(set(direct), set(loaded.files))
        for name in loaded.files:
            np.testing.assert_array_equal(direct[name], loaded[name])
        y = post("decode", "application/x-npy")
        direct_y = _plain_npy(memoryview(y))
        self.assertIsNotNone(direct_y)
        np.testing.assert_array_equal(direct_y, np.load(io.BytesIO(y), allow_pickle=False))

    def test_encode_one_row_and_padding(self) -> None:
        enc = self.client.encode(ID, np.zeros(64, dtype=np.float64))
        self.assertEqual(enc.indices.shape[0], 1)
        self.assertTrue(np.all((enc.indices >= 0) | (enc.values == 0)))

    def test_decode_sparse_and_dense_agree(self) -> None:
        enc = self.client.encode(ID, rows(2, 1))
        sparse = self.client.decode(ID, indices=enc.indices, values=enc.values)
        dense = self.client.decode(ID, codes=enc.dense(256))
        self.assertEqual((sparse.shape, sparse.dtype), ((2, 64), np.float32))
        np.testing.assert_allclose(sparse, dense, atol=1e-6)
        ragged = self.client.decode(ID, indices=[[0, 17], [80]], values=[[1.5, 0.5], [2.0]])
        self.assertEqual(ragged.shape, (2, 64))
        with self.assertRaises(ValueError):
            self.client.decode(ID, indices=[[0]])

    def test_decode_skips_only_padding(self) -> None:
        # (-1, 0) pairs are padding, as an Encoding pads short rows: the same as leaving them out.
        want = self.client.decode(ID, indices=[[3, 80], [17]], values=[[2.0, 0.5], [1.0]])
        padded = self.client.decode(ID, indices=np.array([[3, -1, 80], [-1, 17, -1]]),
                                    values=np.array([[2.0, 0.0, 0.5], [0.0, 1.0, 0.0]], np.float32))
        np.testing.assert_array_equal(padded, want)
        # Whole numbers in a float array are indices as well.
        np.testing.assert_array_equal(
            self.client.decode(ID, indices=np.array([[3.0, 80.0], [17.0, -1.0]]), values=[[2.0, 0.5], [1.0, 0.0]]),
            want,
        )

    def test_steer_takes_one_intervention_on_its_own(self) -> None:
        x = rows(2, 3)
        one = self.client.steer(ID, x, saeserve.add(1, 1.0))
        np.testing.assert_array_equal(one, self.client.steer(ID, x, [saeserve.add(1, 1.0)]))
        self.assertFalse(np.array_equal(one, x))
        np.testing.assert_array_equal(self.client.steer(ID, x, (saeserve.clamp(3, 2.0),)),
                                      self.client.steer(ID, x, [saeserve.clamp(3, 2.0)]))

    def test_steer_helpers_shapes_and_long_queries(self) -> None:
        x = rows(4, 2)
        ivs = [saeserve.clamp(3, 5.0), saeserve.add(7, 1.0, positions=[1]), saeserve.scale(9, 2.0),
               saeserve.ablate(11)]
        out = self.client.steer(ID, x, ivs)
        self.assertEqual((out.shape, out.dtype), ((4, 64), np.float32))
        self.assertFalse(np.array_equal(out, x))
        np.testing.assert_array_equal(self.client.steer(ID, x[2], ivs[:1]), self.client.steer(ID, x, ivs[:1])[2])
        # A query too long for a URL goes as JSON: same answer.
        many = [saeserve.add(f, 0.0, positions=list(range(4))) for f in range(256)] + ivs
        np.testing.assert_allclose(self.client.steer(ID, x, many), out, atol=1e-5)

    def test_non_finite_intervention_value_is_refused_before_sending(self) -> None:
        for bad in (float("nan"), float("inf")):
            with self.assertRaisesRegex(ValueError, r"interventions\[1\]\.value must be a finite number"):
                self.client.steer(ID, rows(1), [saeserve.ablate(1), saeserve.clamp(3, bad)])
        when = dict(saeserve.clamp(3, 1.0), when={"feature": 2, "op": ">", "value": float("-inf")})
        with self.assertRaisesRegex(ValueError, r"interventions\[0\]\.when\.value must be a finite number, not -inf"):
            self.client.steer(ID, rows(1), [when])

    def test_invalid_intervention_is_a_422_problem(self) -> None:
        with self.assertRaises(saeserve.SaeServeError) as caught:
            self.client.steer(ID, rows(1), [saeserve.clamp(9999, 1.0)])
        self.assertEqual(caught.exception.status, 422)
        self.assertIn("9999", caught.exception.detail)
        self.assertEqual(caught.exception.body.get("status"), 422)


class RefusedBeforeSendingTest(unittest.TestCase):
    """Mistakes the client sees itself: raised, naming the row, before any request (no service)."""

    def setUp(self) -> None:
        self.client = saeserve.Client("http://127.0.0.1:1")
        self.client._post = lambda *args: self.fail(f"a request was sent: {args[:2]}")  # type: ignore[method-assign]

    def tearDown(self) -> None:
        self.client.close()

    def test_decode_refuses_negative_indices_other_than_padding(self) -> None:
        cases = [
            ([[-5, 3]], [[7.0, 2.0]], r"^row 0: feature index -5 is out of range \(-1 is padding only with value 0\)$"),
            ([[3, -1]], [[2.0, 0.5]], r"^row 0: feature index -1 is out of range \(its value is 0\.5; -1 is padding"),
            ([[1], [4, -2]], [[1.0], [1.0, 0.0]], r"^row 1: feature index -2 is out of range"),
            (np.array([[2, -3]], np.int32), np.array([[1, 0]], np.float32), r"^row 0: feature index -3 "),
        ]
        for indices, values, message in cases:
            with self.assertRaisesRegex(ValueError, message):
                self.client.decode(ID, indices=indices, values=values)

    def test_decode_refuses_indices_that_are_not_integers(self) -> None:
        for indices in ([[1.7]], [[3, 2.5]], np.array([[1.0, float("nan")]]), [["3"]], [[True]]):
            with self.assertRaisesRegex(ValueError, r"^indices must be integers: row 0 has "):
                self.client.decode(ID, indices=indices, values=[[1.0] * len(indices[0])])
        with self.assertRaisesRegex(ValueError, r"row 0 has 1\.7 at position 0"):
            self.client.decode(ID, indices=[[1.7]], values=[[2.0]])

    def test_decode_refuses_rows_of_different_lengths(self) -> None:
        with self.assertRaisesRegex(ValueError, r"^row 0: 2 indices but 3 values$"):
            self.client.decode(ID, indices=[[1, 2]], values=[[2.0, 1.0, 3.0]])
        with self.assertRaisesRegex(ValueError, r"^row 1: 1 indices but 2 values$"):
            self.client.decode(ID, indices=np.array([[1], [2]]), values=[[1.0], [1.0, 2.0]])
        with self.assertRaisesRegex(ValueError, r"^indices has 2 rows but values has 1$"):
            self.client.decode(ID, indices=[[1], [2]], values=[[1.0]])

    def test_decode_refuses_values_that_are_not_finite(self) -> None:
        for bad in (float("nan"), float("inf")):
            with self.assertRaisesRegex(ValueError, r"^values\[0\]\[1\] must be a finite number, not "):
                self.client.decode(ID, indices=[[1, 2]], values=[[1.0, bad]])

    def test_steer_refuses_what_is_not_interventions(self) -> None:
        x = rows(1)
        for bad, named in ((3, "int"), ("clamp", "str"), ([saeserve.add(1, 1.0), 7], "element 1 is int"),
                           ([[("feature", 1)]], "element 0 is list")):
            with self.assertRaisesRegex(TypeError, rf"^interventions must be a list of interventions .*{named}"):
                self.client.steer(ID, x, bad)


if __name__ == "__main__":
    unittest.main()
